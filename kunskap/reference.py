"""Reference data shipped with the package: Sweden's municipalities and regions with their län,
and the organisations with evidence of membership in Klimatkommunerna."""

from __future__ import annotations

import csv
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
