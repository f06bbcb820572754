"""Lexical side: tokenizer and BM25 ranking (no model)."""

from __future__ import annotations

from retrieval.bm25 import BM25Index, tokenize
from retrieval.corpus_loader import load_corpus
from retrieval.search import lexical_text, rrf_fuse


def test_tokenizer_keeps_clinical_tokens():
    toks = tokenize("QTc ≥500ms; E/e' > 14, septal e' 6 cm/s; LVEF 40–49%; CHA2DS2-VA 2; NT-proBNP")
    for t in ("qtc", "500", "ms", "14", "lvef", "40", "49", "cha2ds2va", "ntprobnp", "eovereprim", "eprim"):
        assert t in toks, (t, toks)
    assert "the" not in tokenize("the QT interval")
    # stemming joins word forms
    assert tokenize("prolonged") == tokenize("prolongation") == tokenize("prolong")
    assert tokenize("hypertrophies") == tokenize("hypertrophy")


def test_bm25_ranks_the_matching_statement_first(sample_corpus):
    corpus = load_corpus(sample_corpus)
    index = BM25Index([p.id for p in corpus.passages], [lexical_text(p) for p in corpus.passages])
    assert index.search("QTc 500 ms torsades", 3)[0][0] == "t-va-qtc-500-risk"
    assert index.search("CHA2DS2-VA anticoagulation", 3)[0][0] == "t-af-anticoag"
    top = index.search("dapagliflozin", 5)
    assert [doc_id for doc_id, _ in top] == ["t-hf-sglt2"]  # only the statement that contains it
    assert index.search("zzzz unknownword", 5) == []
    allowed = {"t-hf-crt-lbbb", "t-hf-sglt2"}
    restricted = index.search("QRS 150 ms left bundle branch block", 5, allowed=allowed)
    assert restricted and {doc_id for doc_id, _ in restricted} <= allowed


def test_rrf_prefers_agreement():
    fused = rrf_fuse([["a", "b", "c"], ["b", "a", "d"]])
    assert [doc_id for doc_id, _ in fused][:2] in (["a", "b"], ["b", "a"])
    assert fused[0][1] == fused[1][1]  # symmetric ranks, equal scores
    fused = rrf_fuse([["x", "b"], ["b", "y"]])
    assert fused[0][0] == "b"  # in both lists beats first in one
