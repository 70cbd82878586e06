"""The jobs vcs runs on a schedule. Each is thin: select work, call the domain, summarise."""

from __future__ import annotations

import datetime as dt

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete

from vcs import announcements, audit, digest
from vcs.context import Context
from vcs.livestream import jobs as livestream_jobs
from vcs.mail.sender import Sender
from vcs.planning.materialize import materialize_all
from vcs.scheduler.registry import JobFailed, Registry
from vcs.storage.models import JobRun

registry = Registry()


@registry.job(
    "prune-job-runs",
    "Delete job run records older than scheduler.keep_job_runs_days.",
    trigger=lambda s: CronTrigger(hour=3, minute=17, timezone=s.tz),
)
def prune_job_runs(context: Context) -> str:
    keep = dt.timedelta(days=context.settings.scheduler.keep_job_runs_days)
    cutoff = context.clock.now() - keep
    with context.database.session() as db:
        result = db.execute(delete(JobRun).where(JobRun.started_at < cutoff))
        deleted = getattr(result, "rowcount", 0) or 0
    return f"{deleted} old job runs deleted"


@registry.job(
    "materialize",
    "Create the sessions of every series up to sessions.horizon_days ahead.",
    trigger=lambda s: CronTrigger(minute=5, timezone=s.tz),
)
def materialize(context: Context) -> str:
    settings = context.settings
    with context.database.session() as db:
        report = materialize_all(db, context.clock.now(), settings.horizon, settings.host)
    if report.failures:
        # The good series are saved; the run is marked failed so staff see the broken ones.
        raise JobFailed(str(report))
    return str(report)


@registry.job(
    "provision",
    "Give every streamed session within livestream.provision_days its broadcast; keep it in line.",
    trigger=lambda s: CronTrigger(minute="*/10", timezone=s.tz),
)
def provision(context: Context) -> str:
    try:
        return str(livestream_jobs.provision(context))
    except livestream_jobs.LivestreamJobError as exc:
        raise JobFailed(str(exc)) from None


@registry.job(
    "livestream-status",
    "Move sessions around their time from upcoming to live to ended, with the recording link.",
    trigger=lambda s: IntervalTrigger(minutes=s.livestream.status_poll_minutes, timezone=s.tz),
)
def livestream_status(context: Context) -> str:
    try:
        return str(livestream_jobs.poll_status(context))
    except livestream_jobs.LivestreamJobError as exc:
        raise JobFailed(str(exc)) from None


@registry.job(
    "send-outbox",
    "Send the e-mail that is due from the outbox (mail.url), at most 50 seconds a run.",
    trigger=lambda s: IntervalTrigger(minutes=1, timezone=s.tz),
)
def send_outbox(context: Context) -> str:
    # Bounded, so a long send never delays the scheduler's shutdown; the next run goes on
    # where this one paused.
    report = Sender(context, max_seconds=50).run()
    if report.relay is not None:
        # The line `vcs outbox send` prints; the run fails each time until the relay answers.
        raise JobFailed(report.relay.line())
    return str(report)


@registry.job(
    "announce",
    "Announce sessions announcements.days_before days ahead; notify moves and cancellations.",
    trigger=lambda s: CronTrigger(minute=20, timezone=s.tz),
)
def announce(context: Context) -> str:
    report = announcements.announce(context.database, context.settings, context.clock.now())
    if report.failures:
        # What could be queued is queued; the failed sessions are tried again next run.
        raise JobFailed(str(report))
    return str(report)


@registry.job(
    "reminders",
    "Remind registrants and followers before sessions (reminders.before); alert live sessions.",
    trigger=lambda s: IntervalTrigger(minutes=s.reminders.every_minutes, timezone=s.tz),
)
def reminders(context: Context) -> str:
    from vcs import live_alerts
    from vcs import reminders as reminding

    now = context.clock.now()
    report = reminding.remind(context.database, context.settings, now)
    live_alerts.alert(context.database, context.settings, now, report)
    if report.failures:
        # What could be queued is queued; the failed sessions are tried again next run.
        raise JobFailed(str(report))
    return str(report)


@registry.job(
    "digest-draft",
    "Draft this week's digest (digest.weekday at digest.time), unless it is drafted already.",
    trigger=lambda s: CronTrigger(
        day_of_week=s.digest.weekday[:3],
        hour=digest.draft_time(s).hour,
        minute=digest.draft_time(s).minute,
        timezone=s.tz,
    ),
)
def digest_draft(context: Context) -> str:
    with context.database.session() as db:
        found, created = digest.draft(db, context.settings, context.clock.now(), audit.SCHEDULER)
        return f"digest {found.id} drafted" if created else f"digest {found.id} was drafted already"


@registry.job(
    "digest-send",
    "Queue the approved digests whose time to send has come, for every active member.",
    trigger=lambda s: IntervalTrigger(minutes=1, timezone=s.tz),
)
def digest_send(context: Context) -> str:
    with context.database.session() as db:
        sent = digest.send_due(db, context.settings, context.clock.now())
    return "; ".join(str(queued) for queued in sent) or "nothing due"


@registry.job(
    "google-calendar",
    "Keep the Google calendars of google_calendar.* in line with the feeds; repair hand edits.",
    trigger=lambda s: IntervalTrigger(minutes=s.google_calendar.sync_minutes, timezone=s.tz),
)
def google_calendar(context: Context) -> str:
    from vcs.reach.calendar_mirror import MirrorError, mirror

    try:
        return str(mirror(context))
    except MirrorError as exc:
        raise JobFailed(str(exc)) from None


@registry.job(
    "fetch-bounces",
    "Read the bounce mailbox (bounces.*): count late bounces, unsubscribe on complaints.",
    trigger=lambda s: IntervalTrigger(minutes=s.bounces.fetch_minutes, timezone=s.tz),
)
def fetch_bounces(context: Context) -> str:
    from vcs.mail import bounces
    from vcs.mail.imap import MailboxError, open_mailbox

    if not context.settings.bounces.host:
        return "no bounce mailbox set (bounces.host)"
    try:
        with open_mailbox(context.settings.bounces) as mailbox:
            return str(bounces.fetch(context, mailbox))
    except MailboxError as exc:
        raise JobFailed(str(exc)) from None
