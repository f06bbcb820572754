"""Read and validate the guideline corpus (`retrieval/corpus/*.md`).

Format, fixed: a file holds many entries; each entry is a YAML front-matter
block between lines that are exactly `---`, followed by the statement text up
to the next `---` line:

    ---
    id: esc-va-2022-lqts-dx
    guideline: 2022 ESC Guidelines for ... ventricular arrhythmias ...
    society: ESC
    year: 2022
    section: "7.2.1 Long QT syndrome"
    recommendation_class: I
    evidence_level: C
    topics: [ecg, qt]
    measurements: [qtc]
    ---
    Statement text in our own words.

Why a validator and not just a parser: the corpus is hand-written and the
report cites it. A missing section or a duplicated id would surface as a
wrong citation in front of a clinician, so the build refuses errors and
lists warnings (e.g. an unknown topic) with file and line.

YAML is read with the base loader (every scalar a string) on purpose: a
section written `7.10` would otherwise become the float 7.1.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.types import GuidelinePassage

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"

KNOWN_TOPICS = frozenset(
    {
        "ecg",
        "echo",
        "cmr",
        "hf",
        "af",
        "acs",
        "conduction",
        "qt",
        "cardiomyopathy",
        "valve",
        "imaging-quantification",
        "arrhythmia",
        "prevention",
    }
)
REQUIRED_KEYS = ("id", "guideline", "year", "section")
OPTIONAL_KEYS = ("society", "recommendation_class", "evidence_level", "topics", "measurements")
_NULLS = {"", "null", "none", "~", "n/a", "na", "-"}
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
_SEPARATOR = re.compile(r"^---[ \t]*$")


class CorpusError(ValueError):
    """The corpus has entries that cannot be indexed (listed in `problems`)."""

    def __init__(self, problems: list["CorpusProblem"]):
        self.problems = problems
        shown = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} corpus error(s):\n{shown}{more}")


@dataclass(frozen=True)
class CorpusProblem:
    file: str
    line: int
    message: str
    severity: str = "error"  # 'error' blocks the build; 'warning' is reported

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"


@dataclass
class Corpus:
    """Validated entries in file order, with where each came from."""

    passages: list[GuidelinePassage]
    files: list[Path]
    corpus_hash: str
    problems: list[CorpusProblem] = field(default_factory=list)
    locations: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def errors(self) -> list[CorpusProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[CorpusProblem]:
        return [p for p in self.problems if p.severity == "warning"]

    def by_id(self) -> dict[str, GuidelinePassage]:
        return {p.id: p for p in self.passages}


def corpus_files(corpus_dir: Path | str = CORPUS_DIR) -> list[Path]:
    """Corpus files in a stable order; the folder's README is documentation."""
    d = Path(corpus_dir)
    if not d.is_dir():
        return []
    return sorted(p for p in d.glob("*.md") if p.name.lower() != "readme.md" and p.is_file())


def corpus_hash(files: list[Path], root: Path | None = None) -> str:
    """sha256 over file names and bytes: any edit, addition or removal changes it."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda p: p.name):
        name = f.name if root is None else str(f.relative_to(root))
        h.update(name.encode("utf-8") + b"\0")
        data = f.read_bytes()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _blocks(text: str) -> list[tuple[int, str]]:
    """Split at `---` lines; each block with the 1-based line it starts on."""
    blocks: list[tuple[int, str]] = []
    current: list[str] = []
    start = 1
    for number, line in enumerate(text.splitlines(), start=1):
        if _SEPARATOR.match(line):
            blocks.append((start, "\n".join(current)))
            current = []
            start = number + 1
        else:
            current.append(line)
    blocks.append((start, "\n".join(current)))
    return blocks


def _optional_str(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        raise ValueError(f"expected a single value, got {type(value).__name__}")
    s = str(value).strip()
    return None if s.lower() in _NULLS else s


def _str_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        s = value.strip()
        if s.lower() in _NULLS or s == "[]":
            return []
        return [part.strip() for part in s.split(",") if part.strip()]
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, (list, dict)):
                raise ValueError("nested lists are not allowed")
            s = str(item).strip()
            if s:
                out.append(s)
        return out
    raise ValueError(f"expected a list, got {type(value).__name__}")


def _clean_text(body: str) -> str:
    """Statement text with whitespace normalised (Markdown kept as written)."""
    lines = [ln.rstrip() for ln in body.strip().splitlines()]
    return "\n".join(lines).strip()


def parse_file(path: Path) -> tuple[list[GuidelinePassage], list[CorpusProblem], dict[str, int]]:
    """Entries of one corpus file, the problems found, and each id's line."""
    import yaml

    base_loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # libyaml when present: ~10x faster
    name = path.name
    problems: list[CorpusProblem] = []
    passages: list[GuidelinePassage] = []
    lines_of: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return [], [CorpusProblem(name, 1, f"not UTF-8 text ({exc.reason})")], {}

    blocks = _blocks(text)
    preamble_line, preamble = blocks[0]
    if len(blocks) == 1:
        if text.strip():
            problems.append(CorpusProblem(name, 1, "no `---` front-matter block found"))
        else:
            problems.append(CorpusProblem(name, 1, "file is empty", "warning"))
        return [], problems, {}
    if preamble.strip() and not all(ln.startswith("#") or not ln.strip() for ln in preamble.splitlines()):
        problems.append(
            CorpusProblem(name, preamble_line, "text before the first `---` is ignored", "warning")
        )

    rest = blocks[1:]
    # A trailing `---` closing the last statement leaves one empty block.
    if len(rest) % 2 == 1:
        last_line, last = rest[-1]
        if last.strip():
            problems.append(CorpusProblem(name, last_line, "front matter without a closing `---` and statement"))
        rest = rest[:-1]

    for i in range(0, len(rest), 2):
        meta_line, meta_text = rest[i]
        body_line, body = rest[i + 1]
        where = meta_line - 1  # the opening `---`
        try:
            meta = yaml.load(meta_text, Loader=base_loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = meta_line + (mark.line if mark is not None else 0)
            problems.append(CorpusProblem(name, line, f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}"))
            continue
        if not isinstance(meta, dict):
            hint = " (a `---` line inside a statement splits it; use *** for a rule)" if meta_text.strip() else ""
            problems.append(CorpusProblem(name, where, f"expected a front-matter mapping{hint}"))
            continue

        entry_id = str(meta.get("id", "")).strip()
        label = f"entry {entry_id!r}" if entry_id else "entry"
        missing = [k for k in REQUIRED_KEYS if _optional_str(meta.get(k)) is None]
        if missing:
            problems.append(CorpusProblem(name, where, f"{label}: missing {', '.join(missing)}"))
            continue
        unknown = sorted(set(meta) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
        if unknown:
            problems.append(CorpusProblem(name, where, f"{label}: unknown key(s) {', '.join(unknown)}", "warning"))
        if not _ID_PATTERN.match(entry_id):
            problems.append(CorpusProblem(name, where, f"{label}: id may hold only letters, digits and . _ : -"))
            continue
        try:
            year = int(str(meta["year"]).strip())
        except ValueError:
            problems.append(CorpusProblem(name, where, f"{label}: year {meta['year']!r} is not a number"))
            continue
        if not 1950 <= year <= 2100:
            problems.append(CorpusProblem(name, where, f"{label}: year {year} is implausible"))
            continue
        statement = _clean_text(body)
        if not statement:
            problems.append(CorpusProblem(name, body_line, f"{label}: statement text is empty"))
            continue
        try:
            topics = [t.lower() for t in _str_list(meta.get("topics"))]
            measurements = _str_list(meta.get("measurements"))
            society = _optional_str(meta.get("society"))
            rec_class = _optional_str(meta.get("recommendation_class"))
            level = _optional_str(meta.get("evidence_level"))
        except ValueError as exc:
            problems.append(CorpusProblem(name, where, f"{label}: {exc}"))
            continue
        for t in topics:
            if t not in KNOWN_TOPICS:
                problems.append(CorpusProblem(name, where, f"{label}: unknown topic {t!r}", "warning"))
        if not topics:
            problems.append(CorpusProblem(name, where, f"{label}: no topics (topic filters will miss it)", "warning"))

        passages.append(
            GuidelinePassage(
                id=entry_id,
                guideline=_optional_str(meta["guideline"]) or "",
                society=society,
                year=year,
                section=_optional_str(meta["section"]) or "",
                text=statement,
                recommendation_class=rec_class,
                evidence_level=level,
                topics=topics,
                measurements=measurements,
                collection="guidelines",
                source_file=name,
            )
        )
        lines_of[entry_id] = where
    return passages, problems, lines_of


def load_corpus(corpus_dir: Path | str = CORPUS_DIR, strict: bool = True) -> Corpus:
    """Parse and validate every corpus file.

    strict=True raises `CorpusError` when any error is found (so a broken
    entry never reaches the index silently); strict=False returns the valid
    entries with the problems listed, for `kb stats` and the validator test.
    """
    d = Path(corpus_dir)
    files = corpus_files(d)
    problems: list[CorpusProblem] = []
    passages: list[GuidelinePassage] = []
    locations: dict[str, tuple[str, int]] = {}
    if not files:
        problems.append(CorpusProblem(str(d), 0, "no corpus files (*.md) found"))
    for f in files:
        file_passages, file_problems, lines_of = parse_file(f)
        problems.extend(file_problems)
        for p in file_passages:
            if p.id in locations:
                first_file, first_line = locations[p.id]
                problems.append(
                    CorpusProblem(f.name, lines_of[p.id], f"duplicate id {p.id!r} (first at {first_file}:{first_line})")
                )
                continue
            locations[p.id] = (f.name, lines_of[p.id])
            passages.append(p)
    corpus = Corpus(
        passages=passages,
        files=files,
        corpus_hash=corpus_hash(files),
        problems=problems,
        locations=locations,
    )
    if strict and corpus.errors:
        raise CorpusError(corpus.errors)
    return corpus
