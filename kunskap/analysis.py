"""Swedish text analysis, one code path for indexing and for queries.

- lowercase, NFC, å/ä/ö kept as letters;
- Snowball Swedish (PyStemmer), run to a fixed point, with a few conservative extra suffix
  rules and an override list (data file) for forms it gets wrong;
- Swedish stopwords (data file);
- decompounding against a lexicon (base word list + corpus vocabulary), with linking -s-/-e-;
- hyphenated words give their parts and the joined form; numbers are kept as terms.

`index_terms()` feeds FTS5; `query_terms()` returns weighted terms for the lexical search;
`term_spans()` tells which stretches of a text match a set of terms (for highlighting).
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

import Stemmer

# A word: letters/digits, joined by inner hyphens, apostrophes or colons (e.g. "e-cykel", "CO2").
WORD = re.compile(r"[^\W_]+(?:[-'’:][^\W_]+)*", re.UNICODE)
MIN_PART = 3          # shortest compound part (after removing a linking letter)
MIN_COMPOUND = 7      # shortest word that is tried as a compound
TEXT_CACHE_SIZE = 8192  # analysed texts kept for highlighting (~3 kB each: ~25 MB at most)
VOWELS = set("aeiouyåäö")


def _data_lines(name: str, path: Path | None = None) -> list[str]:
    text = path.read_text("utf-8") if path else resources.files("kunskap.data").joinpath(name).read_text("utf-8")
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    return frozenset(_data_lines("stopwords_sv.txt"))


@lru_cache(maxsize=1)
def stem_overrides() -> dict[str, str]:
    pairs = {}
    for line in _data_lines("stem_overrides.txt"):
        word, _, stem = line.partition(" ")
        if stem.strip():
            pairs[word.strip()] = stem.strip()
    return pairs


@lru_cache(maxsize=1)
def base_words() -> frozenset[str]:
    words = set()
    for line in _data_lines("base_words.txt"):
        words.update(w for w in line.split() if w)
    return frozenset(words)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower()


@dataclass(frozen=True)
class Token:
    text: str       # lower-case surface form
    start: int      # character offsets in the original text
    end: int


def _composed(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """`text` in NFC, with the original offsets where each composed character starts and ends
    (None when `text` already is NFC, the usual case). NFC changes lengths — a decomposed "å"
    (a + ring, common in text extracted from PDFs) becomes one character, and a few characters
    become two — so offsets into the composed text would not point into the original. Each
    starter with its combining marks is composed on its own, which is where composition happens."""
    if unicodedata.is_normalized("NFC", text):
        return text, None, None
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < len(text):
        j = i + 1
        while j < len(text) and unicodedata.combining(text[j]):
            j += 1
        piece = unicodedata.normalize("NFC", text[i:j])
        pieces.append(piece)
        starts.extend([i] * len(piece))
        ends.extend([j] * len(piece))
        i = j
    return "".join(pieces), starts, ends


def tokenise(text: str) -> list[Token]:
    """Words of `text` (lower-cased), hyphenated words split into their parts plus the joined form.
    Offsets are into `text` as given, also when it is not in NFC."""
    composed, starts, ends = _composed(text)

    def token(word: str, start: int, end: int) -> Token:
        if starts is None:
            return Token(word, start, end)
        return Token(word, starts[start], ends[end - 1])

    tokens: list[Token] = []
    for match in WORD.finditer(composed):
        word = match.group().lower()
        parts = re.split(r"[-'’:]", word)
        if len(parts) > 1:
            # Split the composed match, not its lower-case form: lower() can change lengths too.
            offset = match.start()
            for part, surface in zip(parts, re.split(r"[-'’:]", match.group())):
                if part:
                    tokens.append(token(part, offset, offset + len(surface)))
                offset += len(surface) + 1
            joined = "".join(parts)
            if len(joined) >= MIN_COMPOUND:
                tokens.append(token(joined, match.start(), match.end()))
        else:
            tokens.append(token(word, match.start(), match.end()))
    return tokens


class SwedishStemmer:
    """Snowball Swedish plus consistent extra conflation; pure and cached."""

    def __init__(self):
        self._snowball = Stemmer.Stemmer("swedish")
        self._overrides = stem_overrides()
        self._cache: dict[str, str] = {}

    def stem(self, word: str) -> str:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if word in self._overrides:
            result = self._overrides[word]
        elif word.isdigit() or len(word) < 4:
            result = word
        else:
            base = word[:-2] if word.endswith("tt") and len(word) >= 5 else word   # fritt -> fri
            # Snowball once more until nothing changes, so "klimatet" and "klimat" meet.
            result = base
            for _ in range(3):
                nxt = self._rules(self._snowball.stemWord(result))
                if nxt == result:
                    break
                result = nxt
            result = self._overrides.get(result, result)
        if len(self._cache) < 200_000:
            self._cache[word] = result
        return result

    @staticmethod
    def _rules(stem: str) -> str:
        if len(stem) == 5 and stem.endswith("el") and stem[-3] not in VOWELS:
            return stem[:-2] + "l"
        if len(stem) < 6:
            return stem
        if stem.endswith("ets"):
            return stem[:-3]
        if stem.endswith("et"):
            return stem[:-2]
        if stem.endswith("t") and stem[-2] not in VOWELS:   # rättvist, effektivt
            return stem[:-1]
        if stem.endswith("n") and stem[-2] in "il":          # energin, cykeln
            return stem[:-1]
        if stem.endswith("el") and stem[-3] not in VOWELS:   # cykel -> cykl (as in cyklar)
            return stem[:-2] + "l"
        return stem


class Lexicon:
    """Known words and stems for decompounding and for typo correction."""

    def __init__(self, stemmer: SwedishStemmer, words: Iterable[str] = ()):
        self.stemmer = stemmer
        self.stems: set[str] = set()
        self.surfaces: set[str] = set()
        self.add(base_words())
        self.add(words)

    def add(self, words: Iterable[str]) -> None:
        for word in words:
            if len(word) >= MIN_PART and not word.isdigit():
                self.surfaces.add(word)
                self.stems.add(self.stemmer.stem(word))

    def known(self, part: str) -> bool:
        return part in self.surfaces or part in self.stems or self.stemmer.stem(part) in self.stems


class SwedishAnalyzer:
    """The analysis used everywhere; construct with the corpus lexicon (or none for base words)."""

    def __init__(self, lexicon_words: Iterable[str] = ()):
        self.stemmer = SwedishStemmer()
        self.stopwords = stopwords()
        self.lexicon = Lexicon(self.stemmer, lexicon_words)
        self._split_cache: dict[str, tuple[str, ...]] = {}
        self._terms_cache: dict[str, tuple[str, list[str]]] = {}
        self._text_cache: dict[str, AnalysedText] = {}
        self._term_sets: dict[str, frozenset[str]] = {}

    # -- compounds -------------------------------------------------------------------------
    def split_compound(self, word: str) -> tuple[str, ...]:
        """Parts of a compound word (surface forms), or () when it is not one we know.

        Chooses the split into known parts with the fewest parts, then the longest last part;
        handles a linking s or e at the end of a non-final part (arbetsplats, klimatsmart)."""
        if len(word) < MIN_COMPOUND or not word.isalpha():
            return ()
        cached = self._split_cache.get(word)
        if cached is not None:
            return cached
        best = self._split(word, depth=0)
        result = tuple(best) if best and len(best) > 1 else ()
        if len(self._split_cache) < 200_000:
            self._split_cache[word] = result
        return result

    def _split(self, word: str, depth: int) -> list[str] | None:
        if depth > 3:
            return None
        candidates: list[list[str]] = []
        for cut in range(len(word) - MIN_PART, MIN_PART - 1, -1):
            head, tail = word[:cut], word[cut:]
            heads = [head]
            if head[-1] in "se" and len(head) - 1 >= MIN_PART:
                heads.append(head[:-1])
            for h in heads:
                if not self.lexicon.known(h):
                    continue
                if self.lexicon.known(tail) and len(tail) >= MIN_PART:
                    candidates.append([h, tail])
                elif len(tail) >= 2 * MIN_PART:
                    rest = self._split(tail, depth + 1)
                    if rest:
                        candidates.append([h, *rest])
            if candidates and len(candidates[0]) == 2:
                break
        if not candidates:
            return None
        return min(candidates, key=lambda c: (len(c), -len(c[-1])))

    # -- terms -----------------------------------------------------------------------------
    def word_terms(self, word: str) -> tuple[str, list[str]]:
        """(stem of the word, stems of its compound parts); cached, it runs for every word."""
        cached = self._terms_cache.get(word)
        if cached is not None:
            return cached
        stem = self.stemmer.stem(word)
        parts = [self.stemmer.stem(p) for p in self.split_compound(word)]
        result = (stem, [p for p in parts if p != stem and p not in self.stopwords])
        if len(self._terms_cache) < 200_000:
            self._terms_cache[word] = result
        return result

    def index_terms(self, text: str) -> list[str]:
        """Terms stored in FTS5 for a text: stems, plus compound parts after the word."""
        terms: list[str] = []
        for token in tokenise(text):
            if token.text in self.stopwords:
                continue
            stem, parts = self.word_terms(token.text)
            terms.append(stem)
            terms.extend(parts)
        return terms

    def index_text(self, text: str) -> str:
        return " ".join(self.index_terms(text))

    def content_words(self, text: str) -> list[str]:
        return [t.text for t in tokenise(text) if t.text not in self.stopwords]

    def analysed_text(self, text: str) -> AnalysedText:
        """The words of a stored text with their terms, analysed once: every search highlights
        the same chunk texts again, and analysing them was half of the time of a search.
        Compact (offsets in arrays, one shared term set per distinct word): ~3 kB per chunk."""
        cached = self._text_cache.get(text)
        if cached is not None:
            return cached
        words = array("I")
        for match in re.finditer(r"\S+", text):
            words.append(match.start())
            words.append(match.end())
        offsets = array("I")
        sets: list[frozenset[str]] = []
        for token in tokenise(text):
            if token.text in self.stopwords:
                continue
            offsets.append(token.start)
            offsets.append(token.end)
            sets.append(self._term_set(token.text))
        result = AnalysedText(words, offsets, sets)
        if len(self._text_cache) >= TEXT_CACHE_SIZE:
            self._text_cache.clear()      # simple and thread-safe; refilled by the next searches
        self._text_cache[text] = result
        return result

    def _term_set(self, word: str) -> frozenset[str]:
        cached = self._term_sets.get(word)
        if cached is None:
            stem, parts = self.word_terms(word)
            cached = frozenset((stem, *parts))
            if len(self._term_sets) < 200_000:
                self._term_sets[word] = cached
        return cached

    def term_spans(self, text: str, terms: set[str]) -> list[tuple[int, int]]:
        """Character spans of words in `text` whose stem or compound parts are in `terms`."""
        analysed = self.analysed_text(text)
        offsets = analysed.term_offsets
        spans = sorted((offsets[2 * i], offsets[2 * i + 1]) for i, own in enumerate(analysed.term_sets)
                       if not own.isdisjoint(terms))
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged


@dataclass(frozen=True)
class AnalysedText:
    words: array                       # start, end, start, end, … of the whitespace-separated words
    term_offsets: array                # start, end, … of each token that is not a stopword
    term_sets: list[frozenset[str]]    # its stem and compound parts (shared between texts)

    def word_spans(self) -> list[tuple[int, int]]:
        w = self.words
        return [(w[i], w[i + 1]) for i in range(0, len(w), 2)]
