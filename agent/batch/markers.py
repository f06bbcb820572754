"""Per-case bookkeeping on disk: the done marker and the failure record.

Why a marker after report.json: report.json proves the report set is
complete, but not *which* inputs and configuration produced it. The done
marker (written atomically, last) records both hashes; resume skips a case
only when they match and every output it lists is present. Anything else
in a case folder — a half-written case from a kill -9 — is removed before
the case runs again, so no partial file outlives a rerun.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.atomic import atomic_write_text

DONE_MARKER = "case.done.json"
FAILURE_RECORD = "case.failed.json"

ProblemKind = Literal["input_not_used", "input", "tool_failed", "timeout", "worker_crash", "internal_error"]


class CaseProblem(BaseModel):
    """One row of the failures table: which case, which file, why."""

    model_config = ConfigDict(extra="forbid")

    file: str
    problem: str
    kind: ProblemKind


class CaseRecord(BaseModel):
    """What one case produced. For `ok` it is the done marker; for `failed`
    the failure record (failed cases are retried by a resumed run)."""

    model_config = ConfigDict(extra="forbid")

    case_id: str
    status: Literal["ok", "failed"]
    input_hash: str = ""
    config_hash: str = ""
    modalities: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list, description="Input files, relative to their common folder")
    outputs: dict[str, str] = Field(default_factory=dict, description="format -> path relative to the case folder")
    problems: list[CaseProblem] = Field(default_factory=list)
    runtime_s: float = 0.0
    thread_id: str | None = None
    checkpoint_db: str | None = None
    worker: str = ""
    finished_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    traceback: str | None = None


def write_record(case_dir: Path, record: CaseRecord) -> Path:
    name = DONE_MARKER if record.status == "ok" else FAILURE_RECORD
    return atomic_write_text(case_dir / name, record.model_dump_json(indent=2))


def read_record(path: Path) -> CaseRecord | None:
    """A marker that is missing or unreadable counts as absent."""
    try:
        return CaseRecord.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return None


def read_done(case_dir: Path) -> CaseRecord | None:
    record = read_record(case_dir / DONE_MARKER)
    return record if record is not None and record.status == "ok" else None


def is_complete(case_dir: Path, input_hash: str, config_hash: str) -> bool:
    done = read_done(case_dir)
    if done is None or done.input_hash != input_hash or done.config_hash != config_hash:
        return False
    return (case_dir / "report.json").is_file() and all((case_dir / rel).is_file() for rel in done.outputs.values())


def clear_case_dir(case_dir: Path) -> None:
    """Remove a previous, incomplete or outdated attempt of this case.

    Only folders under `<out>/cases/` are ever passed here (the batch owns
    them); the done marker goes first so an interrupted removal can never
    leave a folder that looks complete.
    """
    if not case_dir.exists():
        return
    (case_dir / DONE_MARKER).unlink(missing_ok=True)
    shutil.rmtree(case_dir)
