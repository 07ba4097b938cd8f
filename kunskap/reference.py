"""Reference data shipped with the package: Sweden's municipalities and regions with their län,
and the organisations with evidence of membership in Klimatkommunerna."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from importlib import resources


def _rows(name: str) -> list[dict]:
    text = resources.files("kunskap.data").joinpath(name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@lru_cache(maxsize=1)
def organisations() -> dict[str, dict]:
    """name -> {name, type, code, county, county_code} for the 290 municipalities and 21 regions."""
    return {row["name"]: row for row in _rows("organisations.csv")}


@lru_cache(maxsize=1)
def members() -> frozenset[str]:
    """Organisations with evidence of membership (kunskap/data/members.csv)."""
    return frozenset(row["name"] for row in _rows("members.csv"))


@lru_cache(maxsize=1)
def municipalities() -> dict[str, dict]:
    """Organisation name (as in organisations.csv) -> the municipality's row in municipalities.csv:
    code, name, county, kommungrupp (A1..C9), kommungrupp_name, population (int or None),
    population_year and the sources."""
    out = {}
    for row in _rows("municipalities.csv"):
        row = dict(row)
        row["population"] = int(row["population"]) if row.get("population") else None
        out[row["organisation"]] = row
    return out


@lru_cache(maxsize=1)
def kommungrupper() -> dict[str, dict]:
    """SKR's municipality groups: code (A1..C9) -> {code, name, description}."""
    return {row["code"]: row for row in _rows("kommungrupper.csv")}


def kommungrupp_of(organisation: str) -> str | None:
    """The kommungrupp code of a municipality (None for regions and unknown names)."""
    row = municipalities().get(organisation)
    return row["kommungrupp"] or None if row else None


def organisations_in_kommungrupper(codes) -> list[str]:
    """The organisation names of the municipalities in any of the kommungrupper `codes`."""
    wanted = set(codes)
    return sorted(name for name, row in municipalities().items() if row["kommungrupp"] in wanted)


def _plain_slug(name: str) -> str:
    text = name.lower().replace("æ", "ae").replace("ø", "o")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@lru_cache(maxsize=1)
def _slugs() -> dict[str, str]:
    """name -> slug for the known organisations. Names that fold to the same letters (Håbo and
    Habo kommun) both get their official code appended, so neither depends on the other's order."""
    plain = {name: _plain_slug(name) for name in organisations()}
    taken = Counter(plain.values())
    return {name: f"{slug}-{organisations()[name]['code']}" if taken[slug] > 1 else slug
            for name, slug in plain.items()}


def organisation_slug(name: str) -> str:
    """The URL slug of an organisation name: 'Malmö stad' -> 'malmo-stad'."""
    return _slugs().get(name) or _plain_slug(name)
