"""Shared helpers of the benchmark scripts (not a benchmark itself).

Query lists, the mixed query stream, percentiles, plain-text tables and the load-average footer.
Imported by bench/pipeline.py and bench/http.py; nothing here touches the library's data.
"""

from __future__ import annotations

import os
import platform
import random
import shutil
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO / "corpus"
PROTECTED_INDEX = REPO / "index"

# ~40 realistic searches in a municipal climate knowledge base (two with typos, as users type).
POPULAR_QUERIES = [
    "laddstolpar",
    "rättvis omställning",
    "klimatanpassning skyfall",
    "solceller på kommunens tak",
    "fossilfri fordonsflotta",
    "cykelvägar och cykelpendling",
    "klimatsmart skolmat",
    "minska matsvinn i skolan",
    "biobränsle i fjärrvärmen",
    "energieffektivisering i kommunala fastigheter",
    "hållbart träbyggande",
    "koldioxidbudget",
    "lokalt klimatkontrakt med näringslivet",
    "elbussar i stadstrafiken",
    "hållbart resande för anställda",
    "klimatväxling av tjänsteresor",
    "medborgardialog om klimatet",
    "ungdomar och klimatet",
    "energifattigdom",
    "värmebölja och äldreomsorg",
    "översvämning och dagvatten",
    "grön infrastruktur och biologisk mångfald",
    "klimatneutral kommun 2030",
    "klimatkrav i upphandling",
    "cirkulär ekonomi och återbruk",
    "återbruk av byggmaterial",
    "biogas från matavfall",
    "vätgas för tunga transporter",
    "minska biltrafiken",
    "15-minutersstaden",
    "mobilitetsveckan",
    "HVO i kommunens fordon",
    "regional livsmedelsstrategi",
    "styrmodell för agenda 2030",
    "klimatprotokoll med företag",
    "energidelning i bostadsområden",
    "vindkraft och lokal acceptans",
    "laddinfrastruktur på landsbygden",
    "hur minskar vi utsläppen från transporter",
    "fossilfri kollektivtrafik",
    "laddstolpr",              # typo
    "klimatanpasning",         # typo
]

# Topics and places for unique variants ("the long tail": each appears once).
TOPICS = [
    "laddstolpar", "solceller", "cykelparkering", "elbilspool", "skolmat", "matsvinn", "fjärrvärme",
    "energieffektivisering", "träbyggande", "koldioxidbudget", "klimatkontrakt", "elbussar",
    "tjänsteresor", "medborgardialog", "energifattigdom", "värmebölja", "skyfall", "dagvatten",
    "grönytor", "upphandling", "återbruk", "biogas", "vätgas", "bilpool", "hemleveranser",
    "livsmedelsstrategi", "klimatanpassning", "kollektivtrafik", "ängsmark", "klimatinvesteringar",
    "fossilfria bygg- och anläggningsplatser", "laddinfrastruktur", "samåkning", "energirådgivning",
    "klimatrapportering", "beteendeförändring", "växtbaserad mat", "trädplantering", "översvämningsskydd",
]
PLACES = [
    "Lund", "Malmö", "Helsingborg", "Karlstad", "Örebro", "Uppsala", "Stockholm", "Luleå", "Östersund",
    "Jönköping", "Huddinge", "Göteborg", "Trollhättan", "Eskilstuna", "Borlänge", "Linköping",
    "Landskrona", "Växjö", "Vaxholm", "Boxholm", "Botkyrka", "Skellefteå", "Södertälje", "Umeå",
    "Västerås", "Gävle", "Sundsvall", "Kiruna", "Visby", "Kalmar", "Halmstad", "Falun", "Norrköping",
    "Borås", "Kristianstad", "Skåne", "Norrbotten", "Dalarna", "Värmland", "små kommuner",
    "glesbygd", "förorten", "stadskärnan", "skolor", "äldreboenden", "förskolor",
]
TEMPLATES = [
    "{topic} i {place}",
    "hur arbetar {place} med {topic}",
    "erfarenheter av {topic} i {place}",
    "{place} {topic} {year}",
    "{topic} och klimatet i {place}",
    "kostnad för {topic} i {place}",
]
THROWAWAY_QUERY = "uppvärmningsfråga om klimatarbete i kommunen"


def unique_variants(n: int, seed: int, exclude: Iterable[str] = ()) -> list[str]:
    """n distinct long-tail queries (deterministic for a seed), none in `exclude`."""
    rng = random.Random(seed)
    seen = set(q.lower() for q in exclude) | set(q.lower() for q in POPULAR_QUERIES) | {THROWAWAY_QUERY}
    out: list[str] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 200 * max(n, 1) + 10000:
            raise RuntimeError(f"could not generate {n} unique queries")
        q = rng.choice(TEMPLATES).format(topic=rng.choice(TOPICS), place=rng.choice(PLACES),
                                         year=rng.randint(2015, 2025))
        if q.lower() not in seen:
            seen.add(q.lower())
            out.append(q)
    return out


def mixed_stream(n: int, seed: int, repeated_share: float = 0.6, exclude: Iterable[str] = ()
                 ) -> list[tuple[str, str]]:
    """n (kind, query) pairs: `repeated_share` drawn from POPULAR_QUERIES (Zipf-like weights, so
    some repeat often), the rest unique variants; shuffled deterministically."""
    rng = random.Random(seed)
    n_rep = round(n * repeated_share)
    weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(POPULAR_QUERIES))]
    repeated = [("repeated", q) for q in rng.choices(POPULAR_QUERIES, weights=weights, k=n_rep)]
    unique = [("unique", q) for q in unique_variants(n - n_rep, seed + 1, exclude)]
    stream = repeated + unique
    rng.shuffle(stream)
    return stream


# -- statistics ---------------------------------------------------------------------------------
def pct(values: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), p)) if len(values) else float("nan")


def p50_95_99(values: Sequence[float], scale: float = 1000.0) -> list[str]:
    """p50/p95/p99 formatted (seconds -> ms by default)."""
    return [fmt(pct(values, p) * scale) for p in (50, 95, 99)]


def fmt(value: float | None, digits: int | None = None) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if digits is None:
        a = abs(value)
        digits = 0 if a >= 1000 else 1 if a >= 10 else 2 if a >= 0.1 else 3
    return f"{value:,.{digits}f}".replace(",", " ")


# -- tables -------------------------------------------------------------------------------------
def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]],
          footer: Sequence[str] = (), left: int = 1, left_cols: Iterable[int] = ()) -> str:
    """A plain aligned table; the first `left` columns (and `left_cols`) are left-aligned, the
    others right-aligned."""
    lefts = set(range(left)) | set(left_cols)
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(c.ljust(w) if i in lefts else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    rule = "-" * len(line(cells[0]))
    out = [title, rule, line(cells[0]), rule] + [line(r) for r in cells[1:]] + [rule]
    out += [f"  {f}" for f in footer]
    return "\n".join(out)


class LoadClock:
    """Load average and wall time at start; footer() adds the end figures."""

    def __init__(self):
        self.load_start = os.getloadavg()
        self.started = time.perf_counter()
        self.started_at = time.strftime("%Y-%m-%d %H:%M:%S")

    def footer(self) -> list[str]:
        end = os.getloadavg()
        f = lambda la: " / ".join(f"{x:.2f}" for x in la)  # noqa: E731
        return [
            f"load average (1/5/15 min): start {f(self.load_start)}, end {f(end)}; "
            f"{os.cpu_count()} CPUs; {platform.python_implementation()} {platform.python_version()}",
            f"started {self.started_at}, elapsed {time.perf_counter() - self.started:.0f} s",
        ]


def log(message: str) -> None:
    import sys

    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- corpus and index dirs ----------------------------------------------------------------------
def check_index_dir(path: Path) -> None:
    """Refuse to work in the project's own index/ folder."""
    p = Path(path).resolve()
    if p == PROTECTED_INDEX.resolve() or PROTECTED_INDEX.resolve() in p.parents:
        raise SystemExit(f"refusing to use {p}: the benchmarks never touch {PROTECTED_INDEX}")


def subset_corpus(corpus: Path, limit: int | None, dest: Path) -> tuple[Path, int]:
    """The corpus itself, or a copy of its first `limit` document files (with .yml sidecars).
    Uses the library's own file walk (kunskap.ingest.corpus_files)."""
    from kunskap.ingest import corpus_files
    from kunskap.loaders import sidecar_path

    files, _problems = corpus_files(corpus)
    if not limit or limit >= len(files):
        return corpus, len(files)
    for path in files[:limit]:
        rel = path.relative_to(corpus)
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest / rel)
        sidecar = sidecar_path(path)
        if sidecar.exists():
            shutil.copy2(sidecar, dest / sidecar.relative_to(corpus))
    return dest, limit
