"""The sender: drains due deliveries over a pool of transports (SMTP connections).

One sender per installation runs at a time (vcs.storage.locks: a PostgreSQL advisory lock for
its schema, or a file beside the SQLite database), so whatever it finds in `sending` when it
starts was left by a sender that died, and is sent again. A worker ends a message's DATA (the
moment the relay takes it) only once the message before it is recorded as sent, so a SIGKILL
duplicates at most the messages in flight: one per connection.

When the relay refuses us rather than a recipient (see vcs.mail.relay) the run stops: what was
tried goes back to queued without spending an attempt, nobody counts a bounce, and a pause is
recorded that the send-outbox job waits out. Two rules catch what single answers do not: the
same 5xx for mail.same_refusal_limit different recipients in a row, and mail.connect_tries
connections in a row that got no answer (tried one at a time, so a dead relay costs that many
timeouts, not one per message or per connection).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from vcs import metrics
from vcs.context import Context
from vcs.mail import bounces, outbox, relay
from vcs.mail.outbox import Claimed
from vcs.mail.relay import RelayProblem
from vcs.mail.transport import (
    DeliveryError,
    Envelope,
    PermanentError,
    RelayUnavailable,
    RelayUnreachable,
    Transport,
    open_transport,
)
from vcs.storage import locks
from vcs.storage.db import Database, make_engine

log = logging.getLogger(__name__)

# Deliveries claimed per database round trip; claimed but untried ones are given back on a pause.
CLAIM_BATCH = 50
# How long the recorder waits for more accepted messages to record in the same commit.
GATHER_SECONDS = 0.002

TransportFactory = Callable[[], Transport]
Progress = Callable[[int], None]


@dataclass
class SendReport:
    """What one run of the sender did."""

    sent: int = 0
    failed_temporary: int = 0
    failed_permanent: int = 0
    recovered: int = 0
    cancelled: int = 0
    bounced_members: int = 0
    released: int = 0
    # Another sender holds the lock; this one did nothing.
    busy: bool = False
    # Why the run ended before the outbox was empty: "", "stopped", "time limit",
    # "send window", "daily cap" or "relay refused".
    stopped: str = ""
    # The relay refused us (relaying, log-in, sender, TLS, no answer): what it said, and the
    # problem with what to fix.
    relay_error: str = ""
    relay: RelayProblem | None = None
    # Set when the run did not try: an earlier run's pause lasts until then.
    paused_until: dt.datetime | None = None

    def __str__(self) -> str:
        if self.busy:
            return "another sender is running; nothing done"
        if self.paused_until is not None:
            return f"nothing tried: sending is paused until {self.paused_until:%Y-%m-%d %H:%M} UTC"
        parts = [
            f"{self.sent} sent",
            f"{self.failed_temporary} failed temporarily",
            f"{self.failed_permanent} failed permanently",
        ]
        if self.recovered:
            parts.append(f"{self.recovered} in flight at a crash queued again")
        if self.cancelled:
            parts.append(f"{self.cancelled} cancelled (member unsubscribed or bounced)")
        if self.bounced_members:
            parts.append(f"{self.bounced_members} member(s) marked bounced")
        if self.released:
            parts.append(f"{self.released} back in the queue, no attempt spent")
        line = ", ".join(parts)
        return f"{line}; paused: {self.stopped}" if self.stopped else line


def sender_lock(engine: Engine) -> locks.Lock:
    """The lock that keeps a second sender of this installation out."""
    database = engine.url.database or "vcs"
    return locks.lock_for(engine, locks.MAIL_SENDER, Path(f"{database}.mail-sender.lock"))


def sender_database(engine: Engine, connections: int) -> Database:
    """The sender's own engine on the same database, committing without waiting for the disk.

    Each delivery is recorded in its own transaction before its worker takes the next one; with
    an fsync per commit that would cost more than the SMTP exchange. Without the wait a commit
    still survives the sender's own death (SIGKILL), which is what bounds duplicates to the
    messages in flight; only a crash of the machine or the database server can lose the last
    records, and so send those few messages again. SQLite: WAL with synchronous=NORMAL.
    PostgreSQL: synchronous_commit off.
    """
    own = make_engine(engine.url, pool_size=connections + 2)
    event.listen(own, "connect", _commit_without_waiting)
    return Database(own)


def _commit_without_waiting(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    if "sqlite" in type(dbapi_connection).__module__:
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
    else:
        cursor.execute("SET synchronous_commit TO off")
        cursor.close()
        dbapi_connection.commit()


class RateLimiter:
    """At most `per_second` starts a second over all workers; 0 means no limit."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1 / per_second if per_second > 0 else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> bool:
        """Wait for the next slot; False when stopped meanwhile."""
        if not self.interval:
            return not stop.is_set()
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        return not stop.wait(max(slot - time.monotonic(), 0))


class Sender:
    """Drains the outbox: claims due deliveries and sends them over `concurrency` transports."""

    def __init__(
        self,
        context: Context,
        transport_factory: TransportFactory | None = None,
        *,
        concurrency: int | None = None,
        rate_per_second: float | None = None,
        stop: threading.Event | None = None,
        max_seconds: float | None = None,
        on_progress: Progress | None = None,
        force: bool = False,
    ) -> None:
        settings = context.settings
        self.context = context
        self.transport_factory = transport_factory or (lambda: open_transport(settings))
        self.concurrency = concurrency or settings.mail.concurrency
        rate = settings.mail.rate_per_second if rate_per_second is None else rate_per_second
        self.rate = RateLimiter(rate)
        # Set it (SIGTERM, Ctrl-C) to pause: the messages in flight finish, the rest wait.
        self.stop = stop or threading.Event()
        self.max_seconds = max_seconds
        self.on_progress = on_progress
        self._report = SendReport()
        self._report_lock = threading.Lock()
        self._halt = threading.Event()  # stop, or a relay that refuses us
        # Accepted messages on their way to be recorded, each with the event its worker awaits.
        self._sent: queue.Queue[tuple[Claimed, threading.Event] | None] = queue.Queue()
        self._failure: BaseException | None = None
        # Try even while an earlier run's pause lasts (staff asked for it).
        self.force = force
        # Until a message reaches the relay, one worker at a time tries (see the module doc).
        self._reached = threading.Event()
        self._probe = threading.Lock()
        self._relay_lock = threading.Lock()
        self._no_answer = 0  # connections in a row that got no answer
        # Refusals held back while they could be the relay's: (delivery, error), one answer.
        self._held: list[tuple[Claimed, PermanentError]] = []
        self._held_key = ""

    def run(self) -> SendReport:
        """Send everything that is due, until done, paused or out of time; return the report."""
        lock = sender_lock(self.context.database.engine)
        if not lock.try_acquire():
            return SendReport(busy=True)
        self.database = sender_database(self.context.database.engine, self.concurrency)
        try:
            now = self.context.clock.now()
            with self.database.session() as db:
                pause = relay.current_pause(db)
                if pause is not None and not self.force and now < pause.next_try_at:
                    self._report.relay = relay.problem_of(pause)
                    self._report.relay_error = pause.answer
                    self._report.paused_until = pause.next_try_at
                    self._report.stopped = "relay refused"
                    return self._report
                self._report.recovered = outbox.recover_in_flight(db)
                self._report.cancelled = outbox.cancel_unreachable(db)
            if self._report.recovered:
                log.warning(
                    "%d deliveries were in flight when a sender stopped; sending them again",
                    self._report.recovered,
                )
            try:
                self._drain()
            finally:
                # Refusals still held were too few to be the relay's: the recipients' own.
                self._record_failures(self._take_held())
            if self._failure is None:
                self._note_relay_state()
        finally:
            self.database.dispose()
            lock.release()
        if self._failure is not None:
            raise self._failure
        return self._report

    def _note_relay_state(self) -> None:
        """Open or extend the pause when the relay refused us; end it once the relay answers."""
        now = self.context.clock.now()
        with self.database.session() as db:
            if self._report.relay is not None:
                pause = relay.record_pause(db, self.context.settings, self._report.relay, now)
                log.warning(
                    "sending paused until %s: %s",
                    pause.next_try_at.isoformat(timespec="minutes"),
                    self._report.relay.line(),
                )
            elif self._reached.is_set() and relay.end_pause(db, now):
                log.info("the mail relay answers again; the pause has ended")

    def _drain(self) -> None:
        work: queue.Queue[Claimed | None] = queue.Queue(maxsize=CLAIM_BATCH * 2)
        workers = [
            threading.Thread(target=self._work, args=(work,), name=f"mail-sender-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        recorder = threading.Thread(target=self._record_sent, name="mail-recorder", daemon=True)
        recorder.start()
        for worker in workers:
            worker.start()
        deadline = None if self.max_seconds is None else time.monotonic() + self.max_seconds
        try:
            self._claim_into(work, deadline)
        finally:
            for _ in workers:
                self._put(work, None, force=True)
            for worker in workers:
                worker.join()
            self._sent.put(None)
            recorder.join()
            leftover = []
            while not work.empty():
                item = work.get_nowait()
                if item is not None:
                    leftover.append(item.id)
            if leftover:
                self._give_back(leftover)

    def _record_sent(self) -> None:
        """Record accepted messages as sent, many per transaction (a group commit).

        A worker's next message waits for this record right before its final "." (see
        transport.Ready): that wait is what keeps a SIGKILL from duplicating more than one
        message per connection, while the rest of the next SMTP exchange overlaps the commit.
        """
        while True:
            first = self._sent.get()
            if first is None:
                return
            batch = [first]
            last = False
            # Gather briefly: a worker needs this record only when its next message is about to
            # end, a whole SMTP exchange later, and one commit for several messages costs less.
            until = time.monotonic() + GATHER_SECONDS
            while len(batch) < self.concurrency:
                try:
                    following = self._sent.get(timeout=max(until - time.monotonic(), 0))
                except queue.Empty:
                    break
                if following is None:
                    last = True
                    break
                batch.append(following)
            try:
                with self.database.engine.begin() as connection:
                    sent = [item for item, _done in batch]
                    outbox.mark_sent(connection, sent, self.context.clock.now())
            except BaseException as exc:  # the records stay `sending`: sent again after a restart
                log.exception("recording sent mail failed")
                self._failure = exc
                self._halt.set()
            else:
                with self._report_lock:
                    self._report.sent += len(batch)
                metrics.mail_sent(len(batch))
            finally:
                for _item, done in batch:
                    done.set()
            if last:
                return

    def _claim_into(self, work: queue.Queue[Claimed | None], deadline: float | None) -> None:
        settings = self.context.settings
        while not self._halted():
            if deadline is not None and time.monotonic() >= deadline:
                self._pause("time limit")
                return
            # Claim only when the workers are short of work, so few rows wait in `sending`.
            if work.qsize() > CLAIM_BATCH:
                self._halt.wait(0.005)
                continue
            now = self.context.clock.now()
            with self.database.session() as db:
                room = outbox.allowance(db, settings, now)
                if room == 0:
                    self._pause(
                        "daily cap" if outbox.in_send_window(settings, now) else "send window"
                    )
                    return
                # The cap counts in-flight deliveries as used, so claiming up to it is safe.
                limit = CLAIM_BATCH if room is None else min(CLAIM_BATCH, room)
                batch = outbox.claim(db, now, limit)
            if not batch:
                return
            for item in batch:
                self._put(work, item)

    def _put(
        self, work: queue.Queue[Claimed | None], item: Claimed | None, force: bool = False
    ) -> None:
        while True:
            try:
                work.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._halted() and not force:
                    # Stays claimed in our hands; given back with the rest when the run ends.
                    if item is not None:
                        self._give_back([item.id])
                    return

    def _halted(self) -> bool:
        if self.stop.is_set() and not self._report.stopped:
            self._report.stopped = "stopped"
        return self.stop.is_set() or self._halt.is_set()

    def _pause(self, why: str) -> None:
        if not self._report.stopped:
            self._report.stopped = why

    def _work(self, work: queue.Queue[Claimed | None]) -> None:
        transport = self.transport_factory()
        # The previous message this worker delivered is recorded when this is set.
        previous = threading.Event()
        previous.set()
        try:
            while True:
                item = work.get()
                if item is None:
                    return
                if self._halted() or not self.rate.wait(self.stop) or self._halt.is_set():
                    self._give_back([item.id])
                    continue
                previous = self._send_one(transport, item, previous)
        except BaseException as exc:  # a database failure: stop all, report it from run()
            log.exception("mail sender worker failed")
            self._failure = exc
            self._halt.set()
        finally:
            transport.close()

    def _give_back(self, ids: list[int]) -> None:
        with self.database.session() as db:
            released = outbox.release(db, ids)
        with self._report_lock:
            self._report.released += released

    def _send_one(
        self, transport: Transport, item: Claimed, previous: threading.Event
    ) -> threading.Event:
        """Send one message; the event is set once it is recorded (at once when it failed).

        The transport waits for `previous` right before it delivers, so at any moment at most
        one accepted message per connection is not yet recorded: all a SIGKILL can duplicate.
        """
        if self._reached.is_set():
            recorded = self._attempt(transport, item, previous)
        else:
            with self._probe:
                if self._halted():
                    self._give_back([item.id])
                    return previous
                recorded = self._attempt(transport, item, previous)
        if self.on_progress is not None:
            self.on_progress(1)
        return recorded

    def _attempt(
        self, transport: Transport, item: Claimed, previous: threading.Event
    ) -> threading.Event:
        settings = self.context.settings
        sender = bounces.return_path(settings, item.id)
        envelope = Envelope(sender, item.to_address, item.data, item.message_id)
        try:
            transport.send(envelope, previous.wait)
        except RelayUnavailable as exc:
            self._relay_refused(item, exc)
        except RelayUnreachable as exc:
            self._unanswered(item, exc)
        except PermanentError as exc:
            self._answered()
            self._refused(item, exc)
        except DeliveryError as exc:
            self._answered()
            self._record_failures([*self._take_held(), (item, exc)])
        else:
            self._answered()
            if self._held:
                self._record_failures(self._take_held())
            recorded = threading.Event()
            self._sent.put((item, recorded))
            return recorded
        # Nothing was delivered: the next message waits only for what this one waited for.
        return previous

    def _answered(self) -> None:
        """The relay answered about a message: it is reachable."""
        if not self._reached.is_set():
            self._reached.set()
        self._no_answer = 0

    def _refused(self, item: Claimed, exc: PermanentError) -> None:
        """A 5xx for this recipient: the recipient's own, unless the same answer keeps coming.

        Held back, not recorded, while the same answer comes for different recipients in a
        row; at mail.same_refusal_limit of them the relay is refusing us (see the module doc).
        """
        limit = self.context.settings.mail.same_refusal_limit
        key = relay.refusal_key(exc.answer) if limit and not exc.mailbox else ""
        record: list[tuple[Claimed, DeliveryError]] = []
        tripped: list[tuple[Claimed, PermanentError]] = []
        with self._relay_lock:
            if key and key == self._held_key:
                self._held.append((item, exc))
            else:
                record.extend(self._held)
                self._held, self._held_key = ([(item, exc)], key) if key else ([], "")
                if not key:
                    record.append((item, exc))
            if len({held.to_address.lower() for held, _exc in self._held}) >= limit > 0:
                tripped, self._held, self._held_key = self._held, [], ""
        self._record_failures(record)
        if tripped:
            self._release([held for held, _exc in tripped], str(exc))
            self._halt_for(
                RelayProblem(relay.SAME_REFUSAL, exc.answer, count=len(tripped)), str(exc)
            )

    def _take_held(self) -> list[tuple[Claimed, DeliveryError]]:
        with self._relay_lock:
            held, self._held, self._held_key = self._held, [], ""
        return list(held)

    def _relay_refused(self, item: Claimed, exc: RelayUnavailable) -> None:
        """The relay refuses us: give back this and the held deliveries, stop the run."""
        held = [claimed for claimed, _exc in self._take_held()]
        self._release([item, *held], str(exc))
        settings = self.context.settings
        problem = RelayProblem(
            exc.kind,
            exc.answer,
            sender=settings.mail.from_address,
            relay=relay.relay_name(settings),
        )
        self._halt_for(problem, str(exc))

    def _unanswered(self, item: Claimed, exc: RelayUnreachable) -> None:
        """No answer: give the delivery back; after mail.connect_tries in a row, stop."""
        self._reached.clear()
        with self._relay_lock:
            self._no_answer += 1
            tries = self._no_answer
        self._release([item], str(exc))
        log.info("delivery %d to %s: %s", item.id, item.to_address, exc)
        settings = self.context.settings
        if tries >= settings.mail.connect_tries:
            where = relay.relay_name(settings)
            self._halt_for(
                RelayProblem(relay.UNREACHABLE, str(exc), relay=where, count=tries), str(exc)
            )

    def _halt_for(self, problem: RelayProblem, error: str) -> None:
        with self._report_lock:
            if self._report.relay is None:
                self._report.relay = problem
                self._report.relay_error = error
                log.info("the mail relay refused us: %s", error)
        self._pause("relay refused")
        self._halt.set()

    def _release(self, items: list[Claimed], note: str) -> None:
        """Queue tried deliveries again without spending the attempt: the relay failed them."""
        with self.database.session() as db:
            released = outbox.release(db, [item.id for item in items], note)
        with self._report_lock:
            self._report.released += released

    def _record_failures(self, failures: list[tuple[Claimed, DeliveryError]]) -> None:
        """Record failed attempts that are the recipients' own (bounces count)."""
        if not failures:
            return
        settings = self.context.settings
        now = self.context.clock.now()
        for item, exc in failures:
            with self.database.session() as db:
                bounced = outbox.mark_failed(db, settings, item, exc, now)
            gave_up = item.attempts >= settings.mail.max_attempts
            with self._report_lock:
                if exc.permanent or gave_up:
                    self._report.failed_permanent += 1
                else:
                    self._report.failed_temporary += 1
                self._report.bounced_members += int(bounced)
            metrics.mail_failed(permanent=exc.permanent or gave_up)
            log.info("delivery %d to %s failed: %s", item.id, item.to_address, exc)
