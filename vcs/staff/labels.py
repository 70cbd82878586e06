"""Words for the codes the staff pages would otherwise show: what a member follows
("all", "region:vidzeme|series:…") and what an audit entry records ("cancel" of a "session").

The codes stay in the database, the CSV files and the CLI; people on the staff pages read these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs.i18n import N_, gettext_for
from vcs.storage.models import AuditEntry, Region, Series

# What each audit action was, as a noun said after the thing it was done to
# ("Session 12: cancellation"), so one word fits a session, a series and a digest alike.
ACTIONS = {
    "create": N_("creation"),
    "update": N_("change"),
    "edit": N_("edit"),
    "move": N_("move to another time"),
    "cancel": N_("cancellation"),
    "reinstate": N_("reinstatement"),
    "draft": N_("drafting"),
    "add-item": N_("new item"),
    "edit-item": N_("item edit"),
    "delete-item": N_("item deletion"),
    "move-item": N_("item reordering"),
    "approve": N_("approval"),
    "unapprove": N_("return to draft"),
    "send": N_("sending to members"),
    "test": N_("test e-mail"),
    "confirm-links": N_("link confirmation"),
    "erase": N_("erasure"),
    "export": N_("export"),
    "login": N_("log-in"),
    "login-failed": N_("failed log-in"),
    "logout": N_("log-out"),
    "password": N_("password change"),
    "disable": N_("disabling"),
    "reactivate": N_("reactivation"),
    "rotate-feed-token": N_("new calendar link"),
    "recording": N_("recording link"),
    "complaint": N_("spam complaint"),
    "bounce": N_("returned e-mail"),
    "attendance": N_("marking of attendance"),
    "import-attendance": N_("import of attendance from a report"),
    "attendance-sheet": N_("printing of the attendance sheet"),
    "ask-feedback": N_("feedback request to attendees"),
}
ENTITIES = {
    "session": N_("Session"),
    "series": N_("Series"),
    "digest": N_("Digest"),
    "member": N_("Member"),
    "staff_user": N_("Staff account"),
}


class Names:
    """The names of planning regions and series by slug, in one language."""

    def __init__(self, regions: Mapping[str, str], series: Mapping[str, str], lang: str) -> None:
        self.regions, self.series, self.lang = dict(regions), dict(series), lang

    @classmethod
    def load(cls, db: Db, lang: str) -> Names:
        regions = {
            slug: (name_en if lang == "en" and name_en else name_lv)
            for slug, name_lv, name_en in db.execute(
                select(Region.slug, Region.name_lv, Region.name_en)
            )
        }
        series = {
            slug: (title_en if lang == "en" and title_en else title_lv)
            for slug, title_lv, title_en in db.execute(
                select(Series.slug, Series.title_lv, Series.title_en)
            )
        }
        return cls(regions, series, lang)

    def follows(self, code: str) -> str:
        """What a member follows, in words: "everything", or the regions and series named."""
        _ = gettext_for(self.lang)
        if code == "all":
            return _("everything")
        if code in ("none", ""):
            return _("nothing")
        words = []
        for part in code.split("|"):
            kind, _sep, slug = part.partition(":")
            if kind == "region":
                words.append(_("region: %(name)s", name=self.regions.get(slug, slug)))
            elif kind == "series":
                words.append(self.series.get(slug, slug))
            else:
                words.append(part)
        return "; ".join(words)


def what(entry: AuditEntry, lang: str) -> str:
    """An audit entry's action in words: "Session 12: cancellation"."""
    _ = gettext_for(lang)
    thing = _(ENTITIES[entry.entity]) if entry.entity in ENTITIES else entry.entity
    if entry.entity_id:
        thing = f"{thing} {entry.entity_id}"
    done = _(ACTIONS[entry.action]) if entry.action in ACTIONS else entry.action
    return f"{thing}: {done}"


def readable(values: Mapping[str, Any] | None, names: Names) -> dict[str, Any] | None:
    """An entry's before or after with codes people cannot read put in words."""
    if not values:
        return None
    return {
        key: names.follows(value) if key == "follows" and isinstance(value, str) else value
        for key, value in values.items()
    }
