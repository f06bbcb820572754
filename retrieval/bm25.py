"""Lexical (BM25) index over passages, built in memory with `bm25s`.

Why BM25 beside the dense index: guideline questions are full of exact tokens
(QTc, 480 ms, LVEF, CHA2DS2-VA, E/e') that a small sentence embedder blurs;
BM25 matches them exactly, and fusing both ranks beats either alone.

Why our own tokenizer: the default bm25s pattern drops one-character tokens
and splits "E/e'" and "3.5" oddly. We keep numbers with decimals, fold
unicode (≥, µ, en dashes), fold British to American spelling
(ischaemia = ischemia; retrieval/synonyms.py), drop English stopwords and stem with the Snowball
English stemmer (PyStemmer) so "prolonged"/"prolongation" meet.

The index is rebuilt from the corpus at load time: a few hundred statements
index in milliseconds, so persisting it would only add a staleness risk.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from retrieval.synonyms import fold_spelling

_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")

# Clinical spellings folded to one form before tokenising, both for passages
# and queries. Kept to orthography (not synonyms): the same word written two ways.
_ORTHOGRAPHY = (
    (re.compile(r"\be\s*/\s*e['’′]", re.I), " e_over_eprime "),
    (re.compile(r"\be['’′]", re.I), " eprime "),
    (re.compile(r"\bcha2ds2[-\s]?vasc\b", re.I), " cha2ds2vasc "),
    (re.compile(r"\bcha2ds2[-\s]?va\b", re.I), " cha2ds2va "),
    (re.compile(r"\bnt[-\s]?pro[-\s]?bnp\b", re.I), " ntprobnp "),
    (re.compile(r"\bhs[-\s]?ctn\b", re.I), " hsctn "),
    (re.compile(r"(\d)(ms|mm|mv|ml|bpm|g)\b", re.I), r"\1 \2"),
)


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    # Negations and comparatives carry meaning in criteria ("not", "no", "more").
    keep = {"no", "not", "nor", "more", "less", "than", "above", "below", "over", "under", "before", "after"}
    return frozenset(w for w in STOPWORDS_EN if w not in keep)


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer  # PyStemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # lexical search still works, just without stemming
        return None


def tokenize(text: str) -> list[str]:
    """Lower-cased, unicode-folded, stopword-free, stemmed tokens."""
    t = fold_spelling(unicodedata.normalize("NFKC", text))
    t = t.replace("≥", " ").replace("≤", " ").replace("µ", "u").replace("μ", "u")
    t = t.replace("–", "-").replace("—", " ")
    for pattern, repl in _ORTHOGRAPHY:
        t = pattern.sub(repl, t)
    t = t.lower()
    stop = _stopwords()
    words = [w for w in _TOKEN.findall(t.replace("_", "")) if w not in stop]
    stemmer = _stemmer()
    if stemmer is not None:
        words = stemmer.stemWords(words)
    return words


class BM25Index:
    """BM25 over a fixed list of (id, text); scores for a query over all ids."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]):
        import bm25s

        if len(ids) != len(texts):
            raise ValueError("ids and texts differ in length")
        self.ids = list(ids)
        self._position = {doc_id: i for i, doc_id in enumerate(self.ids)}
        self._bm25 = None
        if self.ids:
            self._bm25 = bm25s.BM25()
            self._bm25.index([tokenize(t) or [""] for t in texts], show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for `query` (zeros when no term matches)."""
        if self._bm25 is None:
            return np.zeros(0, dtype=np.float32)
        vocab = self._bm25.vocab_dict
        tokens = [tok for tok in tokenize(query) if tok in vocab]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def search(self, query: str, k: int, allowed: Iterable[str] | None = None) -> list[tuple[str, float]]:
        """Top-k (id, score) with score > 0, optionally only among `allowed` ids."""
        scores = self.scores(query)
        if scores.size == 0:
            return []
        if allowed is not None:
            mask = np.zeros(len(self.ids), dtype=bool)
            for doc_id in allowed:
                pos = self._position.get(doc_id)
                if pos is not None:
                    mask[pos] = True
            scores = np.where(mask, scores, 0.0)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.ids[i], float(scores[i])) for i in order if scores[i] > 0]
