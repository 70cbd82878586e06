"""The weekly digest: drafting from the coming sessions, changes and recordings, Markdown, sending
through a real SMTP server (aiosmtpd), re-sending, test sends and the public archive."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.factories import NATIONAL, import_entries, national, session_id
from tests.integration.test_staff_access import EDITOR, add_staff, csrf_of, log_in
from tests.mail_factories import NOW, add_members, mail_context, smtp_server
from vcs import digest as digests
from vcs.context import Context
from vcs.mail.links import preferences_url, unsubscribe_url
from vcs.mail.sender import Sender
from vcs.planning import sessions
from vcs.scheduler.jobs import registry
from vcs.storage.models import Delivery, Digest, DigestItem, Member, Series, Session
from vcs.web.app import create_app

# NOW (2026-11-23) is a Monday, the default drafting day: this week's issue starts that day.
RIGA = dt.timezone(dt.timedelta(hours=2))  # Riga in winter, for readable test times


def site(tmp_path: Path, **environ: str) -> Context:
    """An installation at NOW with the national series and a digest covering three weeks."""
    environ.setdefault("VCS_DIGEST_DAYS_AHEAD", "21")
    context = mail_context(tmp_path, **environ)
    import_entries(context, tmp_path, national())
    return context


def extra(context: Context, start: dt.datetime, minutes: int = 60, **details: str) -> int:
    """A one-off public session of the national series."""
    with context.database.session() as db:
        series = db.scalars(select(Series).where(Series.slug == NATIONAL)).one()
        made = sessions.add_extra(
            db, series, start, start + dt.timedelta(minutes=minutes), "test", "tikls.example.lv",
            **details,
        )  # fmt: skip
        return made.id


def drafted(context: Context, now: dt.datetime = NOW) -> int:
    with context.database.session() as db:
        digest, _created = digests.draft(db, context.settings, now, "test")
        return digest.id


def composed(context: Context, digest_id: int, lang: str = "lv") -> digests.Issue:
    with context.database.session() as db:
        return digests.compose(db, context.settings, digests.get(db, digest_id), lang)


def send(context: Context, digest_id: int) -> int:
    with context.database.session() as db:
        return digests.send(db, context.settings, digests.get(db, digest_id), NOW, "test")


# -- drafting -----------------------------------------------------------------------------------


def test_a_draft_lists_exactly_the_sessions_of_the_coming_days_grouped_by_riga_day(
    tmp_path: Path,
) -> None:
    context = site(tmp_path)
    # 22:30 UTC on Wednesday 25 November is 00:30 on Thursday 26 November in Riga.
    extra(context, dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.UTC), topic_lv="Pusnakts tēma")
    extra(context, dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC), title_lv="Rīta saruna")
    extra(context, dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC))  # before the period
    extra(context, dt.datetime(2026, 12, 15, 8, 0, tzinfo=dt.UTC))  # after 21 days
    issue = composed(context, drafted(context))
    assert [day.label for day in issue.days] == [
        "ceturtdiena, 26. novembris",
        "ceturtdiena, 10. decembris",
    ]
    thursday = issue.days[0].entries
    assert [entry.time for entry in thursday] == ["00.30–01.30", "10.00–11.00"]
    assert thursday[0].topic == "Pusnakts tēma"
    assert thursday[1].title == "Rīta saruna"
    assert thursday[0].page_url.startswith("https://tikls.example.lv/sessions/")
    assert thursday[0].google_url.startswith("https://calendar.google.com/calendar/render?")
    assert thursday[0].ics_url.endswith(".ics")
    assert issue.days[1].entries[0].time == "10.00–11.30"
    assert issue.subject == "Infolapa · pirmdiena, 23. novembris"


def test_drafting_twice_in_one_week_makes_one_draft(tmp_path: Path) -> None:
    context = site(tmp_path)
    first = drafted(context)
    assert drafted(context, NOW + dt.timedelta(days=3)) == first
    assert drafted(context, NOW + dt.timedelta(days=7)) != first
    with context.database.session() as db:
        assert len(db.scalars(select(Digest)).all()) == 2
    # The job is registered, on the configured weekday, and is as idempotent.
    job = registry.get("digest-draft")
    assert "digest" in job.func(context)
    with context.database.session() as db:
        assert len(db.scalars(select(Digest)).all()) == 2


def test_changes_since_the_last_issue_and_last_weeks_recordings(tmp_path: Path) -> None:
    context = site(tmp_path)
    with context.database.session() as db:
        last = Digest(
            status="sent", period_start=NOW - dt.timedelta(days=7), period_end=NOW,
            subject_lv="Iepriekšējā", sent_at=NOW - dt.timedelta(days=7),
        )  # fmt: skip
        db.add(last)
    moved = extra(context, dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC), title_lv="Pārceltā")
    cancelled = session_id(context, NATIONAL, "2026-12-10")
    recorded = extra(context, dt.datetime(2026, 11, 19, 8, 0, tzinfo=dt.UTC), title_lv="Ierakstītā")
    with context.database.session() as db:
        sessions.move(
            db, sessions.get(db, moved), dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC), "test"
        )
        sessions.cancel(db, sessions.get(db, cancelled), "Runātāja slimība", "test")
        db.get(Session, recorded).recording_url = "https://youtu.be/ieraksts"  # type: ignore[union-attr]
    issue = composed(context, drafted(context))
    kinds = {change.title: change for change in issue.changes}
    assert kinds["Pārceltā"].kind == "moved"
    # "tagad notiks %(when)s (bija paredzēta %(was)s)": both in the locative.
    assert kinds["Pārceltā"].when == "sestdien, 2026. gada 28. novembrī, 11.00"
    assert kinds["Pārceltā"].was == "piektdien, 2026. gada 27. novembrī, 10.00"
    assert kinds["Jaunatnes lietu speciālistu videokonferences"].kind == "cancelled"
    assert kinds["Jaunatnes lietu speciālistu videokonferences"].reason == "Runātāja slimība"
    assert [r.url for r in issue.recordings] == ["https://youtu.be/ieraksts"]
    # The cancelled session is no longer in the schedule.
    titles = [entry.series for day in issue.days for entry in day.entries]
    assert "Jaunatnes lietu speciālistu videokonferences" in titles  # the moved extra one
    assert all(day.label != "ceturtdiena, 10. decembris" for day in issue.days)


def test_markdown_in_items_is_rendered_and_sanitised(tmp_path: Path) -> None:
    context = site(tmp_path)
    digest_id = drafted(context)
    with context.database.session() as db:
        digest = digests.get(db, digest_id)
        digests.add_item(
            db, digest, "test",
            title_lv="Konkurss <b>drīz</b>",
            body_lv=(
                "Pieteikumi līdz **15. janvārim**.\n\n<script>alert(1)</script>\n\n"
                "[klikšķini](javascript:alert(2)) <img src=x onerror=alert(3)>"
            ),
        )  # fmt: skip
        _subject, text, html = digests.preview(db, context.settings, digest, "lv")
    assert "<strong>15. janvārim</strong>" in html
    assert "<script" not in html.lower()
    assert 'href="javascript' not in html.lower()
    assert "<img" not in html.lower()
    assert "Konkurss &lt;b&gt;drīz&lt;/b&gt;" in html
    assert "Pieteikumi līdz **15. janvārim**." in text
    # Only the allowed tags survive even if markdown-it ever let raw HTML through.
    assert (
        digests.markdown_html("<script>x</script>*a*")
        == "<p>&lt;script&gt;x&lt;/script&gt;<em>a</em></p>"
    )


# -- sending through a real SMTP server -------------------------------------------------------


def test_the_preview_is_exactly_what_members_receive(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context = site(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        extra(context, dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC), topic_lv="Jaunieši un MI")
        add_members(context, 1, language="lv")
        add_members_en = Member(
            email="english@example.lv", name="Anna Ozola", language="en", status="active",
            feed_token="en-token",
        )  # fmt: skip
        with context.database.session() as db:
            db.add(add_members_en)
        digest_id = drafted(context)
        with context.database.session() as db:
            digests.add_item(
                db, digests.get(db, digest_id), "test", title_lv="Ziņa", title_en="News item",
                body_lv="Teksts ar **ā, č, ž**.", link="https://example.lv/zina",
            )  # fmt: skip
        add_staff(context, EDITOR, "editor")
        client = TestClient(
            create_app(context), base_url="https://testserver", follow_redirects=False
        )
        log_in(client, EDITOR)
        previews = {
            lang: (
                client.get(f"/staff/digests/{digest_id}/preview?language={lang}").text,
                client.get(f"/staff/digests/{digest_id}/preview?language={lang}&format=text").text,
            )
            for lang in ("lv", "en")
        }
        with context.database.session() as db:  # example.lv is not a trusted domain
            digests.confirm_links(db, context.settings, digests.get(db, digest_id), "test")
        assert send(context, digest_id) == 2
        report = Sender(context).run()
        assert report.sent == 2
        received = {message["To"].addresses[0].addr_spec: message for message in sink.received()}
    with context.database.session() as db:
        members = {m.email: m for m in db.scalars(select(Member))}
    for address, lang in (("biedrs0@example.lv", "lv"), ("english@example.lv", "en")):
        member = members[address]
        html, text = previews[lang]
        for placeholder, real in (
            (f"https://tikls.example.lv/unsubscribe/{digests.PREVIEW_TOKEN}",
             unsubscribe_url(context.settings, member)),
            (f"https://tikls.example.lv/preferences/{digests.PREVIEW_TOKEN}",
             preferences_url(context.settings, member)),
        ):  # fmt: skip
            html = html.replace(placeholder, real)
            text = text.replace(placeholder, real)
        message = received[address]
        delivered_html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        delivered_text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        # MIME ends a text part with a line end; nothing else may differ.
        assert delivered_html.replace("\r\n", "\n").removesuffix("\n") == html
        assert delivered_text.replace("\r\n", "\n").removesuffix("\n") == text.removesuffix("\n")
    assert "Jaunieši un MI" in previews["lv"][0]
    assert "News item" in previews["en"][0]
    assert "Skatīt šo infolapu pārlūkā" in previews["lv"][0]
    assert f"https://tikls.example.lv/digests/{digest_id}?lang=en" in previews["en"][0]


def test_resending_a_sent_digest_delivers_to_nobody_twice(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context = site(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        add_members(context, 3)
        digest_id = drafted(context)
        assert send(context, digest_id) == 3
        Sender(context).run()
        assert send(context, digest_id) == 0
        with context.database.session() as db:
            db.add(Member(email="jauna@example.lv", name="Jauna", status="active", feed_token="j"))
        assert send(context, digest_id) == 1
        Sender(context).run()
        assert send(context, digest_id) == 0
        Sender(context).run()
    assert sorted(sink.copies.values()) == [1, 1, 1, 1]
    assert "jauna@example.lv" in sink.copies
    with context.database.session() as db:
        figures = digests.figures(db, [digest_id])[digest_id]
        assert (figures.sent, figures.queued, figures.failed) == (4, 0, 0)


# -- the staff pages ------------------------------------------------------------------------------


def staff_client(tmp_path: Path) -> tuple[Context, TestClient, int, str]:
    context = site(tmp_path)
    add_members(context, 2)
    add_staff(context, EDITOR, "editor")
    client = TestClient(create_app(context), base_url="https://testserver", follow_redirects=False)
    log_in(client, EDITOR)
    answer = client.post(
        "/staff/digests/draft", data={"csrf_token": csrf_of(client.get("/staff/digests").text)}
    )
    assert answer.status_code == 303
    digest_id = int(answer.headers["location"].split("/")[3].split("?")[0])
    page = client.get(answer.headers["location"])
    assert "Šīs nedēļas apkopojums ir sagatavots." in page.text
    return context, client, digest_id, csrf_of(page.text)


def test_the_test_send_goes_only_to_the_staff_member(tmp_path: Path) -> None:
    context, client, digest_id, token = staff_client(tmp_path)
    for _ in range(2):
        answer = client.post(
            f"/staff/digests/{digest_id}/test", data={"csrf_token": token, "language": "en"}
        )
        assert answer.status_code == 303
    with context.database.session() as db:
        found = db.scalars(select(Delivery)).all()
        digest = db.get(Digest, digest_id)
        assert digest is not None and digest.status == "draft" and digest.snapshot is None
    assert [d.to_address for d in found] == [EDITOR, EDITOR]
    assert {d.kind for d in found} == {"test"}
    assert {d.language for d in found} == {"en"}
    assert len({d.ref for d in found}) == 2
    assert all(d.ref.startswith(f"digest:{digest_id}:test:") for d in found)


def test_an_editor_edits_reorders_approves_and_the_job_sends_at_the_time(
    tmp_path: Path,
) -> None:
    context, client, digest_id, token = staff_client(tmp_path)
    base = f"/staff/digests/{digest_id}"
    answer = client.post(
        f"{base}/text",
        data={"csrf_token": token, "subject_lv": "Tīkla ziņas", "subject_en": "Network news",
              "intro_lv": "Labdien!", "intro_en": ""},
    )  # fmt: skip
    assert answer.status_code == 303
    for title in ("Pirmā", "Otrā"):
        answer = client.post(
            f"{base}/items", data={"csrf_token": token, "action": "add", "title_lv": title}
        )
        assert answer.status_code == 303
    refused = client.post(f"{base}/items", data={"csrf_token": token, "action": "add"})
    assert refused.status_code == 400
    assert "Ziņai jānorāda nosaukums latviešu valodā." in refused.text
    with context.database.session() as db:
        second = db.scalars(select(DigestItem).where(DigestItem.title_lv == "Otrā")).one().id
    client.post(f"{base}/items", data={"csrf_token": token, "action": "up", "item_id": second})
    with context.database.session() as db:
        digest = digests.get(db, digest_id)
        assert [i.title_lv for i in sorted(digest.items, key=lambda i: i.position)] == [
            "Otrā",
            "Pirmā",
        ]
    delete = {"csrf_token": token, "action": "delete", "item_id": second}
    asked = client.post(f"{base}/items", data=delete)
    assert asked.status_code == 200 and "Dzēst ziņu?" in asked.text
    client.post(f"{base}/items", data={**delete, "confirm": "yes"})
    # Sending asks first, saying how many members it goes to; asking sends nothing.
    asked = client.post(f"{base}/send", data={"csrf_token": token})
    assert asked.status_code == 200 and "Apkopojums tiks nosūtīts 2 dalībniekiem" in asked.text
    with context.database.session() as db:
        assert digests.get(db, digest_id).status == "draft"
    answer = client.post(f"{base}/approve", data={"csrf_token": token, "at": "2026-11-23T16:00"})
    assert answer.status_code == 303
    with context.database.session() as db:
        digest = digests.get(db, digest_id)
        assert digest.status == "approved" and digest.approved_by == EDITOR
        assert digest.scheduled_at == dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)
    # An approved digest cannot be edited.
    locked = client.post(f"{base}/text", data={"csrf_token": token, "subject_lv": "Cits"})
    assert locked.status_code == 400
    job = registry.get("digest-send")
    assert job.func(context) == "nothing due"
    context.clock = type(context.clock)(NOW + dt.timedelta(hours=3))  # type: ignore[call-arg]
    assert job.func(context) == f"digest {digest_id}: 2 queued"
    page = client.get(base)
    assert "Nosūtīta pirmdien, 2026. gada 23. novembrī" in page.text  # in the locative
    listing = client.get("/staff/digests")
    assert "nosūtīti 0, gaida 2, neizdevās 0" in listing.text


def test_every_digest_route_is_declared_for_editors(tmp_path: Path) -> None:
    from vcs.web.staff import ACCESS

    context, client, digest_id, _token = staff_client(tmp_path)
    declared = [path for path in ACCESS if path.startswith("/staff/digests")]
    assert len(declared) >= 9
    assert all(ACCESS[path] == "editor" for path in declared)
    anonymous = TestClient(
        create_app(context), base_url="https://testserver", follow_redirects=False
    )
    answer = anonymous.get(f"/staff/digests/{digest_id}")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/staff/login")
    assert client.get("/staff/digests/999").status_code == 404


# -- the public archive ---------------------------------------------------------------------------


def test_the_archive_shows_only_sent_digests(tmp_path: Path) -> None:
    context = site(tmp_path)
    add_members(context, 1)
    sent_id = drafted(context)
    with context.database.session() as db:
        digest = digests.get(db, sent_id)
        digest.subject_en = "Network news"
        digests.add_item(db, digest, "test", title_lv="Konkursa ziņa", title_en="Grant news")
    send(context, sent_id)
    draft_id = drafted(context, NOW + dt.timedelta(days=7))
    with context.database.session() as db:
        digests.get(db, draft_id).subject_lv = "Vēl nenosūtītā"
    client = TestClient(create_app(context))
    listing = client.get("/digests")
    assert listing.status_code == 200
    assert f'href="/digests/{sent_id}"' in listing.text
    assert f'href="/digests/{draft_id}"' not in listing.text
    assert "Vēl nenosūtītā" not in listing.text
    assert client.get(f"/digests/{draft_id}").status_code == 404
    web = client.get(f"/digests/{sent_id}")
    assert web.status_code == 200 and "Konkursa ziņa" in web.text
    assert 'lang="lv"' in web.text
    assert "Grant news" in client.get(f"/digests/{sent_id}?lang=en").text
    # The web version keeps what was sent, even if the items change afterwards.
    with context.database.session() as db:
        db.get(DigestItem, digests.get(db, sent_id).items[0].id).title_lv = "Mainīta"  # type: ignore[union-attr]
    assert "Konkursa ziņa" in client.get(f"/digests/{sent_id}?lang=lv").text


# -- the command line -------------------------------------------------------------------------


def test_the_cli_drafts_previews_and_sends(tmp_path: Path, monkeypatch: object) -> None:
    from tests.conftest import isolated_environ
    from vcs.cli import cli

    with smtp_server() as (sink, port):
        environ = isolated_environ(
            tmp_path,
            VCS_MAIL_URL=f"smtp://127.0.0.1:{port}",
            VCS_BASE_URL="https://tikls.example.lv",
            VCS_MAIL_FROM_ADDRESS="tikls@example.lv",
        )
        context = site(
            tmp_path, **{k: v for k, v in environ.items() if k != "VCS_DIGEST_DAYS_AHEAD"}
        )
        add_members(context, 2)
        runner = CliRunner()
        drafted_out = runner.invoke(cli, ["digest", "draft"], env=environ)
        assert drafted_out.exit_code == 0, drafted_out.output
        digest_id = int(drafted_out.output.split()[1].rstrip(":"))
        text = runner.invoke(cli, ["digest", "preview", str(digest_id), "--text"], env=environ)
        assert text.exit_code == 0 and "Videokonferences tuvākajās dienās" in text.output
        english = runner.invoke(
            cli, ["digest", "preview", str(digest_id), "--lang", "en"], env=environ
        )
        assert "<html" in english.output and "Videoconferences in the coming days" in english.output
        sent = runner.invoke(cli, ["digest", "send", str(digest_id)], env=environ)
        assert sent.exit_code == 0, sent.output
        assert "2 new recipients queued" in sent.output and "2 sent" in sent.output
        again = runner.invoke(cli, ["digest", "send", str(digest_id)], env=environ)
        assert "0 new recipients queued" in again.output
    assert sorted(sink.copies.values()) == [1, 1]
