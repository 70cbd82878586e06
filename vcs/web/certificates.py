"""Certificates on the web: the public verification page, the holder's PDF, and what the
preferences page and the staff session page list (issue 17).

    GET /certificates/{code}                               is it genuine? (name, session, date)
    GET /preferences/{token}/certificates/{code}.pdf       the holder's own PDF (signed link)

The verification page says only what the certificate itself shows (vcs.certificates.verify),
is never indexed or cached, and counts lookups per client (vcs.ratelimit), so codes cannot be
guessed by trying them. The PDF opens only with the holder's member link; staff have their own
route (vcs.web.staff.certificates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vcs import ratelimit
from vcs.certificates import document, hours, issue, verify
from vcs.context import Context
from vcs.membership import subscriptions
from vcs.membership.subscriptions import LinkError
from vcs.planning import sessions, wording
from vcs.storage.models import Certificate, Member, Session
from vcs.web.subscriptions import client_address, endpoint, link_error
from vcs.web.templating import render, request_language

# Lookups one client may make in a window: plenty for people checking certificates, far too
# few to find a code among 2**60 by trying.
LOOKUPS_PER_WINDOW = 60
WINDOW = dt.timedelta(hours=1)
PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


def _may_look_up(context: Context, client: str) -> bool:
    now = context.clock.now()
    with context.database.session() as db:
        tally = ratelimit.counter(
            db, "certificate-check", ratelimit.client_key(client), now, WINDOW
        )
        if tally.count >= LOOKUPS_PER_WINDOW:
            return False
        tally.count += 1
        tally.last_at = now
        return True


def verification_page(request: Request) -> Response:
    """Whether a certificate is genuine: 200 (genuine or revoked, says which), 404 (no such
    certificate) or 429 (too many lookups from this client)."""
    context = request.app.state.context
    if not _may_look_up(context, client_address(request)):
        response = render(request, "public/certificate.html", status_code=429, state="limited")
    else:
        with context.database.session() as db:
            found = verify.verdict(db, request.path_params["code"])
            status = 404 if found.state == verify.UNKNOWN else 200
            response = render(
                request,
                "public/certificate.html",
                status_code=status,
                state=found.state,
                verdict=found,
                hours=hours.in_words(found.minutes, request_language(request))
                if found.state == verify.GENUINE
                else "",
            )
    response.headers.update(PRIVATE)
    return response


async def verification(request: Request) -> Response:
    return await run_in_threadpool(verification_page, request)


def pdf_response(data: bytes, certificate: Certificate) -> Response:
    """A certificate's PDF as a download, never cached."""
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{document.filename(certificate)}"',
            **PRIVATE,
        },
    )


def member_pdf(request: Request, form: FormData | None) -> Response:
    """The holder's PDF through their own preferences link; 404 for anyone else's code."""
    context = request.app.state.context
    with context.database.session() as db:
        try:
            member = subscriptions.member_for_link(
                db, context.settings, request.path_params["token"]
            )
        except LinkError as error:
            return link_error(request, error)
        found = issue.find(db, request.path_params["code"])
        if found is None or found.member_id != member.id:
            return render(request, "public/error.html", status_code=404, status=404)
        return pdf_response(document.render(context.settings, found, found.session), found)


# -- what pages list ----------------------------------------------------------------------------


def template_globals(context: Context) -> dict[str, Callable[..., Any]]:
    """`member_certificates(member, lang)` for the preferences page and
    `session_certificates(session)` for the staff session page."""

    def member_certificates(member: Member, lang: str) -> dict[str, Any]:
        with context.database.session() as db:
            found = issue.of_member(db, member.id)
            rows = [
                {
                    "code": certificate.code,
                    "title": wording.title(certificate.session, lang),
                    "start": certificate.session.start,
                    "hours": hours.in_words(certificate.minutes, lang),
                    "revoked": certificate.revoked_at is not None,
                }
                for certificate in reversed(found)
            ]
            years = [
                (year, hours.in_words(minutes, lang))
                for year, minutes in issue.minutes_per_year(found)
            ]
        return {"rows": rows, "years": years}

    def session_certificates(session: Session) -> dict[str, Any]:
        now = context.clock.now()
        with context.database.session() as db:
            found = issue.of_session(db, session.id)
            attendees = issue.attendees(db, session.id)
            fresh = sessions.get(db, session.id)
            eligible = sum(1 for row in attendees if issue.eligible(row, fresh, context.settings))
        return {
            "attendees": len(attendees),
            "eligible": eligible,
            "rows": found,
            "revoked": sum(1 for c in found if c.revoked_at is not None),
            "may_release": session.status != "cancelled" and now >= session.end,
            "required": issue.required_minutes(session, context.settings),
        }

    return {
        "member_certificates": member_certificates,
        "session_certificates": session_certificates,
    }


routes = [
    Route("/certificates/{code:str}", verification, name="certificate"),
    Route(
        "/preferences/{token:str}/certificates/{code:str}.pdf",
        endpoint(member_pdf),
        name="preferences_certificate",
    ),
]
