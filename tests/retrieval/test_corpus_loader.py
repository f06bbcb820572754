"""Corpus parsing and validation (no model, no index)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.corpus_loader import CORPUS_DIR, CorpusError, corpus_files, load_corpus
from tests.retrieval.sample_corpus import SAMPLE_IDS

ENTRY = """---
id: {id}
guideline: Test guideline
society: TEST
year: {year}
section: {section}
recommendation_class: {cls}
evidence_level: {loe}
topics: [ecg]
measurements: [qtc]
---
{text}
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def entry(id="e1", year="2020", section='"7.10"', cls="I", loe="C", text="A statement."):
    return ENTRY.format(id=id, year=year, section=section, cls=cls, loe=loe, text=text)


def test_sample_corpus_parses_every_entry_and_skips_readme(sample_corpus):
    corpus = load_corpus(sample_corpus)
    assert sorted(p.id for p in corpus.passages) == sorted(SAMPLE_IDS)
    assert "not-an-entry" not in corpus.by_id()
    assert [f.name for f in corpus.files] == ["esc-af-2024.md", "esc-hf-2021.md", "esc-va-2022.md"]
    assert corpus.errors == []
    lqts = corpus.by_id()["t-va-lqts-diagnosis"]
    assert lqts.year == 2022 and lqts.recommendation_class == "I" and lqts.evidence_level == "C"
    assert lqts.topics == ["ecg", "qt"] and lqts.measurements == ["qtc"]
    assert lqts.section == "7.2.1 Long QT syndrome: diagnosis"
    assert lqts.source_file == "esc-va-2022.md"
    assert lqts.text.startswith("Long QT syndrome is diagnosed when the corrected QT interval is 480 ms")
    assert lqts.citation().endswith("(2022), 7.2.1 Long QT syndrome: diagnosis, class I, level C")
    # `null` and empty values are None, not the string "null"
    risk = corpus.by_id()["t-va-qtc-500-risk"]
    assert risk.recommendation_class is None and risk.evidence_level is None
    hfref = corpus.by_id()["t-hf-definition-hfref"]
    assert hfref.recommendation_class is None


def test_section_numbers_stay_strings(tmp_path):
    # YAML would read 7.10 as the float 7.1 — a wrong citation.
    write(tmp_path, "a.md", entry(section="7.10"))
    p = load_corpus(tmp_path).passages[0]
    assert p.section == "7.10"
    assert p.year == 2020


@pytest.mark.parametrize(
    "text, message",
    [
        (entry(id="dup") + entry(id="dup"), "duplicate id 'dup'"),
        (entry(year="twenty"), "is not a number"),
        (entry(text=""), "statement text is empty"),
        (ENTRY.replace("section: {section}\n", "").format(id="x", year=2020, cls="I", loe="A", text="t"), "missing section"),
        ("---\nid: [unclosed\n---\ntext\n", "not valid YAML"),
        (entry() + "---\nid: orphan\nguideline: g\n", "without a closing"),
        ("just prose, no front matter\n", "no `---` front-matter block"),
    ],
)
def test_invalid_entries_are_reported_with_file_and_line(tmp_path, text, message):
    write(tmp_path, "bad.md", text)
    with pytest.raises(CorpusError) as info:
        load_corpus(tmp_path)
    problems = [str(p) for p in info.value.problems]
    assert any(message in p and p.startswith("bad.md:") for p in problems), problems
    # non-strict returns what is valid plus the problems
    lenient = load_corpus(tmp_path, strict=False)
    assert lenient.errors


def test_unknown_topic_is_a_warning_not_an_error(tmp_path):
    write(tmp_path, "a.md", entry().replace("topics: [ecg]", "topics: [ecg, astrology]"))
    corpus = load_corpus(tmp_path)
    assert len(corpus.passages) == 1
    assert any("unknown topic 'astrology'" in str(w) for w in corpus.warnings)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="no corpus files"):
        load_corpus(tmp_path)


def test_hash_changes_with_content_and_only_with_content(tmp_path):
    a = write(tmp_path, "a.md", entry())
    h1 = load_corpus(tmp_path).corpus_hash
    assert load_corpus(tmp_path).corpus_hash == h1
    a.write_text(entry(text="A changed threshold: 490 ms."), encoding="utf-8")
    h2 = load_corpus(tmp_path).corpus_hash
    assert h2 != h1
    write(tmp_path, "README.md", "docs only")  # not corpus: no effect
    assert load_corpus(tmp_path).corpus_hash == h2
    write(tmp_path, "b.md", entry(id="e2"))
    assert load_corpus(tmp_path).corpus_hash != h2


def test_bundled_corpus_is_valid():
    """The real corpus (written beside the engine) must load without errors."""
    if not corpus_files(CORPUS_DIR):
        pytest.skip("bundled corpus not written yet")
    corpus = load_corpus(CORPUS_DIR, strict=False)
    assert corpus.errors == [], [str(e) for e in corpus.errors[:10]]
    assert len(corpus.passages) > 0
    assert all(p.guideline and p.section and 1950 <= p.year <= 2100 for p in corpus.passages)
