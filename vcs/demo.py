"""A believable demo network for `vcs demo` and `make run`: series, members and a digest draft.

The series are the network's own: the national monthly videoconference, and the experience-
sharing meetings of two planning regions. Kurzeme's come from its series file as they are (Kuldīga
first, then Liepāja in February, said by a [[series.sessions]] override); Vidzeme's are moved from
town to town by hand, the way staff edit single sessions.

Vidzeme's meetings also show who comes: the next one takes registrations (a full room, some
online, two on the waiting list), and last week's, a one-off meeting staff added, has its
attendance marked, its certificates released and a few feedback answers. All of it goes through
the same functions as the pages, with the clock set back to when members registered; the only
mail it queues is what staff would queue too (the certificates and the feedback request of last
week's attendees), and it goes where the settings send mail (a folder in the demo).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs import audit, feedback
from vcs.attendance import records
from vcs.certificates import issue
from vcs.clock import FixedClock
from vcs.context import Context
from vcs.livestream.jobs import provision_soon
from vcs.paths import CONFIG_DIR
from vcs.planning import registrations
from vcs.planning.registrations import ONLINE, ROOM
from vcs.planning.series import import_series, read_series_file
from vcs.planning.sessions import add_extra, update_details
from vcs.states import MemberStatus, SessionStatus
from vcs.storage.models import (
    Attendance,
    Digest,
    DigestItem,
    Member,
    Municipality,
    Registration,
    Series,
    Session,
)

FIRST_NAMES = [
    "Anna", "Jānis", "Līga", "Mārtiņš", "Ilze", "Kristaps", "Zane", "Edgars", "Inese", "Raitis",
    "Dace", "Andris", "Sanita", "Gatis", "Evija", "Normunds", "Laura", "Artūrs", "Ieva", "Uldis",
]  # fmt: skip
LAST_NAMES = [
    "Bērziņa", "Kalniņš", "Ozola", "Liepiņš", "Krūmiņa", "Zariņš", "Pētersone", "Vītols",
    "Jansone", "Ābols", "Kļaviņa", "Siliņš", "Eglīte", "Grīnbergs", "Šmite", "Žagars",
]  # fmt: skip
POSITIONS = ["Jaunatnes lietu speciāliste", "Jaunatnes darbinieks", "Jauniešu centra vadītāja"]


def load_demo(context: Context) -> Iterator[str]:
    """Add the demo data that is not there yet and say what was added. Safe to run again."""
    specs = read_series_file(CONFIG_DIR / "demo" / "series.toml", context.settings.timezone)
    for result in import_series(context, specs, actor="demo"):
        yield f"demo: series {result.slug} {result.outcome}; sessions: {result.sessions}"
    provision_soon(context)
    with context.database.session() as db:
        dressed = _dress_sessions(db)
        yield f"demo: {dressed} sessions given topics, speakers or another town's venue"
        added = _add_members(db, context.clock.now())
        yield f"demo: {added} members added"
        if db.scalar(select(Digest.id).limit(1)) is None:
            db.add(_digest_draft(context.clock.now()))
            yield "demo: 1 digest draft added"
    yield from _who_comes(context)
    if context.settings.mode == "development":
        yield from _staff_account(context)


# A known account for trying the staff area on one's own machine; never made in production mode.
DEMO_STAFF_EMAIL = "demo@example.lv"
DEMO_STAFF_PASSWORD = "izmegini-vcs-demo"  # noqa: S105 - development mode only, printed


def _staff_account(context: Context) -> Iterator[str]:
    """The demo staff account (development mode), and how to log in with it."""
    from vcs.staff import accounts

    with context.database.session() as db:
        if accounts.find(db, DEMO_STAFF_EMAIL) is None:
            accounts.create(
                db, DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD, "admin", actor="demo", name="Demo"
            )
            yield f"demo: staff account {DEMO_STAFF_EMAIL} added (admin)"
    yield (
        f"demo: log in at {context.settings.base_url}/staff/login as {DEMO_STAFF_EMAIL}, "
        f"password {DEMO_STAFF_PASSWORD} (development mode only; `vcs serve` first)"
    )


def _add_members(db: Db, now: dt.datetime) -> int:
    """Two members in every municipality, a few of them reading English."""
    known = set(db.scalars(select(Member.email)))
    municipalities = db.scalars(select(Municipality).order_by(Municipality.slug)).all()
    added = 0
    for i in range(len(municipalities) * 2):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        last = LAST_NAMES[(i * 7) % len(LAST_NAMES)]
        muni = municipalities[(i * 5) % len(municipalities)]
        email = f"{_ascii(first)}.{_ascii(last)}.{i}@{muni.slug}.example.lv"
        if email in known:
            continue
        db.add(
            Member(
                email=email,
                name=f"{first} {last}",
                municipality_id=muni.id,
                organisation=f"{muni.name} pašvaldība",
                position=POSITIONS[i % len(POSITIONS)],
                language="en" if i % 10 == 0 else "lv",
                status=MemberStatus.ACTIVE,
                consent_at=now,
                consent_source="demo",
                feed_token=secrets.token_urlsafe(24),
            )
        )
        added += 1
    return added


def _digest_draft(now: dt.datetime) -> Digest:
    return Digest(
        period_start=now,
        period_end=now + dt.timedelta(days=14),
        subject_lv="Jaunatnes lietu tīkla ziņas",
        subject_en="Youth work network news",
        intro_lv="Labdien! Šonedēļ tīklā:",
        intro_en="Hello! This week in the network:",
        items=[
            DigestItem(
                position=1,
                title_lv="Pieteikšanās jauniešu iniciatīvu konkursam",
                title_en="Applications for the youth initiative grants",
                body_lv="Pieteikumus var iesniegt līdz **15. janvārim**.",
                body_en="Applications are open until **15 January**.",
                link="https://example.lv/konkurss",
            )
        ],
    )


TOPICS = [
    ("Jauniešu līdzdalība pašvaldību lēmumos", "Youth participation in municipal decisions"),
    ("Mobilais darbs ar jaunatni laukos", "Mobile youth work in rural areas"),
    ("Jauniešu garīgā veselība pēc pandēmijas", "Young people's mental health after the pandemic"),
    ("NEET jaunieši: kā viņus sasniegt", "NEET youth: how to reach them"),
    (
        "Brīvprātīgais darbs un Eiropas Solidaritātes korpuss",
        "Volunteering and the European Solidarity Corps",
    ),
    ("Jaunatnes darba kvalitātes novērtēšana", "Assessing the quality of youth work"),
]
SPEAKERS = [
    {
        "name": "Ilze Bērziņa",
        "role": "jaunatnes lietu speciāliste",
        "organisation": "Cēsu novada pašvaldība",
    },
    {
        "name": "Mārtiņš Ozols",
        "role": "jauniešu centra vadītājs",
        "organisation": "Liepājas jauniešu māja",
    },
    {"name": "Sanita Krūmiņa", "role": "pētniece", "organisation": "Latvijas Universitāte"},
]
VENUES = [
    ("Valmieras jauniešu centrs „Vinda“", "Rīgas iela 10, Valmiera", "valmieras-novads"),
    ("Cēsu Jauniešu māja", "Bērzaines iela 4, Cēsis", "cesu-novads"),
    (
        "Siguldas jauniešu centrs „Siguldas Jauniešu mājas“",
        "Šveices iela 19, Sigulda",
        "siguldas-novads",
    ),
    ("Madonas jauniešu centrs", "Skolas iela 10, Madona", "madonas-novads"),
    ("Alūksnes Jauniešu centrs", "Pils iela 25, Alūksne", "aluksnes-novads"),
    ("Smiltenes jauniešu centrs", "Baznīcas laukums 3, Smiltene", "smiltenes-novads"),
]


def _dress_sessions(db: Db) -> int:
    """Give the national sessions topics and speakers, and move the regional ones from town to
    town, the way staff edit them one by one. Sessions already edited are left alone, and so is
    a series whose file says itself where and what each session is (Kurzeme's)."""
    dressed = 0
    for series in db.scalars(select(Series).order_by(Series.id)):
        if series.overrides:
            continue
        for number, session in enumerate(series.sessions):
            if session.edited:
                continue
            dressed += 1
            if series.region_id is None:
                topic_lv, topic_en = TOPICS[number % len(TOPICS)]
                update_details(
                    db,
                    session,
                    "demo",
                    topic_lv=topic_lv,
                    topic_en=topic_en,
                    speakers=[
                        SPEAKERS[number % len(SPEAKERS)],
                        SPEAKERS[(number + 1) % len(SPEAKERS)],
                    ],
                )
            else:
                venue, address, municipality = VENUES[number % len(VENUES)]
                update_details(
                    db,
                    session,
                    "demo",
                    place={
                        "kind": "hybrid",
                        "venue": venue,
                        "address": address,
                        "municipality": municipality,
                    },
                )
    return dressed


# -- who comes: registration, attendance, certificates, feedback ------------------------------

# Vidzeme's meetings: hybrid, a venue of their own each month, so a room with seats.
WHO_COMES = "vidzemes-pieredzes-apmainas-tiksanas"
NEXT_REGISTRATION = {"open": True, "capacity": 12, "closes": "P1D"}
# The next meeting: the room full (every fourth registers online instead), then two more for the
# room, who wait for a seat.
NEXT_ATTENDANCE = [ONLINE if number % 4 == 0 else ROOM for number in range(1, 17)] + [ROOM] * 2
PAST_REGISTRATION = {"open": True, "capacity": 20, "closes": "P1D"}
PAST_TOPIC = (
    "Jauniešu garīgā veselība: ko var darīt jaunatnes darbinieks",
    "Young people's mental health: what a youth worker can do",
)
PAST_PLACE = {
    "kind": "hybrid",
    "venue": "Cēsu Jauniešu māja",
    "address": "Bērzaines iela 4, Cēsis",
    "municipality": "cesu-novads",
}
# Last week's meeting: how each registered and how they came ("": did not come).
PAST_MARKS = [
    (ROOM, ROOM),
    (ROOM, ROOM),
    (ONLINE, ONLINE),
    (ROOM, ROOM),
    (ROOM, ""),
    (ONLINE, ONLINE),
    (ROOM, ROOM),
    (ONLINE, ROOM),
]
FEEDBACK_ANSWERS = [
    {
        "rating": "5",
        "useful": "Cēsu kolēģu pieredze, kā uzrunāt jauniešus, kuri paši palīdzību nelūdz.",
        "wishes": "Vairāk par sadarbību ar skolu psihologiem.",
    },
    {
        "rating": "4",
        "useful": "Praktiskie piemēri un kontakti, kur jaunieti nosūtīt pēc palīdzības.",
        "improve": "Tiešraidē dažbrīd slikti varēja dzirdēt tos, kas runāja zālē.",
    },
    {
        "rating": "5",
        "useful": "Iespēja nelielā grupā pārrunāt grūtus gadījumus.",
        "improve": "Pārtraukums varētu būt garāks.",
        "wishes": "Tikšanās par jauniešu atkarībām un to profilaksi.",
    },
    {
        "rating": "3",
        "useful": "Informācija par jauno atbalsta tālruni jauniešiem.",
        "improve": "Mazāk prezentāciju, vairāk diskusiju.",
    },
]


def _who_comes(context: Context) -> Iterator[str]:
    """Registrations for Vidzeme's next meeting, and last week's meeting with its attendance,
    certificates and feedback; each only when the series has none yet."""
    now = context.clock.now()
    with context.database.session() as db:
        series = db.scalars(select(Series).where(Series.slug == WHO_COMES)).first()
        if series is None:
            return
        members = _regional_members(db, series)
        line = _open_next(db, series, members, now)
        if line:
            yield line
    with context.database.session() as db:
        series = db.scalars(select(Series).where(Series.slug == WHO_COMES)).one()
        line = _last_week(db, context, series, _regional_members(db, series), now)
        if line:
            yield line


def _regional_members(db: Db, series: Series) -> list[Member]:
    """Active members, those of the series' region first (they are the ones who come)."""
    active = db.scalars(
        select(Member).where(Member.status == MemberStatus.ACTIVE).order_by(Member.id)
    ).all()
    return sorted(
        active,
        key=lambda member: (
            member.municipality is None or member.municipality.region_id != series.region_id
        ),
    )


def _take_registrations(db: Db, session: Session, table: dict[str, object]) -> None:
    """Give the session registration settings of its own, as staff do on its page."""
    checked, problems = registrations.check_settings(table)
    assert not problems, problems
    before = session.registration
    session.registration = registrations.without_defaults(checked)
    session.edited = True
    audit.record(
        db,
        "demo",
        "edit",
        "session",
        session.id,
        before={"registration": before},
        after={"registration": session.registration},
    )
    db.flush()


def _register(
    db: Db, session: Session, members: list[Member], kinds: list[str], at: dt.datetime
) -> list[Registration]:
    """Register the members one after another from `at` on (the first come get the seats)."""
    clock = FixedClock(at)
    found = []
    for member, kind in zip(members, kinds, strict=False):
        found.append(registrations.register_member(db, clock, session.id, member, kind))
        clock.advance(dt.timedelta(minutes=47))
    return found


def _open_next(db: Db, series: Series, members: list[Member], now: dt.datetime) -> str | None:
    """The next meeting takes registrations, with the room full and two waiting."""
    future = db.scalars(
        select(Session)
        .where(Session.series_id == series.id, Session.start > now)
        .order_by(Session.start)
    ).all()
    if any(session.registration is not None for session in future):
        return None
    # One whose registration stays open for a while yet (it closes a day before).
    session = next(
        (
            session
            for session in future
            if session.status != SessionStatus.CANCELLED
            and session.start > now + dt.timedelta(days=2)
        ),
        None,
    )
    if session is None:
        return None
    _take_registrations(db, session, NEXT_REGISTRATION)
    _register(db, session, members, NEXT_ATTENDANCE, now - dt.timedelta(days=3))
    tally = registrations.counts(db, session.id)
    return (
        f"demo: session {session.id} takes registrations ({NEXT_REGISTRATION['capacity']} "
        f"seats): {tally.room} in the room, {tally.online} online, {tally.waiting} waiting"
    )


def _past_meeting(db: Db, context: Context, series: Series, now: dt.datetime) -> Session:
    """The series' last meeting that has ended, or one staff added on Wednesday last week."""
    found = db.scalars(
        select(Session)
        .where(
            Session.series_id == series.id,
            Session.end <= now,
            Session.status != SessionStatus.CANCELLED,
        )
        .order_by(Session.start.desc())
        .limit(1)
    ).first()
    if found is not None:
        return found
    tz = ZoneInfo(series.timezone)
    day = (now.astimezone(tz) - dt.timedelta(days=7)).date()
    day -= dt.timedelta(days=(day.weekday() - 2) % 7)  # that week's Wednesday, or the one before
    start = dt.datetime.combine(day, dt.time(13, 0), tzinfo=tz)
    return add_extra(
        db,
        series,
        start,
        start + dt.timedelta(minutes=series.duration_minutes),
        "demo",
        context.settings.host,
        topic_lv=PAST_TOPIC[0],
        topic_en=PAST_TOPIC[1],
        place=PAST_PLACE,
    )


def _last_week(
    db: Db, context: Context, series: Series, members: list[Member], now: dt.datetime
) -> str | None:
    """A meeting that has ended: registered, marked, certificates out, some feedback in."""
    marked = db.scalar(
        select(Attendance.id)
        .join(Session, Session.id == Attendance.session_id)
        .where(Session.series_id == series.id)
        .limit(1)
    )
    if marked is not None:
        return None
    session = _past_meeting(db, context, series, now)
    if registrations.rules(session) is None:
        _take_registrations(db, session, PAST_REGISTRATION)
    came = _register(
        db,
        session,
        members[2:],
        [registered for registered, _came in PAST_MARKS],
        session.start - dt.timedelta(days=6),
    )
    choices = {row.id: attended for row, (_kind, attended) in zip(came, PAST_MARKS, strict=False)}
    records.save_marks(db, session, choices, "demo", now)
    released = issue.release(db, context.settings, context.clock, session.id, "demo")
    feedback.ask(db, context.settings, session.id, now)
    attendees = records.attendees(db, session.id)
    for attendance, answer in zip(attendees, FEEDBACK_ANSWERS, strict=False):
        feedback.save(db, context.clock, attendance, feedback.read_answer(answer), "lv")
    return (
        f"demo: session {session.id} (ended): {len(attendees)} attended, "
        f"{released.issued} certificates released, "
        f"{min(len(attendees), len(FEEDBACK_ANSWERS))} feedback answers"
    )


def _ascii(text: str) -> str:
    table = str.maketrans("āčēģīķļņšūžĀČĒĢĪĶĻŅŠŪŽ", "acegiklnsuzACEGIKLNSUZ")
    return text.translate(table).lower()
