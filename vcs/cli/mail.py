"""E-mail: `vcs outbox ...`, `vcs mail dkim-record`, `vcs digest ...`."""

from __future__ import annotations

import signal

import click

from vcs.cli.base import (
    Failure,
    RowId,
    one_line_errors,
    open_context,
)
from vcs.cli.serving import warn_about_base_url
from vcs.config import load_settings
from vcs.context import Context


@click.group()
def outbox() -> None:
    """The e-mail outbox: what is queued, sent and failed; retry; send now."""


@outbox.command("status")
@one_line_errors
def outbox_status() -> None:
    """Counts per state and kind, then the failed deliveries with their errors."""
    from vcs.mail import outbox as mail_outbox

    context = open_context()
    with context.database.session() as db:
        report = mail_outbox.outbox_status(db)
        due = mail_outbox.due_count(db, context.clock.now())
    kinds = sorted({kind for kind, _state in report.counts})
    if not kinds:
        click.echo("the outbox is empty")
        return
    states = mail_outbox.STATES
    click.echo(f"{'kind':<14}" + "".join(f"{state:>18}" for state in states))
    for kind in kinds:
        row = "".join(f"{report.counts.get((kind, state), 0):>18}" for state in states)
        click.echo(f"{kind:<14}{row}")
    click.echo(f"{'all':<14}" + "".join(f"{report.total(state):>18}" for state in states))
    click.echo(f"{due} due now")
    if report.pause is not None:
        from vcs.mail import relay

        pause = report.pause
        click.echo(
            f"sending paused since {pause.started_at:%Y-%m-%d %H:%M} UTC ({pause.tries} tries),"
            f" next try {pause.next_try_at:%Y-%m-%d %H:%M} UTC or now with `vcs outbox send`:"
            f" {relay.problem_of(pause).line()}"
        )
    for failed in report.failed:
        retry = (
            f", next try {failed.next_attempt_at:%Y-%m-%d %H:%M} UTC"
            if (failed.status == mail_outbox.FAILED_TEMPORARY and failed.next_attempt_at)
            else ""
        )
        click.echo(
            f"{failed.id:>7}  {failed.kind}/{failed.ref}  {failed.to_address}  {failed.status}"
            f" after {failed.attempts} attempt(s){retry}: {failed.last_error}"
        )
    if report.failed_total > len(report.failed):
        click.echo(f"... and {report.failed_total - len(report.failed)} more failed")


@outbox.command("retry")
@click.option("--kind", help="Only deliveries of this kind (digest, announcement, ...).")
@one_line_errors
def outbox_retry(kind: str | None) -> None:
    """Queue the failed deliveries again (and only those); the next send tries them."""
    from vcs.mail import outbox as mail_outbox

    context = open_context()
    with context.database.session() as db:
        count = mail_outbox.retry_failed(db, kind)
    click.echo(f"{count} failed deliveries queued again")


@outbox.command("send")
@one_line_errors
def outbox_send() -> None:
    """Send what is due now, with a progress bar; Ctrl-C or SIGTERM pauses (resume any time)."""
    context = open_context()
    send_with_progress(context, "another sender is draining the outbox; try again when it is done")


@click.group("mail")
def mail_group() -> None:
    """E-mail set-up: the DKIM record to publish."""


@mail_group.command("dkim-record")
@one_line_errors
def mail_dkim_record() -> None:
    """Print the DNS TXT record that publishes the key of mail.dkim_key_file."""
    from vcs.mail import dkim

    signer = dkim.signer(load_settings())
    if signer is None:
        raise Failure("mail.dkim_key_file is empty: nothing is signed, there is no record")
    click.echo(f"name:  {signer.dns_name}")
    click.echo("type:  TXT")
    click.echo(f"value: {signer.key.record}")
    click.echo(f"zone:  {signer.zone_line()}")


@click.group()
def digest() -> None:
    """The weekly digest: draft it, preview it, send it."""


@digest.command("draft")
@one_line_errors
def digest_draft() -> None:
    """Draft this week's digest (or name the one already drafted)."""
    from vcs import digest as digests

    context = open_context()
    warn_about_base_url(context.settings)
    with context.database.session() as db:
        found, created = digests.draft(db, context.settings, context.clock.now(), "cli")
        line = f"digest {found.id}: " + ("drafted" if created else "this week's, drafted already")
    click.echo(f"{line}; edit it at {context.settings.base_url}/staff/digests/{found.id}")


@digest.command("preview")
@click.argument("digest_id", type=RowId("digest"))
@click.option("--lang", type=click.Choice(["lv", "en"]), default="lv", show_default=True)
@click.option("--text", "as_text", is_flag=True, help="The plain-text part instead of the HTML.")
@one_line_errors
def digest_preview(digest_id: int, lang: str, as_text: bool) -> None:
    """Print the e-mail as members get it (the HTML, or with --text the plain text)."""
    from vcs import digest as digests

    context = open_context()
    warn_about_base_url(context.settings)
    with context.database.session() as db:
        found = digests.get(db, digest_id)
        _subject, text, html = digests.preview(db, context.settings, found, lang)
    click.echo(text if as_text else html, nl=False)


@digest.command("send")
@click.argument("digest_id", type=RowId("digest"))
@click.option(
    "--confirm-links",
    is_flag=True,
    help="Confirm the links to domains that are not trusted (content.trusted_domains) first; "
    "without it such a digest is refused. `vcs digest preview` shows the links.",
)
@one_line_errors
def digest_send(digest_id: int, confirm_links: bool) -> None:
    """Queue the digest for every active member (nobody twice), then send with a progress bar."""

    from vcs import digest as digests

    context = open_context()
    warn_about_base_url(context.settings)
    with context.database.session() as db:
        found = digests.get(db, digest_id)
        if confirm_links:
            for domain in digests.confirm_links(db, context.settings, found, "cli"):
                click.echo(f"digest {digest_id}: links to {domain} confirmed")
        queued = digests.send(db, context.settings, found, context.clock.now(), "cli")
        failed = digests.not_made(db, digest_id)
    # Those whose message could not be made are listed, with the reason, by `vcs outbox status`.
    failures = f", {failed} failed (see vcs outbox status)" if failed else ""
    click.echo(f"digest {digest_id}: {queued} new recipients queued{failures}")
    send_with_progress(
        context, "another sender is draining the outbox; the digest waits in it for that one"
    )


class RelayRefused(Failure):
    """The mail relay refused us: nothing was marked failed; fix what the line says, send again."""

    exit_code = 3


def send_with_progress(context: Context, busy: str) -> None:
    """Drain the outbox now with a progress bar (count, rate, ETA); Ctrl-C or SIGTERM pauses."""
    import threading
    import time

    from vcs.mail import outbox as mail_outbox
    from vcs.mail.sender import Sender

    with context.database.session() as db:
        due = mail_outbox.due_count(db, context.clock.now())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    started = time.monotonic()
    done = 0
    lock = threading.Lock()

    def rate(_item: object) -> str:
        elapsed = time.monotonic() - started
        return f"{done / elapsed:.0f}/s" if elapsed > 0 and done else ""

    with click.progressbar(
        length=max(due, 1), label="sending", show_pos=True, show_eta=True, item_show_func=rate
    ) as bar:

        def progress(n: int) -> None:
            nonlocal done
            with lock:
                done += n
                bar.update(n)

        # Staff asked to send now: try even while an earlier refusal's pause lasts.
        report = Sender(context, stop=stop, on_progress=progress, force=True).run()
    if report.busy:
        raise Failure(busy)
    click.echo(str(report))
    if report.relay is not None:
        # A full or unwritable outbox folder is a local failure like any other (exit 1).
        raise (Failure if report.relay.local else RelayRefused)(report.relay.line())
