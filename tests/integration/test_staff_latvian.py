"""Every message in Latvian on Latvian staff pages (issue 15, item 2): the paths a staff member
walks — the series form, a CSV upload, session edits, digest actions, job results on the
dashboard, the audit log — each answered in Latvian, their problems and "done" notes included.

A page fails when its visible text (what people read, not what they typed, codes or addresses)
holds English: a sentence of the catalogue left untranslated, or English function words.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

from httpx import Response
from starlette.testclient import TestClient

from tests.integration.test_staff_access import ADMIN, csrf_of, first_session, log_in, staff_site
from tests.integration.test_staff_members import HEADER, add_members, upload
from vcs.context import Context
from vcs.i18n import translations
from vcs.storage.models import Delivery, JobRun, Livestream

# Words that are English and never Latvian ("to", "no", "a" and "it" are Latvian words too).
ENGLISH = {
    "the", "and", "has", "have", "been", "was", "were", "is", "are", "will", "not", "with",
    "this", "that", "for", "from", "your", "you", "must", "should", "could", "of", "an",
    "there", "which", "what", "when", "who", "yet", "please", "cannot", "nothing", "saved",
}  # fmt: skip
# What people typed or what is a code: not the page's own words.
SKIP = {"textarea", "code", "pre", "script", "style", "input", "title", "kbd", "samp"}


class Visible(HTMLParser):
    """The text of <main> a reader sees, without typed values, codes and English-marked parts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.in_main = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "meta", "link", "input", "hr", "source"):
            return
        values = dict(attrs)
        skip = tag in SKIP or values.get("lang") == "en" or "hidden" in values
        self.stack.append((tag, skip))
        if tag == "main":
            self.in_main += 1

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, _skip = self.stack.pop()
            if open_tag == "main":
                self.in_main -= 1
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.in_main and not any(skip for _tag, skip in self.stack):
            self.parts.append(data)

    @classmethod
    def text(cls, html: str) -> str:
        parser = cls()
        parser.feed(html)
        return " ".join(" ".join(parser.parts).split())


def untranslated_sentences() -> list[str]:
    """English sentences of the catalogue whose Latvian differs: on a Latvian page, the English
    one shows that something was not translated."""
    catalogue = translations("lv")
    found = []
    for message in catalogue._catalog:  # type: ignore[attr-defined]
        msgid = message[0] if isinstance(message, tuple) else message
        if not msgid or msgid != msgid.strip() or len(msgid.split()) < 3:
            continue
        for piece in re.split(r"%\(\w+\)[sdr]", msgid):
            if len(piece.split()) >= 3:
                found.append(piece.strip())
    return found


def english_in(html: str) -> list[str]:
    """English words or catalogue sentences in a page's visible text."""
    text = Visible.text(html)
    # Addresses and links are data, whatever language they are in.
    words = [w for w in re.findall(r"[^\s]+", text) if "@" not in w and "://" not in w]
    plain = " ".join(words)
    found = sorted({w for w in re.findall(r"[^\W\d_]+", plain) if w.lower() in ENGLISH})
    found += [s for s in SENTENCES if s in plain]
    return found


SENTENCES = untranslated_sentences()


def walk(client: TestClient, responses: dict[str, Response], name: str, response: Response) -> str:
    """Keep the page (following a redirect to the page it leads to)."""
    if response.status_code in (302, 303):
        response = client.get(response.headers["location"])
    assert response.status_code in (200, 400), (name, response.status_code)
    responses[name] = response
    return response.text


def test_the_staff_paths_answer_in_latvian_only(context: Context, tmp_path: Path) -> None:
    client = staff_site(context, tmp_path)
    client.cookies.set("lang", "lv")
    add_members(context)
    session = first_session(context)
    now = context.clock.now()
    with context.database.session() as db:
        db.add(Livestream(session_id=session, provider="static", status="error", error_count=2))
        db.add(JobRun(job="provision", started_at=now, outcome="failed", error="Boom"))
        db.add(JobRun(job="materialize", started_at=now, outcome="ok", summary="nothing to do"))
        db.add(
            Delivery(
                kind="announcement",
                ref=f"session:{session}",
                to_address="x@example.lv",
                status="failed-permanent",
                created_at=now,
            )
        )
    log_in(client, ADMIN)
    pages: dict[str, Response] = {}
    walk(client, pages, "dashboard", client.get("/staff"))

    # The series form: a refused form (an empty count, no title), a preview, a saved series.
    form = client.get("/staff/series/new")
    walk(client, pages, "series form", form)
    series = {
        "csrf_token": csrf_of(form.text), "slug": "lv-tests", "title_lv": "",
        "start": "2026-12-10T10:00", "timezone": "Europe/Riga", "duration": "90",
        "rrule": "FREQ=WEEKLY", "rrule_shown": "FREQ=WEEKLY", "freq": "WEEKLY",
        "interval": "1", "end": "count", "count": "", "monthly": "day",
        "place_kind": "online", "scope": "national", "visibility": "public",
        "livestream_provider": "static", "action": "save",
    }  # fmt: skip
    walk(client, pages, "series refused", client.post("/staff/series/new", data=series))
    series.update(title_lv="Latviešu pārbaude", count="5")
    walk(
        client,
        pages,
        "series preview",
        client.post("/staff/series/new", data={**series, "action": "preview"}),
    )
    walk(client, pages, "series saved", client.post("/staff/series/new", data=series))

    # The CSV upload: a bad file, then a good one, its dry run and its import.
    walk(client, pages, "upload refused", upload(client, HEADER + "nav-adrese;Vārds;;active;all\n"))
    dry = walk(
        client,
        pages,
        "upload dry run",
        upload(client, HEADER + "pa@talsi.lv;Pēteris;talsu-novads;active;all\n"),
    )
    upload_id = re.search(r'name="upload" value="([^"]+)"', dry)
    assert upload_id
    confirm = {"csrf_token": csrf_of(dry), "upload": upload_id.group(1)}
    walk(client, pages, "upload done", client.post("/staff/members/import/confirm", data=confirm))

    # Session edits: refused and done, the confirmation steps included.
    url = f"/staff/sessions/{session}"
    token = csrf_of(client.get(url).text)
    walk(
        client,
        pages,
        "details refused",
        client.post(f"{url}/details", data={"csrf_token": token, "speakers": "; lektore"}),
    )
    walk(
        client,
        pages,
        "details saved",
        client.post(f"{url}/details", data={"csrf_token": token, "topic_lv": "Tēma"}),
    )
    walk(
        client,
        pages,
        "move refused",
        client.post(f"{url}/move", data={"csrf_token": token, "start": "rīt"}),
    )
    move = {"csrf_token": token, "start": "2026-12-11T14:00"}
    walk(client, pages, "move asked", client.post(f"{url}/move", data=move))
    walk(client, pages, "moved", client.post(f"{url}/move", data={**move, "confirm": "yes"}))
    walk(
        client,
        pages,
        "cancel refused",
        client.post(f"{url}/cancel", data={"csrf_token": token, "reason": " "}),
    )
    cancel = {"csrf_token": token, "reason": "Slimība"}
    walk(client, pages, "cancel asked", client.post(f"{url}/cancel", data=cancel))
    walk(
        client, pages, "cancelled", client.post(f"{url}/cancel", data={**cancel, "confirm": "yes"})
    )
    walk(client, pages, "reinstated", client.post(f"{url}/reinstate", data={"csrf_token": token}))

    # Digest actions.
    token = csrf_of(client.get("/staff/digests").text)
    walk(client, pages, "digests", client.get("/staff/digests"))
    drafted = client.post("/staff/digests/draft", data={"csrf_token": token})
    base = drafted.headers["location"].split("?")[0]
    walk(client, pages, "digest drafted", drafted)
    walk(
        client,
        pages,
        "digest text",
        client.post(
            f"{base}/text",
            data={"csrf_token": token, "subject_lv": "Infolapa", "intro_lv": "Sveiki!"},
        ),
    )
    walk(
        client,
        pages,
        "item refused",
        client.post(f"{base}/items", data={"csrf_token": token, "action": "add"}),
    )
    walk(
        client,
        pages,
        "item added",
        client.post(
            f"{base}/items",
            data={"csrf_token": token, "action": "add", "title_lv": "Ziņa", "body_lv": "Teksts."},
        ),
    )
    walk(
        client,
        pages,
        "test sent",
        client.post(f"{base}/test", data={"csrf_token": token, "language": "lv"}),
    )
    walk(
        client,
        pages,
        "approve refused",
        client.post(f"{base}/approve", data={"csrf_token": token, "at": "2020-01-01T10:00"}),
    )
    later = (now + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    walk(
        client,
        pages,
        "approved",
        client.post(f"{base}/approve", data={"csrf_token": token, "at": later}),
    )
    walk(client, pages, "unapproved", client.post(f"{base}/unapprove", data={"csrf_token": token}))
    walk(client, pages, "send asked", client.post(f"{base}/send", data={"csrf_token": token}))
    walk(
        client,
        pages,
        "sent",
        client.post(f"{base}/send", data={"csrf_token": token, "confirm": "yes"}),
    )

    walk(client, pages, "dashboard after", client.get("/staff"))
    walk(client, pages, "members", client.get("/staff/members"))
    walk(client, pages, "audit log", client.get("/staff/audit"))

    english = {name: found for name, page in pages.items() if (found := english_in(page.text))}
    assert english == {}
    assert len(pages) > 30


def test_the_check_finds_english_on_a_page() -> None:
    page = "<main><p>Vārds</p><p role='alert'>The series has been saved.</p></main>"
    assert english_in(page) != []
    assert english_in("<main><p>Sērija ir saglabāta.</p><code>FREQ=WEEKLY</code></main>") == []
