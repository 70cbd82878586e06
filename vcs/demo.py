"""A believable demo network for `vcs demo` and `make run`: series, members and a digest draft.

The series are the network's own: the national monthly videoconference, and the experience-
sharing meetings of two planning regions. Kurzeme's come from its series file as they are (Kuldīga
first, then Liepāja in February, said by a [[series.sessions]] override); Vidzeme's are moved from
town to town by hand, the way staff edit single sessions.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs.context import Context
from vcs.livestream.jobs import provision_soon
from vcs.paths import CONFIG_DIR
from vcs.planning.series import import_series, read_series_file
from vcs.planning.sessions import update_details
from vcs.states import MemberStatus
from vcs.storage.models import Digest, DigestItem, Member, Municipality, Series

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


def _ascii(text: str) -> str:
    table = str.maketrans("āčēģīķļņšūžĀČĒĢĪĶĻŅŠŪŽ", "acegiklnsuzACEGIKLNSUZ")
    return text.translate(table).lower()
