"""Where the UI keeps cases: one folder per case, one index per user.

Layout (the share folder defaults to $CARDIO_HOME/ui/cases):

    <share>/<user>/<case id>/inputs/…      the uploaded files, under their own names
    <share>/<user>/<case id>/report/…      report.json/.html/.pdf/.fhir.json, artifacts/
    <share>/<user>/<case id>/transcript.json   the chat as shown, to reopen the case
    $CARDIO_HOME/ui/index/<user>.json      the case list of that user

Why stage uploads into the case folder: the browser puts every file in its
own temp folder named by a hash, which splits what belongs together (a NIfTI
ED/ES pair, a DICOM series) and is cleaned up by Gradio later; follow-up
questions that re-run a tool need the inputs for as long as the case lives.
Hard links make staging free when both sit on one file system.

Case ids are neutral (`case-<date>-<time>-<random>`): uploaded file names
may carry patient names and must not end up in folder names, URLs or logs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.atomic import atomic_write_text

_INDEX_LOCK = threading.Lock()


class CaseRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    case_id: str
    folder: str
    created_at: datetime
    user: str = "local"
    thread_id: str | None = None
    state: str = Field("running", description="running | preliminary | final | amended | rejected | failed")
    modalities: list[str] = Field(default_factory=list)
    n_files: int = 0
    findings: list[str] = Field(default_factory=list, description="Labels of present findings, for the case list")
    indication: str | None = None

    @property
    def path(self) -> Path:
        return Path(self.folder)

    @property
    def inputs_dir(self) -> Path:
        return self.path / "inputs"

    @property
    def report_dir(self) -> Path:
        return self.path / "report"

    @property
    def report_json(self) -> Path:
        return self.report_dir / "report.json"

    @property
    def transcript_path(self) -> Path:
        return self.path / "transcript.json"


def user_slug(user: str | None) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", (user or "local").strip())[:64].strip("._") or "local"
    return slug


class CaseStore:
    """Case folders under `share_dir`, the per-user index under `home`."""

    def __init__(self, share_dir: Path, home: Path):
        self.share_dir = Path(share_dir).resolve()
        self.home = Path(home)
        self.share_dir.mkdir(parents=True, exist_ok=True)

    # --- index -----------------------------------------------------------

    def index_path(self, user: str | None) -> Path:
        return self.home / "ui" / "index" / f"{user_slug(user)}.json"

    def list_cases(self, user: str | None) -> list[CaseRecord]:
        path = self.index_path(user)
        if not path.is_file():
            return []
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return []
        out = []
        for row in rows:
            try:
                out.append(CaseRecord.model_validate(row))
            except ValueError:
                continue
        return sorted(out, key=lambda r: r.created_at, reverse=True)

    def get(self, user: str | None, case_id: str) -> CaseRecord | None:
        return next((r for r in self.list_cases(user) if r.case_id == case_id), None)

    def save(self, record: CaseRecord) -> CaseRecord:
        with _INDEX_LOCK:
            rows = [r for r in self.list_cases(record.user) if r.case_id != record.case_id]
            rows.append(record)
            rows.sort(key=lambda r: r.created_at, reverse=True)
            atomic_write_text(self.index_path(record.user), json.dumps([r.model_dump(mode="json") for r in rows], indent=1))
        return record

    # --- cases -------------------------------------------------------------

    def new_case(self, user: str | None) -> CaseRecord:
        now = datetime.now(timezone.utc)
        case_id = f"case-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        folder = self.share_dir / user_slug(user) / case_id
        (folder / "inputs").mkdir(parents=True)
        (folder / "report").mkdir()
        return CaseRecord(case_id=case_id, folder=str(folder), created_at=now, user=user_slug(user), thread_id=case_id)

    def stage(self, record: CaseRecord, uploads: list[tuple[str, str]]) -> dict[str, str]:
        """Link (or copy) each upload (path, original name) into the case's
        inputs folder under its original name; names that repeat go into
        numbered sub-folders. Returns staged path → original name."""
        staged: dict[str, str] = {}
        used: set[str] = set()
        for src, name in uploads:
            safe = _safe_name(name)
            dest_dir = record.inputs_dir
            n = 1
            while str(dest_dir / safe) in used or (dest_dir / safe).exists():
                n += 1
                dest_dir = record.inputs_dir / f"{n}"
            dest_dir.mkdir(parents=True, exist_ok=True)
            dest = dest_dir / safe
            try:
                os.link(src, dest)
            except OSError:
                shutil.copy2(src, dest)
            used.add(str(dest))
            staged[str(dest)] = name
        return staged

    def input_paths(self, record: CaseRecord) -> list[str]:
        return sorted(str(p) for p in record.inputs_dir.rglob("*") if p.is_file())

    # --- transcript --------------------------------------------------------

    def save_transcript(self, record: CaseRecord, messages: list[dict[str, Any]]) -> None:
        atomic_write_text(record.transcript_path, json.dumps(messages, indent=1, default=str))

    def load_transcript(self, record: CaseRecord) -> list[dict[str, Any]]:
        try:
            data = json.loads(record.transcript_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return data if isinstance(data, list) else []


def _safe_name(name: str) -> str:
    """The base name only, no path tricks, no control characters."""
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[\x00-\x1f\x7f/]", "_", base).strip() or "upload"
    return "_" + base if base in (".", "..") or base.startswith(".") else base
