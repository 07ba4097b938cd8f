"""Which organisation a web address belongs to, guessed only from data the project already has.

No list of municipal domains is shipped, and none is invented here. Two sources:
1. the knowledge base itself: a host that the `source_url` of existing documents ties to exactly
   one organisation (e.g. every document from lund.se is Lunds kommun);
2. the organisation's own name in the reference list (organisations.csv): a host whose
   registered name is the name without "kommun"/"stad"/"Region", ASCII-folded as in our slugs
   ("vaxjo.se" -> Växjö kommun, "regionskane.se" -> Region Skåne), if exactly one matches.
Anything else stays unguessed: the editor picks the organisation.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..documents import slugify
from ..reference import organisations


def host_of(url: str) -> str:
    host = (urlsplit(url or "").hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _registered_label(host: str) -> str:
    """'www.vaxjo.se' -> 'vaxjo'; 'kommun.lund.se' -> 'lund' (the label before the top domain)."""
    labels = host.split(".")
    return labels[-2] if len(labels) >= 2 else host


def _name_keys(name: str, kind: str) -> set[str]:
    base = re.sub(r"\b(kommun|stad|region)\b", "", name, flags=re.I).strip()
    slug = slugify(base).replace("-", "")
    keys = {slug}
    if kind == "region":
        keys.add("region" + slug)
    if base.endswith("s") and len(base) > 3:   # "Lunds kommun" -> lund, "Göteborgs stad" -> goteborg
        keys.add(slug[:-1])
    return keys


def organisation_for_url(url: str, known_hosts: dict[str, set[str]] | None = None) -> str | None:
    """The organisation (reference-list name) a URL's host belongs to, or None when not known.
    `known_hosts`: host -> organisations, from existing documents' source_url."""
    host = host_of(url)
    if not host:
        return None
    if known_hosts and len(known_hosts.get(host, ())) == 1:
        (name,) = known_hosts[host]
        if name in organisations():
            return name
    label = _registered_label(host)
    found = [name for name, row in organisations().items() if label in _name_keys(name, row["type"])]
    # "Region X" and "X kommun" can share a key only through the plain slug: then a plain label
    # means the municipality, "regionx" the region.
    if len(found) > 1:
        found = [n for n in found if (organisations()[n]["type"] == "region") == label.startswith("region")]
    return found[0] if len(found) == 1 else None


def hosts_of_documents(rows: list[dict]) -> dict[str, set[str]]:
    """host -> organisations, from document rows with `source_url` and `organisation`."""
    hosts: dict[str, set[str]] = {}
    for row in rows:
        host = host_of(row.get("source_url") or "")
        if host and row.get("organisation"):
            hosts.setdefault(host, set()).add(row["organisation"])
    return hosts
