"""Hostile text through every door: what it may hold is vcs/text.py's to say, once.

Each door (a series file, the staff forms, a member file, the subscribe form) is fed text with
control characters, CR/LF, NUL, bidi overrides, zero-width characters, markup and lengths at and
past the limits (hypothesis). Every value is either stored clean (one line where it must be one
line, no control characters, within the limit) or refused with a message that names the field;
afterwards every feed, page and mailing works for everyone: the calendar feeds parse and hold no
control character on any line, the pages and the API answer, the digest and the announcements
are queued for every member with every header on one line, and the sender sends them all.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import zlib
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import icalendar
import vobject
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from starlette.testclient import TestClient

from tests.factories import import_entries, national
from tests.integration.test_staff_access import ADMIN, EDITOR, add_staff, csrf_of, log_in
from tests.integration.test_staff_series import form_of
from tests.integration.test_subscriptions import confirm_link_in_outbox
from tests.mail_factories import NOW, mail_context
from vcs import digest as digests
from vcs.context import Context
from vcs.mail import outbox
from vcs.mail.sender import Sender
from vcs.membership.members import FORMULA_START, MemberSpec, create_member
from vcs.membership.members_csv import MemberFileError, import_members
from vcs.planning import sessions
from vcs.planning.series import SeriesError, import_series, read_series_file
from vcs.scheduler.jobs import registry
from vcs.scheduler.runs import run_job
from vcs.storage.models import Delivery, Digest, DigestItem, Member, Series, Session
from vcs.text import NAME, NOTE, TEXT, TITLE, TOPIC, Kind, clean, url_problem
from vcs.web.app import create_app

# Per door; HOSTILE_TEXT_EXAMPLES=500 for a longer hunt.
EXAMPLES = int(os.environ.get("HOSTILE_TEXT_EXAMPLES", "40"))
HOSTILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Pieces that have broken or bent text somewhere: line breaks of every kind, NUL and other
# controls, bidi overrides and isolates, zero-width characters, markup and template syntax,
# spreadsheet formulas, header and iCalendar look-alikes, combining marks, emoji, RTL scripts.
PIECES = [
    "\n", "\r\n", "\r", "\x00", "\x1b[31m", "\x07", "\x7f", "\x85", "\x9b", "\v", "\f", "\t",
    "\x1c", "\u2028", "\u2029", "\u202e", "\u202d", "\u2066", "\u2069", "\u200b", "\u200d",
    "\u200e", "\ufeff", "\u00ad", "\u00a0", "\u3000", "  ",
    "<script>alert(1)</script>", "<b>", "</p>", "&amp;", "&#0;", "]]>", "{{ 7*7 }}", "%(name)s",
    "%s", '=HYPERLINK("https://x.lv")', "+371", "@", "'", '"', "\\", "\\n", ";", ",", ":", "^",
    "BEGIN:VEVENT", "END:VCALENDAR", "\r\nBcc: x@example.lv", "[a](javascript:alert(1))", "**",
    "# ", "Ā", "ķ", "e\u0301", "👩‍👩‍👧", "مرحبا", "שלום",
]  # fmt: skip
MARKUP = "<script>alert(1)"
# Never in a stored value, a feed line or a header: C0 and C1 controls (tab and newline aside,
# which only multi-line text keeps), the Unicode line separators, bidi controls, zero-width space.
NEVER = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b\ufeff]"
)
# Never in a line of a feed or a header (a tab is white space in both).
NOT_IN_A_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
TOO_LONG_LV = "Pārāk garš: ne vairāk kā"

hostile = st.lists(
    st.one_of(
        st.sampled_from(PIECES), st.text(st.characters(exclude_categories=("Cs",)), max_size=6)
    ),
    max_size=10,
).map("".join)


def longish(limit: int) -> st.SearchStrategy[str]:
    """Text just within, at and past `limit` (with characters cleaning removes), or a megabyte."""
    near = st.builds(
        lambda n, tail: "ā" * n + tail,
        st.sampled_from([limit - 1, limit, limit + 1]),
        st.sampled_from(["", "\x00", "\u200b\n", " \u202e"]),
    )
    # Built, so that a failing example shows the call rather than a megabyte of "Ļ".
    megabyte = st.builds(lambda n: "Ļ" * n + "\n", st.just(1_000_000))
    return st.one_of(near, megabyte)


# Hostile text around something visible, mostly: a field that must not be empty is not, most of
# the time, so that what is stored is tried as often as what is refused.
filled = st.one_of(
    hostile.map(lambda s: f"Ā{s}"), hostile.map(lambda s: f"{s}ē"), hostile.map(lambda s: f"ķ{s}x")
)


@st.composite
def values_for(draw: Any, kinds: dict[str, Kind], required: Any = ()) -> dict[str, str]:
    """Hostile text for each field (`required` ones mostly not blank); half the time one long."""
    long = draw(st.one_of(st.none(), st.sampled_from(list(kinds))))
    return {
        field: draw(
            longish(kind.limit)
            if field == long
            else st.one_of(filled, filled, hostile)
            if field in required
            else hostile
        )
        for field, kind in kinds.items()
    }


def problems_of(
    values: dict[str, str], kinds: dict[str, Kind], required: dict[str, str]
) -> set[str]:
    """The fields a door must refuse: too long once cleaned, or required and empty once cleaned.
    `required` maps a field to the one a message about its absence names."""
    found = {field for field, kind in kinds.items() if len(clean(values[field], kind)) > kind.limit}
    found |= {label for field, label in required.items() if not clean(values[field], kinds[field])}
    return found


def stopped_by_request_limits(answer: Any, values: Any) -> bool:
    """Whether the web layer refused the whole request before any form read it (see
    vcs.web.security): 400 for NUL in a form, 413 for a body over the size limit."""
    if 'name="csrf_token"' in answer.text or 'name="form_token"' in answer.text:
        return False
    if answer.status_code == 413:
        assert any(len(value) > 10_000 for value in values)
        return True
    if answer.status_code == 400:
        assert any("\x00" in value for value in values)
        return True
    return False


def assert_clean(value: str, kind: Kind) -> None:
    assert not NEVER.search(value), repr(value[:200])
    assert value == value.strip(), repr(value[:200])
    assert len(value) <= kind.limit
    if not kind.multiline:
        assert "\n" not in value and "\t" not in value, repr(value[:200])
    else:
        assert "\r" not in value


# -- the installation -----------------------------------------------------------------------------


def soon() -> dict[str, Any]:
    """Two sessions a week and a half apart, the first due to be announced at NOW."""
    return national(
        slug="drizuma", title="Drīzumā", rrule="FREQ=WEEKLY;INTERVAL=2;COUNT=2",
        start="2026-11-26T10:00",
    )  # fmt: skip


def site(tmp_path: Path, database_url: str | None = None) -> Context:
    """The national series and one due to be announced, two members, staff, a digest draft."""
    context = mail_context(tmp_path, database_url)
    import_entries(context, tmp_path, national(), soon())
    with context.database.session() as db:
        for email in ("anna.ozola@example.lv", "janis.kalnins@example.lv"):
            create_member(db, MemberSpec(email, "Vārds Uzvārds", status="active"), "test")
        digests.draft(db, context.settings, NOW, "test")
    add_staff(context, EDITOR, "editor")
    add_staff(context, ADMIN, "admin")
    return context


def web(context: Context, who: str | None = None, address: str = "testclient") -> TestClient:
    # At the configured https address: the staff cookie is Secure.
    client = TestClient(
        create_app(context),
        base_url=context.settings.base_url,
        follow_redirects=False,
        client=(address, 50000),
    )
    if who is not None:
        assert log_in(client, who).status_code == 303
    return client


# -- afterwards: everything works for everyone ---------------------------------------------------


def assert_calendar(data: bytes) -> None:
    icalendar.Calendar.from_ical(data)
    for line in data.decode("utf-8").split("\r\n"):
        assert not NOT_IN_A_LINE.search(line), repr(line[:200])


def rfc6868(value: str) -> str:
    """A parameter value decoded (^n, ^' and ^^: RFC 6868), which vobject leaves as it is."""
    return re.sub(r"\^([n'^])", lambda m: {"n": "\n", "'": '"', "^": "^"}[m[1]], value)


def assert_page(html: str, refused: bool = False) -> None:
    """Markup is shown as text; a page holds no control character, but for a refused form,
    which shows what was typed so that it can be corrected."""
    assert MARKUP not in html
    if not refused:
        assert not NEVER.search(html.replace("\n", "").replace("\t", "").replace("\r", ""))


def assert_headers_are_one_line(raw: bytes) -> None:
    message = message_from_bytes(raw, policy=policy.default)
    for part in message.walk():
        for name, value in part.raw_items():
            unfolded = re.sub(r"\r?\n[ \t]", " ", value)
            assert not NOT_IN_A_LINE.search(unfolded), (name, unfolded[:200])
            assert not NOT_IN_A_LINE.search(str(part[name])), (name, str(part[name])[:200])


def everything_still_works(context: Context) -> None:
    """Every feed, page and mailing, for everyone, after whatever the doors let in."""
    client = web(context)
    with context.database.session() as db:
        slugs = list(db.scalars(select(Series.slug).where(Series.visibility == "public")))
        session_ids = list(db.scalars(select(Session.id)))
        tokens = list(db.scalars(select(Member.feed_token)))
    feeds = ["/calendar.ics", *(f"/series/{s}.ics" for s in slugs)]
    for path in [*feeds, *(f"/feeds/{token}.ics" for token in tokens)]:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert_calendar(answer.content)
    pages = ["/", *(f"/series/{s}" for s in slugs), *(f"/sessions/{i}" for i in session_ids)]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert_page(answer.text)
    api = client.get("/api/sessions")
    assert api.status_code == 200
    assert isinstance(json.loads(api.text), (list, dict))

    with context.database.session() as db:
        digest = db.scalars(select(Digest)).one()
        # Hostile text may name a domain ("x.lv"): staff confirm the links before sending.
        digests.confirm_links(db, context.settings, digest, "test")
        queued = digests.send(db, context.settings, digest, NOW, "test")
        active = db.scalar(
            select(func.count()).select_from(Member).where(Member.status == "active")
        )
        assert (queued, digests.not_made(db, digest.id)) == (active, 0)
    run = run_job(context, registry.get("announce"), trigger="test")
    assert run.outcome == "ok" and "failed" not in run.summary, run.summary
    with context.database.session() as db:
        deliveries = db.scalars(select(Delivery).where(Delivery.kind != "confirmation")).all()
        assert {d.status for d in deliveries} == {outbox.QUEUED}
        for delivery in deliveries:
            assert_headers_are_one_line(zlib.decompress(delivery.raw_message))
    Sender(context).run()
    with context.database.session() as db:
        statuses = set(db.scalars(select(Delivery.status)))
    assert statuses == {outbox.SENT}


# -- the series file ----------------------------------------------------------------------------

FILE_FIELDS = {
    "title.lv": TITLE, "title.en": TITLE, "description.lv": TEXT, "description.en": TEXT,
    "organiser.name": NAME, "place.venue": TITLE, "place.address": TITLE,
    "funding.text.lv": NOTE, "tags": Kind(100),
}  # fmt: skip
FILE_REQUIRED = {
    "title.lv": "title.lv", "place.venue": "place.venue", "place.address": "place.address",
    "funding.text.lv": "funding.text",
}  # fmt: skip


def toml(value: Any) -> str:
    """A value as TOML; every character TOML would not take as it is goes as a \\U escape."""
    if isinstance(value, str):
        escaped = (c if c.isprintable() and c not in '"\\' else f"\\U{ord(c):08X}" for c in value)
        return '"' + "".join(escaped) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml(item) for item in value) + "]"
    return "{ " + ", ".join(f"{key} = {toml(item)}" for key, item in value.items()) + " }"


def series_file(slug: str, v: dict[str, str]) -> str:
    entry = {
        "slug": slug,
        "title": {"lv": v["title.lv"], "en": v["title.en"]},
        "description": {"lv": v["description.lv"], "en": v["description.en"]},
        "rrule": "FREQ=WEEKLY;COUNT=2",
        "start": "2026-11-26T10:00",
        "duration": "PT1H30M",
        "place": {"kind": "hybrid", "venue": v["place.venue"], "address": v["place.address"]},
        "organiser": {"name": v["organiser.name"], "email": "tikls@example.lv"},
        "funding": {"text": {"lv": v["funding.text.lv"]}, "project": "4.2.4.1/1/24/I/001"},
        "tags": [v["tags"]],
    }
    return "[[series]]\n" + "".join(f"{key} = {toml(value)}\n" for key, value in entry.items())


# On PostgreSQL too: it refuses NUL in text outright, where SQLite stores it.
def test_hostile_text_in_a_series_file_is_stored_clean_or_refused(
    tmp_path: Path, any_database_url: str
) -> None:
    context = site(tmp_path, any_database_url)
    client = web(context)
    numbers = itertools.count(1)

    @HOSTILE
    @given(values_for(FILE_FIELDS, FILE_REQUIRED))
    def door(values: dict[str, str]) -> None:
        slug = f"naidigs-{next(numbers)}"
        path = tmp_path / f"{slug}.toml"
        path.write_text(series_file(slug, values), encoding="utf-8")
        refused = problems_of(values, FILE_FIELDS, FILE_REQUIRED)
        try:
            import_series(context, read_series_file(path), actor="test")
        except SeriesError as exc:
            event("refused")
            assert refused, exc.lines()
            for problem in exc.lines():
                assert "\n" not in problem and not NOT_IN_A_LINE.search(problem)
            for field in refused:
                assert any(f": {field}: " in problem for problem in exc.lines()), exc.lines()
            return
        event("stored")
        assert not refused
        cleaned = {field: clean(value, FILE_FIELDS[field]) for field, value in values.items()}
        with context.database.session() as db:
            series = db.scalars(select(Series).where(Series.slug == slug)).one()
            stored = {
                "title.lv": series.title_lv, "title.en": series.title_en,
                "description.lv": series.description_lv, "description.en": series.description_en,
                "organiser.name": series.organiser_name, "place.venue": series.place["venue"],
                "place.address": series.place["address"], "funding.text.lv": series.funding_text_lv,
                "tags": series.tags[0] if series.tags else "",
            }  # fmt: skip
        assert stored == cleaned
        for field, value in stored.items():
            assert_clean(value, FILE_FIELDS[field])
        feed = client.get(f"/series/{slug}.ics")
        assert_calendar(feed.content)
        # vobject reads TEXT values as RFC 5545 says (icalendar 6 takes an escaped backslash
        # before "n" for a line break).
        calendar = vobject.readOne(feed.content.decode("utf-8"))
        for vevent in calendar.vevent_list:
            assert vevent.summary.value == cleaned["title.lv"]
            place = f"{cleaned['place.venue']}, {cleaned['place.address']}"
            assert vevent.location.value == place
            organiser = cleaned["organiser.name"] or "tikls@example.lv"
            assert rfc6868(vevent.organizer.params["CN"][0]) == organiser

    door()
    everything_still_works(context)


# -- the staff forms ----------------------------------------------------------------------------

SERIES_FORM = {
    "title_lv": TITLE, "title_en": TITLE, "description_lv": TEXT, "description_en": TEXT,
    "organiser_name": NAME, "place_venue": TITLE, "place_address": TITLE, "funding_text_lv": NOTE,
}  # fmt: skip
SERIES_FORM_REQUIRED = {
    "title_lv": "title_lv", "place_venue": "place_venue", "place_address": "place_address",
    "funding_text_lv": "funding_text_lv",
}  # fmt: skip
SESSION_FORM = {"title_lv": TITLE, "title_en": TITLE, "topic_lv": TOPIC, "description_lv": TEXT}
DIGEST_TEXT = {"subject_lv": TITLE, "intro_lv": TEXT}
DIGEST_ITEM = {"title_lv": TITLE, "body_lv": TEXT}
# A speaker is one line of the speakers field, "name; role": what ends a line or a part is the
# form's own syntax, not text.
SPEAKER_SYNTAX = re.compile("[;\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
links = st.one_of(
    st.just(""),
    st.just("https://tikls.example.lv/jaunumi"),
    hostile.map(lambda s: "https://tikls.example.lv/" + s),
    hostile,
)


def test_hostile_text_in_the_staff_forms_is_stored_clean_or_refused_beside_the_field(
    tmp_path: Path,
) -> None:
    context = site(tmp_path)
    client = web(context, EDITOR)
    numbers = itertools.count(1)
    with context.database.session() as db:
        session_ids = list(db.scalars(select(Session.id).order_by(Session.start)))
        digest_id = db.scalars(select(Digest.id)).one()

    @HOSTILE
    @given(values_for(SERIES_FORM, SERIES_FORM_REQUIRED))
    def series_form(values: dict[str, str]) -> None:
        slug = f"naidigs-{next(numbers)}"
        page = client.get("/staff/series/new")
        fields = form_of(page.text, "/staff/series/new")
        fields.update(
            values, slug=slug, start="2026-11-26T10:00", freq="WEEKLY", end="count", count="2",
            place_kind="hybrid", funding_project="4.2.4.1/1/24/I/001", action="save",
        )  # fmt: skip
        answer = client.post("/staff/series/new", data=fields)
        refused = problems_of(values, SERIES_FORM, SERIES_FORM_REQUIRED)
        if stopped_by_request_limits(answer, values.values()):
            with context.database.session() as db:
                assert db.scalars(select(Series).where(Series.slug == slug)).first() is None
            return
        if refused:
            assert answer.status_code == 400
            for field in refused:
                assert f'id="{field}-error"' in answer.text, field
            assert_page(answer.text, refused=True)
            return
        assert answer.status_code == 303, answer.text
        with context.database.session() as db:
            series = db.scalars(select(Series).where(Series.slug == slug)).one()
            stored = {
                "title_lv": series.title_lv, "title_en": series.title_en,
                "description_lv": series.description_lv, "description_en": series.description_en,
                "organiser_name": series.organiser_name, "place_venue": series.place["venue"],
                "place_address": series.place["address"], "funding_text_lv": series.funding_text_lv,
            }  # fmt: skip
        assert stored == {
            field: clean(value, SERIES_FORM[field]) for field, value in values.items()
        }
        assert_page(client.get(f"/staff/series/{slug}").text)

    @HOSTILE
    @given(
        values_for(SESSION_FORM),
        st.one_of(filled, hostile).map(lambda s: SPEAKER_SYNTAX.sub("", s)),
    )
    def session_form(values: dict[str, str], speaker: str) -> None:
        session_id = session_ids[next(numbers) % len(session_ids)]
        token = csrf_of(client.get(f"/staff/sessions/{session_id}").text)
        before = revision_of(context, session_id)
        answer = client.post(
            f"/staff/sessions/{session_id}/details",
            data={"csrf_token": token, **values, "speakers": f"{speaker}; lektore"},
        )
        if stopped_by_request_limits(answer, [*values.values(), speaker]):
            assert revision_of(context, session_id) == before
            return
        refused = problems_of(values, SESSION_FORM, {})
        speaker_name = clean(speaker, NAME)
        if refused or not speaker_name or len(speaker_name) > NAME.limit:
            assert answer.status_code == 400
            for field in refused:
                assert f'id="{field}-error"' in answer.text, field
            if refused:
                assert TOO_LONG_LV in answer.text
            assert_page(answer.text, refused=True)
            return
        assert answer.status_code == 303, answer.text
        with context.database.session() as db:
            session = sessions.get(db, session_id)
            stored = {field: getattr(session, field) for field in SESSION_FORM}
            assert session.speakers == [
                {"name": speaker_name, "role": "lektore", "organisation": ""}
            ]
        assert stored == {
            field: clean(value, SESSION_FORM[field]) for field, value in values.items()
        }

    @HOSTILE
    @given(values_for(DIGEST_TEXT, ["subject_lv"]), values_for(DIGEST_ITEM, ["title_lv"]), links)
    def digest_forms(text: dict[str, str], item: dict[str, str], link: str) -> None:
        base = f"/staff/digests/{digest_id}"
        token = csrf_of(client.get(base).text)
        answer = client.post(f"{base}/text", data={"csrf_token": token, **text})
        refused = problems_of(text, DIGEST_TEXT, {"subject_lv": "subject_lv"})
        subject, intro = clean(text["subject_lv"], TITLE), clean(text["intro_lv"], TEXT)
        if not stopped_by_request_limits(answer, text.values()):
            assert answer.status_code == (400 if refused else 303)
            if len(subject) > TITLE.limit or len(intro) > TEXT.limit:
                assert TOO_LONG_LV in answer.text
            with context.database.session() as db:
                digest = db.get(Digest, digest_id)
                assert digest is not None
                assert (digest.subject_lv == subject and digest.intro_lv == intro) != bool(refused)

        before = items_in(context)
        answer = client.post(
            f"{base}/items", data={"csrf_token": token, "action": "add", "link": link, **item}
        )
        refused = problems_of(item, DIGEST_ITEM, {"title_lv": "title_lv"})
        address = link.strip()
        bad_link = bool(address) and (
            not address.startswith(("https://", "http://")) or url_problem(address, "link")
        )
        if stopped_by_request_limits(answer, [*item.values(), link]):
            assert items_in(context) == before
            return
        assert answer.status_code == (400 if refused or bad_link else 303)
        if refused or bad_link:
            assert_page(answer.text, refused=True)
            assert items_in(context) == before
        else:
            assert items_in(context) == before + 1

    series_form()
    session_form()
    digest_forms()
    everything_still_works(context)


def revision_of(context: Context, session_id: int) -> int:
    with context.database.session() as db:
        return sessions.get(db, session_id).revision


def items_in(context: Context) -> int:
    with context.database.session() as db:
        return db.scalar(select(func.count()).select_from(DigestItem)) or 0


# -- member files (the CLI and the staff upload share the checker) -------------------------------

MEMBER_COLUMNS = {"name": NAME, "organisation": TITLE, "position": TITLE}


def member_file(email: str, values: dict[str, str]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["email", *MEMBER_COLUMNS, "status"])
    writer.writerow([email, *values.values(), "active"])
    return buffer.getvalue().encode("utf-8")


def as_read(cell: str) -> str:
    """A cell as the import reads it before cleaning: trimmed, the export's apostrophe undone."""
    cell = cell.strip()
    if cell.startswith("'") and len(cell) > 1 and cell[1] in FORMULA_START:
        return cell[1:]
    return cell


def test_hostile_text_in_a_member_file_is_stored_clean_or_refused(
    tmp_path: Path, any_database_url: str
) -> None:
    context = site(tmp_path, any_database_url)
    numbers = itertools.count(1)

    @HOSTILE
    @given(values_for(MEMBER_COLUMNS, ["name"]))
    def door(values: dict[str, str]) -> None:
        email = f"biedrs{next(numbers)}@example.lv"
        read = {column: as_read(value) for column, value in values.items()}
        refused = problems_of(read, MEMBER_COLUMNS, {"name": "name"})
        try:
            import_members(context, member_file(email, values), "members.csv", "test")
        except MemberFileError as exc:
            assert refused, exc.lines()
            for problem in exc.lines():
                assert not NOT_IN_A_LINE.search(problem)
            for column in refused:
                # A megabyte is past the csv module's own limit: the line says so.
                assert any(
                    f"line 2: {column}: " in problem or "line 2: a value is longer than" in problem
                    for problem in exc.lines()
                ), exc.lines()
            return
        assert not refused
        with context.database.session() as db:
            member = db.scalars(select(Member).where(Member.email == email)).one()
            stored = {column: getattr(member, column) for column in MEMBER_COLUMNS}
        assert stored == {c: clean(v, MEMBER_COLUMNS[c]) for c, v in read.items()}

    door()
    everything_still_works(context)


def test_a_name_typed_with_alt_enter_in_an_uploaded_member_file_is_one_line(
    tmp_path: Path,
) -> None:
    context = site(tmp_path)
    client = web(context, ADMIN)
    data = (
        "email;name;organisation;status\r\n"
        'liga.berzina@example.lv;"Līga\nBērziņa";"Jauniešu centrs\r\n„Šūpoles“";active\r\n'
    ).encode()
    token = csrf_of(client.get("/staff/members/import").text)
    dry = client.post(
        "/staff/members/import",
        data={"csrf_token": token},
        files={"file": ("members.csv", data, "text/csv")},
    )
    upload_id = re.search(r'name="upload" value="([^"]+)"', dry.text)
    assert upload_id, dry.text
    done = client.post(
        "/staff/members/import/confirm",
        data={"csrf_token": csrf_of(dry.text), "upload": upload_id.group(1)},
    )
    assert done.status_code == 200
    with context.database.session() as db:
        liga = db.scalars(select(Member).where(Member.email == "liga.berzina@example.lv")).one()
        assert (liga.name, liga.organisation) == ("Līga Bērziņa", "Jauniešu centrs „Šūpoles“")
        digest = db.scalars(select(Digest)).one()
        assert digests.send(db, context.settings, digest, NOW, "test") == 3
        raw = db.scalars(
            select(Delivery.raw_message).where(Delivery.to_address == "liga.berzina@example.lv")
        ).one()
    message = message_from_bytes(zlib.decompress(raw), policy=policy.default)
    assert str(message["To"]) == "Līga Bērziņa <liga.berzina@example.lv>"


# -- the subscribe form -------------------------------------------------------------------------


def test_a_hostile_name_on_the_subscribe_form_is_stored_clean_or_refused(tmp_path: Path) -> None:
    context = site(tmp_path)
    numbers = itertools.count(1)

    @HOSTILE
    @given(values_for({"name": NAME}, ["name"]))
    def door(values: dict[str, str]) -> None:
        n = next(numbers)
        email = f"pieteicejs{n}@example.lv"
        # Each sign-up from its own address: the form allows a few an hour from one.
        client = web(context, address=f"10.0.{n // 200}.{n % 200 + 1}")
        page = client.get("/subscribe")
        token = re.search(r'name="form_token" value="([^"]+)"', page.text)
        assert token is not None
        form = {
            "name": values["name"],
            "email": email,
            "municipality": "none",
            "language": "lv",
            "follows": "all",
        }
        answer = client.post("/subscribe", data={**form, "consent": "yes", "form_token": token[1]})
        name = " ".join(clean(values["name"], NAME).split())
        if stopped_by_request_limits(answer, [values["name"]]):
            with context.database.session() as db:
                assert db.scalars(select(Member).where(Member.email == email)).first() is None
            return
        if not name or len(name) > NAME.limit:
            assert answer.status_code == 400
            assert 'id="name-error"' in answer.text
            assert ("Vārds ir pārāk garš." if name else "Ievadiet savu vārdu.") in answer.text
            assert_page(answer.text, refused=True)
            return
        assert answer.status_code == 303, answer.text
        with context.database.session() as db:
            [confirmation] = db.scalars(select(Delivery).where(Delivery.to_address == email))
            assert confirmation.status == outbox.QUEUED
            assert_headers_are_one_line(zlib.decompress(confirmation.raw_message))
        assert client.post(confirm_link_in_outbox(context, email)).status_code == 303
        with context.database.session() as db:
            member = db.scalars(select(Member).where(Member.email == email)).one()
            assert (member.name, member.status) == (name, "active")

    door()
    everything_still_works(context)
