"""A believable demo network for `vcs demo` and `make run`: series, members and a digest draft."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator

from sqlalchemy import select

from vcs.context import Context
from vcs.storage.models import Digest, DigestItem, Member, Municipality, Region, Series

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
    """Add the demo data that is not there yet; say what was added. Safe to run again."""
    with context.database.session() as db:
        if db.scalar(select(Series).where(Series.slug == "jaunatnes-lietu-videokonferences")):
            yield "demo: already loaded"
            return
        vidzeme = db.scalars(select(Region).where(Region.slug == "vidzeme")).one()
        valmiera = db.scalars(
            select(Municipality).where(Municipality.slug == "valmieras-novads")
        ).one()
        national = Series(
            slug="jaunatnes-lietu-videokonferences",
            title_lv="Jaunatnes lietu speciālistu videokonferences",
            title_en="Youth work videoconferences",
            description_lv=(
                "Tīkla ikmēneša videokonference: speciālisti no visas Latvijas stāsta par savu "
                "pieredzi darbā ar jaunatni un pārrunā aktuālos jautājumus."
            ),
            description_en=(
                "The network's monthly videoconference: specialists from all over Latvia share "
                "their experience of youth work and discuss current issues."
            ),
            rrule="FREQ=MONTHLY;BYDAY=2TH",
            start_local=dt.datetime.fromisoformat("2026-12-10T10:00"),
            timezone="Europe/Riga",
            duration_minutes=90,
            place={"kind": "online"},
            organiser_name="Jaunatnes lietu atbalsta tīkls",
            organiser_email="tikls@example.lv",
            tags=["jaunatnes politika", "pieredze"],
        )
        regional = Series(
            slug="vidzemes-pieredzes-apmainas-tiksanas",
            title_lv="Vidzemes jaunatnes darbinieku pieredzes apmaiņas tikšanās",
            title_en="Vidzeme youth workers' experience-sharing meetings",
            description_lv="Katru mēnesi citā Vidzemes jauniešu centrā, klātienē un tiešraidē.",
            description_en="Every month in another Vidzeme youth centre, in person and streamed.",
            rrule="FREQ=MONTHLY;BYDAY=-1WE",
            start_local=dt.datetime.fromisoformat("2026-12-30T13:00"),
            timezone="Europe/Riga",
            duration_minutes=180,
            place={
                "kind": "hybrid",
                "venue": "Valmieras jauniešu centrs “Vinda”",
                "address": "Rīgas iela 10, Valmiera",
                "municipality": valmiera.slug,
            },
            organiser_name="Vidzemes plānošanas reģions",
            organiser_email="jaunatne@example.lv",
            organiser_phone="+371 64 000 000",
            region_id=vidzeme.id,
            tags=["pieredzes apmaiņa"],
            funding_text_lv="Tikšanās notiek ar Eiropas Sociālā fonda Plus atbalstu.",
            funding_text_en="The meetings are supported by the European Social Fund Plus.",
            funding_project="4.2.4.1/1/24/I/001",
        )
        db.add_all([national, regional])
        yield "demo: 2 series"

        municipalities = db.scalars(select(Municipality).order_by(Municipality.slug)).all()
        added = 0
        for i in range(len(municipalities) * 2):
            first = FIRST_NAMES[i % len(FIRST_NAMES)]
            last = LAST_NAMES[(i * 7) % len(LAST_NAMES)]
            muni = municipalities[(i * 5) % len(municipalities)]
            email = f"{_ascii(first)}.{_ascii(last)}.{i}@{muni.slug}.example.lv"
            db.add(
                Member(
                    email=email,
                    name=f"{first} {last}",
                    municipality_id=muni.id,
                    organisation=f"{muni.name} pašvaldība",
                    position=POSITIONS[i % len(POSITIONS)],
                    language="en" if i % 10 == 0 else "lv",
                    status="active",
                    consent_at=context.clock.now(),
                    consent_source="demo",
                    feed_token=secrets.token_urlsafe(24),
                )
            )
            added += 1
        yield f"demo: {added} members in {len(municipalities)} municipalities"

        now = context.clock.now()
        digest = Digest(
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
        db.add(digest)
        yield "demo: 1 digest draft"


def _ascii(text: str) -> str:
    table = str.maketrans("āčēģīķļņšūžĀČĒĢĪĶĻŅŠŪŽ", "acegiklnsuzACEGIKLNSUZ")
    return text.translate(table).lower()
