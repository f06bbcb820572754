"""What a batch is made of: a folder of case folders, or a CSV/JSONL manifest.

Why validate everything first: a batch of a thousand studies that stops at
case 612 because of a typo in a sex column wastes a night. The whole input
is read and checked before any case runs, and every problem is listed at
once (line, case, field, why), so one edit fixes them all.

What is checked here is the *structure* (ids, files exist, context values
in range). Whether a file's content is a usable study is the intake's job
at run time; a batch records such problems per case in its failures table.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.case import ClinicalContext, load_context, sanitise_text

CASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
CONTEXT_FILE_NAMES = ("context.json", "context.yaml", "context.yml")
CONTEXT_COLUMNS = ("age", "sex", "height_cm", "weight_kg", "indication", "notes", "context")
KNOWN_COLUMNS = ("case_id", "files", *CONTEXT_COLUMNS)
FILE_SEPARATORS = re.compile(r"[;|]")


class CaseSpec(BaseModel):
    """One case of a batch: its id, its input paths and its clinical context.

    `files` are absolute paths (files or folders); the per-case runner
    expands folders exactly as the intake does, so the content hash covers
    the same files the analysis reads.
    """

    model_config = ConfigDict(extra="forbid")

    case_id: str
    files: list[str]
    context: ClinicalContext = Field(default_factory=ClinicalContext)
    origin: str = Field("", description="Where the case was declared, for messages: 'manifest.csv line 4'")


class ManifestProblem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    where: str
    problem: str
    case_id: str | None = None

    def line(self) -> str:
        who = f" (case {self.case_id})" if self.case_id else ""
        return f"{self.where}{who}: {self.problem}"


class ManifestError(Exception):
    """The input cannot be run; `problems` lists every reason."""

    def __init__(self, problems: list[ManifestProblem]):
        super().__init__(f"{len(problems)} problem(s) in the batch input")
        self.problems = problems


def load_cases(source: str | Path) -> list[CaseSpec]:
    """Read and validate a batch input; raise ManifestError with all problems."""
    path = Path(source)
    problems: list[ManifestProblem] = []
    if not path.exists():
        raise ManifestError([ManifestProblem(where=str(source), problem="no such file or folder")])
    if path.is_dir():
        cases = _from_folder(path, problems)
    elif path.suffix.lower() == ".csv":
        cases = _from_rows(path, _read_csv(path, problems), problems)
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        cases = _from_rows(path, _read_jsonl(path, problems), problems)
    else:
        raise ManifestError([ManifestProblem(where=str(source), problem="expected a folder of case folders or a .csv/.jsonl manifest")])
    seen: dict[str, str] = {}
    for case in cases:
        if case.case_id in seen:
            problems.append(ManifestProblem(where=case.origin, case_id=case.case_id, problem=f"duplicate case_id (first declared at {seen[case.case_id]})"))
        else:
            seen[case.case_id] = case.origin
    if not cases and not problems:
        problems.append(ManifestProblem(where=str(source), problem="no cases found"))
    if problems:
        raise ManifestError(problems)
    return cases


# --- folder of case folders -------------------------------------------------


def _from_folder(root: Path, problems: list[ManifestProblem]) -> list[CaseSpec]:
    cases = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        where = f"{root.name}/{entry.name}"
        if not entry.is_dir():
            problems.append(ManifestProblem(where=where, problem="a loose file at the top level: put each case in its own folder"))
            continue
        if not CASE_ID_RE.match(entry.name):
            problems.append(ManifestProblem(where=where, problem="folder name is not a usable case id (letters, digits, '.', '_', '-'; starts with a letter or digit)"))
            continue
        context = ClinicalContext()
        ctx_files = [entry / n for n in CONTEXT_FILE_NAMES if (entry / n).is_file()]
        if len(ctx_files) > 1:
            problems.append(ManifestProblem(where=where, case_id=entry.name, problem="more than one context file: " + ", ".join(p.name for p in ctx_files)))
        elif ctx_files:
            try:
                context = load_context(str(ctx_files[0]))
            except (ValueError, OSError, ValidationError) as exc:
                problems.append(ManifestProblem(where=f"{where}/{ctx_files[0].name}", case_id=entry.name, problem=_why(exc)))
        files = _case_files(entry, exclude=set(ctx_files))
        if not files:
            linked = [p.name for p in entry.iterdir() if p.is_symlink() and p.is_dir()]
            why = "case folder holds no input files"
            if linked:  # the intake does not follow folder links (loops, surprises); say so
                why += f" (symbolic links to folders are not followed: {', '.join(linked)}; list them in a manifest's files column instead)"
            problems.append(ManifestProblem(where=where, case_id=entry.name, problem=why))
            continue
        cases.append(CaseSpec(case_id=entry.name, files=[str(f) for f in files], context=context, origin=where))
    return cases


def _case_files(folder: Path, exclude: set[Path]) -> list[Path]:
    """All non-hidden files under a case folder, as the intake would expand it."""
    from agent.intake.group import expand_paths

    files, _ = expand_paths([folder])
    return [f.resolve() for f in files if f not in exclude]


# --- CSV / JSONL manifests ----------------------------------------------------


def _read_csv(path: Path, problems: list[ManifestProblem]) -> list[tuple[str, dict]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ManifestProblem(where=path.name, problem=f"cannot be read: {exc}"))
        return []
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        problems.append(ManifestProblem(where=path.name, problem="empty manifest (no header line)"))
        return []
    _check_columns(path.name + " header", header, problems)
    rows = []
    for n, row in enumerate(reader, start=2):
        if None in row:
            problems.append(ManifestProblem(where=f"{path.name} line {n}", problem=f"{len(row[None])} more field(s) than the header has"))
            continue
        clean = {(k or "").strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
        if not any(clean.values()):
            continue  # blank line
        rows.append((f"{path.name} line {n}", clean))
    return rows


def _read_jsonl(path: Path, problems: list[ManifestProblem]) -> list[tuple[str, dict]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ManifestProblem(where=path.name, problem=f"cannot be read: {exc}"))
        return []
    rows = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(ManifestProblem(where=where, problem=f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            problems.append(ManifestProblem(where=where, problem="each line must be a JSON object"))
            continue
        _check_columns(where, list(obj), problems)
        rows.append((where, obj))
    return rows


def _check_columns(where: str, columns: list[str], problems: list[ManifestProblem]) -> None:
    unknown = [c for c in columns if c not in KNOWN_COLUMNS]
    if unknown:
        problems.append(ManifestProblem(where=where, problem=f"unknown column(s) {', '.join(map(repr, unknown))}; known: {', '.join(KNOWN_COLUMNS)}"))
    for required in ("case_id", "files"):
        if required not in columns:
            problems.append(ManifestProblem(where=where, problem=f"missing column {required!r}"))


def _from_rows(manifest: Path, rows: list[tuple[str, dict]], problems: list[ManifestProblem]) -> list[CaseSpec]:
    base = manifest.resolve().parent
    cases = []
    for where, row in rows:
        before = len(problems)
        case_id = str(row.get("case_id") or "").strip()
        if not case_id:
            problems.append(ManifestProblem(where=where, problem="case_id is empty"))
        elif not CASE_ID_RE.match(case_id):
            problems.append(ManifestProblem(where=where, case_id=case_id, problem="case_id must be letters, digits, '.', '_', '-' (it names the output folder)"))
        files = _resolve_files(row.get("files"), base, where, case_id or None, problems)
        context = _row_context(row, base, where, case_id or None, problems)
        if len(problems) == before:
            cases.append(CaseSpec(case_id=case_id, files=files, context=context, origin=where))
    return cases


def _split_files(value) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()] if all(isinstance(v, str) for v in value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return None
        return _split_files(parsed)
    return [p.strip() for p in FILE_SEPARATORS.split(text) if p.strip()]


def _resolve_files(value, base: Path, where: str, case_id: str | None, problems: list[ManifestProblem]) -> list[str]:
    items = _split_files(value)
    if items is None:
        problems.append(ManifestProblem(where=where, case_id=case_id, problem="files must be paths separated by ';' or a JSON list of strings"))
        return []
    if not items:
        problems.append(ManifestProblem(where=where, case_id=case_id, problem="files is empty"))
        return []
    out = []
    for item in items:
        p = Path(item).expanduser()
        p = p if p.is_absolute() else base / p
        if not p.exists():
            problems.append(ManifestProblem(where=where, case_id=case_id, problem=f"{item}: no such file or folder"))
        elif p.is_dir() and not _case_files(p, set()):
            problems.append(ManifestProblem(where=where, case_id=case_id, problem=f"{item}: folder holds no input files"))
        elif p.is_file() and p.stat().st_size == 0:
            problems.append(ManifestProblem(where=where, case_id=case_id, problem=f"{item}: empty file (0 bytes)"))
        else:
            out.append(str(p.resolve()))
    return out


def _number(row: dict, key: str, where: str, case_id: str | None, problems: list[ManifestProblem]) -> float | None:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        problems.append(ManifestProblem(where=where, case_id=case_id, problem=f"{key} must be a number, got {value!r}"))
        return None


def _row_context(row: dict, base: Path, where: str, case_id: str | None, problems: list[ManifestProblem]) -> ClinicalContext:
    numbers = {k: _number(row, k, where, case_id, problems) for k in ("age", "height_cm", "weight_kg")}
    ctx_file = str(row.get("context") or "").strip() or None
    if ctx_file:
        p = Path(ctx_file).expanduser()
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            problems.append(ManifestProblem(where=where, case_id=case_id, problem=f"context file {ctx_file}: not found"))
            return ClinicalContext()
        ctx_file = str(p)
    sex = str(row.get("sex") or "").strip() or None
    indication = str(row.get("indication") or "").strip() or None
    try:
        context = load_context(ctx_file, age=numbers["age"], sex=sex, height_cm=numbers["height_cm"],
                               weight_kg=numbers["weight_kg"], indication=indication, given_by="manifest column")  # fmt: skip
    except (ValueError, OSError, ValidationError) as exc:
        problems.append(ManifestProblem(where=where, case_id=case_id, problem=_why(exc)))
        return ClinicalContext()
    notes = row.get("notes")
    if isinstance(notes, str) and notes.strip():
        text = sanitise_text(notes)
        context.notes = f"{context.notes}\n\n{text}" if context.notes else text
    return context


def _why(exc: Exception) -> str:
    """One readable line from a pydantic error or a plain exception."""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "patient")
            field = {"age_years": "age"}.get(loc, loc)
            parts.append(f"{field}: {err.get('msg')}" if field else str(err.get("msg")))
        return "; ".join(parts)
    return str(exc)
