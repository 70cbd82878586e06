"""config/network.toml: Latvia's 5 planning regions and 43 municipalities."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from vcs.network import NetworkFileError, read_network
from vcs.paths import CONFIG_DIR


def test_the_network_has_5_regions_and_43_municipalities() -> None:
    network = read_network(CONFIG_DIR / "network.toml")
    assert [r["slug"] for r in network.regions] == [
        "kurzeme",
        "zemgale",
        "vidzeme",
        "latgale",
        "riga",
    ]
    kinds = Counter(m["kind"] for m in network.municipalities)
    assert kinds == {"novads": 36, "valstspilsēta": 7}


def test_state_cities_and_their_regions() -> None:
    network = read_network(CONFIG_DIR / "network.toml")
    cities = {
        m["name"]: m["region"] for m in network.municipalities if m["kind"] == "valstspilsēta"
    }
    assert cities == {
        "Daugavpils": "latgale",
        "Jelgava": "zemgale",
        "Jūrmala": "riga",
        "Liepāja": "kurzeme",
        "Rēzekne": "latgale",
        "Rīga": "riga",
        "Ventspils": "kurzeme",
    }


def test_slugs_are_ascii_and_unique() -> None:
    network = read_network(CONFIG_DIR / "network.toml")
    slugs = [m["slug"] for m in network.municipalities]
    assert len(slugs) == len(set(slugs))
    assert all(slug.isascii() and slug == slug.lower() for slug in slugs)


def test_a_municipality_in_an_unknown_region_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "network.toml"
    path.write_text(
        """
[network]
name = { lv = "Tīkls", en = "Network" }
short_name = { lv = "T", en = "N" }
[[regions]]
slug = "kurzeme"
name = { lv = "Kurzeme", en = "Kurzeme" }
[[municipalities]]
slug = "talsu-novads"
name = "Talsu novads"
kind = "novads"
region = "kurzme"
""",
        encoding="utf-8",
    )
    with pytest.raises(
        NetworkFileError, match=r"municipalities #1 \(talsu-novads\): unknown region 'kurzme'"
    ):
        read_network(path)
