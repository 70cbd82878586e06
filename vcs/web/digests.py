"""The public archive of sent digests: /digests and the web version /digests/{id}."""

from __future__ import annotations

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vcs import digest as digests
from vcs.storage.models import Digest
from vcs.web.templating import render, request_language


def archive_page(request: Request) -> Response:
    context = request.app.state.context
    lang = request_language(request)
    with context.database.session() as db:
        found = [(digest, _subject(digest, lang)) for digest in digests.archive(db)]
        return render(request, "public/digests.html", digests=found)


def digest_page(request: Request) -> Response:
    """A sent digest as it was sent, in the visitor's language (Latvian when missing)."""
    context = request.app.state.context
    lang = request_language(request)
    with context.database.session() as db:
        digest = db.get(Digest, request.path_params["digest_id"])
        if digest is None or digest.status != digests.SENT or not digest.snapshot:
            raise HTTPException(404)
        sent = digest.snapshot.get(lang) or digest.snapshot["lv"]
        return render(
            request,
            "public/digest.html",
            digest=digest,
            subject=sent["subject"],
            # Our own templates made it from sanitised staff text when it was sent.
            body=Markup(without_web_link(sent["html"])),  # noqa: S704
        )


def without_web_link(html: str) -> str:
    """The body without its first line, the e-mail's "view in the browser" link."""
    first, _newline, rest = html.partition("\n")
    return rest if 'class="digest-web"' in first else html


def _subject(digest: Digest, lang: str) -> str:
    sent = (digest.snapshot or {}).get(lang) or (digest.snapshot or {}).get("lv") or {}
    return str(sent.get("subject") or digest.subject_lv)


routes = [
    Route("/digests", archive_page, name="digests"),
    Route("/digests/{digest_id:int}", digest_page, name="digest"),
]
