"""Document -> Chunks on heading and paragraph boundaries (~90 words, small overlap).

The size was chosen by measurement (eval/README.md): with multilingual-e5-small, 90-word
chunks gave dense nDCG@10 0.793 on SweQUAD-MC against 0.762 for 120 words and 0.728 for ~200;
lexical (best chunk per document) improved too (0.877 / 0.872 / 0.861).

Presentations are chunked per slide/page so that a hit can say "bild 7"; long slides are split.
The text that is embedded starts with the title and organisation, so a passage about "the
project" still knows whose project it is. Bump CHUNKER_VERSION whenever the output changes:
the index manifest records it and refuses an index built with another version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .documents import UNKNOWN_ORGANISATION, Document, Section

CHUNKER_VERSION = 2
TARGET_WORDS = 90
MAX_WORDS = 120
MIN_WORDS = 50
OVERLAP_WORDS = 15

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ0-9\"'(])")


@dataclass
class Chunk:
    order: int
    text: str
    heading: str | None
    page: int | None
    embed_text: str


def _words(text: str) -> int:
    return len(text.split())


def _pieces(section: Section) -> list[str]:
    """Paragraphs of a section, with over-long paragraphs split on sentences."""
    pieces = []
    for paragraph in re.split(r"\n\s*\n", section.text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if _words(paragraph) <= MAX_WORDS:
            pieces.append(paragraph)
            continue
        current: list[str] = []
        for sentence in SENTENCE_END.split(paragraph):
            words = sentence.split()
            while len(words) > MAX_WORDS:  # a "sentence" with no full stop (lists, tables)
                if current:
                    pieces.append(" ".join(current))
                    current = []
                pieces.append(" ".join(words[:TARGET_WORDS]))
                words = words[TARGET_WORDS:]
            if current and _words(" ".join(current)) + len(words) > TARGET_WORDS:
                pieces.append(" ".join(current))
                current = []
            current.extend(words)
        if current:
            pieces.append(" ".join(current))
    return pieces


def _tail(text: str, words: int) -> str:
    """The last sentences of `text`, up to about `words` words, for overlap."""
    sentences = SENTENCE_END.split(text)
    tail: list[str] = []
    count = 0
    for sentence in reversed(sentences):
        n = _words(sentence)
        if count + n > words:
            break
        tail.insert(0, sentence)
        count += n
    return " ".join(tail)


def _group(sections: list[Section]) -> list[tuple[str, str | None, int | None]]:
    """Greedy packing of paragraphs into chunk texts; returns (text, heading, page)."""
    out: list[tuple[str, str | None, int | None]] = []
    buffer: list[str] = []
    heading: str | None = None
    page: int | None = None
    for section in sections:
        for piece in _pieces(section):
            size = sum(_words(b) for b in buffer)
            if buffer and size + _words(piece) > MAX_WORDS and size >= MIN_WORDS // 2:
                text = "\n\n".join(buffer)
                out.append((text, heading, page))
                overlap = _tail(text, OVERLAP_WORDS)
                buffer = [overlap] if overlap and overlap != text else []
                heading, page = None, None
            if not buffer or heading is None:
                heading = heading or section.heading
                page = page if page is not None else section.page
            if section.heading and section.heading not in " ".join(buffer) and not buffer:
                heading = section.heading
            buffer.append(piece)
    if buffer:
        out.append(("\n\n".join(buffer), heading, page))
    return out


def chunk_document(document: Document) -> list[Chunk]:
    paged = any(s.page is not None for s in document.sections)
    if paged:
        groups = []
        for section in document.sections:   # never mix pages/slides in one chunk
            groups.extend(_group([section]))
    else:
        groups = _group(document.sections)
    known = document.organisation and document.organisation != UNKNOWN_ORGANISATION
    prefix = " – ".join(p for p in (document.title, document.organisation if known else "") if p)
    chunks = []
    for order, (text, heading, page) in enumerate(groups):
        head = "\n".join(p for p in (prefix, heading if heading != document.title else "") if p)
        embed_text = f"{head}\n{text}" if head else text
        chunks.append(Chunk(order=order, text=text, heading=heading, page=page, embed_text=embed_text))
    return chunks
