"""Curation's form values -> front matter, or a FormError with a Swedish message per field.

The field rules are the corpus contract's own (kunskap/metadata.py, which the loaders apply
too), so what a form accepts a file may hold and the other way round. What only a form has is
here: its defaults (a new document is a draft case study in Swedish), the organisation chosen
from the reference list (which also gives its type and county), the themes ticked from the
curated table next to free tags, and the body written in the form.
"""

from __future__ import annotations

from typing import Mapping

from ..errors import FormError
from ..metadata import BODY_CONTROL_CHARACTERS, STATUS_RULE, STATUSES, Problem, check_field, check_metadata
from ..reference import organisations
from ..themes import ThemeVocabulary

MAX_BODY_CHARS = 100_000
FORM_FIELDS = ("title", "organisation", "kind", "themes", "year", "published", "summary", "source_url",
               "contact", "language", "status")
DEFAULTS = {"kind": "case-study", "language": "sv", "status": "draft"}
# Errors in the order of the form's fields, so the summary above the form reads top to bottom.
ERROR_ORDER = ("file", "title", "organisation", "kind", "themes", "other_tags", "year", "published", "summary",
               "source_url", "contact", "language", "status", "body")
# Front matter keys in the order staff would write them by hand.
META_ORDER = ("title", "organisation", "organisation_type", "county", "kind", "themes", "year", "published",
              "summary", "source_url", "contact", "language", "status")


def clean_text(value) -> str:
    return str(value or "").replace("\r\n", "\n").strip()


def form_metadata(values: Mapping, body: str | None, themes: ThemeVocabulary, require_body: bool = True) -> dict:
    """The front matter for a form's `values` (and `body`, None for an upload's metadata)."""
    given = {key: values.get(key) for key in FORM_FIELDS if key != "themes"}
    for key, default in DEFAULTS.items():
        if not clean_text(given[key]):
            given[key] = default
    clean, problems = check_metadata(given, required={"title", "organisation"}, fields=given)
    errors = {problem.field: problem.form_message() for problem in problems}
    meta = dict(clean)

    organisation = clean.get("organisation")
    if organisation is not None:
        known = organisations()
        if organisation not in known:
            errors["organisation"] = "Välj en kommun eller region ur listan."
        else:
            meta["organisation_type"] = known[organisation]["type"]
            meta["county"] = known[organisation]["county"]

    slugs, problem = check_field("themes", values.get("themes"))
    if problem is not None:
        errors["themes"] = problem.form_message()
    elif unknown := [t for t in slugs if t not in themes.by_slug]:
        errors["themes"] = f"Okänt tema: {', '.join(unknown[:3])}."
    other, problem = check_field("other_tags", values.get("other_tags"), rule="themes")
    if problem is not None:
        errors["other_tags"] = problem.form_message()
    meta["themes"] = list(dict.fromkeys([*slugs, *other]))

    if body is not None:
        if require_body and not clean_text(body):
            errors["body"] = "Skriv en brödtext (bakgrund, vad gjordes, resultat, lärdomar)."
        elif len(body) > MAX_BODY_CHARS:
            errors["body"] = f"Brödtexten får vara högst {MAX_BODY_CHARS} tecken."
        elif BODY_CONTROL_CHARACTERS.search(body):
            errors["body"] = ("Brödtexten får inte innehålla kontrolltecken (osynliga tecken som NUL); "
                              "tabb och radbrytningar går bra.")
    if errors:
        raise FormError({key: errors[key] for key in sorted(errors, key=_error_position)})
    return {key: meta[key] for key in META_ORDER if key in meta}


def _error_position(key: str) -> int:
    return ERROR_ORDER.index(key) if key in ERROR_ORDER else len(ERROR_ORDER)


def status_problem(status) -> str | None:
    """The form message for a status that is none of STATUSES, or None."""
    return None if clean_text(status) in STATUSES else Problem("status", STATUS_RULE).form_message()
