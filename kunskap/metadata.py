"""The metadata rules of the corpus contract, once, for the loaders and for curation.

Each field has one rule, phrased as a Swedish predicate ("ska vara ett årtal mellan 1900 och
2027"). `check_metadata` applies them to front matter, a sidecar or a form's values and returns
the clean values and every broken rule as a `Problem`. The loaders (`documents.build_document`)
raise the first one as a DocumentError naming the file and the field; curation
(`curation.validation`) shows each at its form field. What differs between the two is context
only: which fields are required and their defaults, and the form's choice lists (organisation
from the reference list, themes from the curated table).

This lives outside the curation package because the loaders need it and must not import
curation (which imports ingest, which imports the loaders).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Collection, Mapping

KINDS = ("case-study", "presentation", "news", "report")
# The meetings of the network a presentation can have been given at (`event` in a sidecar).
EVENT_KINDS = ("nätverksträff", "webbfika", "tematräff")
EVENT_KEYS = ("kind", "title", "date")
ORGANISATION_TYPES = ("kommun", "region")
STATUSES = ("published", "draft", "unpublished")
STATUS_LABELS = {"draft": "utkast", "published": "publicerad", "unpublished": "avpublicerad"}
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
URL_PATTERN = re.compile(r"^https?://[^\s/$.?#].[^\s]*$")
# Control characters (C0, DEL, C1) and Unicode line/paragraph separators are invisible: in a
# metadata field they break the one-line places it is shown (lists, logs, YAML, HTML attributes),
# and a NUL is cut off by C libraries. Fields refuse them all, tab and line breaks included; the
# body allows tab and line breaks (BODY_CONTROL_CHARACTERS).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
BODY_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MULTILINE_FIELDS = frozenset({"summary"})   # written in a text area: line breaks and tabs are fine
MIN_YEAR = 1900
MAX_CHARS = {"title": 200, "summary": 400, "source_url": 1000, "contact": 200, "event.title": 200}
MAX_TAG_CHARS = 60

# In the order a reader goes through them; the loaders report the first broken rule.
FIELDS = ("title", "organisation", "id", "kind", "organisation_type", "status", "themes", "year", "county",
          "published", "summary", "source_url", "contact", "language", "event")

# How the forms name a field in a sentence ("Året ska vara …").
LABELS = {
    "title": "Rubriken", "organisation": "Organisationen", "id": "Id:t", "kind": "Typen",
    "organisation_type": "Organisationstypen", "status": "Statusen", "themes": "Temana",
    "other_tags": "Egna nyckelord", "year": "Året", "county": "Länet", "published": "Publiceringsdatumet",
    "summary": "Sammanfattningen", "source_url": "Webbadressen", "contact": "Kontaktuppgiften",
    "language": "Språket", "event": "Träffen", "event.kind": "Träffens typ", "event.title": "Träffens namn",
    "event.date": "Träffens datum",
}
# What a form asks for when a required field is empty.
PROMPTS = {"title": "Ange en rubrik.", "organisation": "Välj kommun eller region."}


def max_year() -> int:
    """Next year: a plan adopted in December may already carry the coming year."""
    return dt.date.today().year + 1


def _one_of(values: Collection[str]) -> str:
    values = list(values)
    return ", ".join(values[:-1]) + " eller " + values[-1]


def year_rule() -> str:
    return f"ska vara ett årtal mellan {MIN_YEAR} och {max_year()}"


TEXT_RULE = "ska vara text, inte en lista eller tabell"
CONTROL_RULE = "får inte innehålla kontrolltecken (osynliga tecken som NUL, tabb eller radbrytning)"
ID_RULE = "får bara innehålla a–z, 0–9 och bindestreck (t.ex. vaxjo-cykelplan)"
KIND_RULE = f"ska vara {_one_of(KINDS)}"
ORGANISATION_TYPE_RULE = f"ska vara {_one_of(ORGANISATION_TYPES)}"
STATUS_RULE = f"ska vara {_one_of(f'{s} ({STATUS_LABELS[s]})' for s in STATUSES)}"
URL_RULE = "ska vara en fullständig webbadress som börjar med https:// (eller http://)"
DATE_RULE = "ska vara ett datum som ÅÅÅÅ-MM-DD, t.ex. 2024-05-31"
TAGS_RULE = "ska vara en lista, t.ex. [cykel, kollektivtrafik]"
TAG_ITEM_RULE = "får bara innehålla ord, inte listor eller tabeller"
TAG_LENGTH_RULE = f"får vara högst {MAX_TAG_CHARS} tecken långa, vart och ett"
EVENT_RULE = ("ska vara en tabell med kind, title och date, t.ex. "
              "{kind: webbfika, title: Webbfika om cykelpendling, date: 2021-03-11}")
EVENT_KEYS_RULE = "får bara ha nycklarna kind, title och date"
EVENT_KIND_RULE = f"ska vara {_one_of(EVENT_KINDS)}"


def length_rule(limit: int) -> str:
    return f"får vara högst {limit} tecken"


@dataclass(frozen=True)
class Problem:
    """A broken rule of one field. `rule` is None when a required field is missing; `given` is
    the offending value as shown to the user, when showing it helps."""

    field: str
    rule: str | None
    given: str | None = None

    def file_reason(self) -> str:
        """For a DocumentError about a corpus file: names the key as written in the file."""
        if self.rule is None:
            return f"obligatoriskt fält '{self.field}' saknas"
        if self.field == "id":
            return f"id '{self.given}' är ogiltigt: {self.rule}"
        return f"fältet '{self.field}' {self.rule}" + (f", inte '{self.given}'" if self.given is not None else "")

    def form_message(self) -> str:
        """For a form: a sentence about the field, in the field's Swedish name."""
        label = LABELS.get(self.field, self.field)
        if self.rule is None:
            return PROMPTS.get(self.field, f"{label} saknas.")
        return f"{label} {self.rule}."


def _shown(value: Any) -> str:
    text = str(value).strip()
    return text if len(text) <= 80 else text[:79] + "…"


def _text(field: str, value: Any) -> tuple[str | None, Problem | None]:
    if value is None:
        return None, None
    if isinstance(value, (dict, list, tuple, set)):
        return None, Problem(field, TEXT_RULE)
    text = str(value).replace("\r\n", "\n").strip()
    if not text:
        return None, None
    pattern = BODY_CONTROL_CHARACTERS if field in MULTILINE_FIELDS else CONTROL_CHARACTERS
    if pattern.search(text):
        return None, Problem(field, CONTROL_RULE)
    return text, None


def _text_field(field: str, rule: str, value: Any) -> tuple[str | None, Problem | None]:
    text, problem = _text(field, value)
    if text is None:
        return None, problem
    if rule in MAX_CHARS and len(text) > MAX_CHARS[rule]:
        return None, Problem(field, length_rule(MAX_CHARS[rule]))
    if rule == "id" and not ID_PATTERN.match(text):
        return None, Problem(field, ID_RULE, text)
    if rule == "kind" and text not in KINDS:
        return None, Problem(field, KIND_RULE, _shown(text))
    if rule == "organisation_type":
        text = text.lower()
        if text not in ORGANISATION_TYPES:
            return None, Problem(field, ORGANISATION_TYPE_RULE, _shown(text))
    if rule == "status" and text not in STATUSES:
        return None, Problem(field, STATUS_RULE, _shown(text))
    if rule == "source_url" and not URL_PATTERN.match(text):
        return None, Problem(field, URL_RULE, _shown(text))
    return text, None


def _tags(field: str, value: Any) -> tuple[list[str], Problem | None]:
    if value is None or value == "":
        return [], None
    if isinstance(value, str):
        value = re.split(r"[,;]", value)
    if not isinstance(value, (list, tuple)):
        return [], Problem(field, TAGS_RULE)
    tags: list[str] = []
    for item in value:
        if item is None:
            continue
        if isinstance(item, (dict, list, tuple, set)):
            return [], Problem(field, TAG_ITEM_RULE)
        text = str(item).strip()
        if CONTROL_CHARACTERS.search(text):
            return [], Problem(field, CONTROL_RULE)
        if len(text) > MAX_TAG_CHARS:
            return [], Problem(field, TAG_LENGTH_RULE, _shown(text))
        if text and text not in tags:
            tags.append(text)
    return tags, None


def _year(field: str, value: Any) -> tuple[int | None, Problem | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, (dt.date, dt.datetime)):   # YAML reads `year: 2021-04-12` as a date
        year = value.year
    elif isinstance(value, int) and not isinstance(value, bool):
        year = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,4}", value.strip()):
        year = int(value.strip())
    else:
        return None, Problem(field, year_rule(), _shown(value))
    if not MIN_YEAR <= year <= max_year():
        return None, Problem(field, year_rule(), _shown(value))
    return year, None


def _date(field: str, value: Any) -> tuple[str | None, Problem | None]:
    if value is None or value == "":
        return None, None
    if isinstance(value, dt.datetime):
        return value.date().isoformat(), None
    if isinstance(value, dt.date):
        return value.isoformat(), None
    text = str(value).strip()
    if not text:
        return None, None
    try:
        return dt.date.fromisoformat(text).isoformat(), None
    except ValueError:
        return None, Problem(field, DATE_RULE, _shown(text))


def _event(field: str, value: Any) -> tuple[dict | None, Problem | None]:
    """The meeting a presentation was given at: {kind, title, date}, each required. A broken
    part is named as `event.date` and so on, so the message points at the key in the file."""
    if value is None or value == "" or value == {}:
        return None, None
    if not isinstance(value, dict):
        return None, Problem(field, EVENT_RULE)
    value = {str(k): v for k, v in value.items()}
    unknown = sorted(set(value) - set(EVENT_KEYS))
    if unknown:
        return None, Problem(field, EVENT_KEYS_RULE, _shown(", ".join(unknown)))
    kind, problem = _text(f"{field}.kind", value.get("kind"))
    if problem is not None:
        return None, problem
    if kind is not None and kind.lower() not in EVENT_KINDS:
        return None, Problem(f"{field}.kind", EVENT_KIND_RULE, _shown(kind))
    title, problem = _text(f"{field}.title", value.get("title"))
    if problem is not None:
        return None, problem
    if title is not None and len(title) > MAX_CHARS["event.title"]:
        return None, Problem(f"{field}.title", length_rule(MAX_CHARS["event.title"]))
    raw_date = value.get("date")
    date, problem = _date(f"{field}.date", raw_date)
    if problem is not None:
        return None, problem
    # fromisoformat also takes 20210311 and 2021-W10-4; the contract says ÅÅÅÅ-MM-DD.
    if isinstance(raw_date, str) and date is not None and not ISO_DATE.fullmatch(raw_date.strip()):
        return None, Problem(f"{field}.date", DATE_RULE, _shown(raw_date))
    for key, part in (("kind", kind), ("title", title), ("date", date)):
        if part is None:
            return None, Problem(f"{field}.{key}", None)
    return {"kind": kind.lower(), "title": title, "date": date}, None


def check_field(field: str, value: Any, *, rule: str | None = None) -> tuple[Any, Problem | None]:
    """One field's rule on one value: (the clean value, or None / [] when empty; the broken rule
    or None). `rule` applies another field's rule under this field's name (a form's free tags
    follow the rule of `themes`)."""
    rule = rule or field
    if rule == "themes":
        return _tags(field, value)
    if rule == "year":
        return _year(field, value)
    if rule == "published":
        return _date(field, value)
    if rule == "event":
        return _event(field, value)
    return _text_field(field, rule, value)


def check_metadata(meta: Mapping[str, Any], required: Collection[str] = (),
                   fields: Collection[str] = FIELDS) -> tuple[dict, list[Problem]]:
    """The known `fields` of `meta`, checked and cleaned: (the clean values of the fields that are
    set and valid, the broken rules in FIELDS order). A required field that is empty is a Problem
    with rule None."""
    clean: dict = {}
    problems: list[Problem] = []
    for field in FIELDS:
        if field not in fields:
            continue
        value, problem = check_field(field, meta.get(field))
        if problem is not None:
            problems.append(problem)
        elif value is None or value == []:
            if field in required:
                problems.append(Problem(field, None))
        else:
            clean[field] = value
    return clean, problems
