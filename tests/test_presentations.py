"""tools/build_presentations.py: the deck files in tools/presentations/ rebuild the committed demo
decks (the package's loader reads the same text per page/slide and the same metadata), the
verification catches a stale deck, and a bad deck file stops the tool with a message naming the
file and the field instead of an assert."""

from __future__ import annotations

import importlib.util
import shutil
import textwrap
from pathlib import Path

import pytest

from kunskap.loaders import load_file

from .conftest import REPO

COMMITTED = REPO / "corpus" / "presentationer"
DECKS = REPO / "tools" / "presentations"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("build_presentations", REPO / "tools" / "build_presentations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rebuilt(tool, tmp_path_factory):
    folder = tmp_path_factory.mktemp("decks")
    tool.build(tool.load_decks(DECKS), folder)
    return folder


def loaded(path: Path, root: Path):
    doc = load_file(path, root)
    meta = {k: getattr(doc, k) for k in ("id", "title", "organisation", "organisation_type", "county", "kind",
                                         "tags", "year", "summary", "source_url", "language", "curation_notes")}
    return meta, [(s.page, s.heading, s.text) for s in doc.sections]


def test_every_committed_deck_comes_from_a_deck_file(rebuilt):
    assert sorted(p.name for p in rebuilt.iterdir()) == sorted(p.name for p in COMMITTED.iterdir())
    assert len(list(DECKS.glob("*.yml"))) == len([p for p in COMMITTED.iterdir() if p.suffix in (".pptx", ".pdf")]) == 14


def test_rebuilt_decks_read_the_same_as_the_committed_ones(rebuilt):
    decks = sorted(p for p in COMMITTED.iterdir() if p.suffix in (".pptx", ".pdf"))
    assert decks
    for committed in decks:
        meta, pages = loaded(rebuilt / committed.name, rebuilt)
        assert (meta, pages) == loaded(committed, COMMITTED), committed.name
        assert len(pages) >= 6 and any(c in "".join(t for _, _, t in pages) for c in "åäö")
    for sidecar in COMMITTED.glob("*.yml"):           # our own YAML writer: the same bytes
        assert (rebuilt / sidecar.name).read_bytes() == sidecar.read_bytes(), sidecar.name


def test_verify_passes_on_the_committed_decks_and_catches_a_stale_one(tool, rebuilt, tmp_path, capsys):
    decks = tool.load_decks(DECKS)
    assert tool.verify(decks, COMMITTED)
    assert "alla kontroller godkända" in capsys.readouterr().out
    # Someone edits a slide title in a deck file but does not rebuild.
    edited = [dict(d, slides=[dict(d["slides"][0], title="Ny rubrik"), *d["slides"][1:]])
              if d["slug"] == "karlstad-elevborgarrad-klimatet" else d for d in decks]
    assert not tool.verify(edited, COMMITTED)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("karlstad-")]
    assert rows and rows[0].split()[-1] == "FEL"
    # Rebuilt from the edited deck, the file no longer reads like the committed one; the rest do.
    folder = tmp_path / "omgjorda"
    shutil.copytree(rebuilt, folder)
    tool.build([d for d in edited if d["slug"] == "karlstad-elevborgarrad-klimatet"], folder)
    states = dict(tool.compare(edited, folder, COMMITTED))
    assert len(states) == 25 and states.pop("karlstad-elevborgarrad-klimatet.pptx") == "OLIK TEXT"
    assert set(states.values()) <= {"identisk", "samma text"} and states["karlstad-elevborgarrad-klimatet.pptx.yml"] == "identisk"


def test_check_writes_nothing_and_reports_same_content(tool, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in COMMITTED.iterdir()}
    assert tool.main(["--check"]) == 0
    assert "samma innehåll som de incheckade filerna" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in COMMITTED.iterdir()} == before


GOOD = """\
format: pptx
sidecar: true
meta:
  title: Vätgas i Mariestad
  organisation: Mariestads kommun
  themes: [fossilfria-fordon]
  summary: Kommunen öppnade en tankstation för vätgas.
  source_url: https://example.se/vatgas
title_slide:
  title: Vätgas i Mariestad
  subtitle: En tankstation för hela regionen
slides:
- title: Bakgrund
  bullets:
  - 'Två skäl:'
  - - tunga transporter
    - egen el från solparken
  notes: Anteckning ett.
- title: Vad gjordes
  bullets: [Tankstationen byggdes 2019]
  notes: Anteckning två.
- title: Resultat
  bullets: [Fler vätgasbilar i kommunen]
  notes: Anteckning tre.
- title: Lärdomar
  bullets: [Börja med de tunga fordonen]
sources:
- https://example.se/vatgas
"""


def write_deck(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_good_deck_file_builds_and_verifies(tool, tmp_path, capsys):
    write_deck(tmp_path / "decks", "mariestad-vatgas.yml", GOOD)
    assert tool.main(["--decks", str(tmp_path / "decks"), "--out", str(tmp_path / "ut")]) == 0
    assert "alla kontroller godkända" in capsys.readouterr().out
    doc = load_file(tmp_path / "ut" / "mariestad-vatgas.pptx", tmp_path / "ut")
    assert doc.id == "mariestad-vatgas" and doc.organisation == "Mariestads kommun" and doc.kind == "presentation"
    assert [s.heading for s in doc.sections] == ["Vätgas i Mariestad", "Bakgrund", "Vad gjordes", "Resultat",
                                                 "Lärdomar", "Källor"]
    bullets, footer, notes = doc.sections[1].text.split("\n\n")
    assert bullets == "Två skäl:\ntunga transporter\negen el från solparken"      # sub-bullets under their point
    assert footer == "Mariestads kommun · Erfarenhetsutbyte i Klimatkommunerna    2/6" and notes == "Anteckning ett."


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("format: pptx", "format: key"), "mariestad-vatgas.yml: format: ska vara pptx eller pdf"),
    (lambda t: t.replace("  notes: Anteckning ett.", "  note: Anteckning ett."), "slides[0]: okända nycklar note"),
    (lambda t: t.replace("  - 'Två skäl:'\n", ""), "slides[0].bullets[0]: underpunkter ska följa direkt efter"),
    (lambda t: t.replace("  title: Vätgas i Mariestad\n  organisation", "  organisation"), "meta: saknar title"),
    (lambda t: t.replace("  summary: Kommunen öppnade en tankstation för vätgas.\n", ""), "meta.summary: saknas"),
    (lambda t: t.replace("- https://example.se/vatgas", "- https://example.se/annan"), "meta.source_url: ska också stå bland sources"),
    (lambda t: t.replace("- title: Lärdomar\n  bullets: [Börja med de tunga fordonen]\n", ""), "slides: 5 bilder"),
    (lambda t: t.replace("  notes: Anteckning två.\n", "").replace("  notes: Anteckning tre.\n", ""), "talarnoter på 2 av 6 bilder"),
    (lambda t: t.replace("  bullets: [Tankstationen byggdes 2019]", "  bullets: []"), "slides[1].bullets: ska vara en lista"),
    (lambda t: t.replace("themes: [fossilfria-fordon]", "themes: fossilfria-fordon"), "meta.themes: ska vara en lista"),
    (lambda t: t + "  year: tjugotjugo\n", "ogiltig YAML"),
    (lambda t: t.replace("source_url: https://example.se/vatgas", "source_url: https://example.se/vatgas\n  year: förra året"),
     "meta.year: ska vara ett årtal"),
])
def test_a_bad_deck_file_is_a_clear_error_not_an_assert(tool, tmp_path, capsys, change, message):
    write_deck(tmp_path / "decks", "mariestad-vatgas.yml", change(GOOD))
    with pytest.raises(tool.DeckError, match=message.replace("[", r"\[").replace("]", r"\]")):
        tool.load_decks(tmp_path / "decks")
    assert tool.main(["--decks", str(tmp_path / "decks"), "--out", str(tmp_path / "ut")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fel: mariestad-vatgas.yml: ") and message.split(": ")[-1] in err
    assert not (tmp_path / "ut").exists()                    # nothing written


def test_file_names_and_ids_must_be_unique_slugs(tool, tmp_path):
    write_deck(tmp_path / "a", "Vätgas Mariestad.yml", GOOD)
    with pytest.raises(tool.DeckError, match="'vatgas-mariestad.yml'"):
        tool.load_decks(tmp_path / "a")
    write_deck(tmp_path / "b", "mariestad-vatgas.yml", GOOD)
    write_deck(tmp_path / "b", "mariestad-vatgas-2.yml", GOOD.replace("sidecar: true", "sidecar: true\nid: mariestad-vatgas"))
    with pytest.raises(tool.DeckError, match="^mariestad-vatgas.yml: id 'mariestad-vatgas' används redan av mariestad-vatgas-2.yml"):
        tool.load_decks(tmp_path / "b")
    with pytest.raises(tool.DeckError, match="inga deck-filer"):
        tool.load_decks(tmp_path / "tom")


def test_the_shipped_deck_files_are_valid(tool):
    decks = tool.load_decks(DECKS)
    assert len(decks) == 14 and sum(not d["sidecar"] for d in decks) == 3
    assert {d["format"] for d in decks} == {"pptx", "pdf"}
