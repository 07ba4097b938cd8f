"""Query analysis: from the typed text to weighted index terms (`QueryPlan`).

Stopwords are dropped, words are stemmed and split into compound parts, unknown words are
corrected against the corpus vocabulary (not in English queries, not short words), and a query
containing a theme label or synonym expands to the theme's other synonyms. Everything the
planner knows about the corpus is handed in (vocabulary, synonym table, a document-frequency
function), so it is tested without a knowledge base.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from ..analysis import SwedishAnalyzer, _data_lines, tokenise
from .ranking import ExpansionWeights

MAX_QUERY_TERMS = 48
MIN_CORRECTED_LENGTH = 5   # shorter unknown words are left alone (names, English, abbreviations)

ENGLISH_MARKERS = frozenset(
    "the of and in at on for to with how what which from by is are a an or do does can about".split())

# (theme slug, its phrases as lists of stems, the stems a match expands to)
SynonymTable = list[tuple[str, list[list[str]], list[str]]]


@dataclass
class QueryPlan:
    terms: dict[str, float]           # analysed term -> weight
    typed: list[str]                  # stems of the typed (or corrected) words
    corrections: dict[str, str]       # typed word -> corrected word
    text_for_dense: str
    english: bool = False             # written in English: Swedish word matching is only noise
    expanded: frozenset[str] = frozenset()  # typed stems that are theme synonyms (expanded)
    themes: frozenset[str] = frozenset()    # slugs of the themes the query names (label or synonym)
    generic: frozenset[str] = frozenset()   # typed stems that are generic words (not lexical evidence)

    @property
    def searched_for(self) -> str | None:
        """The query as searched, when typos were corrected."""
        return self.text_for_dense if self.corrections else None


class Vocabulary:
    """The corpus words with their counts, indexed by length for the typo search."""

    def __init__(self, counts: dict[str, int]):
        self.counts = counts
        self.by_length: dict[int, list[str]] = {}
        for word in counts:
            self.by_length.setdefault(len(word), []).append(word)

    def patched(self, words, counts_now: dict[str, int]) -> "Vocabulary":
        """A new vocabulary with the counts of `words` as `counts_now` gives them (a word absent
        from it is gone); this one is left as it is (older searches may read it)."""
        new = Vocabulary.__new__(Vocabulary)
        new.counts, new.by_length = dict(self.counts), dict(self.by_length)
        gone = {w for w in words if w not in counts_now and w in self.counts}
        added = [w for w in counts_now if w not in self.counts]
        for word in gone:
            del new.counts[word]
        new.counts.update(counts_now)
        for length in {len(w) for w in gone}:
            new.by_length[length] = [w for w in self.by_length[length] if w not in gone]
        for word in added:
            length = len(word)
            if new.by_length.get(length) is self.by_length.get(length):
                new.by_length[length] = list(self.by_length.get(length, ()))
            new.by_length[length].append(word)
        for length in [n for n, ws in new.by_length.items() if not ws]:
            del new.by_length[length]
        return new


def synonym_table(expansion_phrases: Iterable[tuple[str, list[str]]], analyzer: SwedishAnalyzer) -> SynonymTable:
    """The theme vocabulary's phrases as stems. Phrases are matched on the stems of the typed words
    (compound parts would never line up)."""

    def stems(text: str) -> list[str]:
        return [analyzer.word_terms(t.text)[0] for t in tokenise(text) if t.text not in analyzer.stopwords]

    table = []
    for slug, names in expansion_phrases:
        phrases = [p for p in (stems(n) for n in names) if p]
        table.append((slug, phrases, sorted({t for p in phrases for t in p})))
    return table


def generic_stems(analyzer: SwedishAnalyzer) -> frozenset[str]:
    """The stems of kunskap/data/generic_sv.txt: words that say how, not what (see that file)."""
    return frozenset(analyzer.word_terms(word)[0] for word in _data_lines("generic_sv.txt"))


class QueryPlanner:
    def __init__(self, analyzer: SwedishAnalyzer, vocabulary: Vocabulary, synonyms: SynonymTable,
                 document_frequency: Callable[[str], int], weights: ExpansionWeights | None = None,
                 generic: frozenset[str] = frozenset()):
        self.generic = generic   # stems of generic words (generic_stems)
        self.analyzer = analyzer
        self.vocabulary = vocabulary
        self.synonyms = synonyms
        self.document_frequency = document_frequency   # chunks matching an index term
        self.weights = weights or ExpansionWeights()

    def correct(self, word: str) -> str | None:
        """Nearest known word for an unknown one (edit distance 1–2, by frequency), or None."""
        from rapidfuzz.distance import Levenshtein

        counts, by_length = self.vocabulary.counts, self.vocabulary.by_length
        if word in counts or len(word) < MIN_CORRECTED_LENGTH or not word.isalpha():
            return None
        stem, parts = self.analyzer.word_terms(word)
        if parts or self.document_frequency(stem) > 0:
            return None
        # Short words get one edit, long ones two: "bike" must not become "dike".
        max_distance = 1 if len(word) < 8 else 2
        best = None
        for length in range(len(word) - max_distance, len(word) + max_distance + 1):
            for candidate in by_length.get(length, ()):
                distance = Levenshtein.distance(word, candidate, score_cutoff=max_distance)
                if distance <= max_distance:
                    key = (distance, -counts[candidate], candidate)
                    if best is None or key < best:
                        best = key
        return best[2] if best else None

    def corrections(self, words: list[str]) -> dict[str, str]:
        corrections: dict[str, str] = {}
        for word in dict.fromkeys(words):
            if word in self.analyzer.stopwords:
                continue
            fixed = self.correct(word)
            if fixed:
                corrections[word] = fixed
        return corrections

    def plan(self, q: str, correct_typos: bool = True) -> QueryPlan:
        analyzer = self.analyzer
        words = [t.text for t in tokenise(q)]
        english = looks_english(words, analyzer.stopwords)
        corrections = self.corrections(words) if correct_typos and not english else {}
        words = [corrections.get(w, w) for w in words]
        terms: dict[str, float] = {}
        typed: list[str] = []
        generic: set[str] = set()
        content = [w for w in words if w not in analyzer.stopwords]
        # A query of generic words only ("bra exempel"?) is searched for what it says.
        generic_words = self.generic if any(analyzer.word_terms(w)[0] not in self.generic for w in content) \
            else frozenset()
        for word in content:
            stem, parts = analyzer.word_terms(word)
            typed.append(stem)
            if stem in generic_words:
                # A word that says how, not what: weaker in BM25, never lexical evidence.
                generic.add(stem)
                if self.weights.generic_weight > 0:
                    _raise(terms, stem, self.weights.generic_weight)
                continue
            _raise(terms, stem, 1.0)
            for part in parts:
                _raise(terms, part, self.weights.part_weight)
        expanded, themes = self._expand(typed, terms)
        if len(terms) > MAX_QUERY_TERMS:   # a pasted paragraph: keep the typed words first
            terms = dict(sorted(terms.items(), key=lambda kv: -kv[1])[:MAX_QUERY_TERMS])
        dense_text = " ".join(corrections.get(t.text, t.text) for t in tokenise(q)) if corrections else q
        return QueryPlan(terms=terms, typed=list(dict.fromkeys(typed)), corrections=corrections,
                         text_for_dense=dense_text, english=english, expanded=frozenset(expanded),
                         themes=frozenset(themes), generic=frozenset(generic))

    def _expand(self, typed: list[str], terms: dict[str, float]) -> tuple[set[str], set[str]]:
        """Theme synonyms: a query containing a label or synonym phrase expands to the others.
        Adds the expansion to `terms`; returns (typed stems that matched, theme slugs named)."""
        expanded: set[str] = set()
        themes: set[str] = set()
        for slug, phrases, expansion in self.synonyms:
            matched = [phrase for phrase in phrases if _contains(typed, phrase)]
            if matched:
                themes.add(slug)
                expanded.update(t for phrase in matched for t in phrase)
                for term in expansion:
                    _raise(terms, term, self.weights.synonym_weight)
        return expanded, themes


def _raise(terms: dict[str, float], term: str, weight: float) -> None:
    terms[term] = max(terms.get(term, 0.0), weight)


def has_search_words(q: str, stopwords) -> bool:
    """Whether a query has a word that is not a stopword (else it cannot be searched)."""
    return any(t.text not in stopwords for t in tokenise(q))


def looks_english(words: list[str], swedish_stopwords) -> bool:
    """A query with English function words and no Swedish ones: its words are not Swedish typos."""
    return any(w in ENGLISH_MARKERS for w in words) and not any(w in swedish_stopwords for w in words)


def _contains(sequence: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(sequence[i : i + n] == phrase for i in range(len(sequence) - n + 1))
