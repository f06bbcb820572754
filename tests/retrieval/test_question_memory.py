"""Question memory: labelled past questions vote for the statements that
answered them (retrieval/question_memory.py), and no blind test set can
get into it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval import question_memory
from retrieval.question_memory import LabelledQuestion, QuestionMemory, load_memory_questions
from retrieval.search import Retriever
from retrieval.filters import SearchFilter

REAL_QUESTIONS = Path(question_memory.__file__).resolve().parent / "questions"


def _write(folder: Path, name: str, rows: list[dict]) -> None:
    (folder / name).write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")


def test_shipped_memory_holds_only_seen_sets_and_known_statements():
    from retrieval.corpus_loader import load_corpus

    questions = load_memory_questions()
    splits = {q.split for q in questions}
    assert splits == {"tune", "heldout", "heldout2", "heldout3", "heldout4", "heldout5"}
    assert not splits & question_memory.BLIND_SPLITS
    # every question file in the folder is either a memory source or named blind
    sources = {name for name, _ in question_memory.MEMORY_SOURCES}
    assert {p.name for p in REAL_QUESTIONS.glob("*.jsonl")} <= sources
    ids = set(load_corpus().by_id())
    memory = QuestionMemory(questions, ids)
    assert len(memory) == len(questions)  # every labelled statement still exists
    assert all(set(q.relevant) <= ids for q in memory.questions.values())


def test_a_blind_split_in_a_memory_source_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(question_memory, "BLIND_SPLITS", frozenset({"heldout9"}))
    _write(tmp_path, "questions.jsonl", [
        {"id": "q1", "query": "QTc 500", "relevant": ["x"], "split": "tune"},
        {"id": "w1", "query": "QTc 510", "relevant": ["x"], "split": "heldout9"},
    ])
    with pytest.raises(ValueError, match="blind split heldout9"):
        load_memory_questions(tmp_path)


def test_excluded_splits_and_unlisted_splits_are_left_out(tmp_path):
    _write(tmp_path, "questions.jsonl", [
        {"id": "q1", "query": "a", "relevant": ["x"], "split": "tune"},
        {"id": "q2", "query": "b", "relevant": ["x"], "split": "heldout"},
        {"id": "q3", "query": "c", "relevant": ["x"], "split": "scratch"},
    ])
    _write(tmp_path, "heldout_v2.jsonl", [{"id": "h1", "query": "d", "relevant": ["x"], "split": "heldout2"}])
    got = {q.id for q in load_memory_questions(tmp_path)}
    assert got == {"q1", "q2", "h1"}
    got = {q.id for q in load_memory_questions(tmp_path, exclude_splits=("tune", "heldout"))}
    assert got == {"h1"}


def _memory() -> QuestionMemory:
    questions = [
        LabelledQuestion("p1", "one ECG shows left bundle branch block and the next right bundle branch block",
                         ("alt-bbb",), "tune"),
        LabelledQuestion("p2", "left bundle branch block with QRS 160 ms and low ejection fraction",
                         ("crt-lbbb", "crt-lbbb-aha"), "tune"),
        LabelledQuestion("p3", "pacemaker follow-up interval", ("gone-from-corpus",), "tune"),
        LabelledQuestion("p4", "septal thickness 31 mm in a young athlete", ("hcm-risk",), "tune"),
    ]
    return QuestionMemory(questions, {"alt-bbb", "crt-lbbb", "crt-lbbb-aha", "hcm-risk"})


def test_nearest_question_votes_first_and_stale_ids_are_dropped():
    memory = _memory()
    assert "p3" not in memory.questions  # its only statement left the corpus
    votes = memory.vote("right bundle branch block on this ECG, left bundle branch block on the next")
    assert votes[0] == "alt-bbb"
    assert "gone-from-corpus" not in votes
    assert memory.vote("pacemaker follow-up interval") == []


def test_weak_neighbours_do_not_vote_and_exclusion_works():
    memory = _memory()
    # "septal thickness" matches p4 strongly; the LBBB questions share no term
    assert memory.vote("septal thickness 28 mm") == ["hcm-risk"]
    # leave-one-out: the question itself is excluded from its own vote
    assert memory.vote("septal thickness 31 mm in a young athlete", exclude=("p4",)) == []
    ranked = memory.neighbours("left bundle branch block, next ECG right bundle branch block")
    assert ranked and all(score >= question_memory.RELATIVE_SCORE_MIN * ranked[0][1] for _, score in ranked)


def test_hybrid_search_fuses_the_memory_and_respects_filters(sample_retriever, monkeypatch):
    """A phrase no statement contains reaches the statement a labelled
    question tied it to, only through the memory, and never past a filter."""
    from retrieval import search as search_module

    query = "quokka zebra sign on the rhythm strip"
    remembered = QuestionMemory(
        [LabelledQuestion("m1", "quokka zebra sign", ("t-hf-sglt2",), "tune")], sample_retriever.passages
    )
    monkeypatch.setattr(sample_retriever, "memory", remembered)
    with_memory = [h.id for h in sample_retriever.search_hits(query, k=9, mode="hybrid")]
    filtered = sample_retriever.search_hits(query, k=9, mode="hybrid", filters=SearchFilter(topics=("ecg",)))
    assert filtered and "t-hf-sglt2" not in {h.id for h in filtered}
    monkeypatch.setattr(search_module, "MEMORY_WEIGHT", 0.0)
    without = [h.id for h in sample_retriever.search_hits(query, k=9, mode="hybrid")]
    # the memory's vote lifts the statement; it does not override the text matches
    assert with_memory.index("t-hf-sglt2") < without.index("t-hf-sglt2")
    assert with_memory[0] == without[0]


def test_retriever_loads_the_shipped_memory(sample_retriever):
    assert isinstance(sample_retriever, Retriever)
    # the sample corpus shares no ids with the real question sets, so its memory is empty
    assert len(sample_retriever.memory) == 0


def test_fingerprint_follows_the_memory_sources(tmp_path):
    from retrieval.question_memory import memory_fingerprint

    _write(tmp_path, "questions.jsonl", [{"id": "q1", "query": "a", "relevant": ["x"], "split": "tune"}])
    before = memory_fingerprint(tmp_path)
    assert before == memory_fingerprint(tmp_path)
    _write(tmp_path, "questions.jsonl", [{"id": "q1", "query": "a", "relevant": ["y"], "split": "tune"}])
    assert memory_fingerprint(tmp_path) != before
    # a file that is not a memory source (e.g. a blind set being written) does not count
    changed = memory_fingerprint(tmp_path)
    _write(tmp_path, "heldout_v6.jsonl", [{"id": "d1", "query": "b", "relevant": ["x"], "split": "heldout6"}])
    assert memory_fingerprint(tmp_path) == changed


def test_findings_profile_leaves_the_memory_out(sample_retriever, monkeypatch):
    """The report's template queries do not use the memory (search.FINDINGS_RRF_K)."""
    query = "quokka zebra sign on the rhythm strip"
    remembered = QuestionMemory(
        [LabelledQuestion("m1", "quokka zebra sign", ("t-hf-sglt2",), "tune")], sample_retriever.passages
    )
    plain = [h.id for h in sample_retriever.search_hits(query, k=9, mode="hybrid", profile="findings")]
    monkeypatch.setattr(sample_retriever, "memory", remembered)
    with_memory_loaded = [h.id for h in sample_retriever.search_hits(query, k=9, mode="hybrid", profile="findings")]
    assert with_memory_loaded == plain


def test_memory_votes_that_contradict_a_stated_value_are_dropped():
    """A past "QRS 140 ms" question votes for the 130-149 ms statement; a query
    that says QRS 160 ms must not inherit that vote, one that says 138 ms must."""
    from retrieval.numeric import NumericIndex, query_quantities
    from retrieval.search import remembered_statements

    numeric = NumericIndex({
        "crt-mid": "CRT should be considered with LBBB and a QRS of 130-149 ms and LVEF of 35% or less.",
        "crt-wide": "CRT is recommended with LBBB and a QRS of 150 ms or more and LVEF of 35% or less.",
    })
    memory = QuestionMemory(
        [LabelledQuestion("p1", "LBBB QRS 140 ms LVEF 30% CRT?", ("crt-mid",), "tune")], {"crt-mid", "crt-wide"}
    )
    wide = "LBBB QRS 160 ms LVEF 30% CRT?"
    assert memory.vote(wide) == ["crt-mid"]  # words alone cannot tell the bands apart
    assert remembered_statements(memory, wide, query_quantities(wide), numeric) == []
    mid = "LBBB QRS 138 ms LVEF 30% CRT?"
    assert remembered_statements(memory, mid, query_quantities(mid), numeric) == ["crt-mid"]


def test_the_memory_is_built_only_when_free_text_search_needs_it(sample_retriever, monkeypatch):
    """A report process (findings profile) never indexes the labelled questions."""
    monkeypatch.setattr(sample_retriever, "_memory", None)
    sample_retriever.search_hits("QTc 510 ms", k=3, mode="hybrid", profile="findings")
    assert sample_retriever._memory is None
    sample_retriever.search_hits("QTc 510 ms", k=3, mode="hybrid")
    assert isinstance(sample_retriever._memory, QuestionMemory)
