"""Feedback after a session (issue 17): one anonymous answer per attendee through their own
signed link, the staff summary and trend, and the e-mail with the link: with the follow-up, or
from the staff button, once each.

The national videoconference of Thursday 10 December 2026 runs 10.00-11.30 Riga (08.00-09.30
UTC); attendance rows are written directly, as the attendance pages would.
"""

from __future__ import annotations

import datetime as dt
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import undefer

from tests.factories import NATIONAL, import_entries, live_server, national, session_id
from tests.integration.test_announcements import (
    WEEK_BEFORE_NATIONAL,
    announce,
    announced_session,
    at,
    body,
    deliver,
    member,
    to,
)
from tests.integration.test_staff_access import EDITOR, csrf_of, log_in, staff_site
from tests.mail_factories import add_members, mail_context, smtp_server
from vcs import feedback
from vcs.context import Context
from vcs.planning import sessions
from vcs.storage.models import Attendance, Delivery, FeedbackGiven, Member

DATE = "2026-12-10"
AFTER = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)
RECORDING = "https://video.example.lv/ieraksti/2026-12-10"


# -- helpers --------------------------------------------------------------------------------------


def national_session(context: Context, tmp_path: Path) -> int:
    import_entries(context, tmp_path, national())
    return session_id(context, NATIONAL, DATE)


def attend(
    context: Context,
    session: int,
    email: str,
    *,
    member_id: int | None = None,
    name: str = "Vika Viesīte",
    language: str = "lv",
) -> int:
    """Mark someone as having taken part; return the attendance's id."""
    with context.database.session() as db:
        row = Attendance(
            session_id=session,
            member_id=member_id,
            email=email.lower(),
            name=name,
            language=language,
            marked_at=context.clock.now(),
        )
        db.add(row)
        db.flush()
        return row.id


def attend_members(context: Context, session: int, count: int) -> list[int]:
    """`count` members (biedrs0@example.lv, ...) who took part; their attendance ids."""
    ids = []
    for member_id in add_members(context, count):
        with context.database.session() as db:
            found = db.get(Member, member_id)
            assert found is not None
            email, name = found.email, found.name
        ids.append(attend(context, session, email, member_id=member_id, name=name))
    return ids


def link(context: Context, attendance_id: int) -> str:
    """The attendee's form, as a path on the site."""
    with context.database.session() as db:
        row = db.get(Attendance, attendance_id)
        assert row is not None
        return feedback.link_url(context.settings, row).removeprefix(context.settings.base_url)


def summary(context: Context, session: int) -> feedback.Summary:
    with context.database.session() as db:
        return feedback.summary(db, session)


def answer(context: Context, attendance_id: int, rating: int, **texts: str) -> None:
    with context.database.session() as db:
        row = db.get(Attendance, attendance_id)
        assert row is not None
        feedback.save(db, context.clock, row, feedback.Answer(rating, **texts), "lv")


def feedback_mails(context: Context) -> list[Delivery]:
    with context.database.session() as db:
        return list(
            db.scalars(
                select(Delivery)
                .options(undefer(Delivery.raw_message))
                .where(Delivery.kind == "feedback")
                .order_by(Delivery.to_address)
            )
        )


def text_of(delivery: Delivery) -> str:
    message = message_from_bytes(zlib.decompress(delivery.raw_message), policy=policy.SMTP)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def client_after(context: Context) -> httpx.Client:
    from tests.factories import browse

    at(context, AFTER)
    return browse(context)


# -- one answer per attendee ----------------------------------------------------------------------


def test_an_attendee_answers_once_and_a_second_submit_is_refused(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = national_session(context, tmp_path)
    [attendance] = attend_members(context, session, 1)
    client = client_after(context)
    path = link(context, attendance)

    opened = client.get(f"{path}?lang=en")  # a mail scanner's GET changes nothing
    assert opened.status_code == 200
    assert opened.headers["cache-control"] == "no-store"
    assert 'type="radio" id="rating-5" name="rating" value="5"' in opened.text
    assert summary(context, session).answers == 0

    form = {
        "rating": "5",
        "useful": "Piemēri no Cēsīm",
        "improve": "",
        "wishes": "Digitālā drošība",
    }
    sent = client.post(f"{path}?lang=en", data=form)
    assert sent.status_code == 200
    assert "Thank you! Your answer is saved." in sent.text

    again = client.post(f"{path}?lang=en", data={**form, "rating": "1"})
    assert again.status_code == 409
    assert "You have already answered for this session." in again.text
    assert "already" in client.get(f"{path}?lang=en").text
    found = summary(context, session)
    assert (found.answers, found.average, found.distribution[1]) == (1, 5.0, 0)
    with context.database.session() as db:
        assert [g.attendance_id for g in db.scalars(select(FeedbackGiven))] == [attendance]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_two_submits_at_once_give_one_answer(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'vcs.sqlite3'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    context = mail_context(tmp_path, url)
    try:
        session = national_session(context, tmp_path)
        [attendance] = attend_members(context, session, 1)
        at(context, AFTER)
        path = link(context, attendance)
        # Both requests get past the "answered already?" look-up, as two that arrive together
        # can: only the key of feedback_given stands between them and a second answer.
        monkeypatch.setattr(feedback, "answered", lambda db, attendance_id: False)
        submits = 8
        start = threading.Barrier(submits)
        with live_server(context) as base:

            def submit(rating: int) -> int:
                with httpx.Client(base_url=base) as client:
                    start.wait()
                    return client.post(path, data={"rating": str(rating)}).status_code

            with ThreadPoolExecutor(submits) as pool:
                statuses = list(pool.map(submit, [1, 2, 3, 4, 5, 1, 2, 3]))

        assert sorted(statuses) == [200] + [409] * (submits - 1)
        assert summary(context, session).answers == 1
        with context.database.session() as db:
            assert len(db.scalars(select(FeedbackGiven)).all()) == 1
    finally:
        context.close()


# -- who may answer, and when ---------------------------------------------------------------------


def test_a_link_that_is_no_attendees_is_refused(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = national_session(context, tmp_path)
    other = session_id(context, NATIONAL, "2027-01-14")
    [attendance] = attend_members(context, session, 1)
    removed = attend(context, session, "prom@example.lv")
    client = client_after(context)
    own = link(context, attendance)
    gone = link(context, removed)
    with context.database.session() as db:
        db.delete(db.get(Attendance, removed))
    token = own.rsplit("/", 1)[1]
    # Signed by us, for a session they did not attend: still not an attendee of it.
    forged = feedback._serializer(context.settings).dumps([attendance, other])

    for path, status in (
        (gone, 404),  # an attendance removed since: not an attendee any more
        (f"/sessions/{other}/feedback/{token}", 404),  # one session's link under another's
        (f"/sessions/{other}/feedback/{forged}", 404),  # signed for a session they missed
        (f"/sessions/{session}/feedback/{token[:-2]}xx", 403),  # changed by hand
        (f"/sessions/{session}/feedback/nonsense", 403),
    ):
        for refused in (
            client.get(f"{path}?lang=en"),
            client.post(f"{path}?lang=en", data={"rating": "5"}),
        ):
            assert refused.status_code == status, path
            assert "This link does not work" in refused.text
            assert "only those who took part in the session can answer" in refused.text
    assert summary(context, session).answers == 0
    assert summary(context, other).answers == 0

    latvian = client.get(f"{gone}?lang=lv")
    assert "atbildēt var tikai sesijas dalībnieki" in latvian.text


def test_the_form_opens_when_the_session_starts(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = national_session(context, tmp_path)
    [attendance] = attend_members(context, session, 1)
    client = client_after(context)
    path = link(context, attendance)
    at(context, dt.datetime(2026, 12, 10, 7, 59, tzinfo=dt.UTC))

    assert "The feedback form opens when the session starts." in client.get(f"{path}?lang=en").text
    assert client.post(path, data={"rating": "4"}).status_code == 400
    assert summary(context, session).answers == 0

    at(context, dt.datetime(2026, 12, 10, 8, 0, tzinfo=dt.UTC))
    assert client.post(path, data={"rating": "4"}).status_code == 200


def test_problems_are_shown_at_their_field_and_nothing_is_saved(tmp_path: Path) -> None:
    context = mail_context(tmp_path)
    session = national_session(context, tmp_path)
    [attendance] = attend_members(context, session, 1)
    client = client_after(context)
    path = link(context, attendance)

    refused = client.post(
        f"{path}?lang=lv", data={"rating": "7", "useful": "x" * 2001, "wishes": "Jaunas tēmas"}
    )
    assert refused.status_code == 400
    page = refused.text
    assert 'id="rating-error"' in page and "izvēlieties vērtējumu no 1 līdz 5" in page
    assert 'id="useful-error"' in page and "2000" in page
    assert 'aria-invalid="true" aria-describedby="useful-error"' in page
    assert ">Jaunas tēmas</textarea>" in page  # what was typed stays
    assert summary(context, session).answers == 0

    # Text is cleaned at the door: control characters go, line breaks stay.
    fine = client.post(path, data={"rating": "3", "useful": "Pirmā\r\notrā\x07 rinda\u202e"})
    assert fine.status_code == 200
    assert summary(context, session).useful == ["Pirmā\notrā rinda"]


# -- what staff see -------------------------------------------------------------------------------


def test_the_summary_counts_and_averages_without_names(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    session = session_id(context, NATIONAL, DATE)
    attendees = [
        attend(context, session, f"dalibnieks{n}@example.lv", name=f"Jānis Bērziņš {n}")
        for n in range(5)
    ]
    at(context, AFTER)
    for attendance, rating, useful in zip(
        attendees[:4], (5, 4, 4, 2), ("Zināšanas", "Apmaiņa", "", "Bērni"), strict=True
    ):
        answer(context, attendance, rating, useful=useful, wishes=f"Tēma {rating}")
    log_in(client, EDITOR)

    found = summary(context, session)
    assert (found.answers, found.average) == (4, 3.75)
    assert found.distribution == {1: 0, 2: 1, 3: 0, 4: 2, 5: 1}
    assert found.useful == ["Apmaiņa", "Bērni", "Zināšanas"]  # alphabetical, not as they came

    page = client.get(f"/staff/sessions/{session}?lang=en").text
    start = page.index('id="feedback-heading"')
    section = page[start : page.index("</section>", start)]
    assert "<dt>Attendees</dt><dd>5</dd>" in section
    assert "<dt>Answers</dt><dd>4</dd>" in section
    assert "<dt>Average rating</dt><dd>3.8 / 5</dd>" in section
    assert '<tr><td>4</td><td data-label="Answers">2</td></tr>' in section
    assert "<li>Apmaiņa</li>" in section and "<li>Tēma 2</li>" in section
    assert "Jānis" not in section and "dalibnieks" not in section and "@" not in section
    latvian = client.get(f"/staff/sessions/{session}?lang=lv").text
    assert "<dt>Vidējais vērtējums</dt><dd>3,8 / 5</dd>" in latvian

    # Nothing stored with an answer could say whose it is.
    with context.database.session() as db:
        columns = {c["name"] for c in inspect(db.get_bind()).get_columns("feedback_answers")}
    assert columns == {"id", "session_id", "rating", "useful", "improve", "wishes", "language"}


def test_the_series_page_shows_the_trend_and_the_topic_wishes(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    december = session_id(context, NATIONAL, DATE)
    january = session_id(context, NATIONAL, "2027-01-14")
    first = [attend(context, december, f"d{n}@example.lv") for n in range(2)]
    second = [attend(context, january, f"j{n}@example.lv") for n in range(3)]
    at(context, dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.UTC))
    answer(context, first[0], 5, wishes="Sociālie mediji")
    answer(context, first[1], 2)
    for attendance, rating in zip(second, (4, 4, 3), strict=True):
        answer(context, attendance, rating, wishes="Brīvprātīgie" if rating == 3 else "")
    log_in(client, EDITOR)

    page = client.get(f"/staff/series/{NATIONAL}?lang=en").text
    section = page[page.index('id="feedback-trend-heading"') :]
    rows = section[: section.index("</table>")].split("<tr>")[2:]
    assert "Thursday, 10 December 2026" in rows[0] and "3.5" in rows[0]
    assert 'data-label="Answers">2<' in rows[0]
    assert "Thursday, 14 January 2027" in rows[1] and "3.7" in rows[1]
    assert 'data-label="Answers">3<' in rows[1]
    wishes = section[section.index("Which topics would you like") :]
    assert wishes.index("Brīvprātīgie") < wishes.index("Sociālie mediji")  # newest first


# -- the e-mail with the link ---------------------------------------------------------------------


def test_the_staff_button_mails_each_attendee_their_link_once(
    context: Context, tmp_path: Path
) -> None:
    client = staff_site(context, tmp_path)
    session = session_id(context, NATIONAL, DATE)
    [gone] = add_members(context, 1)
    visitor = attend(context, session, "Vika@Example.lv", language="en")
    with context.database.session() as db:
        left = db.get(Member, gone)
        assert left is not None
        left.status = "unsubscribed"  # took part, then left: asked for nothing more
        attend(context, session, left.email, member_id=gone)
    log_in(client, EDITOR)
    page = client.get(f"/staff/sessions/{session}?lang=en")
    assert "Ask attendees for feedback" not in page.text  # the session has not started
    early = client.post(
        f"/staff/sessions/{session}/feedback/ask", data={"csrf_token": csrf_of(page.text)}
    )
    assert early.status_code == 400 and "the feedback form opens when" in early.text
    at(context, AFTER)
    log_in(client, EDITOR)  # the log-in of 17 days ago has ended

    for _ in range(2):  # pressed twice: nobody gets a second e-mail
        page = client.get(f"/staff/sessions/{session}")
        pressed = client.post(
            f"/staff/sessions/{session}/feedback/ask", data={"csrf_token": csrf_of(page.text)}
        )
        assert pressed.status_code == 303
    [mail] = feedback_mails(context)
    assert mail.to_address == "vika@example.lv" and mail.language == "en"
    assert link(context, visitor) in text_of(mail)

    late = attend(context, session, "velak@example.lv")  # marked after the first press
    page = client.get(f"/staff/sessions/{session}?lang=en")
    assert "<dt>Asked for feedback</dt><dd>1</dd>" in page.text
    client.post(f"/staff/sessions/{session}/feedback/ask", data={"csrf_token": csrf_of(page.text)})
    mails = feedback_mails(context)
    assert [m.to_address for m in mails] == ["velak@example.lv", "vika@example.lv"]
    assert link(context, late) in text_of(mails[0])
    assert "Lūdzu, pastāstiet, kā jums patika" in text_of(mails[0])


def test_the_follow_up_carries_the_link_to_attendees_and_nobody_is_asked_twice(
    tmp_path: Path, any_database_url: str
) -> None:
    with smtp_server() as (sink, port):
        context = mail_context(tmp_path, any_database_url, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        try:
            import_entries(context, tmp_path, national())
            member(context, "anna@example.lv")
            member(context, "john@example.lv", language="en")
            at(context, WEEK_BEFORE_NATIONAL)
            sid = announced_session(context, sink, NATIONAL, DATE)
            with context.database.session() as db:
                anna = db.scalars(select(Member).where(Member.email == "anna@example.lv")).one()
                anna_id = anna.id
            attended = attend(context, sid, "anna@example.lv", member_id=anna_id)
            visitor = attend(context, sid, "vika@example.lv")

            at(context, AFTER)
            with context.database.session() as db:
                sessions.update_details(
                    db, sessions.get(db, sid), "staff@example.lv", recording_url=RECORDING
                )
            announce(context)
            messages = deliver(context, sink)
            # Anna took part: one e-mail, the recording with her link; John gets the recording.
            [for_anna] = to(messages, "anna@example.lv")
            [for_john] = to(messages, "john@example.lv")
            [for_vika] = to(messages, "vika@example.lv")
            for message in (for_anna, for_vika):
                assert RECORDING in body(message, "plain")
            assert link(context, attended) in body(for_anna, "plain")
            assert f'href="{context.settings.base_url}{link(context, attended)}"' in body(
                for_anna, "html"
            )
            assert link(context, visitor) in body(for_vika, "plain")
            assert RECORDING in body(for_john, "plain") and "/feedback/" not in body(
                for_john, "plain"
            )

            # Staff press the button later, with one more attendee marked meanwhile.
            late = attend(context, sid, "john@example.lv", name="John")
            with context.database.session() as db:
                assert feedback.ask(db, context.settings, sid, context.clock.now()) == 1
                assert feedback.ask(db, context.settings, sid, context.clock.now()) == 0
            [for_late] = deliver(context, sink)
            assert link(context, late) in body(for_late, "plain")
            assert sink.copies["anna@example.lv"] == 2  # the announcement and the follow-up
            assert sink.copies["vika@example.lv"] == 1
        finally:
            context.close()
