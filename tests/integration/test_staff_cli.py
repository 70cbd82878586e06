"""`vcs staff add | list | disable` from the shell, against a temporary SQLite file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from tests.conftest import isolated_environ, make_settings
from vcs.context import Context
from vcs.storage.models import AuditEntry, StaffUser


def vcs(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", **isolated_environ(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "vcs", *args],
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def test_staff_add_list_and_disable(tmp_path: Path) -> None:
    assert vcs(tmp_path, "init").returncode == 0
    added = vcs(
        tmp_path,
        "staff",
        "add",
        "Ilze@Example.lv",
        "--role",
        "admin",
        "--name",
        "Ilze Ozola",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout == "staff account ilze@example.lv added (admin)\n"

    listed = vcs(tmp_path, "staff", "list")
    assert "ilze@example.lv" in listed.stdout and "admin" in listed.stdout
    assert "active" in listed.stdout and "never" in listed.stdout

    disabled = vcs(tmp_path, "staff", "disable", "ilze@example.lv")
    assert disabled.stdout == "staff account ilze@example.lv disabled\n"
    assert "disabled" in vcs(tmp_path, "staff", "list").stdout

    context = Context.from_settings(make_settings(tmp_path))
    try:
        with context.database.session() as db:
            user = db.scalars(select(StaffUser)).one()
            assert user.password_hash.startswith("$argon2id$")
            assert not user.active
            actions = db.scalars(
                select(AuditEntry.action).where(AuditEntry.entity == "staff_user")
            ).all()
            assert list(actions) == ["create", "disable"]
    finally:
        context.close()


def test_staff_add_refuses_weak_passwords_and_duplicates(tmp_path: Path) -> None:
    assert vcs(tmp_path, "init").returncode == 0
    args = ("staff", "add", "a@example.lv", "--role", "editor", "--password-stdin")
    weak = vcs(tmp_path, *args, stdin="short\n")
    assert weak.returncode == 1
    assert weak.stderr == "vcs: the password must be at least 12 characters long\n"
    assert vcs(tmp_path, *args, stdin="twelve chars!\n").returncode == 0
    again = vcs(tmp_path, *args, stdin="twelve chars!\n")
    assert again.returncode == 1
    assert again.stderr == "vcs: a staff account a@example.lv exists already\n"
    unknown = vcs(tmp_path, "staff", "disable", "b@example.lv")
    assert unknown.stderr == "vcs: no staff account b@example.lv\n"


def test_staff_add_asks_for_the_password_twice(tmp_path: Path) -> None:
    assert vcs(tmp_path, "init").returncode == 0
    args = ("staff", "add", "a@example.lv", "--role", "editor")
    mismatch = vcs(tmp_path, *args, stdin="a long enough password\nanother long password\n")
    assert mismatch.returncode != 0
    same = vcs(tmp_path, *args, stdin="a long enough password\na long enough password\n")
    assert same.returncode == 0, same.stderr


def test_staff_password_sets_a_new_password(tmp_path: Path) -> None:
    assert vcs(tmp_path, "init").returncode == 0
    add = ("staff", "add", "a@example.lv", "--role", "editor", "--password-stdin")
    assert vcs(tmp_path, *add, stdin="the first password\n").returncode == 0
    change = ("staff", "password", "a@example.lv", "--password-stdin")
    assert vcs(tmp_path, *change, stdin="too short\n").returncode == 1
    changed = vcs(tmp_path, *change, stdin="the second password\n")
    assert changed.stdout == "new password set for a@example.lv\n"
    context = Context.from_settings(make_settings(tmp_path))
    try:
        from vcs.staff import accounts

        with context.database.session() as db:
            now = context.clock.now()
            assert accounts.verify(db, "a@example.lv", "the first password", now) is None
            assert accounts.verify(db, "a@example.lv", "the second password", now) is not None
            assert accounts.find(db, "a@example.lv").session_epoch == 1  # type: ignore[union-attr]
    finally:
        context.close()
