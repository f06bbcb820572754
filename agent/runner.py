"""Run one case through the graph: the single entry point for the CLI, the
UI, the batch runner and the evaluation harness.

Why one entry point: every caller gets the same checkpointing, streaming,
strictness and output layout, so a report produced in the browser and one
produced in a batch are byte-for-byte the same kind of object.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from agent.backends import get_backend
from agent.backends.base import Backend
from agent.case import CaseInput, ClinicalContext, InputProblem
from agent.report import Report

ProgressCallback = Callable[[dict], None]


def cardio_home() -> Path:
    home = Path(os.environ.get("CARDIO_HOME") or Path.home() / ".cardioagent")
    home.mkdir(parents=True, exist_ok=True)
    return home


@contextmanager
def sqlite_checkpointer(path: str | Path | None = None) -> Iterator[Any]:
    """A LangGraph SQLite checkpointer: each case is a resumable thread."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    db = Path(path) if path else cardio_home() / "threads.sqlite"
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(db), check_same_thread=False, timeout=30)
    # WAL lets the UI, chat and batch workers read threads while a case
    # writes; NORMAL sync is crash-safe under WAL and halves checkpoint cost.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


@dataclass
class CaseOutcome:
    thread_id: str
    report: Report | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    problems: list[InputProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.report is not None


def default_case_id(paths: list[str]) -> str:
    first = Path(paths[0]).name if paths else "case"
    slug = re.sub(r"[^A-Za-z0-9]+", "-", Path(first).stem).strip("-")[:32] or "case"
    digest = hashlib.sha1("\0".join(sorted(str(Path(p).resolve()) for p in paths)).encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


def analyze(
    paths: list[str | Path],
    context: ClinicalContext | None = None,
    out_dir: str | Path = "out",
    *,
    backend: Backend | str | None = None,
    strict: bool = True,
    case_id: str | None = None,
    display_names: dict[str, str] | None = None,
    on_event: ProgressCallback | None = None,
    checkpoint_db: str | Path | None = None,
    thread_id: str | None = None,
    formats: tuple[str, ...] = ("json", "md", "html"),
    debug: bool = False,
    retrieval: bool = True,
    enabled_modalities: set[str] | None = None,
) -> CaseOutcome:
    """Analyse one case and write its report into `out_dir`.

    With `strict` (the default) any unusable input aborts the case before
    any tool runs and nothing is written: a report that silently ignores a
    file the clinician supplied is worse than no report.
    """
    from agent.graph import build_graph

    str_paths = [str(p) for p in paths]
    case = CaseInput(
        case_id=case_id or default_case_id(str_paths),
        paths=str_paths,
        display_names=display_names or {},
        context=context or ClinicalContext(),
    )
    backend_obj = backend if isinstance(backend, Backend) else get_backend(backend)
    thread = thread_id or f"{case.case_id}-{uuid.uuid4().hex[:8]}"
    config = {
        "configurable": {
            "thread_id": thread,
            "out_dir": str(out_dir),
            "backend": backend_obj,
            "strict": strict,
            "formats": list(formats),
            "debug": debug,
            "retrieval": retrieval,
            "enabled_modalities": sorted(enabled_modalities) if enabled_modalities is not None else None,
        },
        "recursion_limit": 50,
    }
    with sqlite_checkpointer(checkpoint_db) as saver:
        graph = build_graph(saver)
        final: dict = {}
        for mode, chunk in graph.stream({"case": case.model_dump(mode="json")}, config, stream_mode=["updates", "custom"]):
            if mode == "custom" and on_event:
                on_event(chunk)
            elif mode == "updates":
                for node, update in (chunk or {}).items():
                    if isinstance(update, dict):
                        final.update({k: v for k, v in update.items() if k in ("abort", "report", "outputs")})
        state = graph.get_state(config).values
    outcome = CaseOutcome(thread_id=thread)
    if state.get("abort"):
        outcome.problems = [InputProblem.model_validate(p) for p in state["abort"]]
        return outcome
    outcome.report = Report.model_validate(state["report"])
    outcome.outputs = dict(state.get("outputs", {}))
    intake = state.get("intake") or {}
    outcome.problems = [InputProblem.model_validate(p) for p in intake.get("problems", [])]
    return outcome
