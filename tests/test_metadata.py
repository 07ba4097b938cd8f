"""One set of metadata rules for the corpus files and the curation forms: the same bad value is
refused by the loader (a DocumentError naming the file and the field) and by the form (a
FormError at that field) with the same Swedish rule."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from kunskap.curation import Curator
from kunskap.errors import DocumentError, FormError
from kunskap.loaders import load_file
from kunskap.metadata import check_field, check_metadata

NEXT_YEAR = dt.date.today().year + 1
VALID = {"title": "Cykelbanor i Lund", "organisation": "Lunds kommun"}
BODY = "## Bakgrund\nKommunen byggde cykelbanor."

# (field in the file, field in the form, bad value, the rule both must state)
BAD = [
    ("year", "year", "3000", f"ska vara ett årtal mellan 1900 och {NEXT_YEAR}"),
    ("year", "year", str(NEXT_YEAR + 1), f"ska vara ett årtal mellan 1900 och {NEXT_YEAR}"),   # the loader took ≤ 2100
    ("year", "year", "1899", f"ska vara ett årtal mellan 1900 och {NEXT_YEAR}"),
    ("year", "year", "förra året", f"ska vara ett årtal mellan 1900 och {NEXT_YEAR}"),
    ("year", "year", "+2021", f"ska vara ett årtal mellan 1900 och {NEXT_YEAR}"),
    ("title", "title", "Å" * 201, "får vara högst 200 tecken"),
    ("title", "title", "Cykel\x07banor", "får inte innehålla kontrolltecken"),
    ("title", "title", ["två", "rubriker"], "ska vara text, inte en lista eller tabell"),
    ("summary", "summary", "ö" * 401, "får vara högst 400 tecken"),
    ("contact", "contact", "x" * 201, "får vara högst 200 tecken"),
    ("contact", "contact", "Anna\x00", "får inte innehålla kontrolltecken"),
    ("source_url", "source_url", "javascript:alert(1)",
     "ska vara en fullständig webbadress som börjar med https:// (eller http://)"),
    ("source_url", "source_url", "vaxjo.se/cykel",
     "ska vara en fullständig webbadress som börjar med https:// (eller http://)"),
    ("source_url", "source_url", "https://vaxjo.se/" + "a" * 1000, "får vara högst 1000 tecken"),
    ("published", "published", "igår", "ska vara ett datum som ÅÅÅÅ-MM-DD, t.ex. 2024-05-31"),
    ("status", "status", "hemlig",
     "ska vara published (publicerad), draft (utkast) eller unpublished (avpublicerad)"),
    ("kind", "kind", "blogg", "ska vara case-study, presentation, news eller report"),
    ("language", "language", "sv\x1b", "får inte innehålla kontrolltecken"),
    # A file's free tags and the form's own keywords follow one rule.
    ("themes", "other_tags", ["cykel", "c" * 61], "får vara högst 60 tecken långa, vart och ett"),
    ("themes", "other_tags", ["cyk\x0bel"], "får inte innehålla kontrolltecken"),
    ("themes", "other_tags", [["inbäddad"]], "får bara innehålla ord, inte listor eller tabeller"),
]


def write_file(folder, meta: dict):
    path = folder / "fel.md"
    path.write_text("---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n\n" + BODY + "\n", encoding="utf-8")
    return path


@pytest.fixture
def curator(tmp_path, kb_factory):
    (tmp_path / "corpus").mkdir()
    return Curator(kb_factory(tmp_path / "corpus"))


@pytest.mark.parametrize("file_field, form_field, value, rule", BAD)
def test_the_same_bad_value_breaks_the_same_rule_in_a_file_and_in_the_form(
        tmp_path, curator, file_field, form_field, value, rule):
    path = write_file(tmp_path, {**VALID, file_field: value})
    with pytest.raises(DocumentError) as from_file:
        load_file(path, tmp_path)
    assert from_file.value.path == "fel.md"
    assert from_file.value.reason.startswith(f"fältet '{file_field}' {rule}")

    with pytest.raises(FormError) as from_form:
        curator.validate({**VALID, form_field: value}, BODY)
    assert list(from_form.value.errors) == [form_field]
    assert rule in from_form.value.errors[form_field]


@pytest.mark.parametrize("field, value, stored", [
    ("year", str(NEXT_YEAR), NEXT_YEAR),
    ("year", "1900", 1900),
    ("year", " 2021 ", 2021),
    ("published", "2024-05-31", "2024-05-31"),
    ("source_url", "http://vaxjo.se/cykel", "http://vaxjo.se/cykel"),
    ("title", "T" * 200, "T" * 200),
    ("summary", "Två rader\nmed\ttabb.", "Två rader\nmed\ttabb."),
])
def test_a_good_value_is_kept_alike_by_the_loader_and_the_form(tmp_path, curator, field, value, stored):
    document = load_file(write_file(tmp_path, {**VALID, field: value}), tmp_path)
    assert getattr(document, field) == stored
    assert curator.validate({**VALID, field: value}, BODY)[field] == stored


def test_a_missing_required_field_is_named_by_both():
    clean, problems = check_metadata({"organisation": "Lunds kommun"}, required={"title", "organisation"})
    assert clean == {"organisation": "Lunds kommun"}
    [problem] = problems
    assert problem.file_reason() == "obligatoriskt fält 'title' saknas"
    assert problem.form_message() == "Ange en rubrik."


def test_the_forms_choice_lists_are_the_only_difference(tmp_path, curator):
    """A file may name any organisation and any free tag; the form picks the organisation from
    the reference list and ticks themes from the curated table."""
    document = load_file(write_file(tmp_path, {"title": "Vätgas", "organisation": "Länsstyrelsen i Skåne",
                                               "themes": ["vätgas-pilot"]}), tmp_path)
    assert document.organisation == "Länsstyrelsen i Skåne" and document.tags == ["vätgas-pilot"]
    with pytest.raises(FormError) as info:
        curator.validate({"title": "Vätgas", "organisation": "Länsstyrelsen i Skåne", "themes": ["vätgas-pilot"]},
                         BODY)
    assert info.value.errors == {"organisation": "Välj en kommun eller region ur listan.",
                                 "themes": "Okänt tema: vätgas-pilot."}


def test_form_messages_name_the_field_in_swedish(curator):
    with pytest.raises(FormError) as info:
        curator.validate({**VALID, "year": "3000", "source_url": "ftp://x", "status": "x"}, BODY)
    assert info.value.errors == {
        "year": f"Året ska vara ett årtal mellan 1900 och {NEXT_YEAR}.",
        "source_url": "Webbadressen ska vara en fullständig webbadress som börjar med https:// (eller http://).",
        "status": "Statusen ska vara published (publicerad), draft (utkast) eller unpublished (avpublicerad).",
    }


def test_check_field_cleans_what_yaml_and_forms_give():
    assert check_field("year", dt.date(2021, 4, 12)) == (2021, None)          # YAML reads 2021-04-12 as a date
    assert check_field("published", dt.datetime(2021, 4, 12, 9, 30)) == ("2021-04-12", None)
    assert check_field("themes", "cykel; kollektivtrafik, cykel") == (["cykel", "kollektivtrafik"], None)
    assert check_field("organisation_type", "Kommun") == ("kommun", None)
    assert check_field("title", "  Rubrik\r\n ") == ("Rubrik", None)
    assert check_field("year", True)[1].rule.startswith("ska vara ett årtal")   # YAML `year: yes`
    assert check_field("title", "") == (None, None) and check_field("themes", None) == ([], None)


# -- the meeting a presentation was given at (`event`) ------------------------------------------
EVENT = {"kind": "webbfika", "title": "Webbfika om cykelpendling", "date": "2021-03-11"}


def test_a_sidecar_names_the_meeting_and_it_is_kept_clean(tmp_path):
    from .files import make_pptx

    deck = make_pptx(tmp_path / "lund-cykel.pptx", [("Cykelpendling", "Fler cyklar till jobbet i Lund.", None)])
    (tmp_path / "lund-cykel.pptx.yml").write_text(
        "title: Cykelpendling i Lund\norganisation: Lunds kommun\nkind: presentation\n"
        "event: {kind: Webbfika, title: Webbfika om cykelpendling, date: 2021-03-11}\n", encoding="utf-8")
    document = load_file(deck, tmp_path)
    # YAML reads the date as a date; it is stored as text, the kind in lower case.
    assert document.extra["event"] == EVENT


@pytest.mark.parametrize("event, field, rule", [
    ({**EVENT, "date": "2021-13-01"}, "event.date",
     "ska vara ett datum som ÅÅÅÅ-MM-DD, t.ex. 2024-05-31, inte '2021-13-01'"),
    ({**EVENT, "date": "11 mars 2021"}, "event.date", "ska vara ett datum som ÅÅÅÅ-MM-DD"),
    ({**EVENT, "date": "20210311"}, "event.date", "ska vara ett datum som ÅÅÅÅ-MM-DD"),
    ({**EVENT, "kind": "konferens"}, "event.kind",
     "ska vara nätverksträff, webbfika eller tematräff, inte 'konferens'"),
    ({"kind": "webbfika", "title": "Webbfika"}, "event.date", None),
    ({**EVENT, "title": "T" * 201}, "event.title", "får vara högst 200 tecken"),
    ({**EVENT, "title": ["två"]}, "event.title", "ska vara text, inte en lista eller tabell"),
    ({**EVENT, "plats": "Lund"}, "event", "får bara ha nycklarna kind, title och date, inte 'plats'"),
    ("webbfika 2021-03-11", "event", "ska vara en tabell med kind, title och date"),
])
def test_a_bad_event_is_a_clear_error_naming_the_file_and_the_key(tmp_path, event, field, rule):
    path = write_file(tmp_path, {**VALID, "kind": "presentation", "event": event})
    with pytest.raises(DocumentError) as info:
        load_file(path, tmp_path)
    assert info.value.path == "fel.md"
    if rule is None:
        assert info.value.reason == f"obligatoriskt fält '{field}' saknas"
    else:
        assert info.value.reason.startswith(f"fältet '{field}' {rule}")


def test_event_is_checked_by_the_shared_rule_set():
    assert check_field("event", EVENT) == (EVENT, None)
    assert check_field("event", None) == (None, None)
    clean, problems = check_metadata({**VALID, "event": {**EVENT, "date": "2021-02-30"}})
    assert "event" not in clean and [p.field for p in problems] == ["event.date"]
