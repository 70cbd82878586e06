"""What arrives at a real SMTP server: structure, headers, encodings, links and the .ics."""

from __future__ import annotations

import re
from email.headerregistry import Address
from pathlib import Path

from tests.mail_factories import ICS, add_members, greeting, mail_context, parse, smtp_server
from vcs.mail import links, outbox
from vcs.mail.sender import Sender
from vcs.storage.models import Member


def send_to_members(tmp_path: Path, count: int = 1, language: str = "lv", **env: str) -> tuple:
    context = mail_context(tmp_path, **env)
    ids = add_members(context, count, language=language)
    with context.database.session() as db:
        members = [db.get(Member, member_id) for member_id in ids]
        outbox.enqueue_for_members(
            db,
            context.settings,
            kind="announcement",
            ref="session:1:rev0",
            members=members,
            compose=greeting,
            now=context.clock.now(),
        )
    return context, ids


def test_a_message_arrives_as_text_then_html_with_the_ics_attached(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context, _ids = send_to_members(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        report = Sender(context).run()
        assert report.sent == 1
        [message] = sink.received()

    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html = alternative.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    assert "Labdien, Ērika Ūdre 0!" in text.get_content()
    assert "Labdien, Ērika Ūdre 0!" in html.get_content()

    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    assert attachment.get_param("charset") == "utf-8"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() in (ICS, ICS.decode())


def test_headers_are_encoded_and_name_sender_recipient_and_list(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context, _ids = send_to_members(
            tmp_path,
            VCS_MAIL_URL=f"smtp://127.0.0.1:{port}",
            VCS_MAIL_REPLY_TO="birojs@example.lv",
        )
        Sender(context).run()
        [(rcpt, raw)] = sink.messages

    assert rcpt == ["biedrs0@example.lv"]
    # Only ASCII on the wire: non-ASCII headers are RFC 2047 encoded words.
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    message = parse(raw)
    assert message["Subject"] == "Videokonference ceturtdien: jaunatnes darbs Ādažu novadā"
    assert message["From"].addresses == (
        Address("Jaunatnes lietu speciālistu atbalsta tīkls", addr_spec="tikls@example.lv"),
    )
    assert message["To"].addresses == (Address("Ērika Ūdre 0", addr_spec="biedrs0@example.lv"),)
    assert message["Reply-To"] == "birojs@example.lv"
    assert re.fullmatch(r"<[^@>]+@tikls\.example\.lv>", message["Message-ID"])
    assert message["Date"].datetime == context.clock.now()
    assert message["List-Id"].endswith("<announcement.tikls.example.lv>")
    assert message["Content-Language"] == "lv"
    with context.database.session() as db:
        [delivery] = db.scalars(outbox.select(outbox.Delivery)).all()
    assert delivery.message_id == message["Message-ID"]


def test_list_unsubscribe_offers_one_click_https_and_mailto(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context, [member_id] = send_to_members(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        Sender(context).run()
        [(_rcpt, raw)] = sink.messages

    message = parse(raw)
    with context.database.session() as db:
        member = db.get_one(Member, member_id)
    unsubscribe = links.unsubscribe_url(context.settings, member)
    uris = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert uris == [unsubscribe, "mailto:tikls@example.lv?subject=unsubscribe"]
    assert unsubscribe.startswith("https://tikls.example.lv/unsubscribe/")
    # RFC 8058: the header says a POST unsubscribes; never an encoded word a client cannot use.
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert b"List-Unsubscribe: <https://" in raw
    token = unsubscribe.rsplit("/", 1)[1]
    read = links.read_member_token(context.settings, token)
    assert read is not None and read.member_id == member_id and read.opens(member)
    assert links.read_member_token(context.settings, token + "x") is None
    # The body carries the same links, in the footer of both parts.
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert unsubscribe in text.get_content()
    assert f'href="{unsubscribe}"' in html.get_content()
    assert f'href="{links.preferences_url(context.settings, member)}"' in html.get_content()


def test_html_has_inlined_css_and_a_table_layout(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context, _ids = send_to_members(tmp_path, VCS_MAIL_URL=f"smtp://127.0.0.1:{port}")
        Sender(context).run()
        [message] = sink.received()

    html = message.get_body(("html",)).get_content()
    assert '<html lang="lv"' in html
    assert 'role="presentation"' in html
    assert 'width="600"' in html
    assert "<!--[if mso]>" in html  # a fixed-width box for Outlook's Word renderer
    # Class rules became style attributes; only the @media rule stays in a <style> block.
    assert re.search(r'<td class="content" style="[^"]*font-family: Arial', html)
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert all(block.strip().startswith("@media") for block in styles)


def test_english_members_get_the_english_footer(tmp_path: Path) -> None:
    with smtp_server() as (sink, port):
        context, _ids = send_to_members(
            tmp_path, language="en", VCS_MAIL_URL=f"smtp://127.0.0.1:{port}"
        )
        Sender(context).run()
        [message] = sink.received()
    assert message["Content-Language"] == "en"
    assert "Unsubscribe:" in message.get_body(("plain",)).get_content()
    lv_context, _ = send_to_members(tmp_path / "lv", VCS_MAIL_URL="file://" + str(tmp_path / "o"))
    Sender(lv_context).run()
    [eml] = (tmp_path / "o").glob("*.eml")
    assert "Atteikties:" in parse(eml.read_bytes()).get_body(("plain",)).get_content()


def test_the_file_backend_writes_one_parseable_eml_per_message(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    context, _ids = send_to_members(tmp_path, count=3, VCS_MAIL_URL=f"file://{folder}")
    report = Sender(context).run()
    assert report.sent == 3
    files = sorted(folder.iterdir())
    assert [f.suffix for f in files] == [".eml"] * 3  # no temporary files left behind
    received = sorted(str(parse(f.read_bytes())["To"].addresses[0].addr_spec) for f in files)
    assert received == [f"biedrs{n}@example.lv" for n in range(3)]
    for f in files:
        message = parse(f.read_bytes())
        assert message.get_body(("html",)) is not None
        assert f.name == message["Message-ID"].strip("<>").replace("@", "_") + ".eml"
