"""Self-check for the guideline corpus and the retrieval question set.

Why: the index builder and the recall benchmark both trust these files
blindly. A typo in a front-matter key, a duplicated id or a question that
points at a statement that does not exist would silently distort recall@5,
so this script fails loudly before anything is indexed or measured.

Run:  .venv/bin/python retrieval/questions/check.py
Exit code 0 when everything is valid, 1 otherwise (problems are listed).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CORPUS_DIR = HERE.parent / "corpus"
QUESTIONS = HERE / "questions.jsonl"
# Second, blind held-out set written in session 2 (see README): its own split
# name so no tool can mix it into tuning by accident.
HELDOUT_V2 = HERE / "heldout_v2.jsonl"
HELDOUT_V2_SPLIT = "heldout2"
MIN_HELDOUT_V2 = 60
# Third blind held-out set written in session 2, round 3 (after heldout2 had
# been evaluated once and become "seen"). Same rules, its own split name.
HELDOUT_V3 = HERE / "heldout_v3.jsonl"
HELDOUT_V3_SPLIT = "heldout3"
MIN_HELDOUT_V3 = 60
# Fourth blind held-out set (session 3), written by two engineers who did not
# tune the engine and never saw its code or output, one file each (half of the
# corpus files each as the source of questions, the whole corpus for the
# relevant lists). One split name for both files. Optional while it is being
# written; once present each file must hold at least MIN_HELDOUT_V4 questions.
HELDOUT_V4 = (HERE / "heldout_v4a.jsonl", HERE / "heldout_v4b.jsonl")
HELDOUT_V4_SPLIT = "heldout4"
MIN_HELDOUT_V4 = 100
# Fifth blind set (session 3, after heldout4 was evaluated and joined the
# question memory): one file, written by an engineer who never saw the engine.
HELDOUT_V5 = HERE / "heldout_v5.jsonl"
HELDOUT_V5_SPLIT = "heldout5"
MIN_HELDOUT_V5 = 100
# A new blind question whose word set overlaps an earlier question this much
# (Jaccard) is a paraphrase, not a new test: it must be rewritten.
NEAR_DUPLICATE_JACCARD = 0.5

REQUIRED_KEYS = (
    "id", "guideline", "society", "year", "section",
    "recommendation_class", "evidence_level", "topics", "measurements",
)
ALLOWED_TOPICS = {
    "ecg", "echo", "cmr", "hf", "af", "acs", "conduction", "qt", "cardiomyopathy",
    "valve", "imaging-quantification", "arrhythmia", "prevention",
}
ALLOWED_CLASSES = {None, "I", "IIa", "IIb", "III"}
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
NAME_PATTERN = re.compile(r"^[a-z0-9_]+$")
SPLITS = {"tune", "heldout"}
MIN_STATEMENTS = 250
MIN_QUESTIONS = 150


def split_entries(text: str) -> list[tuple[str, str]]:
    """Split a corpus file into (front matter, statement) pairs.

    The format is a line that is exactly '---', YAML, '---', statement text,
    then the next '---' (or end of file). This mirrors what the engine parses.
    """
    chunks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == "---" and line == "---":
            chunks.append([])
        else:
            chunks[-1].append(line)
    if "".join(chunks[0]).strip():
        raise ValueError("text before the first '---' line")
    body = chunks[1:]
    if len(body) % 2:
        raise ValueError("unbalanced '---' lines (front matter without statement text)")
    return [("\n".join(body[i]), "\n".join(body[i + 1]).strip()) for i in range(0, len(body), 2)]


def check_corpus() -> tuple[dict[str, dict], list[str]]:
    problems: list[str] = []
    entries: dict[str, dict] = {}
    files = sorted(p for p in CORPUS_DIR.glob("*.md") if p.name.lower() != "readme.md")
    if not files:
        problems.append(f"no corpus files in {CORPUS_DIR}")
    for path in files:
        try:
            pairs = split_entries(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        for n, (front, statement) in enumerate(pairs, 1):
            where = f"{path.name} entry {n}"
            try:
                meta = yaml.safe_load(front)
            except yaml.YAMLError as exc:
                problems.append(f"{where}: YAML error {exc}")
                continue
            if not isinstance(meta, dict):
                problems.append(f"{where}: front matter is not a mapping")
                continue
            where = f"{path.name}:{meta.get('id')}"
            missing = [k for k in REQUIRED_KEYS if k not in meta]
            extra = [k for k in meta if k not in REQUIRED_KEYS]
            if missing:
                problems.append(f"{where}: missing keys {missing}")
            if extra:
                problems.append(f"{where}: unknown keys {extra}")
            eid = meta.get("id")
            if not isinstance(eid, str) or not ID_PATTERN.match(eid):
                problems.append(f"{where}: bad id {eid!r}")
            elif eid in entries:
                problems.append(f"{where}: duplicate id (also in {entries[eid]['_file']})")
            for key in ("guideline", "society", "section"):
                if not isinstance(meta.get(key), str) or not meta.get(key, "").strip():
                    problems.append(f"{where}: {key} must be a non-empty string")
            year = meta.get("year")
            if not isinstance(year, int) or not 1980 <= year <= 2030:
                problems.append(f"{where}: bad year {year!r}")
            if meta.get("recommendation_class") not in ALLOWED_CLASSES:
                problems.append(f"{where}: bad recommendation_class {meta.get('recommendation_class')!r}")
            loe = meta.get("evidence_level")
            if loe is not None and not (isinstance(loe, str) and re.match(r"^(A|B|C)(-[A-Z]{1,2})?$", loe)):
                problems.append(f"{where}: bad evidence_level {loe!r}")
            if meta.get("recommendation_class") is None and loe is not None:
                problems.append(f"{where}: level of evidence given without a class of recommendation")
            topics = meta.get("topics")
            if not isinstance(topics, list) or not topics:
                problems.append(f"{where}: topics must be a non-empty list")
            else:
                bad = [t for t in topics if t not in ALLOWED_TOPICS]
                if bad:
                    problems.append(f"{where}: topics not allowed {bad}")
            measures = meta.get("measurements")
            if not isinstance(measures, list) or any(
                not isinstance(m, str) or not NAME_PATTERN.match(m) for m in measures
            ):
                problems.append(f"{where}: measurements must be a list of snake_case names")
            sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", statement) if s.strip()]
            if not statement:
                problems.append(f"{where}: empty statement text")
            elif len(sentences) > 4:
                problems.append(f"{where}: statement has {len(sentences)} sentences (max 4)")
            if isinstance(eid, str):
                entries[eid] = {**meta, "_file": path.name, "_text": statement}
    if len(entries) < MIN_STATEMENTS:
        problems.append(f"corpus has {len(entries)} statements, need at least {MIN_STATEMENTS}")
    return entries, problems


def read_question_file(
    path: Path, corpus_ids: set[str], allowed_splits: set[str],
    seen_ids: set[str], seen_queries: set[str],
) -> tuple[list[dict], list[str]]:
    """Parse and validate one JSONL question file.

    `seen_ids` / `seen_queries` are shared between files so that an id or a
    query text can never appear in both the tuning set and a held-out set.
    """
    problems: list[str] = []
    questions: list[dict] = []
    if not path.exists():
        return questions, [f"missing {path}"]
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: invalid JSON ({exc})")
            continue
        if set(q) != {"id", "query", "relevant", "split"}:
            problems.append(f"{where}: keys must be id, query, relevant, split (got {sorted(q)})")
            continue
        if q["id"] in seen_ids:
            problems.append(f"{where}: duplicate id {q['id']}")
        seen_ids.add(q["id"])
        norm = q["query"].strip().lower()
        if norm in seen_queries:
            problems.append(f"{where}: duplicate query text")
        seen_queries.add(norm)
        if q["split"] not in allowed_splits:
            problems.append(f"{where}: split must be one of {sorted(allowed_splits)}")
        if not q["relevant"]:
            problems.append(f"{where}: no relevant ids")
        if len(set(q["relevant"])) != len(q["relevant"]):
            problems.append(f"{where}: repeated relevant id")
        for rid in q["relevant"]:
            if rid not in corpus_ids:
                problems.append(f"{path.name} {q['id']}: relevant id {rid!r} not in corpus")
        questions.append(q)
    return questions, problems


def check_questions(corpus_ids: set[str]) -> tuple[list[dict], list[str]]:
    seen_ids: set[str] = set()
    seen_queries: set[str] = set()
    questions, problems = read_question_file(QUESTIONS, corpus_ids, SPLITS, seen_ids, seen_queries)
    if len(questions) < MIN_QUESTIONS:
        problems.append(f"{len(questions)} questions, need at least {MIN_QUESTIONS}")
    expected = [expected_split(i) for i in range(1, len(questions) + 1)]
    for q, want in zip(questions, expected):
        if q["split"] != want:
            problems.append(f"questions {q['id']}: split {q['split']} but the fixed pattern says {want}")
    fresh, fresh_problems = read_question_file(
        HELDOUT_V2, corpus_ids, {HELDOUT_V2_SPLIT}, seen_ids, seen_queries
    )
    problems += fresh_problems
    if len(fresh) < MIN_HELDOUT_V2:
        problems.append(f"{HELDOUT_V2.name}: {len(fresh)} questions, need at least {MIN_HELDOUT_V2}")
    third, third_problems = read_question_file(
        HELDOUT_V3, corpus_ids, {HELDOUT_V3_SPLIT}, seen_ids, seen_queries
    )
    problems += third_problems
    if len(third) < MIN_HELDOUT_V3:
        problems.append(f"{HELDOUT_V3.name}: {len(third)} questions, need at least {MIN_HELDOUT_V3}")
    problems += near_duplicates(third, questions + fresh, HELDOUT_V3.name)
    fourth: list[dict] = []
    for path in HELDOUT_V4:
        if not path.exists():
            continue
        part, part_problems = read_question_file(path, corpus_ids, {HELDOUT_V4_SPLIT}, seen_ids, seen_queries)
        problems += part_problems
        if len(part) < MIN_HELDOUT_V4:
            problems.append(f"{path.name}: {len(part)} questions, need at least {MIN_HELDOUT_V4}")
        problems += near_duplicates(part, questions + fresh + third + fourth, path.name)
        fourth += part
    fifth: list[dict] = []
    if HELDOUT_V5.exists():
        fifth, fifth_problems = read_question_file(HELDOUT_V5, corpus_ids, {HELDOUT_V5_SPLIT}, seen_ids, seen_queries)
        problems += fifth_problems
        if len(fifth) < MIN_HELDOUT_V5:
            problems.append(f"{HELDOUT_V5.name}: {len(fifth)} questions, need at least {MIN_HELDOUT_V5}")
        problems += near_duplicates(fifth, questions + fresh + third + fourth, HELDOUT_V5.name)
    return questions + fresh + third + fourth + fifth, problems


def word_set(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def near_duplicates(new: list[dict], earlier: list[dict], name: str) -> list[str]:
    """Questions of a new blind set that paraphrase an earlier question.

    Why: a held-out set that repeats questions the engine was tuned on (or
    that were already evaluated) measures memory of those questions, not
    generalisation. Word-set Jaccard >= NEAR_DUPLICATE_JACCARD flags them.
    """
    problems = []
    earlier_sets = [(q["id"], word_set(q["query"])) for q in earlier]
    for q in new:
        words = word_set(q["query"])
        for other_id, other in earlier_sets:
            union = words | other
            if union and len(words & other) / len(union) >= NEAR_DUPLICATE_JACCARD:
                problems.append(f"{name} {q['id']}: near-duplicate of {other_id} (word Jaccard >= {NEAR_DUPLICATE_JACCARD})")
    return problems


def expected_split(position: int) -> str:
    """Deterministic split: in every block of 10 questions (1-based position),
    positions 3, 6 and 9 are held out -> exactly 30% on multiples of 10."""
    return "heldout" if position % 10 in (3, 6, 9) else "tune"


def main() -> int:
    entries, problems = check_corpus()
    questions, qproblems = check_questions(set(entries))
    problems += qproblems
    by_file = Counter(e["_file"] for e in entries.values())
    by_topic = Counter(t for e in entries.values() for t in e.get("topics") or [])
    print(f"corpus: {len(entries)} statements in {len(by_file)} files")
    for name, count in sorted(by_file.items()):
        print(f"  {count:4d}  {name}")
    print("topics: " + ", ".join(f"{t}={c}" for t, c in sorted(by_topic.items())))
    if questions:
        splits = Counter(q["split"] for q in questions)
        cited = {r for q in questions for r in q["relevant"]}
        print(
            f"questions: {len(questions)} ({splits['tune']} tune, {splits['heldout']} heldout, "
            f"{splits[HELDOUT_V2_SPLIT]} {HELDOUT_V2_SPLIT}, {splits[HELDOUT_V3_SPLIT]} {HELDOUT_V3_SPLIT}, "
            f"{splits[HELDOUT_V4_SPLIT]} {HELDOUT_V4_SPLIT}, {splits[HELDOUT_V5_SPLIT]} {HELDOUT_V5_SPLIT}), "
            f"{len(cited)} distinct statements cited"
        )
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for p in problems:
            print("  - " + p)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
