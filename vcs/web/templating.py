"""Jinja2 templates from the top-level templates/ folder, rendered in the request's language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from vcs import dates
from vcs.i18n import LANGUAGE_NAMES, LANGUAGES, localized, template_callables
from vcs.markdown import markdown_html, markdown_text, trusted_domains
from vcs.paths import TEMPLATES_DIR
from vcs.planning import wording
from vcs.storage.models import Session

LANG_COOKIE = "lang"


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["LANGUAGES"] = LANGUAGES
    env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    return env


def request_language(request: Request) -> str:
    """?lang= wins, then the lang cookie, then the configured default (Latvian)."""
    # Most requests have neither a query nor a cookie: skip parsing what is not there.
    scope = request.scope
    if scope.get("query_string"):
        candidate = request.query_params.get("lang")
        if candidate in LANGUAGES:
            return candidate
    for name, _value in scope["headers"]:
        if name == b"cookie":
            candidate = request.cookies.get(LANG_COOKIE)
            if candidate in LANGUAGES:
                return candidate
            break
    default: str = request.app.state.context.settings.default_language
    return default


def language_url(request: Request, lang: str) -> str:
    """The current page in another language."""
    params = dict(request.query_params)
    params["lang"] = lang
    return f"{request.url.path}?{urlencode(params)}"


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """Render a page in the request's language; remember an explicit ?lang= in a cookie."""
    response = HTMLResponse(render_html(request, template, **values), status_code=status_code)
    remember_language(request, response)
    return response


def error_response(request: Request, status: int, detail: str = "") -> Response:
    """An error in the visitor's language: the error page, or {"error": ...} under /api/."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": detail or HTTPStatus(status).phrase}, status_code=status)
    return render(request, "public/error.html", status_code=status, status=status)


def remember_language(request: Request, response: Response) -> None:
    """A visitor who picked a language with ?lang= keeps it on the next pages."""
    if request.scope.get("query_string") and request.query_params.get("lang") in LANGUAGES:
        lang = request_language(request)
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)


def session_words(lang: str) -> dict[str, Callable[[Session], Any]]:
    """How templates say a session (vcs.planning.wording), in the page's language."""
    return {
        "session_title": lambda session: wording.title(session, lang),
        "session_topic": lambda session: wording.topic(session, lang),
        "session_place": wording.place,
        "session_place_line": lambda session: wording.place_line(session, lang),
        "session_speakers": wording.speakers,
        "session_when": lambda session: wording.when(session, lang),
        "session_funding": lambda session: wording.funding(session, lang),
        "session_funding_block": lambda session: wording.funding_block(session, lang),
        "session_organiser": wording.organiser,
        "session_url": wording.page_url,
        "session_ics_url": wording.ics_url,
        "cancel_reason": lambda session: wording.cancel_reason(session, lang),
    }


def render_html(request: Request, template: str, **values: Any) -> str:
    """The text of a page in the request's language, with the helpers every template uses."""
    context = request.app.state.context
    lang = request_language(request)
    tz = context.settings.tz

    def fmt(value: dt.datetime, style: dates.Style = "full") -> str:
        return dates.format_datetime(value, lang, tz, style)

    def in_sentence(value: dt.datetime, style: dates.Style = "full") -> str:
        return dates.in_sentence(value, lang, tz, style)

    def time_range(start: dt.datetime, end: dt.datetime) -> str:
        return dates.format_time_range(start, end, lang, tz)

    values.update(template_callables(lang))
    values.update(
        request=request,
        lang=lang,
        network=request.app.state.network,
        format_datetime=fmt,
        date_in_sentence=in_sentence,
        site=context.settings.network,
        time_range=time_range,
        localized=lambda obj, field: localized(obj, field, lang),
        # Staff-written Markdown (descriptions) as safe HTML; see vcs/markdown.py.
        markdown=lambda text: Markup(markdown_html(text, trusted_domains(context.settings))),  # noqa: S704 - cleaned by nh3
        markdown_text=markdown_text,
        **session_words(lang),
        language_url=lambda other: language_url(request, other),
    )
    html: str = request.app.state.templates.get_template(template).render(values)
    return html
