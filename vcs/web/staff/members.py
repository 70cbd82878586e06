"""Staff pages for the member directory (admins only): the list with search and filters, the CSV
import (a dry run first, then a confirmation), the CSV export, and returning wrongly bounced
members to active (as `vcs members reactivate` does).

Import and export call vcs.membership.members_csv, the same code as `vcs members import`
and `export`.
Between the dry run and the confirmation the uploaded file waits in a private temporary folder
under a random name, with a note of the staff member and the log-in (its CSRF secret, hashed)
that uploaded it; nobody else can confirm it, it is deleted once imported and after an hour.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import re
import secrets
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import exists, false, func, or_, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from vcs import audit, dates
from vcs.errors import VcsError
from vcs.i18n import gettext_for
from vcs.mail import outbox
from vcs.membership.members import STATUSES, spec_of
from vcs.membership.members_csv import (
    COLUMNS,
    ImportReport,
    MemberFileError,
    export_members,
    import_members,
)
from vcs.staff import labels
from vcs.storage.models import Member, MemberRegion, MemberSeries, Municipality, Region, Series
from vcs.web.security import staff_session
from vcs.web.staff.pages import Staff, page, staff_render
from vcs.web.templating import request_language

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGE = 1_000_000
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
UPLOAD_HOURS = 1


@dataclass(frozen=True)
class Filters:
    """What the member list is narrowed to; empty strings mean "any"."""

    q: str = ""
    region: str = ""
    municipality: str = ""
    status: str = ""
    following: str = ""
    page: int = 1

    @classmethod
    def of(cls, request: Request) -> Filters:
        params = request.query_params
        try:
            # Bounded: the offset of a page beyond any directory must still fit the database.
            number = min(max(1, int(params.get("page", "1"))), MAX_PAGE)
        except ValueError:
            number = 1
        return cls(
            q=params.get("q", "").strip()[:200],
            region=params.get("region", ""),
            municipality=params.get("municipality", ""),
            status=params.get("status", ""),
            following=params.get("following", ""),
            page=number,
        )

    def query(self, **changes: Any) -> str:
        """The list's address with these filters (and changes), for pager links."""
        from urllib.parse import urlencode

        values = {k: v for k, v in (self.__dict__ | changes).items() if v not in ("", 1)}
        return "/staff/members" + (f"?{urlencode(values)}" if values else "")


def member_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    """SQL conditions for the filters. Following a series or region counts those who follow
    everything too: they get its sessions."""
    conditions: list[ColumnElement[bool]] = []
    if filters.q:
        pattern = f"%{filters.q.lower()}%"
        conditions.append(
            or_(func.lower(Member.name).like(pattern), func.lower(Member.email).like(pattern))
        )
    if filters.municipality:
        conditions.append(
            Member.municipality_id.in_(
                select(Municipality.id).where(Municipality.slug == filters.municipality)
            )
        )
    if filters.region:
        conditions.append(
            Member.municipality_id.in_(
                select(Municipality.id)
                .join(Region, Municipality.region_id == Region.id)
                .where(Region.slug == filters.region)
            )
        )
    if filters.status:
        conditions.append(Member.status == filters.status)
    kind, _sep, slug = filters.following.partition(":")
    if filters.following == "all":
        conditions.append(Member.follows_all.is_(True))
    elif filters.following == "none":
        conditions.append(~Member.follows_all)
        conditions.append(~exists().where(MemberSeries.member_id == Member.id))
        conditions.append(~exists().where(MemberRegion.member_id == Member.id))
    elif kind == "series" and slug:
        conditions.append(
            or_(
                Member.follows_all,
                exists()
                .where(MemberSeries.member_id == Member.id)
                .where(MemberSeries.series_id.in_(select(Series.id).where(Series.slug == slug))),
            )
        )
    elif kind == "region" and slug:
        conditions.append(
            or_(
                Member.follows_all,
                exists()
                .where(MemberRegion.member_id == Member.id)
                .where(MemberRegion.region_id.in_(select(Region.id).where(Region.slug == slug))),
            )
        )
    elif filters.following:
        conditions.append(false())
    return conditions


def find_members(db: Db, filters: Filters) -> tuple[list[Member], int]:
    """One page of members matching the filters, by name, and how many match in all."""
    conditions = member_conditions(filters)
    total = db.scalar(select(func.count()).select_from(Member).where(*conditions)) or 0
    query = (
        select(Member)
        .where(*conditions)
        .options(
            selectinload(Member.municipality).selectinload(Municipality.region),
            selectinload(Member.followed_series),
            selectinload(Member.followed_regions),
        )
        .order_by(Member.name, Member.email)
        .offset((filters.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return list(db.scalars(query)), total


def member_list(request: Request, staff: Staff, form: FormData | None) -> Response:
    return _list_page(request, staff)


def _list_page(
    request: Request, staff: Staff, error: str | None = None, status: int = 200
) -> Response:
    context = request.app.state.context
    lang = request_language(request)
    _ = gettext_for(lang)
    filters = Filters.of(request)
    with context.database.session() as db:
        found, total = find_members(db, filters)
        names = labels.Names.load(db, lang)
        rows = [
            {
                "member": member,
                "municipality": member.municipality.name if member.municipality else "",
                "region": _region_name(member.municipality.region, lang)
                if member.municipality
                else "",
                "follows": names.follows(str(spec_of(member).follows)),
            }
            for member in found
        ]
        regions = [(r.slug, _region_name(r, lang)) for r in db.scalars(select(Region))]
        municipalities = [
            (m.slug, m.name) for m in db.scalars(select(Municipality).order_by(Municipality.name))
        ]
        series = [(s.slug, s.title_lv) for s in db.scalars(select(Series).order_by(Series.slug))]
    following = [("all", _("everything")), ("none", _("nothing"))]
    following += [(f"region:{slug}", name) for slug, name in sorted(regions, key=lambda r: r[1])]
    following += [(f"series:{slug}", title) for slug, title in series]
    statuses = {
        "pending": _("pending"),
        "active": _("active"),
        "unsubscribed": _("unsubscribed"),
        "bounced": _("bounced"),
    }
    reactivated = request.query_params.get("reactivated", "")
    return staff_render(
        request,
        staff,
        "staff/members.html",
        status,
        error=error,
        reactivated=int(reactivated) if reactivated.isdecimal() and len(reactivated) < 9 else None,
        rows=rows,
        total=total,
        filters=filters,
        pages=max(1, math.ceil(total / PAGE_SIZE)),
        regions=sorted(regions, key=lambda r: r[1]),
        municipalities=municipalities,
        following=following,
        statuses=[(status, statuses[status]) for status in STATUSES],
        status_names=statuses,
    )


def member_reactivate(request: Request, staff: Staff, form: FormData | None) -> Response:
    """Return the chosen bounced members, or those bounced since a date, to active; audited."""
    assert form is not None
    context = request.app.state.context
    _ = gettext_for(request_language(request))
    # Nine digits at most: ids are INTEGER columns (see vcs.web.IdConvertor).
    ids = [int(v) for v in map(str, form.getlist("member")) if v.isdecimal() and len(v) <= 9]
    since = None
    day = str(form.get("bounced_since", "")).strip()
    if day:
        try:
            since = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), context.settings.tz)
            if not dates.in_range(since):
                raise ValueError(day)
        except ValueError:
            return _list_page(request, staff, _("Give the date as YYYY-MM-DD."), 400)
    with context.database.session() as db:
        chosen = list(db.scalars(select(Member).where(Member.id.in_(ids)))) if ids else []
        if since is not None:
            chosen += outbox.bounced_since(db, since)
        done = outbox.reactivate(db, {m.id: m for m in chosen}.values(), staff.email)
    back = str(form.get("back", ""))
    if not back.startswith("/staff/members") or "//" in back or "\\" in back:
        back = "/staff/members"
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}reactivated={len(done)}", 303)


def member_export(request: Request, staff: Staff, form: FormData | None) -> Response:
    """The member file, as `vcs members export` writes it."""
    context = request.app.state.context
    with context.database.session() as db:
        data = export_members(db, context.settings.tz)
        # The file holds everyone's personal data: who took it is worth knowing.
        audit.record(db, staff.email, "export", "member", "")
    day = context.clock.now().astimezone(context.settings.tz).date().isoformat()
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="members-{day}.csv"'},
    )


def member_import(request: Request, staff: Staff, form: FormData | None) -> Response:
    """The upload form (GET); a dry run of the uploaded file (POST)."""
    if form is None:
        return _import_page(request, staff)
    _ = gettext_for(request_language(request))
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import_page(request, staff, error=_("Choose a CSV file to upload."), status=400)
    data = upload.file.read()
    if not data.strip():
        return _import_page(request, staff, error=_("The file is empty."), status=400)
    name = Path(upload.filename).name[:100]
    report = _imported(request, staff, data, name, dry_run=True)
    if not isinstance(report, ImportReport):
        return _import_page(request, staff, name=name, problems=report, status=400)
    upload_id = _keep(request, staff, data, name)
    return _import_page(request, staff, name=name, report=report, upload_id=upload_id)


def member_import_confirm(request: Request, staff: Staff, form: FormData | None) -> Response:
    """Import the file the dry run checked."""
    assert form is not None
    _ = gettext_for(request_language(request))
    kept = _take(request, staff, str(form.get("upload", "")))
    if kept is None:
        error = _("The uploaded file is no longer here (an hour has passed). Upload it again.")
        return _import_page(request, staff, error=error, status=400)
    data, name = kept
    report = _imported(request, staff, data, name, dry_run=False)
    if not isinstance(report, ImportReport):
        # The directory changed since the dry run; the file stays for another try.
        return _import_page(request, staff, name=name, problems=report, status=400)
    _forget(str(form.get("upload", "")))
    return _import_page(request, staff, name=name, report=report, imported=True)


def _imported(
    request: Request, staff: Staff, data: bytes, name: str, dry_run: bool
) -> ImportReport | list[dict[str, str]]:
    """The import's report, or its problems as rows of line, column and reason."""
    context = request.app.state.context
    lang = request_language(request)
    try:
        return import_members(context, data, name, staff.email, dry_run=dry_run)
    except MemberFileError as exc:
        return exc.rows(lang)
    except VcsError as exc:
        return [{"line": "", "column": "", "reason": line} for line in exc.lines(lang)]


def _import_page(
    request: Request,
    staff: Staff,
    name: str = "",
    report: ImportReport | None = None,
    problems: list[dict[str, str]] | None = None,
    upload_id: str = "",
    imported: bool = False,
    error: str | None = None,
    status: int = 200,
) -> Response:
    changes = []
    if report is not None:
        changes = [row for row in report.rows if row.outcome != "unchanged" or row.note]
    return staff_render(
        request,
        staff,
        "staff/member_import.html",
        status,
        name=name,
        report=report,
        changes=changes,
        problems=problems,
        upload_id=upload_id,
        imported=imported,
        error=error,
        columns=COLUMNS,
    )


def _region_name(region: Region, lang: str) -> str:
    return region.name_en if lang == "en" else region.name_lv


# --- the uploaded file between the dry run and the confirmation ------------------------------


class UploadFolderError(RuntimeError):
    """The upload folder is not this user's own: member files are not put there."""


def upload_dir() -> Path:
    """The folder uploads wait in: this user's own, open to nobody else (0700)."""
    folder = Path(tempfile.gettempdir()) / "vcs-member-uploads"
    folder.mkdir(mode=0o700, exist_ok=True)
    # The temporary folder is shared by every user of the machine: another may have made this
    # folder first (to read members' data, or swap a file between dry run and import), or a link
    # in its place.
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        logger.error(
            "%s is not a folder of this user (uid %d): member files are not kept there; "
            "remove it and upload again",
            folder,
            os.geteuid(),
        )
        raise UploadFolderError(f"{folder} is not a folder of uid {os.geteuid()}")
    if stat.S_IMODE(info.st_mode) & 0o077:
        logger.warning(
            "%s was open to others (mode %o): made private (0700)",
            folder,
            stat.S_IMODE(info.st_mode),
        )
        folder.chmod(0o700)
    return folder


def _owner(request: Request, staff: Staff) -> str:
    session = staff_session(request)
    secret = session.csrf if session else ""
    return hashlib.sha256(f"{staff.id}:{secret}".encode()).hexdigest()


def _keep(request: Request, staff: Staff, data: bytes, name: str) -> str:
    folder = upload_dir()
    cutoff = time.time() - UPLOAD_HOURS * 3600
    for old in folder.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    upload_id = secrets.token_urlsafe(24)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    with os.fdopen(os.open(folder / f"{upload_id}.csv", flags, 0o600), "wb") as fh:
        fh.write(data)
    meta = {"owner": _owner(request, staff), "name": name}
    with os.fdopen(os.open(folder / f"{upload_id}.json", flags, 0o600), "w") as fh:
        json.dump(meta, fh)
    return upload_id


def _take(request: Request, staff: Staff, upload_id: str) -> tuple[bytes, str] | None:
    """The kept file and its name, if it is this log-in's and not too old."""
    if not UPLOAD_ID.match(upload_id):
        return None
    folder = upload_dir()
    data_path, meta_path = folder / f"{upload_id}.csv", folder / f"{upload_id}.json"
    try:
        meta = json.loads(meta_path.read_text())
        age = dt.timedelta(seconds=time.time() - data_path.stat().st_mtime)
        if age > dt.timedelta(hours=UPLOAD_HOURS) or meta.get("owner") != _owner(request, staff):
            return None
        return data_path.read_bytes(), str(meta.get("name", "members.csv"))
    except (OSError, ValueError):
        return None


def _forget(upload_id: str) -> None:
    if UPLOAD_ID.match(upload_id):
        folder = upload_dir()
        for suffix in (".csv", ".json"):
            (folder / f"{upload_id}{suffix}").unlink(missing_ok=True)


routes = [
    page("/staff/members", member_list, "admin"),
    page("/staff/members/reactivate", member_reactivate, "admin", methods=("POST",)),
    page("/staff/members/export", member_export, "admin"),
    page("/staff/members/import", member_import, "admin", methods=("GET", "POST")),
    page("/staff/members/import/confirm", member_import_confirm, "admin", methods=("POST",)),
]
