"""Chroma index, dense/BM25/hybrid search, filters, rebuilds, findings.

Uses the sample corpus under a temporary CARDIO_HOME; the bundled
MiniLM model loads once per session (a few seconds on CPU).
"""

from __future__ import annotations

import pytest

from retrieval.filters import SearchFilter
from tests.retrieval.sample_corpus import SAMPLE_IDS, write_sample_corpus


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
@pytest.mark.parametrize(
    "query, expected",
    [
        ("QTc 510 ms", {"t-va-qtc-500-risk", "t-va-lqts-diagnosis"}),
        ("which anticoagulation threshold for the CHA2DS2-VA score in atrial fibrillation", {"t-af-anticoag"}),
        ("dapagliflozin or empagliflozin to reduce hospitalisation in HFrEF", {"t-hf-sglt2"}),
        ("resynchronisation therapy with LBBB and QRS 150 ms", {"t-hf-crt-lbbb"}),
    ],
)
def test_each_mode_finds_the_right_statement(sample_retriever, mode, query, expected):
    top = sample_retriever.search(query, k=2, mode=mode)
    assert top, f"{mode} returned nothing for {query!r}"
    assert top[0].id in expected, [p.id for p in top]
    assert all(p.score is not None and p.collection == "guidelines" for p in top)
    # scores are ordered best first
    assert [p.score for p in top] == sorted((p.score for p in top), reverse=True)


def test_index_holds_the_corpus_with_cosine_space(sample_retriever):
    col = sample_retriever.store.guidelines()
    assert col.count() == len(SAMPLE_IDS)
    assert col.configuration["hnsw"]["space"] == "cosine"
    got = col.get(ids=["t-va-lqts-diagnosis"], include=["metadatas", "documents"])
    meta = got["metadatas"][0]
    assert meta["topic_qt"] is True and meta["year"] == 2022 and meta["recommendation_class"] == "I"
    assert got["documents"][0].startswith("Long QT syndrome is diagnosed")
    # dense similarity is a cosine in [-1, 1]: the statement's own text is ~1
    own = sample_retriever.search(sample_retriever.passages["t-af-anticoag"].text, k=1, mode="dense")[0]
    assert own.id == "t-af-anticoag" and own.score > 0.8


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_filters_restrict_every_mode(sample_retriever, mode):
    qt = "QTc 510 ms prolonged on the 12-lead ECG in heart failure, rate below 50"
    by_topic = sample_retriever.search(qt, k=9, mode=mode, filters=SearchFilter(topics=("af",)))
    assert by_topic and all("af" in p.topics for p in by_topic)
    any_topic = sample_retriever.search(qt, k=9, mode=mode, filters=SearchFilter(topics=("qt", "hf")))
    assert any_topic[0].id in {"t-va-qtc-500-risk", "t-va-lqts-diagnosis"}
    assert all({"qt", "hf"} & set(p.topics) for p in any_topic)
    by_guideline = sample_retriever.search(qt, k=9, mode=mode, filters=SearchFilter(guideline="heart failure"))
    assert by_guideline and {p.id for p in by_guideline} <= {"t-hf-definition-hfref", "t-hf-sglt2", "t-hf-crt-lbbb"}
    by_year = sample_retriever.search(qt, k=9, mode=mode, filters=SearchFilter(year_min=2023))
    assert by_year and all(p.year >= 2023 for p in by_year)
    exact = sample_retriever.search(qt, k=9, mode=mode, filters=SearchFilter(year=2007))
    assert [p.id for p in exact] in ([], ["t-ecg-bradycardia"])
    none = sample_retriever.search(qt, k=9, mode=mode, filters=SearchFilter(guideline="no such guideline"))
    assert none == []


def test_index_is_reused_and_rebuilt_when_the_corpus_changes(fresh_home, tmp_path):
    from retrieval.search import Retriever

    corpus_dir = write_sample_corpus(tmp_path / "corpus")
    first = Retriever(corpus_dir, progress=False)
    assert first.build_report.rebuilt and first.build_report.reason == "no index yet"
    assert (fresh_home / "chroma").is_dir()

    again = Retriever(corpus_dir, progress=False)
    assert not again.build_report.rebuilt and again.build_report.reason == "up to date"

    # a corrected statement changes the hash -> rebuild, and search sees it
    va = corpus_dir / "esc-va-2022.md"
    va.write_text(va.read_text().replace("torsades de pointes", "torsade de pointes (TdP)"), encoding="utf-8")
    changed = Retriever(corpus_dir, progress=False)
    assert changed.build_report.rebuilt and changed.build_report.reason == "corpus or embedder changed"
    doc = changed.store.guidelines().get(ids=["t-va-qtc-500-risk"], include=["documents"])["documents"][0]
    assert "(TdP)" in doc
    # (a forced rebuild is exercised by the CLI test: `kb build --force`)


def test_registered_embedder_is_restored_from_the_collection(sample_retriever):
    from chromadb.utils.embedding_functions import known_embedding_functions

    from retrieval.embedder import EMBEDDER_NAME, BundledMiniLMEmbedding

    assert known_embedding_functions[EMBEDDER_NAME] is BundledMiniLMEmbedding
    col = sample_retriever.store.client.get_collection("cardio_guidelines")
    ef = col.configuration["embedding_function"]
    assert isinstance(ef, BundledMiniLMEmbedding)
    # query by text through Chroma's own path uses our (offline) embedder
    res = col.query(query_texts=["bradycardia below 50 beats per minute"], n_results=1)
    assert res["ids"][0] == ["t-ecg-bradycardia"]


def test_search_for_findings_returns_cited_passages(sample_retriever, sample_corpus):
    from retrieval.search import search_for_findings

    findings = [
        {"kind": "measurement", "name": "lvef", "label": "LVEF", "value": 35.0, "unit": "%", "flag": "low", "status": None},
        {"kind": "measurement", "name": "qtc_fridericia", "label": "QTc", "value": 510.0, "unit": "ms", "flag": "high", "status": None},
        {"kind": "statement", "name": "atrial_fibrillation", "label": "Atrial fibrillation", "value": None, "unit": None, "flag": None, "status": "present"},
        {"kind": "measurement", "name": "heart_rate", "label": "Heart rate", "value": 72.0, "unit": "/min", "flag": "normal", "status": None},
    ]
    out = search_for_findings(findings, ["ecg", "echo"], k=2, corpus_dir=sample_corpus)
    assert out.note is None
    assert out.queries[0] == "LVEF 35% → HFrEF heart failure with reduced ejection fraction therapy"
    assert out.queries[1].startswith("QTc 510 ms")
    assert len(out.queries) == 3  # the normal heart rate asks nothing
    ids = [p.id for p in out.passages]
    assert len(ids) == len(set(ids))
    assert "t-hf-definition-hfref" in ids and "t-va-qtc-500-risk" in ids and "t-af-anticoag" in ids
    assert all(p.score and p.score > 0 and p.collection == "guidelines" for p in out.passages)
    assert all(p.citation() for p in out.passages)


def test_api_entry_point_uses_the_index(sample_retriever, sample_corpus, monkeypatch):
    from retrieval.api import passages_for_findings

    monkeypatch.setenv("CARDIO_CORPUS_DIR", str(sample_corpus))
    out = passages_for_findings(
        [{"kind": "measurement", "name": "qtc_bazett", "label": "QTc", "value": 520, "unit": "ms", "flag": "high", "status": None}],
        ["ecg"],
        k=1,
    )
    assert [p.id for p in out.passages] == ["t-va-qtc-500-risk"]
    empty = passages_for_findings([], ["ecg"], k=3)
    assert empty.passages == [] and empty.queries == [] and empty.note is None
    normal = passages_for_findings(
        [{"kind": "statement", "name": "sinus_rhythm", "label": "Sinus rhythm", "status": "present", "modality": "ecg"}], ["ecg"]
    )
    assert normal.passages == [] and normal.queries == [] and normal.note is None
    monkeypatch.setenv("CARDIO_CORPUS_DIR", str(sample_corpus / "missing"))
    missing = passages_for_findings(
        [{"kind": "statement", "name": "lbbb", "label": "LBBB", "value": None, "unit": None, "flag": None, "status": "present"}],
        ["ecg"],
    )
    assert missing.passages == [] and "corpus not found" in missing.note and missing.queries


def test_unreachable_chroma_server_degrades_to_bm25_with_a_note(sample_corpus, monkeypatch, retrieval_home):
    import socket

    from retrieval.search import Retriever, clear_retrievers, search_for_findings

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CARDIO_CHROMA_URL", f"http://127.0.0.1:{port}")
    try:
        r = Retriever(sample_corpus, progress=False)
        assert not r.dense_available and r.dense_error
        assert [p.id for p in r.search("QTc 500 ms torsades", k=1)] == ["t-va-qtc-500-risk"]  # BM25 still answers
        with pytest.raises(RuntimeError, match="dense index unavailable"):
            r.search("QTc", k=1, mode="dense")
        out = search_for_findings(
            [{"kind": "measurement", "name": "qtc_bazett", "label": "QTc", "value": 510, "unit": "ms", "flag": "high", "status": None}],
            ["ecg"],
            corpus_dir=sample_corpus,
        )
        assert out.passages and out.note.startswith("lexical search only:")
    finally:
        clear_retrievers()
