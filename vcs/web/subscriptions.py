"""Self-service pages: /subscribe, /subscribe/confirm/{token}, /preferences/{token}, /unsubscribe.

Thin routes over vcs.membership.subscriptions. Every page that a signed link opens is personal:
never cached, never indexed, and sent with `Referrer-Policy: no-referrer` so its address (the
token) does not leak to the calendar sites it links to. A GET never changes anything (mail scanners
open links); every change is a POST from a button on the page.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vcs import audit
from vcs.feeds.links import subscribe_links
from vcs.i18n import LANGUAGES, gettext_for
from vcs.mail import links
from vcs.membership import subscriptions
from vcs.membership.members import spec_of
from vcs.membership.subscriptions import LinkError
from vcs.storage.models import Member
from vcs.web.templating import LANG_COOKIE, render, request_language

PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
Handler = Callable[[Request, FormData | None], Response]
LINK_ERROR_STATUS = {
    "unknown": 404, "outdated": 404, "used": 410, "withdrawn": 410, "foreign": 403,
}  # fmt: skip


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Read a POST's form, run the handler in the thread pool, mark the answer private."""

    async def run(request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            response = await run_in_threadpool(handler, request, None)
        else:
            async with request.form() as form:
                response = await run_in_threadpool(handler, request, form)
        response.headers.update(PRIVATE)
        return response

    return run


def form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {key: value for key, value in form.items() if isinstance(value, str)}
    values["series"] = [v for v in form.getlist("series") if isinstance(v, str)]
    values["regions"] = [v for v in form.getlist("regions") if isinstance(v, str)]
    return values


def link_error(request: Request, error: LinkError) -> Response:
    """A link that cannot be used: 400 (tampered, expired), 404 (no such member link any more)
    or 410 (a confirmation used already, or withdrawn by an unsubscribe or an erasure)."""
    status = LINK_ERROR_STATUS.get(error.reason, 400)
    return render(
        request,
        "public/subscribe_link_error.html",
        status_code=status,
        reason=error.reason,
        message=error.problems[0].text(request_language(request)),
    )


def in_language(request: Request, lang: str) -> Response | None:
    """A redirect to the page in the member's language, unless the visitor already chose one."""
    if "lang" in request.query_params or request.cookies.get(LANG_COOKIE) in LANGUAGES:
        return None
    if lang == request_language(request) or lang not in LANGUAGES:
        return None
    return RedirectResponse(f"{request.url.path}?lang={lang}", 303)


def cross_site(request: Request) -> bool:
    """Whether a browser says this POST comes from another site's page.

    Sec-Fetch-Site first: browsers send it whatever the referrer policy. Origin is the fallback
    for older ones; it is "null" under `Referrer-Policy: no-referrer` (our private pages), which
    says nothing either way.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False  # not a browser, or an old one: the signed form token still applies
    base = urlsplit(request.app.state.context.settings.base_url)
    own = {f"{base.scheme}://{base.netloc}", f"{request.url.scheme}://{request.url.netloc}"}
    return origin not in own


def client_address(request: Request) -> str:
    # uvicorn sets the client from X-Forwarded-For only for trusted proxies (--forwarded-allow-ips).
    return request.client.host if request.client else "unknown"


def network_name(request: Request) -> Callable[[str], str]:
    names: dict[str, str] = request.app.state.network.name
    return lambda lang: names.get(lang) or names["lv"]


# -- /subscribe -----------------------------------------------------------------------------------


def subscribe_page(request: Request, form: FormData | None) -> Response:
    context = request.app.state.context
    lang = request_language(request)
    values: dict[str, Any] = {"follows": "all", "language": lang, "series": [], "regions": []}
    errors: dict[str, str] = {}
    expired = False
    notice = ""
    status = 200
    with context.database.session() as db:
        offered = subscriptions.choices(db)
        if form is not None:
            if cross_site(request):
                return link_error(request, LinkError("foreign"))
            values = form_values(form)
            token = values.get("form_token")
            token_ok = subscriptions.form_token_valid(context.settings, context.clock, token)
            sign_up, errors = subscriptions.read_sign_up(values, offered, lang)
            status = 400
            if sign_up is not None and token_ok:
                _ = gettext_for(lang)
                # In this order, each in the same transaction: a form works once, then the
                # client's hourly share, then the mailbox's (inside subscribe()).
                if not subscriptions.use_form_token(db, context.settings, context.clock, token):
                    notice = _(
                        "This form has been sent already. To send it again (with another "
                        "address, say), check it and press the button once more."
                    )
                elif not subscriptions.client_may_sign_up(
                    db, context.settings, context.clock, client_address(request)
                ):
                    notice = _("Too many sign-ups from your network. Try again in an hour.")
                    status = 429
                else:
                    subscriptions.subscribe(
                        db, context.settings, context.clock, sign_up, network_name(request)
                    )
                    return RedirectResponse("/subscribe/sent", 303)
            expired = not token_ok
        return render(
            request,
            "public/subscribe.html",
            status_code=status,
            offered=offered,
            values=values,
            errors=errors,
            expired=expired,
            notice=notice,
            consent_text=subscriptions.consent_text(lang),
            form_token=subscriptions.form_token(context.settings, context.clock),
        )


def subscribe_sent(request: Request, form: FormData | None) -> Response:
    return render(request, "public/subscribe_sent.html")


def confirm_page(request: Request, form: FormData | None) -> Response:
    context = request.app.state.context
    token = request.path_params["token"]
    try:
        confirmation = subscriptions.read_confirmation(context.settings, context.clock, token)
        with context.database.session() as db:
            if form is None:  # a used or withdrawn link says so before its button is pressed
                subscriptions.confirmation_member(db, confirmation)
            else:
                member = subscriptions.confirm(db, context.settings, context.clock, confirmation)
                token = links.member_token(context.settings, member)
    except LinkError as error:
        return link_error(request, error)
    if form is None:
        sign_up = confirmation.sign_up
        redirect = in_language(request, sign_up.language)
        return redirect or render(request, "public/subscribe_confirm.html", sign_up=sign_up)
    return RedirectResponse(f"/preferences/{token}?confirmed=1", 303)


# -- /preferences/{token} -------------------------------------------------------------------------


def _member(db: Any, request: Request) -> Member:
    settings = request.app.state.context.settings
    return subscriptions.member_for_link(db, settings, request.path_params["token"])


def preferences_page(request: Request, form: FormData | None) -> Response:
    context = request.app.state.context
    lang = request_language(request)
    errors: dict[str, str] = {}
    with context.database.session() as db:
        try:
            member = _member(db, request)
        except LinkError as error:
            return link_error(request, error)
        if form is None and (redirect := in_language(request, member.language)):
            return redirect
        spec = spec_of(member)
        offered = subscriptions.choices(db, also=spec.follows.series)
        values: dict[str, Any] = {
            "language": spec.language,
            "follows": "all" if spec.follows.everything else "chosen",
            "series": sorted(spec.follows.series),
            "regions": sorted(spec.follows.regions),
            "live_alerts": member.live_alerts,
        }
        if form is not None:
            values = form_values(form)
            follows, errors = subscriptions.read_follows(values, offered, lang)
            language = values.get("language", "")
            if language not in LANGUAGES:
                errors["language"] = gettext_for(lang)("Choose a language.")
            if not errors:
                subscriptions.save_preferences(db, member, language, follows)
                _save_live_alerts(db, member, bool(values.get("live_alerts")))
                return RedirectResponse(f"{request.url.path}?saved=1&lang={language}", 303)
        return _preferences(request, member, offered, values, errors)


def _save_live_alerts(db: Any, member: Member, wanted: bool) -> None:
    """The "e-mail me when a session I follow goes live" box (vcs.live_alerts), with an audit
    entry like the member's other choices."""
    if member.live_alerts == wanted:
        return
    before, member.live_alerts = member.live_alerts, wanted
    audit.record(
        db,
        member.email,
        "update",
        "member",
        member.id,
        before={"live_alerts": before},
        after={"live_alerts": wanted},
    )


def _preferences(
    request: Request,
    member: Member,
    offered: subscriptions.Choices,
    values: dict[str, Any],
    errors: dict[str, str],
) -> Response:
    settings = request.app.state.context.settings
    lang = request_language(request)
    _ = gettext_for(lang)
    feed_url = f"{settings.base_url}/feeds/{member.feed_token}.ics"
    name = f"{network_name(request)(lang)}: {_('My videoconferences')}"
    return render(
        request,
        "public/preferences.html",
        status_code=400 if errors else 200,
        member=member,
        offered=offered,
        values=values,
        errors=errors,
        links=subscribe_links(feed_url, name),
        path=request.url.path,
        saved="saved" in request.query_params,
        confirmed="confirmed" in request.query_params,
        rotated="rotated" in request.query_params,
    )


def rotate_feed(request: Request, form: FormData | None) -> Response:
    context = request.app.state.context
    with context.database.session() as db:
        try:
            member = _member(db, request)
        except LinkError as error:
            return link_error(request, error)
        subscriptions.rotate_feed(db, member)
    page = request.url.path.removesuffix("/feed")
    return RedirectResponse(f"{page}?rotated=1#feed", 303)


def my_data(request: Request, form: FormData | None) -> Response:
    context = request.app.state.context
    with context.database.session() as db:
        try:
            member = _member(db, request)
        except LinkError as error:
            return link_error(request, error)
        data = subscriptions.my_data(db, context.settings, member)
    body = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="my-data.json"'},
    )


def delete_page(request: Request, form: FormData | None) -> Response:
    context = request.app.state.context
    with context.database.session() as db:
        try:
            member = _member(db, request)
        except LinkError as error:
            return link_error(request, error)
        if form is None:
            return render(
                request,
                "public/preferences_delete.html",
                path=request.url.path,
                back=request.url.path.removesuffix("/delete"),
            )
        subscriptions.delete_me(db, member)
    return render(request, "public/preferences_deleted.html")


# -- /unsubscribe/{token} -------------------------------------------------------------------------


def unsubscribe_page(request: Request, form: FormData | None) -> Response:
    """GET asks; POST (the button, or RFC 8058 "List-Unsubscribe=One-Click") unsubscribes."""
    context = request.app.state.context
    with context.database.session() as db:
        try:
            member = _member(db, request)
        except LinkError as error:
            return link_error(request, error)
        if form is None:
            if redirect := in_language(request, member.language):
                return redirect
            return render(request, "public/unsubscribe.html", path=request.url.path)
        subscriptions.unsubscribe(db, member)
    return render(request, "public/unsubscribe_done.html")


GET_POST = ["GET", "POST"]
routes = [
    Route("/subscribe", endpoint(subscribe_page), methods=GET_POST, name="subscribe"),
    Route("/subscribe/sent", endpoint(subscribe_sent), name="subscribe_sent"),
    Route(
        "/subscribe/confirm/{token:str}",
        endpoint(confirm_page),
        methods=GET_POST,
        name="subscribe_confirm",
    ),
    Route(
        "/preferences/{token:str}",
        endpoint(preferences_page),
        methods=GET_POST,
        name="preferences",
    ),
    Route(
        "/preferences/{token:str}/feed",
        endpoint(rotate_feed),
        methods=["POST"],
        name="preferences_feed",
    ),
    Route("/preferences/{token:str}/data.json", endpoint(my_data), name="preferences_data"),
    Route(
        "/preferences/{token:str}/delete",
        endpoint(delete_page),
        methods=GET_POST,
        name="preferences_delete",
    ),
    Route(
        "/unsubscribe/{token:str}",
        endpoint(unsubscribe_page),
        methods=GET_POST,
        name="unsubscribe",
    ),
]
