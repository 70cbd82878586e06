"""Logging in: argon2id checks, the throttle per account and per address, the audit trail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.integration.test_staff_access import (
    ADMIN,
    EDITOR,
    PASSWORD,
    add_staff,
    csrf_of,
    log_in,
    staff_site,
)
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.staff import accounts
from vcs.storage.models import AuditEntry, LoginAttempt, StaffUser
from vcs.web.app import create_app

GENERIC = "E-pasta adrese vai parole nav pareiza."
LOCKED = "Pārāk daudz neveiksmīgu pieteikšanās mēģinājumu"


def client_from(context: Context, address: str) -> TestClient:
    return TestClient(create_app(context), follow_redirects=False, client=(address, 50000))


def clock(context: Context) -> FixedClock:
    assert isinstance(context.clock, FixedClock)
    return context.clock


def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    wrong = log_in(client, EDITOR, "not the password at all")
    unknown = log_in(client, "nobody@example.lv")
    assert wrong.status_code == unknown.status_code == 400
    assert GENERIC in wrong.text and GENERIC in unknown.text


def test_a_log_in_is_recorded_with_its_time_and_in_the_audit_log(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    log_in(client, EDITOR, "wrong password!!")
    assert log_in(client, EDITOR.upper()).status_code == 303
    with context.database.session() as db:
        user = db.scalars(select(StaffUser).where(StaffUser.email == EDITOR)).one()
        assert user.last_login_at == clock(context).now()
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action.like("login%"))).all()
        assert [(e.actor, e.action) for e in entries] == [
            (EDITOR, "login-failed"),
            (EDITOR, "login"),
        ]
        assert entries[1].after == {"address": "testclient"}


def test_five_failures_lock_an_account_from_that_address_only_and_lift_after_15_minutes(
    context: Context, tmp_path: Path
) -> None:
    staff_site(context, tmp_path)
    for number in range(5):
        assert (
            log_in(client_from(context, "10.0.0.1"), EDITOR, f"guess number {number}").status_code
            == 400
        )
        clock(context).advance(dt.timedelta(minutes=1))
    locked = log_in(client_from(context, "10.0.0.1"), EDITOR)
    assert locked.status_code == 429
    assert LOCKED in locked.text
    # The owner, elsewhere, logs in as usual: a stranger cannot lock her out.
    assert log_in(client_from(context, "10.0.0.9"), EDITOR).status_code == 303
    # Another account from the guesser's place is not affected either.
    assert log_in(client_from(context, "10.0.0.1"), ADMIN).status_code == 303
    # From the guesser's place even the right password waits out the lock, counted from the
    # fifth failure.
    clock(context).advance(dt.timedelta(minutes=13))
    assert log_in(client_from(context, "10.0.0.1"), EDITOR).status_code == 429
    clock(context).advance(dt.timedelta(minutes=1, seconds=1))
    assert log_in(client_from(context, "10.0.0.1"), EDITOR).status_code == 303


def test_failures_from_many_addresses_lock_none_of_them_out_of_the_right_password(
    context: Context, tmp_path: Path
) -> None:
    staff_site(context, tmp_path)
    for number in range(30):
        log_in(client_from(context, f"10.3.0.{number}"), EDITOR, f"guess number {number}")
    assert log_in(client_from(context, "10.3.1.1"), EDITOR).status_code == 303


def test_the_throttle_locks_an_address_that_tries_many_accounts(
    context: Context, tmp_path: Path
) -> None:
    staff_site(context, tmp_path)
    attacker = client_from(context, "203.0.113.7")
    for number in range(context.settings.staff.login_max_failures_per_address):
        log_in(attacker, f"guess{number}@example.lv", "some password")
    answer = log_in(attacker, EDITOR)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "900"
    # Somebody else, elsewhere, logs in as usual.
    assert log_in(client_from(context, "198.51.100.1"), EDITOR).status_code == 303
    # A lock does not grow with the attempts made during it.
    clock(context).advance(dt.timedelta(minutes=10))
    assert log_in(attacker, EDITOR).status_code == 429
    clock(context).advance(dt.timedelta(minutes=5, seconds=1))
    assert log_in(attacker, EDITOR).status_code == 303
    with context.database.session() as db:
        [throttled] = db.scalars(
            select(AuditEntry).where(AuditEntry.action == "login-throttled")
        ).all()
        # Refused attempts are one entry per address and window, with their count.
        assert throttled.actor == "203.0.113.7"
        assert throttled.after is not None and throttled.after["count"] == 2
        assert throttled.after["limit"] == "address"


def test_an_unknown_account_is_locked_like_a_known_one(context: Context, tmp_path: Path) -> None:
    """Otherwise the lock itself would tell which e-mail addresses have accounts."""
    staff_site(context, tmp_path)
    for _number in range(5):
        log_in(client_from(context, "10.1.0.1"), "nobody@example.lv", "x" * 12)
    answer = log_in(client_from(context, "10.1.0.1"), "nobody@example.lv")
    assert answer.status_code == 429


def test_a_success_clears_the_count_of_its_account(context: Context, tmp_path: Path) -> None:
    staff_site(context, tmp_path)
    for _number in range(4):
        log_in(client_from(context, "10.2.0.1"), EDITOR, "wrong password")
    assert log_in(client_from(context, "10.2.0.1"), EDITOR).status_code == 303
    for _number in range(4):
        log_in(client_from(context, "10.2.0.1"), EDITOR, "wrong password")
    assert log_in(client_from(context, "10.2.0.1"), EDITOR).status_code == 303


def test_old_attempts_are_pruned(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    log_in(client, EDITOR, "wrong password")
    clock(context).advance(dt.timedelta(days=2))
    log_in(client, EDITOR)
    with context.database.session() as db:
        assert len(db.scalars(select(LoginAttempt)).all()) == 1


def test_a_hash_with_old_parameters_is_replaced_at_log_in(context: Context, tmp_path: Path) -> None:
    staff_site(context, tmp_path)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    with context.database.session() as db:
        user = db.scalars(select(StaffUser).where(StaffUser.email == EDITOR)).one()
        user.password_hash = weak.hash(PASSWORD)
        old = user.password_hash
    assert log_in(TestClient(create_app(context)), EDITOR).status_code == 303
    with context.database.session() as db:
        user = db.scalars(select(StaffUser).where(StaffUser.email == EDITOR)).one()
        assert user.password_hash != old
        assert user.password_hash.startswith("$argon2id$")
        assert not accounts.hasher.check_needs_rehash(user.password_hash)


def test_short_passwords_and_unknown_roles_are_refused(context: Context) -> None:
    import pytest

    with pytest.raises(accounts.AccountError, match="at least 12"):
        add_staff(context, "a@example.lv", "editor", "short pass")
    with pytest.raises(accounts.AccountError, match="role"):
        add_staff(context, "a@example.lv", "owner")
    add_staff(context, "A@Example.lv ", "editor")
    with pytest.raises(accounts.AccountError, match="exists already"):
        add_staff(context, "a@example.lv", "admin")


def test_the_log_in_page_is_latvian_and_sets_a_cookie_for_its_token(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    page = client.get("/staff/login")
    assert page.status_code == 200
    assert "Darbinieku pieteikšanās" in page.text
    assert csrf_of(page.text)
    assert client.get("/staff/login?lang=en").text.count("Staff log-in") >= 1


def test_passwords_anyone_would_guess_first_are_refused(context: Context) -> None:
    import pytest

    refused = {
        "aaaaaaaaaaaa": "staff.password_repeated",
        "abcabcabcabcab": "staff.password_repeated",
        "Password2026!": "staff.password_common",
        "parole123456": "staff.password_common",
        "123456789012": "staff.password_common",
        "qwertyuiopas": "staff.password_common",
        "redaktore2026": "staff.password_email",
    }
    for password, code in refused.items():
        with pytest.raises(accounts.AccountError) as caught:
            add_staff(context, EDITOR, "editor", password)
        assert caught.value.code == code, password
    assert caught.value.problems[0].text("lv") == "parole nedrīkst būt e-pasta adrese vai tās daļa"
    with pytest.raises(accounts.AccountError, match="e-mail address or a part of it"):
        accounts.check_password("Redaktore@Example.lv", EDITOR)
    add_staff(context, EDITOR, "editor", "a long and uncommon phrase")
