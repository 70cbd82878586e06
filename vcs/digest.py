"""The weekly digest (info-letter): drafting, composing in Latvian and English, approving,
sending through the outbox, and the archive of sent issues.

    draft --approve(at)--> approved --(the time comes: digest-send job)--> sent
      |                       |
      +-------- send now -----+--------------------------------------> sent --send again--> sent

A draft is composed afresh from the database every time it is previewed, so staff see the
sessions as they are now. Sending freezes the composed issue, per language, in
`Digest.snapshot`: every recipient (also one who joins later and gets it on a re-send) and the web
version on /digests/{id} get exactly those words. See docs/digest.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import joinedload

from vcs import audit, dates, text
from vcs.config import WEEKDAYS, Settings, digest_time
from vcs.errors import Problem, VcsError
from vcs.feeds.links import google_event_link
from vcs.i18n import LANGUAGES, N_, gettext_for, localized
from vcs.mail import compose as mail
from vcs.mail import outbox
from vcs.mail.compose import Content, MailKind
from vcs.markdown import link_rel, markdown_html, trusted_domains, untrusted_domains
from vcs.planning import wording
from vcs.states import DigestStatus, MemberStatus, SessionStatus
from vcs.storage.models import AuditEntry, Delivery, Digest, DigestItem, Member, Series, Session

DRAFT = DigestStatus.DRAFT
APPROVED = DigestStatus.APPROVED
SENT = DigestStatus.SENT
# Recordings of sessions that ended within this time before the period are listed.
RECORDINGS_BACK = dt.timedelta(days=7)


class DigestError(VcsError):
    """Something staff asked that cannot be done to this digest: one problem, code
    `digest.<what>`, shown beside `field` when the form has it."""

    def __init__(self, code: str, message: str, field: str = "", **params: Any) -> None:
        super().__init__([Problem(f"digest.{code}", message, params, field=field)])


NOT_A_DRAFT = N_("Only a draft can be changed. Return it to draft first.")
NO_SUCH_ITEM = N_("There is no such item in this digest.")


def ref(digest_id: int) -> str:
    """The outbox ref of a digest: with kind "digest", re-sending reaches nobody twice."""
    return f"digest:{digest_id}"


# --- drafting -------------------------------------------------------------------------------


def week_anchor(settings: Settings, now: dt.datetime) -> dt.date:
    """The local date of this week's drafting day (digest.weekday), today or before."""
    today = now.astimezone(settings.tz).date()
    weekday = WEEKDAYS.index(settings.digest.weekday)
    return today - dt.timedelta(days=(today.weekday() - weekday) % 7)


def _local_midnight(settings: Settings, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=settings.tz).astimezone(dt.UTC)


def draft_time(settings: Settings) -> dt.time:
    """digest.time as a time (the settings check made sure it parses)."""
    found = digest_time(settings.digest.time)
    assert found is not None
    return found


def draft(db: Db, settings: Settings, now: dt.datetime, actor: str) -> tuple[Digest, bool]:
    """This week's digest: the one already drafted, or a new draft; (digest, created).

    A week runs from the drafting day (digest.weekday) to the day before the next one; a
    digest whose period starts within it counts as that week's, so drafting twice makes one.
    """
    anchor = week_anchor(settings, now)
    week_start = _local_midnight(settings, anchor)
    week_end = _local_midnight(settings, anchor + dt.timedelta(days=7))
    found = db.scalars(
        select(Digest)
        .where(Digest.period_start >= week_start, Digest.period_start < week_end)
        .order_by(Digest.id)
    ).first()
    if found is not None:
        return found, False
    today = now.astimezone(settings.tz).date()
    start = _local_midnight(settings, today)
    end = _local_midnight(settings, today + dt.timedelta(days=settings.digest.days_ahead))
    values: dict[str, str] = {}
    for lang in LANGUAGES:
        _ = gettext_for(lang)
        day = dates.format_datetime(start, lang, settings.tz, "day")
        values[f"subject_{lang}"] = _("Info-letter · %(date)s", date=day)
    digest = Digest(status=DRAFT, period_start=start, period_end=end, **values)
    db.add(digest)
    db.flush()
    audit.record(db, actor, "draft", "digest", digest.id, after={"period_start": start.isoformat()})
    return digest, True


def get(db: Db, digest_id: int) -> Digest:
    digest = db.get(Digest, digest_id, options=[joinedload(Digest.items)])
    if digest is None:
        raise DigestError("not-found", N_("no digest with id %(id)s"), id=digest_id)
    return digest


def all_digests(db: Db) -> Sequence[Digest]:
    """Every digest, newest period first."""
    return db.scalars(select(Digest).order_by(Digest.period_start.desc(), Digest.id.desc())).all()


def archive(db: Db) -> Sequence[Digest]:
    """The sent digests, newest first: what /digests lists."""
    return db.scalars(
        select(Digest)
        .where(Digest.status == SENT)
        .order_by(Digest.sent_at.desc(), Digest.id.desc())
    ).all()


# --- staff edits (drafts only) --------------------------------------------------------------


def _editable(digest: Digest) -> None:
    if digest.status != DRAFT:
        raise DigestError("not-a-draft", NOT_A_DRAFT)


# The subject reaches every member's Subject header; see vcs/text.py.
TEXT_KINDS = {
    "subject_lv": text.TITLE, "subject_en": text.TITLE, "intro_lv": text.TEXT,
    "intro_en": text.TEXT,
}  # fmt: skip


def update_text(db: Db, digest: Digest, actor: str, **values: str) -> bool:
    """Change subject and intro (subject_lv, subject_en, intro_lv, intro_en); True if changed."""
    _editable(digest)
    if set(values) - set(TEXT_KINDS):
        raise DigestError(
            "not-a-field",
            N_("%(name)s: not a digest field"),
            name=sorted(set(values) - set(TEXT_KINDS))[0],
        )
    values = text.check_all(values, TEXT_KINDS)
    if not values.get("subject_lv", digest.subject_lv):
        raise DigestError(
            "subject-missing", N_("The digest needs a subject in Latvian."), "subject_lv"
        )
    before = {key: getattr(digest, key) for key in values}
    if all(before[key] == value for key, value in values.items()):
        return False
    for key, value in values.items():
        setattr(digest, key, value)
    audit.record(db, actor, "edit", "digest", digest.id, before=before, after=values)
    return True


ITEM_FIELDS = ("title_lv", "title_en", "body_lv", "body_en", "link")
ITEM_KINDS = {
    "title_lv": text.TITLE, "title_en": text.TITLE, "body_lv": text.TEXT, "body_en": text.TEXT,
}  # fmt: skip
# The fields problems name (vcs/text.py), as words in Latvian; the English is the field itself.
FIELD_LABELS = (
    N_("subject_lv"), N_("subject_en"), N_("intro_lv"), N_("intro_en"), N_("title_lv"),
    N_("title_en"), N_("body_lv"), N_("body_en"), N_("link"),
)  # fmt: skip


def _check_item(values: dict[str, str]) -> dict[str, str]:
    checked = text.check_all({key: str(values.get(key, "")) for key in ITEM_KINDS}, ITEM_KINDS)
    if not checked["title_lv"]:
        raise DigestError("item.title-missing", N_("An item needs a title in Latvian."), "title_lv")
    link = checked["link"] = str(values.get("link", "")).strip()
    if link and not link.startswith(("https://", "http://")):
        raise DigestError(
            "item.link-scheme", N_("A link must start with https:// or http://."), "link"
        )
    problem = text.url_problem(link, "link")
    if problem is not None:
        raise VcsError([problem])
    return checked


def add_item(db: Db, digest: Digest, actor: str, **values: str) -> DigestItem:
    """A news item at the end of the digest."""
    _editable(digest)
    checked = _check_item(values)
    position = max((item.position for item in digest.items), default=0) + 1
    item = DigestItem(position=position, **checked)
    digest.items.append(item)
    db.flush()
    audit.record(db, actor, "add-item", "digest", digest.id, after={"item": item.id, **checked})
    return item


def _item(digest: Digest, item_id: int) -> DigestItem:
    for item in digest.items:
        if item.id == item_id:
            return item
    raise DigestError("no-such-item", NO_SUCH_ITEM)


def update_item(db: Db, digest: Digest, item_id: int, actor: str, **values: str) -> None:
    _editable(digest)
    item = _item(digest, item_id)
    checked = _check_item(values)
    before = {key: getattr(item, key) for key in ITEM_FIELDS}
    if before == checked:
        return
    for key, value in checked.items():
        setattr(item, key, value)
    audit.record(db, actor, "edit-item", "digest", digest.id, before=before, after=checked)


def delete_item(db: Db, digest: Digest, item_id: int, actor: str) -> None:
    _editable(digest)
    item = _item(digest, item_id)
    before = {"item": item.id, **{key: getattr(item, key) for key in ITEM_FIELDS}}
    digest.items.remove(item)
    audit.record(db, actor, "delete-item", "digest", digest.id, before=before)


def move_item(db: Db, digest: Digest, item_id: int, step: int, actor: str) -> None:
    """Move an item up (step -1) or down (+1); positions are renumbered 1, 2, 3, ..."""
    _editable(digest)
    ordered = sorted(digest.items, key=lambda i: (i.position, i.id))
    item = _item(digest, item_id)
    index = ordered.index(item)
    target = min(max(index + step, 0), len(ordered) - 1)
    ordered.insert(target, ordered.pop(index))
    for position, each in enumerate(ordered, 1):
        each.position = position
    audit.record(
        db, actor, "move-item", "digest", digest.id, after={"item": item_id, "to": target + 1}
    )


# --- composing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One session in the schedule of the coming days."""

    time: str
    series: str
    title: str
    topic: str
    speakers: list[str]
    place: str
    page_url: str
    google_url: str
    ics_url: str
    organiser: str = ""
    # The EU emblem, statement and project number of a funded series (wording.funding_block()).
    funding: wording.Funding | None = None


@dataclass(frozen=True)
class Day:
    label: str
    entries: list[Entry]


@dataclass(frozen=True)
class Change:
    """A session moved, cancelled or given a new place since the last issue."""

    kind: str  # moved, cancelled, place
    title: str
    when: str
    was: str  # the old time (moved) or the old place (place)
    reason: str
    page_url: str
    place: str = ""  # the new place (place)


@dataclass(frozen=True)
class Recording:
    title: str
    when: str
    url: str
    page_url: str


@dataclass(frozen=True)
class Item:
    title: str
    html: str
    text: str
    link: str
    link_rel: str = ""


@dataclass(frozen=True)
class Issue:
    """One digest composed in one language, before it is rendered."""

    lang: str
    subject: str
    intro_html: str
    intro_text: str
    web_url: str
    days: list[Day] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)


def _page(base: str, path: str, lang: str) -> str:
    # English readers land on the English page; Latvian is the site's default.
    return f"{base}{path}" + ("?lang=en" if lang == "en" else "")


def _public_sessions() -> Any:
    return (
        select(Session)
        .join(Session.series)
        .where(Series.visibility == "public")
        .options(joinedload(Session.series))
    )


def schedule(db: Db, settings: Settings, digest: Digest, lang: str) -> list[Day]:
    """The public sessions that start within the digest's period, grouped by local (Riga) day."""
    tz = settings.tz
    base = settings.base_url
    found = db.scalars(
        _public_sessions()
        .where(
            Session.start >= digest.period_start,
            Session.start < digest.period_end,
            Session.status == SessionStatus.SCHEDULED,
        )
        .order_by(Session.start, Session.id)
    ).all()
    days: list[Day] = []
    current: dt.date | None = None
    for session in found:
        local = session.start.astimezone(tz).date()
        if local != current:
            days.append(Day(dates.format_datetime(session.start, lang, tz, "day"), []))
            current = local
        series_title = localized(session.series, "title", lang)
        own_title = wording.title(session, lang)
        days[-1].entries.append(
            Entry(
                time=dates.format_time_range(session.start, session.end, lang, tz),
                series=series_title,
                title=own_title if own_title != series_title else "",
                topic=wording.topic(session, lang),
                speakers=wording.speakers(session),
                place=wording.place_line(session, lang),
                page_url=wording.page_url(session, base, lang),
                google_url=google_event_link(session, base, lang),
                ics_url=wording.ics_url(session, base),
                organiser=wording.organiser(session),
                funding=wording.funding_block(session, lang, base),
            )
        )
    return days


def last_issue_sent(db: Db, digest: Digest) -> dt.datetime | None:
    """When the digest before this one was sent (changes are counted from then)."""
    query = select(func.max(Digest.sent_at)).where(
        Digest.status == SENT, Digest.id != digest.id, Digest.sent_at.is_not(None)
    )
    if digest.sent_at is not None:
        query = query.where(Digest.sent_at < digest.sent_at)
    found: dt.datetime | None = db.scalar(query)
    return found


def changes(db: Db, settings: Settings, digest: Digest, lang: str) -> list[Change]:
    """Public sessions moved or cancelled since the last issue was sent, that still lie ahead.

    The audit log says what happened since then (staff moves and cancellations, and those the
    series rule made); the session's state now says how it ended: a session cancelled and then
    reinstated, or moved back, is no change.
    """
    since = last_issue_sent(db, digest) or digest.period_start - dt.timedelta(days=7)
    entries = db.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.entity == "session",
            AuditEntry.action.in_(("move", "cancel", "edit")),
            AuditEntry.at > since,
        )
        .order_by(AuditEntry.id)
    ).all()
    first_before: dict[int, str] = {}
    # The place a session had before its first new place since then (vcs.planning.sessions).
    place_before: dict[int, Any] = {}
    for entry in entries:
        if not entry.entity_id.isdigit():
            continue
        session_id = int(entry.entity_id)
        if entry.action == "edit":
            if entry.before and "place" in entry.before:
                place_before.setdefault(session_id, entry.before["place"])
            continue
        if entry.action == "move" and entry.before and "start" in entry.before:
            first_before.setdefault(session_id, str(entry.before["start"]))
        else:
            first_before.setdefault(session_id, "")
    if not first_before and not place_before:
        return []
    tz = settings.tz
    found = db.scalars(
        _public_sessions()
        .where(
            Session.id.in_([*first_before, *place_before]),
            Session.start >= digest.period_start,
        )
        .order_by(Session.start, Session.id)
    ).all()
    result = []
    _ = gettext_for(lang)
    for session in found:
        title = wording.title(session, lang)
        when = dates.format_datetime(session.start, lang, tz, "full")
        page = wording.page_url(session, settings.base_url, lang)
        if session.status == SessionStatus.CANCELLED:
            reason = wording.cancel_reason(session, lang)
            result.append(Change("cancelled", title, when, "", reason, page))
            continue
        if session.id in place_before:
            # None: the session followed its series' place.
            old = wording.line_of_place(place_before[session.id] or session.series.place, lang)
            new = wording.place_line(session, lang)
            if old != new:
                result.append(Change("place", title, when, old, "", page, place=new))
        before = first_before.get(session.id, "")
        if not before:
            continue
        was = dt.datetime.fromisoformat(before)
        if was.tzinfo is None:
            was = was.replace(tzinfo=dt.UTC)
        if was == session.start:
            continue
        # "now takes place %(when)s (was %(was)s)": both inside a sentence (Latvian locative).
        now_when = dates.in_sentence(session.start, lang, tz, "full")
        result.append(
            Change("moved", title, now_when, dates.in_sentence(was, lang, tz, "full"), "", page)
        )
    return result


def recordings(db: Db, settings: Settings, digest: Digest, lang: str) -> list[Recording]:
    """Recordings of the public sessions of the week before the period."""
    found = db.scalars(
        _public_sessions()
        .where(
            Session.end >= digest.period_start - RECORDINGS_BACK,
            Session.end < digest.period_start,
            Session.status == SessionStatus.SCHEDULED,
            Session.recording_url != "",
        )
        .order_by(Session.start, Session.id)
    ).all()
    return [
        Recording(
            title=wording.title(session, lang),
            when=dates.format_datetime(session.start, lang, settings.tz, "date"),
            url=session.recording_url,
            page_url=wording.page_url(session, settings.base_url, lang),
        )
        for session in found
    ]


def compose(db: Db, settings: Settings, digest: Digest, lang: str) -> Issue:
    """The digest in `lang` as the database has it now (Latvian where English is missing)."""
    trusted = trusted_domains(settings)
    items = [
        Item(
            title=localized(item, "title", lang),
            html=markdown_html(localized(item, "body", lang), trusted),
            text=localized(item, "body", lang).strip(),
            link=item.link,
            link_rel=link_rel(item.link, trusted),
        )
        for item in sorted(digest.items, key=lambda i: (i.position, i.id))
    ]
    intro = localized(digest, "intro", lang)
    return Issue(
        lang=lang,
        subject=localized(digest, "subject", lang),
        intro_html=markdown_html(intro, trusted),
        intro_text=intro.strip(),
        web_url=_page(settings.base_url, f"/digests/{digest.id}", lang),
        days=schedule(db, settings, digest, lang),
        changes=changes(db, settings, digest, lang),
        recordings=recordings(db, settings, digest, lang),
        items=items,
    )


def render(issue: Issue) -> Content:
    """An issue as subject, text and HTML body (templates/email/digest.*; the layout is added
    around it when sent). The HTML body is also the web version on /digests/{id}."""
    return mail.render(MailKind.DIGEST, issue.lang, issue.subject, {"issue": issue})


def rendered(db: Db, settings: Settings, digest: Digest, lang: str) -> Content:
    """The digest in `lang` as it is (or was) sent: the frozen snapshot once sent, else fresh."""
    if digest.snapshot and lang in digest.snapshot:
        return Content.from_json(digest.snapshot[lang])
    return render(compose(db, settings, digest, lang))


PREVIEW_TOKEN = "PREVIEW"  # noqa: S105 - a placeholder in preview links, not a secret


def preview(db: Db, settings: Settings, digest: Digest, lang: str) -> tuple[str, str, str]:
    """(subject, text, HTML) of the whole e-mail as a member reads it, made by the same code the
    outbox uses; only the member's own unsubscribe and preferences links are placeholders."""
    whole = mail.in_layout(
        settings,
        rendered(db, settings, digest, lang),
        language=lang,
        unsubscribe_url=f"{settings.base_url}/unsubscribe/{PREVIEW_TOKEN}",
        preferences_url=f"{settings.base_url}/preferences/{PREVIEW_TOKEN}",
    )
    return whole.subject, whole.text, whole.html


# --- links to confirm -----------------------------------------------------------------------

CONFIRM_LINKS = "confirm-links"  # the audit action that records a confirmation


@dataclass(frozen=True)
class FlaggedLink:
    """A link in the digest's staff text to a domain that is not trusted (content settings)."""

    domain: str
    field: str  # intro_lv, title_en, body_lv, link, ...
    item: int  # the item's position; 0 for the introduction
    confirmed: bool


def confirmed_domains(db: Db, digest: Digest) -> set[str]:
    """The untrusted domains staff confirmed for this digest (recorded in the audit log)."""
    found = db.scalars(
        select(AuditEntry.after).where(
            AuditEntry.entity == "digest",
            AuditEntry.entity_id == str(digest.id),
            AuditEntry.action == CONFIRM_LINKS,
        )
    ).all()
    return {str(d) for after in found if after for d in after.get("domains", [])}


def flagged_links(db: Db, settings: Settings, digest: Digest) -> list[FlaggedLink]:
    """Every link in the intro and the items (Markdown, bare addresses, the item's link) to a
    domain that is not trusted, in the order of the digest."""
    trusted = trusted_domains(settings)
    confirmed = confirmed_domains(db, digest)
    texts: list[tuple[int, str, str]] = [
        (0, f"intro_{lang}", getattr(digest, f"intro_{lang}")) for lang in LANGUAGES
    ]
    for item in sorted(digest.items, key=lambda i: (i.position, i.id)):
        texts += [(item.position, key, str(getattr(item, key))) for key in ITEM_FIELDS]
    flagged = []
    for position, key, value in texts:
        found = untrusted_domains(f"<{value}>" if key == "link" and value else value, trusted)
        flagged += [FlaggedLink(d, key, position, d in confirmed) for d in found]
    return flagged


def unconfirmed_domains(db: Db, settings: Settings, digest: Digest) -> list[str]:
    """The untrusted domains the digest links to that staff have not confirmed yet."""
    return sorted(
        {link.domain for link in flagged_links(db, settings, digest)}
        - confirmed_domains(db, digest)
    )


def confirm_links(db: Db, settings: Settings, digest: Digest, actor: str) -> list[str]:
    """Confirm every untrusted domain the digest links to now; return those newly confirmed."""
    new = unconfirmed_domains(db, settings, digest)
    if new:
        audit.record(db, actor, CONFIRM_LINKS, "digest", digest.id, after={"domains": new})
    return new


def check_links(db: Db, settings: Settings, digest: Digest) -> None:
    """Refuse to approve or send while a link to an untrusted domain is not confirmed."""
    new = unconfirmed_domains(db, settings, digest)
    if new:
        raise DigestError(
            "links-unconfirmed",
            N_(
                "The digest links to domains that are not trusted: %(domains)s. Check the "
                "links and confirm them before the digest is approved or sent."
            ),
            domains=", ".join(new),
        )


# --- approving and sending ------------------------------------------------------------------


def approve(db: Db, settings: Settings, digest: Digest, at: dt.datetime, actor: str) -> None:
    """Approve a draft to be sent at `at` (the digest-send job sends it then); every link to
    an untrusted domain must be confirmed first."""
    if digest.status != DRAFT:
        raise DigestError("not-a-draft", N_("Only a draft can be approved."))
    check_links(db, settings, digest)
    if at.tzinfo is None:
        raise DigestError("at.naive", N_("needs a time zone"), "at")
    digest.status = APPROVED
    digest.scheduled_at = at
    digest.approved_by = actor
    audit.record(db, actor, "approve", "digest", digest.id, after={"at": at.isoformat()})


def return_to_draft(db: Db, digest: Digest, actor: str) -> None:
    """Take back an approval that has not been sent yet."""
    if digest.status != APPROVED:
        raise DigestError(
            "not-approved",
            N_("Only an approved digest that is not sent yet can go back to draft."),
        )
    digest.status = DRAFT
    digest.scheduled_at = None
    digest.approved_by = ""
    audit.record(db, actor, "unapprove", "digest", digest.id)


def freeze(db: Db, settings: Settings, digest: Digest) -> dict[str, Any]:
    """The snapshot of what is sent, made once: the first send fixes the words for good."""
    if not digest.snapshot:
        digest.snapshot = {
            lang: render(compose(db, settings, digest, lang)).as_json() for lang in LANGUAGES
        }
    return digest.snapshot


def active_members(db: Db) -> Iterable[Member]:
    return db.scalars(
        select(Member).where(Member.status == MemberStatus.ACTIVE).order_by(Member.id)
    )


def send(db: Db, settings: Settings, digest: Digest, now: dt.datetime, actor: str) -> int:
    """Queue the digest for every active member who has not had it; return how many are new.

    Sending again (a re-send, or after members joined) adds only members without a delivery
    for `digest:{id}`: nobody gets it twice.
    """
    if digest.status == DRAFT:
        # An approved digest had its links confirmed when it was approved.
        check_links(db, settings, digest)
    snapshot = freeze(db, settings, digest)
    if digest.status != SENT:
        digest.status = SENT
        digest.sent_at = now
        digest.approved_by = digest.approved_by or actor
    contents = {lang: Content.from_json(values) for lang, values in snapshot.items()}

    def content(recipient: outbox.Recipient) -> Content:
        return contents.get(recipient.language) or contents[LANGUAGES[0]]

    added = outbox.enqueue_for_members(
        db,
        settings,
        kind=MailKind.DIGEST,
        ref=ref(digest.id),
        members=active_members(db),
        compose=content,
        now=now,
    )
    audit.record(db, actor, "send", "digest", digest.id, after={"queued": added})
    return added


def send_test(
    db: Db,
    settings: Settings,
    digest: Digest,
    address: str,
    name: str,
    lang: str,
    now: dt.datetime,
) -> str:
    """Queue the digest, as it would be sent now, to one staff member only; return its ref.

    The subject says it is a test ("[IZMĒĢINĀJUMS] …"), and the footer's links work: a staff
    member who is also a member gets their own; anyone else, the subscribe page.
    """
    content = rendered(db, settings, digest, lang)
    _ = gettext_for(lang)
    content = dataclasses.replace(content, subject=f"{_('[TEST]')} {content.subject}")
    test_ref = f"{ref(digest.id)}:test:{secrets.token_hex(6)}"
    member = db.scalars(select(Member).where(Member.email == address.strip().lower())).first()
    if member is not None:
        own = outbox.Recipient.for_member(settings, member)
        # Not counted as the member's copy of the digest: member_id stays empty.
        recipient = outbox.Recipient(
            address, name, lang, None, own.unsubscribe_url, own.preferences_url
        )
    else:
        subscribe = f"{settings.base_url}/subscribe"
        recipient = outbox.Recipient(address, name, lang, None, subscribe, subscribe)
    outbox.enqueue(
        db,
        settings,
        kind=MailKind.TEST,
        ref=test_ref,
        recipients=[recipient],
        compose=lambda _recipient: content,
        now=now,
    )
    audit.record(db, address, "test", "digest", digest.id, after={"ref": test_ref, "lang": lang})
    return test_ref


def not_made(db: Db, digest_id: int) -> int:
    """How many members' copies of the digest could not be made (see vcs.mail.outbox)."""
    return outbox.not_made(db, MailKind.DIGEST, ref(digest_id))


@dataclass(frozen=True)
class Queued:
    """What sending one digest queued, and for how many members the message could not be made."""

    digest_id: int
    queued: int
    failed: int

    def __str__(self) -> str:
        return f"digest {self.digest_id}: {outbox.summary(self.queued, self.failed)}"


def send_due(db: Db, settings: Settings, now: dt.datetime) -> list[Queued]:
    """Send the approved digests whose time has come."""
    due = db.scalars(
        select(Digest)
        .where(Digest.status == APPROVED, Digest.scheduled_at <= now)
        .order_by(Digest.scheduled_at, Digest.id)
    ).all()
    return [
        Queued(digest.id, send(db, settings, digest, now, audit.SCHEDULER), not_made(db, digest.id))
        for digest in due
    ]


# --- delivery figures -----------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """How a digest's deliveries stand: queued (waiting or being tried), sent, failed."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.queued + self.sent + self.failed + self.cancelled


def _figures(counts: dict[str, int]) -> Figures:
    return Figures(
        queued=counts.get(outbox.QUEUED, 0)
        + counts.get(outbox.SENDING, 0)
        + counts.get(outbox.FAILED_TEMPORARY, 0),
        sent=counts.get(outbox.SENT, 0),
        failed=counts.get(outbox.FAILED_PERMANENT, 0),
        cancelled=counts.get(outbox.CANCELLED, 0),
    )


def figures(db: Db, digest_ids: Iterable[int]) -> dict[int, Figures]:
    """Delivery figures of each digest (one query for all of them)."""
    refs = {ref(digest_id): digest_id for digest_id in digest_ids}
    counts: dict[int, dict[str, int]] = {digest_id: {} for digest_id in refs.values()}
    if refs:
        rows = db.execute(
            select(Delivery.ref, Delivery.status, func.count())
            .where(Delivery.kind == MailKind.DIGEST, Delivery.ref.in_(refs))
            .group_by(Delivery.ref, Delivery.status)
        )
        for delivery_ref, status, n in rows:
            counts[refs[delivery_ref]][status] = int(n)
    return {digest_id: _figures(found) for digest_id, found in counts.items()}
