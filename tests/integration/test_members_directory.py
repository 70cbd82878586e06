"""The member directory as other code uses it: find, follow, rotate the feed token, erase."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from tests.factories import NATIONAL, import_entries, national, vidzeme
from vcs.context import Context
from vcs.membership.members import (
    Follows,
    MemberSpec,
    erase_member,
    find_by_email,
    find_by_feed_token,
    rotate_feed_token,
    save_member,
    set_follows,
    set_status,
)
from vcs.storage.models import AuditEntry, Delivery, Member

CONSENT = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def anna(**overrides: object) -> MemberSpec:
    values: dict[str, object] = {
        "email": "anna.ozola@cesis.lv",
        "name": "Anna Ozola",
        "municipality": "cesu-novads",
        "status": "active",
        "consent_at": CONSENT,
        "consent_source": "subscribe",
        **overrides,
    }
    return MemberSpec(**values)  # type: ignore[arg-type]


def test_saving_the_same_member_twice_changes_nothing(context: Context) -> None:
    with context.database.session() as db:
        first = save_member(db, anna(), "staff:x")
        second = save_member(db, anna(), "staff:x")
        third = save_member(db, anna(name="Anna Ozola-Bērziņa"), "staff:x")

    assert (first.outcome, second.outcome, third.outcome) == ("created", "unchanged", "updated")
    assert third.changed == ("name",)


def test_member_is_found_by_any_spelling_of_the_address_and_by_feed_token(
    context: Context,
) -> None:
    with context.database.session() as db:
        member = save_member(db, anna(), "staff:x").member
        assert find_by_email(db, " Anna.Ozola@CESIS.lv") is member
        assert find_by_email(db, "not an address") is None
        assert find_by_feed_token(db, member.feed_token) is member


def test_rotated_feed_token_replaces_the_old_one_and_is_not_logged(context: Context) -> None:
    with context.database.session() as db:
        member = save_member(db, anna(), "staff:x").member
        old = member.feed_token
        new = rotate_feed_token(db, member, "member")
        db.flush()
        assert new != old and len(new) >= 32
        assert find_by_feed_token(db, old) is None
        entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry is not None
        assert (entry.action, entry.before, entry.after) == ("rotate-feed-token", None, None)


def test_following_series_and_regions(context: Context, tmp_path: Path) -> None:
    import_entries(context, tmp_path, national(), vidzeme())
    with context.database.session() as db:
        member = save_member(db, anna(), "staff:x").member
        follows = Follows(False, frozenset({NATIONAL}), frozenset({"vidzeme"}))
        assert set_follows(db, member, follows, "member") is True
        assert set_follows(db, member, follows, "member") is False
        assert [s.slug for s in member.followed_series] == [NATIONAL]
        assert [r.slug for r in member.followed_regions] == ["vidzeme"]
        assert member.follows_all is False
        assert set_status(db, member, "unsubscribed", "member") is True


def test_erasure_leaves_only_anonymous_delivery_counts(context: Context) -> None:
    with context.database.session() as db:
        member = save_member(db, anna(), "staff:x").member
        for number in (1, 2):
            db.add(
                Delivery(
                    kind="digest",
                    ref=f"digest:{number}",
                    member_id=member.id,
                    to_address=member.email,
                    status="sent",
                    raw_message=b"To: Anna Ozola <anna.ozola@cesis.lv>",
                )
            )
        db.add(AuditEntry(actor=member.email, action="update", entity="member", entity_id="x"))
        member_id = member.id
        db.flush()
        erase_member(db, member, "member")

    with context.database.session() as db:
        assert db.scalars(select(Member)).all() == []
        deliveries = db.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [(d.ref, d.status, d.member_id) for d in deliveries] == [
            ("digest:1", "sent", None),
            ("digest:2", "sent", None),
        ]
        assert [d.to_address for d in deliveries] == [f"erased-{d.id}@invalid" for d in deliveries]
        assert all(d.raw_message == b"" for d in deliveries)
        entries = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        text = repr([(e.actor, e.before, e.after) for e in entries])
        assert "anna" not in text.lower() and "ozola" not in text.lower()
        assert [(e.action, e.entity_id) for e in entries if e.entity == "member"][-1] == (
            "erase",
            str(member_id),
        )
