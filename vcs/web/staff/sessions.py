"""Editing one session: its details (titles, topics, descriptions, speakers), its place and links,
moving it, cancelling it with a reason members will read, and reinstating it. Each change is one
form that goes back to the session's page with ?done= (vcs.planning.sessions does the work); a
session that starts before the next provision run gets its livestream at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as Db
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from vcs import audit
from vcs.errors import VcsError
from vcs.i18n import N_, gettext_for
from vcs.livestream.jobs import provision_soon
from vcs.livestream.plan import watch_url
from vcs.planning import places, registrations, sessions, wording
from vcs.staff import dashboard
from vcs.states import SessionStatus
from vcs.storage.models import Municipality, Session
from vcs.web.staff import confirm
from vcs.web.staff.pages import Refusal, Staff, edit, or_none, page, staff_render
from vcs.web.templating import request_language

DONE = {
    "details": N_("The session's details have been saved."),
    "place": N_("The session's place and links have been saved."),
    "moved": N_("The session has been moved."),
    "cancelled": N_("The session has been cancelled."),
    "reinstated": N_("The session has been reinstated."),
    "registration": N_("The session's registration settings have been saved."),
    "unchanged": N_("Nothing was changed."),
    "feedback-asked": N_("The attendees not asked yet will get the feedback form by e-mail."),
}


def session_edit(request: Request, staff: Staff, form: FormData | None) -> Response:
    return _session_page(request, staff, request.path_params["session_id"])


def _session_page(
    request: Request,
    staff: Staff,
    session_id: int,
    refusal: Refusal | None = None,
    status: int = 200,
) -> Response:
    context = request.app.state.context
    _ = gettext_for(request_language(request))
    with context.database.session() as db:
        session = or_none(lambda: sessions.get(db, session_id))
        if session is None:
            return staff_render(request, staff, "staff/not_found.html", 404)
        session.livestream  # noqa: B018 - loaded now, shown after the database session closes
        tz = sessions.timezone(session)
        municipalities = db.scalars(select(Municipality).order_by(Municipality.name)).all()
        done = DONE.get(request.query_params.get("done", ""))
        error = None
        if refusal is not None:
            marked = [_("Nothing was saved: see the problems marked below.")]
            error = " ".join((marked if refusal.fields else []) + refusal.lines)
        return staff_render(
            request,
            staff,
            "staff/session.html",
            status,
            session=session,
            local_start=f"{session.start.astimezone(tz):%Y-%m-%dT%H:%M}",
            local_end=f"{session.end.astimezone(tz):%Y-%m-%dT%H:%M}",
            speakers_text=speakers_text(session.speakers),
            place=wording.place(session),
            place_kinds=places.KINDS,
            municipalities=[(m.slug, m.name) for m in municipalities],
            watch_now=watch_url(session),
            join_now=wording.join_url(session),
            history=dashboard.session_history(context, session_id),
            phase=sessions.phase(session, context.clock.now()),
            registration=_registration(db, session, context.clock.now()),
            registration_form=_registration_form(session),
            done=_(done) if done else None,
            error=error,
            field_errors=refusal.fields if refusal else {},
        )


def _change(request: Request, staff: Staff, change: Callable[[Db, Session], str]) -> Response:
    """Apply `change(db, session)` and go back to the page; a refused change shows why."""
    session_id = request.path_params["session_id"]
    response = edit(
        request,
        staff,
        lambda db: or_none(lambda: sessions.get(db, session_id)),
        change,
        done_url=f"/staff/sessions/{session_id}",
        again=lambda refusal: _session_page(request, staff, session_id, refusal, 400),
    )
    if response.status_code == 303 and not response.headers["location"].endswith("=unchanged"):
        # Committed: a session starting before the next provision run is provisioned now.
        provision_soon(request.app.state.context, session_id)
    return response


def session_details(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None

    def change(db: Db, session: Session) -> str:
        values: dict[str, Any] = {
            key: str(form.get(key, "")).strip() for key in sessions.EDITABLE_TEXT
        }
        values["speakers"] = parse_speakers(str(form.get("speakers", "")))
        before = session.revision
        sessions.update_details(db, session, staff.email, **values)
        return "details" if session.revision != before else "unchanged"

    return _change(request, staff, change)


def session_place(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None

    def change(db: Db, session: Session) -> str:
        def field(name: str) -> str:
            return str(form.get(name, "")).strip()

        place = sessions.edit_place(
            {},
            kind=field("place_kind"),
            venue=field("place_venue"),
            address=field("place_address"),
            municipality=field("place_municipality"),
        )
        values: dict[str, Any] = {key: field(key) for key in sessions.LINKS}
        # The series' place stays the session's until staff choose another.
        if session.place is not None or place != wording.place(session):
            values["place"] = place
        before = session.revision
        sessions.update_details(db, session, staff.email, **values)
        return "place" if session.revision != before else "unchanged"

    return _change(request, staff, change)


def session_move(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None
    if not confirm.confirmed(form) and (asked := confirm.ask_move(request, staff, form)):
        return asked

    def change(db: Db, session: Session) -> str:
        tz = sessions.timezone(session)
        start_text = str(form.get("start", "")).strip()
        end_text = str(form.get("end", "")).strip()
        try:
            start = sessions.parse_local(start_text, tz)
            end = sessions.parse_local(end_text, tz) if end_text else None
        except VcsError:
            raise VcsError.one(
                "session.time-format", N_("Give the date and time like 2027-01-15T10:00.")
            ) from None
        if end is not None and end <= start:
            raise VcsError.one("session.end-before-start", N_("The end must be after the start."))
        if start == session.start and (end is None or end == session.end):
            return "unchanged"
        sessions.move(db, session, start.astimezone(dt.UTC), staff.email, end)
        return "moved"

    return _change(request, staff, change)


def session_cancel(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None
    if not confirm.confirmed(form) and (asked := confirm.ask_cancel(request, staff, form)):
        return asked

    def change(db: Db, session: Session) -> str:
        reason = str(form.get("reason", "")).strip()
        if not reason:
            raise VcsError.one(
                "session.reason-missing",
                N_("Say why the session is cancelled: members will read it."),
            )
        if session.status == SessionStatus.CANCELLED:
            return "unchanged"
        reason_en = str(form.get("reason_en", "")).strip()
        sessions.cancel(db, session, reason, staff.email, reason_en)
        return "cancelled"

    return _change(request, staff, change)


def session_reinstate(request: Request, staff: Staff, form: FormData | None) -> Response:
    def change(db: Db, session: Session) -> str:
        if session.status != SessionStatus.CANCELLED:
            return "unchanged"
        sessions.reinstate(db, session, staff.email)
        return "reinstated"

    return _change(request, staff, change)


# --- speakers in the form -------------------------------------------------------------------


def speakers_text(speakers: list[dict[str, str]]) -> str:
    """Speakers as the form shows them: one a line, "name; role; organisation"."""
    lines = []
    for speaker in speakers:
        parts = [speaker.get("name", ""), speaker.get("role", ""), speaker.get("organisation", "")]
        while parts and not parts[-1]:
            parts.pop()
        lines.append("; ".join(parts))
    return "\n".join(lines)


def parse_speakers(text: str) -> list[dict[str, str]]:
    """The form's speakers back; VcsError naming the first line without a name."""
    speakers = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(";", 2)] + ["", ""]
        if not parts[0]:
            raise VcsError.one(
                "session.speaker-name",
                N_("Speakers, line %(n)s: a speaker needs a name."),
                n=number,
            )
        speakers.append({"name": parts[0], "role": parts[1], "organisation": parts[2]})
    return speakers


def _registration_form(session: Session) -> dict[str, str]:
    """The session's own registration settings as its form shows them."""
    own = session.registration
    shown = own if own is not None else (session.series.registration or {})
    capacity = shown.get("capacity")
    closes, unit = registrations.closes_in_units(shown.get("closes"))
    return {
        "mode": "series" if own is None else "open" if own.get("open", True) else "closed",
        "capacity": "" if capacity is None else str(capacity),
        "closes": closes,
        "unit": unit,
    }


def registration_table(
    mode: str,
    capacity: str,
    inherited: dict[str, Any] | None,
    closes: str = "",
    unit: str = "days",
) -> dict[str, Any] | None:
    """A session's own registration settings from its form (None: as the series says).

    The table goes through the series files' checks (`series.registration.*`); an empty closing
    time keeps the series' (or the session's earlier own)."""
    if mode == "series":
        return None
    if mode not in ("open", "closed"):
        raise VcsError.one(
            "series.registration.open",
            N_("must be true or false"),
            field="registration_mode",
        )
    table: dict[str, Any] = {"open": mode == "open"}
    if capacity:
        table["capacity"] = int(capacity) if capacity.isascii() and capacity.isdigit() else capacity
    if closes:
        table["closes"] = registrations.closes_from_units(closes, unit)
    elif inherited and inherited.get("closes"):
        table["closes"] = inherited["closes"]
    checked, problems = registrations.check_settings(table)
    if problems:
        fields = {
            "registration.capacity": "registration_capacity",
            "registration.closes": "registration_closes",
        }
        raise VcsError(
            [replace(p, field=fields.get(str(p.where[-1]), "registration_mode")) for p in problems]
        )
    return registrations.without_defaults(checked)


def session_registration(request: Request, staff: Staff, form: FormData | None) -> Response:
    """Staff set a session's own registration: open or closed and the seats, or the series'."""
    assert form is not None

    def change(db: Db, session: Session) -> str:
        inherited = session.registration or session.series.registration
        table = registration_table(
            str(form.get("registration_mode", "series")),
            str(form.get("registration_capacity", "")).strip(),
            inherited,
            str(form.get("registration_closes", "")).strip(),
            str(form.get("registration_unit", "days")),
        )
        if table == session.registration:
            return "unchanged"
        before = session.registration
        session.registration = table
        # Like any staff edit, the rule leaves the session alone now (and export says it).
        session.edited = True
        audit.record(
            db,
            staff.email,
            "edit",
            "session",
            session.id,
            before={"registration": before},
            after={"registration": table},
        )
        db.flush()
        return "registration"

    return _change(request, staff, change)


def _registration(db: Db, session: Session, now: dt.datetime) -> dict[str, Any] | None:
    """Who comes (issue 16): the settings, whether one may register now (else why not), the
    counts, whether the room is full, and the list; None: no registration."""
    rules = registrations.rules(session)
    if rules is None:
        return None
    counts = registrations.counts(db, session.id)
    return {
        "rules": rules,
        "refusal": registrations.refusal(session, now),
        "closes_at": rules.closes_at(session),
        "counts": counts,
        "full": rules.capacity is not None and counts.room >= rules.capacity,
        "rows": registrations.registrants(db, session.id),
    }


def session_registrations_csv(request: Request, staff: Staff, form: FormData | None) -> Response:
    """The session's registrations for Excel in Latvia (`;`, UTF-8 with a BOM)."""
    context = request.app.state.context
    session_id = request.path_params["session_id"]
    with context.database.session() as db:
        if or_none(lambda: sessions.get(db, session_id)) is None:
            return staff_render(request, staff, "staff/not_found.html", 404)
        data = registrations.export_csv(db, session_id, context.settings.tz)
        # The file holds registrants' personal data: who took it is worth knowing.
        audit.record(db, staff.email, "export", "registrations", str(session_id))
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="registrations-{session_id}.csv"'},
    )


SESSION = "/staff/sessions/{session_id:int}"
routes = [
    page(SESSION, session_edit, "editor"),
    page(f"{SESSION}/details", session_details, "editor", methods=("POST",)),
    page(f"{SESSION}/place", session_place, "editor", methods=("POST",)),
    page(f"{SESSION}/move", session_move, "editor", methods=("POST",)),
    page(f"{SESSION}/cancel", session_cancel, "editor", methods=("POST",)),
    page(f"{SESSION}/reinstate", session_reinstate, "editor", methods=("POST",)),
    page(f"{SESSION}/registrations.csv", session_registrations_csv, "editor"),
    page(f"{SESSION}/registration", session_registration, "editor", methods=("POST",)),
]
