"""What a session's broadcast should be, and where to watch it before a provider has spoken."""

from __future__ import annotations

from vcs.planning import wording
from vcs.planning.sessions import timezone
from vcs.providers import static
from vcs.providers.provider import BroadcastPlan
from vcs.storage.models import Session


def broadcast_plan(session: Session, base_url: str) -> BroadcastPlan:
    """What the session's broadcast should be, for any livestream provider."""
    return BroadcastPlan(
        session_id=session.id,
        uid=session.uid,
        title=wording.title(session, "lv"),
        description=session.topic_lv or session.series.description_lv,
        start=session.start,
        end=session.end,
        page_url=wording.page_url(session, base_url),
        settings=dict(session.series.livestream_settings),
        local_date=f"{session.start.astimezone(timezone(session)):%Y-%m-%d}",
        series_slug=session.series.slug,
    )


def _link(session: Session, key: str) -> str:
    """The provisioned broadcast's link, else the series' static link template filled in."""
    row = session.livestream
    if row is not None and getattr(row, key):
        return str(getattr(row, key))
    template = str(session.series.livestream_settings.get(key, ""))
    return static.fill(template, broadcast_plan(session, ""))


def watch_url(session: Session) -> str:
    """Where to watch: the link staff set on the session, else the provisioned broadcast, else
    the series' static link."""
    return session.watch_url or _link(session, "watch_url")


def embed_url(session: Session) -> str:
    """An address the page may embed in a player, if the stream has one."""
    return _link(session, "embed_url")


def stream(session: Session) -> wording.Stream:
    """Both links, for wording.session_json()."""
    return wording.Stream(watch_url=watch_url(session), embed_url=embed_url(session))
