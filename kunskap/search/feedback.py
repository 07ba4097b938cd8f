"""Dense-guided lexical feedback: expansion terms for the lexical side taken from what the dense
side found (RM3-style pseudo-relevance feedback, RankingParams.feedback). An English or
descriptive query shares few content words with the Swedish passages the model finds; the
analysed terms of those passages give the lexical side words to support the dense side with
instead of rewarding documents that share only the query's generic words. No model call: the
terms are the stored lexical rows of the dense side's best chunks."""

from __future__ import annotations

import math
from collections import Counter
from typing import Callable, Iterable, Mapping

from .ranking import BestChunks, FeedbackTerms, Scores

MIN_TERM_LENGTH = 3   # shorter terms (abbreviations, stray letters) are not expanded with


def feedback_chunks(dense: Scores, dense_best: BestChunks, docs: int) -> list[int]:
    """The best chunk of each of the `docs` best dense documents (ties by id)."""
    top = sorted(dense, key=lambda d: (-dense[d], d))[:docs]
    return [dense_best[d][0] for d in top if d in dense_best]


def select_terms(chunk_terms: Mapping[int, Counter], document_frequencies: Callable[[Iterable[str]], Mapping[str, int]],
                 n_chunks: int, excluded: set[str] | frozenset[str], weights: FeedbackTerms) -> dict[str, float]:
    """The `weights.terms` best expansion terms of the given chunks (chunk id -> term counts) with
    their BM25 weights: per term the sum over the chunks of tf / chunk length · idf, the best one
    weighted `weights.weight` and the others in proportion. Left out: `excluded` (the query's own
    terms, stopwords, generic words), short or non-alphabetic terms, and terms in more than
    `max_df_share` of the `n_chunks` chunks."""
    candidates: dict[str, float] = {}   # term -> sum of its relative frequencies
    for counts in chunk_terms.values():
        length = sum(counts.values())
        for term, tf in counts.items():
            if len(term) >= MIN_TERM_LENGTH and term.isalpha() and term not in excluded:
                candidates[term] = candidates.get(term, 0.0) + tf / length
    if not candidates or weights.terms <= 0:
        return {}
    df = document_frequencies(sorted(candidates))
    n = max(n_chunks, 1)
    scored = {}
    for term, share in candidates.items():
        count = df.get(term, 0)
        if 0 < count <= weights.max_df_share * n:
            scored[term] = share * math.log(1 + (n - count + 0.5) / (count + 0.5))
    best = sorted(scored, key=lambda t: (-scored[t], t))[:weights.terms]
    if not best:
        return {}
    top = scored[best[0]]
    return {t: weights.weight * scored[t] / top for t in best}
