"""Clinician sign-off: a small LangGraph graph that pauses for a human.

Why a graph with `interrupt()` and not a button handler that edits a file:
the pause is part of the record. The request for review is checkpointed in
the same SQLite store as the case thread (`agent.runner.sqlite_checkpointer`),
so a UI restart, a second browser tab or a reopened case finds the report
still *awaiting sign-off* and resumes the same thread; and the decision that
resumes it is validated in one place before it changes the report.

Flow of one round, on thread `<case thread>:signoff`:

    prepare (read report.json) → review (interrupt: wait for the clinician)
      → record (append SignOff, status preliminary → final | amended,
                re-render report.json and the other outputs atomically)
    then (submit_signoff) the signed report replaces the preliminary one in
    the case thread's state, so follow-up questions and reopened cases read
    the signed report.

Transitions: a preliminary report can be *signed* (→ final) or *amended*
(→ amended; the comment says what the clinician changed or adds). A final or
amended report can only be amended again; signing it twice is refused. An
amendment without a comment is refused. A new round on the same thread
starts after the previous one ended (an amendment after signing).
"""

from __future__ import annotations

import fcntl
import operator
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, TypedDict

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.report import Report, SignOff

Action = Literal["signed", "amended"]

# Outputs re-rendered after a sign-off when they already exist beside
# report.json (report.json itself is always rewritten, last).
RERENDERED = {"md": "report.md", "html": "report.html", "pdf": "report.pdf", "fhir": "report.fhir.json"}
SR_FILE = "report.sr.dcm"
MAX_COMMENT = 4000


class SignoffError(ValueError):
    """A decision that cannot be recorded; the message is shown to the clinician."""


class SignoffDecision(BaseModel):
    """What the clinician decided. Text is cleaned of control characters:
    it is shown back in the report and the UI."""

    model_config = ConfigDict(extra="forbid")

    clinician: str = Field(min_length=1, max_length=120)
    action: Action = "signed"
    comment: str | None = Field(None, max_length=MAX_COMMENT)

    @field_validator("clinician", mode="before")
    @classmethod
    def _name(cls, v: Any) -> Any:
        v = _clean_text(v) if isinstance(v, str) or v is None else v
        if not v:
            raise ValueError("the clinician's name is required")
        return v

    @field_validator("comment", mode="before")
    @classmethod
    def _comment(cls, v: Any) -> Any:
        return (_clean_text(v) or None) if isinstance(v, str) else v


def _clean_text(text: str | None) -> str:
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text or "").strip()


def allowed_actions(status: str) -> list[Action]:
    return ["signed", "amended"] if status == "preliminary" else ["amended"]


def check_transition(status: str, decision: SignoffDecision) -> None:
    """Raise SignoffError if `decision` may not be applied to a report in `status`."""
    if decision.action == "signed" and status != "preliminary":
        raise SignoffError(f"the report is already {status}; to change it, record an amendment with a comment")
    if decision.action == "amended" and not decision.comment:
        raise SignoffError("an amendment needs a comment saying what was changed or added")


def status_after(action: Action) -> Literal["final", "amended"]:
    return "final" if action == "signed" else "amended"


def signoff_thread_id(case_thread: str) -> str:
    return f"{case_thread}:signoff"


@dataclass
class PendingSignoff:
    """A sign-off round paused for the clinician's decision."""

    thread_id: str
    report_dir: str
    report_id: str
    case_id: str
    status: str
    allowed: list[str] = field(default_factory=list)
    error: str | None = None


class SignoffState(TypedDict, total=False):
    report_dir: str
    report_id: str
    case_id: str
    status: str
    decision: dict
    outcome: dict
    history: Annotated[list[dict], operator.add]


def _load(report_dir: str | Path) -> Report:
    path = Path(report_dir) / "report.json"
    if not path.is_file():
        raise SignoffError(f"no report.json in {Path(report_dir).name}: nothing to sign")
    return Report.model_validate_json(path.read_text(encoding="utf-8"))


@contextmanager
def _locked(report_dir: str | Path) -> Iterator[None]:
    """Serialise sign-offs of one report (two tabs clicking at once)."""
    lock = Path(report_dir) / ".signoff.lock"
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def rerender(report: Report, report_dir: str | Path, sources: list[str] | None = None) -> dict[str, Path]:
    """Rewrite the outputs that exist beside report.json (json last, each
    atomically). A DICOM SR needs the source DICOM files: it is rewritten
    only when `sources` are given."""
    from agent.render import write_report

    out = Path(report_dir)
    formats = [fmt for fmt, name in RERENDERED.items() if (out / name).exists()]
    written = write_report(report, out, formats)
    if sources and (out / SR_FILE).exists():
        from agent.render.sr import write_sr

        sr = write_sr(report, out, sources)
        if sr is not None:
            written["sr"] = sr
    return written


# --- nodes -----------------------------------------------------------------


def _node_prepare(state: SignoffState, config: RunnableConfig) -> dict:
    report = _load(state["report_dir"])
    return {"report_id": report.report_id, "case_id": report.case_id, "status": report.status, "decision": {}, "outcome": {}}


def _node_review(state: SignoffState, config: RunnableConfig) -> dict:
    """Pause until a valid decision arrives. An invalid one (normally caught
    before resuming) pauses again with the reason, per LangGraph's
    validate-in-a-loop pattern."""
    from langgraph.types import interrupt

    request = {"report_id": state["report_id"], "case_id": state["case_id"], "status": state["status"],
               "allowed": allowed_actions(state["status"]), "error": None}  # fmt: skip
    while True:
        raw = interrupt(request)
        try:
            decision = SignoffDecision.model_validate(raw)
            check_transition(state["status"], decision)
            return {"decision": decision.model_dump(mode="json")}
        except (ValueError, SignoffError) as exc:
            request = {**request, "error": _reason(exc)}


def _node_record(state: SignoffState, config: RunnableConfig) -> dict:
    cfg = (config or {}).get("configurable", {})
    decision = SignoffDecision.model_validate(state["decision"])
    report_dir = state["report_dir"]
    with _locked(report_dir):
        report = _load(report_dir)
        try:
            if report.report_id != state["report_id"]:
                raise SignoffError("the report was replaced while it awaited sign-off; reopen it and sign again")
            check_transition(report.status, decision)  # another tab may have signed meanwhile
        except SignoffError as exc:
            return {"outcome": {"ok": False, "error": str(exc)}}
        now = cfg.get("now") or datetime.now(timezone.utc)
        so = SignOff(clinician=decision.clinician, signed_at=now, action=decision.action, comment=decision.comment)
        report.signoffs.append(so)
        report.status = status_after(decision.action)
        written = rerender(report, report_dir, cfg.get("sr_sources"))
    entry = so.model_dump(mode="json")
    return {"status": report.status, "history": [entry],
            "outcome": {"ok": True, "signoff": entry, "status": report.status, "outputs": {k: str(v) for k, v in written.items()}}}  # fmt: skip


def build_signoff_graph(checkpointer: Any):
    from langgraph.graph import END, START, StateGraph

    g = StateGraph(SignoffState)
    g.add_node("prepare", _node_prepare)
    g.add_node("review", _node_review)
    g.add_node("record", _node_record)
    g.add_edge(START, "prepare")
    g.add_edge("prepare", "review")
    g.add_edge("review", "record")
    g.add_edge("record", END)
    return g.compile(checkpointer=checkpointer)


def _reason(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", exc)).removeprefix("Value error, ")
    return str(exc)


def _pending_from(snapshot: Any, thread_id: str) -> PendingSignoff | None:
    interrupts = list(getattr(snapshot, "interrupts", ()) or ())
    if not interrupts:
        return None
    req = interrupts[-1].value
    return PendingSignoff(thread_id=thread_id, report_dir=snapshot.values.get("report_dir", ""), report_id=req["report_id"],
                          case_id=req["case_id"], status=req["status"], allowed=list(req["allowed"]), error=req.get("error"))  # fmt: skip


# --- public API ------------------------------------------------------------


def pending_signoff(thread_id: str, checkpoint_db: str | Path | None = None) -> PendingSignoff | None:
    """The paused request on this thread, or None if no round is waiting."""
    from agent.runner import sqlite_checkpointer

    with sqlite_checkpointer(checkpoint_db) as saver:
        graph = build_signoff_graph(saver)
        return _pending_from(graph.get_state({"configurable": {"thread_id": thread_id}}), thread_id)


def open_signoff(report_dir: str | Path, thread_id: str, checkpoint_db: str | Path | None = None) -> PendingSignoff:
    """Start a sign-off round for the report in `report_dir` and run it until
    it pauses for the clinician. If a round is already waiting on this
    thread for the same folder, that request is returned unchanged."""
    from agent.runner import sqlite_checkpointer

    report = _load(report_dir)  # fail early, with a readable message
    config = {"configurable": {"thread_id": thread_id}}
    with sqlite_checkpointer(checkpoint_db) as saver:
        graph = build_signoff_graph(saver)
        waiting = _pending_from(graph.get_state(config), thread_id)
        if waiting and waiting.report_id == report.report_id and Path(waiting.report_dir) == Path(report_dir):
            return waiting
        graph.invoke({"report_dir": str(report_dir)}, config)
        pending = _pending_from(graph.get_state(config), thread_id)
    if pending is None:  # pragma: no cover - the graph always pauses at review
        raise SignoffError("the sign-off did not pause for a decision")
    return pending


def submit_signoff(
    thread_id: str,
    decision: SignoffDecision | dict,
    checkpoint_db: str | Path | None = None,
    *,
    now: datetime | None = None,
    sr_sources: list[str] | None = None,
) -> Report:
    """Resume the paused round with the clinician's decision and return the
    re-rendered report. Raises SignoffError (nothing changed) when no round
    is waiting or the decision is not allowed."""
    from langgraph.types import Command

    from agent.runner import sqlite_checkpointer

    try:
        decision = decision if isinstance(decision, SignoffDecision) else SignoffDecision.model_validate(decision)
    except ValueError as exc:
        raise SignoffError(_reason(exc)) from exc
    cfg: dict[str, Any] = {"thread_id": thread_id}
    if now is not None:
        cfg["now"] = now
    if sr_sources:
        cfg["sr_sources"] = list(sr_sources)
    config = {"configurable": cfg}
    with sqlite_checkpointer(checkpoint_db) as saver:
        graph = build_signoff_graph(saver)
        pending = _pending_from(graph.get_state(config), thread_id)
        if pending is None:
            raise SignoffError("no sign-off is waiting for this report; open one first")
        check_transition(_load(pending.report_dir).status, decision)
        graph.invoke(Command(resume=decision.model_dump(mode="json")), config)
        values = graph.get_state(config).values
        outcome = values.get("outcome") or {}
        if not outcome.get("ok"):
            raise SignoffError(outcome.get("error") or "the sign-off was not recorded")
        report = _load(values["report_dir"])
        update_case_thread(saver, case_thread_of(thread_id), report)
    return report


def case_thread_of(signoff_thread: str) -> str | None:
    """'<case thread>:signoff' → '<case thread>' (None for other names)."""
    suffix = signoff_thread_id("")
    return signoff_thread[: -len(suffix)] if signoff_thread.endswith(suffix) and len(signoff_thread) > len(suffix) else None


def update_case_thread(saver: Any, case_thread: str | None, report: Report) -> bool:
    """Store the signed report in its case thread, so everything that reads
    the case from its thread (follow-up questions, a reopened case, a batch
    case reopened for chat) sees the signed report with who and when — not
    the preliminary one the graph wrote. Only the same report is replaced
    (same report_id); returns whether the thread was updated."""
    if not case_thread:
        return False
    from agent.graph import build_graph

    graph = build_graph(saver)
    config = {"configurable": {"thread_id": case_thread}}
    stored = (graph.get_state(config).values or {}).get("report") or {}
    if stored.get("report_id") != report.report_id:
        return False
    graph.update_state(config, {"report": report.model_dump(mode="json")}, as_node="render")
    return True


def sign_report(
    report_dir: str | Path,
    decision: SignoffDecision | dict,
    thread_id: str,
    checkpoint_db: str | Path | None = None,
    **kwargs: Any,
) -> Report:
    """Open a round and record the decision in one call (scripts, batch)."""
    open_signoff(report_dir, thread_id, checkpoint_db)
    return submit_signoff(thread_id, decision, checkpoint_db, **kwargs)
