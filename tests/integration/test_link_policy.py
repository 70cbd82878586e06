"""Links in staff text: a link to a domain outside `content.trusted_domains` (and the site's own
host) is named in the digest's preview, blocks approving and sending until staff confirm it, and
is rendered with rel="nofollow ugc noopener". Session and series descriptions get the same
sanitised Markdown on public pages."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from tests.factories import NATIONAL, browse, import_entries, national, session_id
from tests.integration.test_digest import site, staff_client
from tests.mail_factories import add_members
from vcs import digest as digests
from vcs.cli import cli
from vcs.context import Context
from vcs.errors import VcsError
from vcs.planning import sessions
from vcs.storage.models import Digest, Series

SPAM = "[Aizdevums 500 dolāru](https://loans.example.com/apply) tūlīt!"
TRUSTED = "Sīkāk: [IZM](https://www.izm.gov.lv/lv/jaunatne) un [mūsu lapa](/digests)."
REFUSED_LV = "Apkopojumā ir saites uz domēniem, kas nav uzticami: loans.example.com."


def with_item(context: Context, body: str, link: str = "") -> int:
    with context.database.session() as db:
        digest, _created = digests.draft(db, context.settings, context.clock.now(), "test")
        digests.add_item(db, digest, "test", title_lv="Ziņa", body_lv=body, link=link)
        return digest.id


def test_an_untrusted_link_is_flagged_and_blocks_sending_until_confirmed(tmp_path: Path) -> None:
    context, client, digest_id, token = staff_client(tmp_path)
    base = f"/staff/digests/{digest_id}"
    answer = client.post(
        f"{base}/items",
        data={"csrf_token": token, "action": "add", "title_lv": "Ziņa", "body_lv": SPAM + TRUSTED},
    )
    assert answer.status_code == 303
    page = client.get(base).text
    assert "Saites uz domēniem, kas nav uzticami" in page
    assert "<code>loans.example.com</code> · 1. ziņa: Teksts (lv) · nav apstiprināta" in page
    assert "izm.gov.lv</code>" not in page

    refused = client.post(f"{base}/approve", data={"csrf_token": token, "at": "2026-11-23T16:00"})
    assert refused.status_code == 400 and REFUSED_LV in refused.text
    refused = client.post(f"{base}/send", data={"csrf_token": token, "confirm": "yes"})
    assert refused.status_code == 400 and REFUSED_LV in refused.text
    unticked = client.post(f"{base}/links", data={"csrf_token": token})
    assert unticked.status_code == 400
    with context.database.session() as db:
        assert db.get(Digest, digest_id).status == "draft"  # type: ignore[union-attr]

    confirmed = client.post(f"{base}/links", data={"csrf_token": token, "confirm_links": "yes"})
    assert confirmed.status_code == 303
    assert "loans.example.com</code> · 1. ziņa: Teksts (lv) · apstiprināta" in client.get(base).text
    answer = client.post(f"{base}/send", data={"csrf_token": token, "confirm": "yes"})
    assert answer.status_code == 303
    with context.database.session() as db:
        assert db.get(Digest, digest_id).status == "sent"  # type: ignore[union-attr]


def test_a_link_added_after_the_confirmation_needs_its_own(tmp_path: Path) -> None:
    context = site(tmp_path)
    digest_id = with_item(context, SPAM)
    with context.database.session() as db:
        digest = digests.get(db, digest_id)
        assert digests.confirm_links(db, context.settings, digest, "test") == ["loans.example.com"]
        digests.add_item(
            db,
            digest,
            "test",
            title_lv="Otra",
            body_lv="www.casino.example",
            link="https://x.example",
        )
        assert digests.unconfirmed_domains(db, context.settings, digest) == [
            "www.casino.example",
            "x.example",
        ]
        try:
            digests.approve(db, context.settings, digest, context.clock.now(), "test")
        except VcsError as refusal:
            assert refusal.problems[0].code == "digest.links-unconfirmed"
        else:
            raise AssertionError("approved with unconfirmed links")


def test_untrusted_links_are_rendered_nofollow_ugc_noopener(tmp_path: Path) -> None:
    context = site(tmp_path)
    digest_id = with_item(context, SPAM + " " + TRUSTED, link="https://ads.example.net/x")
    with context.database.session() as db:
        _subject, _text, html = digests.preview(
            db, context.settings, digests.get(db, digest_id), "lv"
        )
    # (The mail's CSS is inlined: a style attribute follows.)
    assert '<a href="https://loans.example.com/apply" rel="nofollow ugc noopener" ' in html
    assert '<a href="https://ads.example.net/x" rel="nofollow ugc noopener" ' in html
    assert '<a href="https://www.izm.gov.lv/lv/jaunatne" rel="noopener noreferrer" ' in html
    assert '<a href="/digests" rel="noopener noreferrer" ' in html


def test_trusted_domains_come_from_the_settings(tmp_path: Path) -> None:
    context = site(tmp_path, VCS_CONTENT_TRUSTED_DOMAINS="example.com example.net")
    digest_id = with_item(
        context, SPAM + " https://tikls.example.lv/digests", "https://a.example.net"
    )
    with context.database.session() as db:
        digest = digests.get(db, digest_id)
        assert digests.flagged_links(db, context.settings, digest) == []
        _subject, _text, html = digests.preview(db, context.settings, digest, "lv")
    assert 'href="https://loans.example.com/apply" rel="noopener noreferrer"' in html


def test_the_cli_sends_a_digest_with_untrusted_links_only_when_told_to_confirm(
    tmp_path: Path,
) -> None:
    context = site(tmp_path)
    add_members(context, 1)
    digest_id = with_item(context, SPAM)
    environ = {
        "VCS_DATABASE_URL": context.settings.database.url,
        "VCS_MAIL_URL": context.settings.mail.url,
        "VCS_BASE_URL": context.settings.base_url,
        "VCS_SCHEDULER_LOCK_FILE": str(tmp_path / "scheduler.lock"),
    }
    runner = CliRunner()
    refused = runner.invoke(cli, ["digest", "send", str(digest_id)], env=environ)
    assert refused.exit_code != 0
    assert "loans.example.com" in refused.output
    sent = runner.invoke(cli, ["digest", "send", str(digest_id), "--confirm-links"], env=environ)
    assert sent.exit_code == 0, sent.output
    assert "links to loans.example.com confirmed" in sent.output
    assert "1 new recipients queued" in sent.output


def test_descriptions_render_markdown_on_public_pages(tmp_path: Path) -> None:
    context = site(tmp_path)
    import_entries(
        context,
        tmp_path,
        national(description={"lv": "**Svarīgi:** skat. [šeit](https://spam.example/x)."}),
    )
    national_id = session_id(context, NATIONAL, "2026-12-10")
    with context.database.session() as db:
        session = sessions.get(db, national_id)
        session.description_lv = "Runā *Anna*: **treknais** teksts.\n\n<script>alert(1)</script>"
        assert db.scalars(select(Series.slug)).all() == [NATIONAL]
    client = browse(context)
    series_page = client.get(f"/series/{NATIONAL}").text
    assert "<strong>Svarīgi:</strong>" in series_page and "**Svarīgi" not in series_page
    assert '<a href="https://spam.example/x" rel="nofollow ugc noopener">šeit</a>' in series_page
    page = client.get(f"/sessions/{national_id}").text
    assert "<strong>treknais</strong>" in page and "<em>Anna</em>" in page
    assert "**treknais**" not in page
    assert "<script>alert(1)</script>" not in page


def test_a_session_pages_meta_description_is_plain_text_not_markdown(tmp_path: Path) -> None:
    context = site(tmp_path)
    import_entries(
        context,
        tmp_path,
        national(description={"lv": "**Svarīgi:** skat. [šeit](https://spam.example/x)."}),
    )
    national_id = session_id(context, NATIONAL, "2026-12-10")
    with context.database.session() as db:
        session = sessions.get(db, national_id)
        session.topic_lv = ""  # the series' description stands for the session
    page = browse(context).get(f"/sessions/{national_id}").text
    metas = re.findall(r'<meta (?:name|property)="[a-z:]*description" content="([^"]*)"', page)
    assert len(metas) == 3
    for content in metas:
        assert content.endswith("· Svarīgi: skat. šeit."), content
        assert "*" not in content and "](" not in content
