"""The network's planning regions and municipalities, loaded from config/network.toml."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs.errors import Phrase, Problem, VcsError
from vcs.i18n import N_
from vcs.storage.models import Municipality, Region

if TYPE_CHECKING:
    from vcs.config import Settings

MUNICIPALITY_KINDS = ("novads", "valstspilsēta")
NETWORK_FILE = N_("network file")


class NetworkFileError(VcsError):
    """network.toml is malformed: one problem, code `network.<what>`, naming the entry."""

    def __init__(
        self, where: tuple[str | Phrase, ...], code: str, message: str, **params: Any
    ) -> None:
        place = (NETWORK_FILE, *where)
        super().__init__([Problem(f"network.{code}", message, params, place)])


@dataclass(frozen=True)
class NetworkFile:
    name: dict[str, str]
    short_name: dict[str, str]
    regions: list[dict[str, Any]]
    municipalities: list[dict[str, Any]]


def read_network(path: Path) -> NetworkFile:
    """Parse and check network.toml."""
    file = (str(path),)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NetworkFileError(file, "file.missing", N_("no such file")) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise NetworkFileError(
            file, "file.not-toml", N_("not valid TOML: %(reason)s"), reason=str(exc)
        ) from None
    except RecursionError:
        # tomllib parses nested arrays and tables by recursion: a few hundred levels exhaust it.
        raise NetworkFileError(
            file, "file.too-deep", N_("not valid TOML: nested too deeply")
        ) from None
    except OSError as exc:
        raise NetworkFileError(
            file, "file.unreadable", N_("%(reason)s"), reason=exc.strerror or str(exc)
        ) from None
    network = data.get("network", {})
    for key in ("name", "short_name"):
        value = network.get(key, {})
        if not (isinstance(value, dict) and value.get("lv") and value.get("en")):
            raise NetworkFileError(
                file, "network.names", N_("[network] %(key)s needs lv and en"), key=key
            )
    regions = data.get("regions", [])
    region_slugs = set()
    for i, region in enumerate(regions, 1):
        where = (*file, Phrase(N_("regions #%(number)s"), {"number": i}))
        name = region.get("name", {})
        if not region.get("slug") or not (name.get("lv") and name.get("en")):
            raise NetworkFileError(
                where, "region.incomplete", N_("needs slug and name.lv, name.en")
            )
        if region["slug"] in region_slugs:
            raise NetworkFileError(
                where, "region.slug-twice", N_("slug %(slug)r used twice"), slug=region["slug"]
            )
        region_slugs.add(region["slug"])
    seen = set()
    for i, muni in enumerate(data.get("municipalities", []), 1):
        label = N_("municipalities #%(number)s (%(slug)s)")
        where = (*file, Phrase(label, {"number": i, "slug": muni.get("slug", "?")}))
        if not (muni.get("slug") and muni.get("name")):
            raise NetworkFileError(where, "municipality.incomplete", N_("needs slug and name"))
        if muni["slug"] in seen:
            raise NetworkFileError(where, "municipality.slug-twice", N_("slug used twice"))
        seen.add(muni["slug"])
        if muni.get("kind") not in MUNICIPALITY_KINDS:
            raise NetworkFileError(
                where,
                "municipality.kind",
                N_("kind must be one of %(kinds)s"),
                kinds=", ".join(MUNICIPALITY_KINDS),
            )
        if muni.get("region") not in region_slugs:
            raise NetworkFileError(
                where,
                "municipality.region",
                N_("unknown region %(region)r"),
                region=muni.get("region"),
            )
    return NetworkFile(network["name"], network["short_name"], regions, data["municipalities"])


def load_network(db: Db, network: NetworkFile) -> int:
    """Create or update regions and municipalities by slug; return how many rows changed."""
    changed = 0
    regions = {r.slug: r for r in db.scalars(select(Region))}
    for entry in network.regions:
        region = regions.get(entry["slug"])
        if region is None:
            region = regions[entry["slug"]] = Region(slug=entry["slug"])
            db.add(region)
        changed += _assign(region, name_lv=entry["name"]["lv"], name_en=entry["name"]["en"])
    db.flush()
    municipalities = {m.slug: m for m in db.scalars(select(Municipality))}
    for entry in network.municipalities:
        muni = municipalities.get(entry["slug"])
        if muni is None:
            muni = Municipality(slug=entry["slug"])
            db.add(muni)
        changed += _assign(
            muni, name=entry["name"], kind=entry["kind"], region_id=regions[entry["region"]].id
        )
    db.flush()
    return changed


def _assign(obj: object, **values: Any) -> int:
    dirty = 0
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            dirty = 1
    return dirty


def network_name(settings: Settings, lang: str) -> str:
    """The network's name in `lang` (config/network.toml), as every e-mail's masthead says it."""
    names = _network_names(str(settings.path(settings.network.file)))
    return names.get(lang) or names.get("lv") or settings.mail.from_name


@functools.cache
def _network_names(path: str) -> dict[str, str]:
    try:
        return dict(read_network(Path(path)).name)
    except VcsError:
        return {}  # `vcs init` names a broken file; the mail still goes, under mail.from_name
