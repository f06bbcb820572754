"""Run cases through the agent and write results/<suite>/<timestamp>/.

Each case goes through `agent.runner.analyze` — the same entry point as the
CLI, UI and batch runner — with a fresh backend object (so LLM usage is
per case), its own output folder and the run's own thread database (so
chat follow-ups reopen the case thread, and a run never touches the
user's threads). A case that crashes the harness is recorded as an error
and the run goes on.

    results/<suite>/<run id>/
        cases/<case id>.json      per-case: expectations, what the report said, scores, timings
        reports/<case id>/        the agent's report.json/.html and tool artifacts
        summary.json|md|html      aggregated metrics
        threads.sqlite            case threads (chat turns appended)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from evals.harness.case import REPO, LoadedCase
from evals.harness.imaging import case_imaging
from evals.harness.scoring import check_chat_answer, score_case
from evals.harness.summary import aggregate, render_html, render_markdown

Log = Callable[[str], None]


@dataclass
class RunOptions:
    backend: str = "rules"
    retrieval: str = "case"  # case | on | off
    formats: tuple[str, ...] = ("json", "html")
    bootstrap_samples: int = 1000
    command: str = ""
    notes: list[str] = field(default_factory=list)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", name)


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _report_digest(report) -> dict:
    return {
        "report_id": report.report_id,
        "modalities": sorted({s.modality.value for s in report.studies}),
        "studies": [{"study_id": s.study_id, "modality": s.modality.value, "files": s.files[:5], "n_files": len(s.files)} for s in report.studies],
        "quality": {s.study_id: s.quality.model_dump() for s in report.sections},
        "tool_calls": [c.model_dump(mode="json") for c in report.provenance.tool_calls],
        "statements": [{"id": st.id, "label": st.label, "status": st.status} for st in report.statements()],
        "measurements": [{"id": m.id, "name": m.name, "value": m.value, "unit": m.unit, "flag": m.flag} for m in report.measurements()],
        "guidelines": [p.id for p in report.guidelines],
        "impression": [i.text for i in report.impression],
        "limitations": list(report.limitations),
        "reported_history": report.reported_history.model_dump(mode="json"),
        "grounding": report.grounding.model_dump(mode="json", exclude={"removed"}),
        "plan": list(report.provenance.plan),
        "backend": report.provenance.backend,
        "llm_model": report.provenance.llm_model,
    }


def _latency(events: list[dict], case_s: float) -> dict:
    nodes: dict[str, float] = defaultdict(float)
    tools: dict[str, float] = defaultdict(float)
    for ev in events:
        if ev.get("event") == "node_end":
            nodes[ev["node"]] += float(ev.get("seconds") or 0.0)
        elif ev.get("event") == "tool_end":
            tools[ev["tool"]] += float(ev.get("seconds") or 0.0)
    return {"case_s": round(case_s, 3), "nodes": {k: round(v, 4) for k, v in nodes.items()}, "tools": {k: round(v, 4) for k, v in tools.items()}}


def _run_chat(case: LoadedCase, thread_id: str | None, report, opts: RunOptions, db: Path, run_dir: Path) -> list[dict]:
    from agent.backends import get_backend
    from agent.chat import answer

    out = []
    for turn in case.spec.chat:
        row = {"question": turn.question}
        if thread_id is None or report is None:
            row.update(answer=None, answered=False, checks={"case has a report": False}, correct=False, seconds=0.0, llm_tokens=0)
            out.append(row)
            continue
        backend = get_backend(opts.backend)
        t0 = time.perf_counter()
        try:
            ans = answer(thread_id, turn.question, backend, checkpoint_db=db, out_root=run_dir / "chat" / _safe(case.id))
        except Exception as exc:
            row.update(answer=None, answered=False, error=f"{type(exc).__name__}: {exc}", checks={"no error": False}, correct=False,
                       seconds=round(time.perf_counter() - t0, 3), llm_tokens=backend.usage.tokens)  # fmt: skip
            out.append(row)
            continue
        row.update(answer=ans.text, answered=ans.answered, intent=ans.intent, cited_ids=ans.cited_ids,
                   tool_calls=[c.model_dump(mode="json") for c in ans.tool_calls], seconds=round(time.perf_counter() - t0, 3),
                   llm_tokens=backend.usage.tokens, fell_back=ans.fell_back, **check_chat_answer(turn, ans))  # fmt: skip
        out.append(row)
    return out


def run_case(case: LoadedCase, run_dir: Path, opts: RunOptions, db: Path) -> dict:
    """Analyse one case (and its chat questions) and score it. Never raises."""
    from agent.backends import get_backend
    from agent.runner import analyze

    base = {"case_id": case.qualified_id, "suite": case.suite, "description": case.spec.description, "tags": case.spec.tags,
            "source": case.spec.source, "inputs": [p.name for p in case.inputs], "folder": str(case.folder.resolve()),
            "case": case.spec.model_dump(mode="json", exclude_defaults=True)}  # fmt: skip
    out_dir = run_dir / "reports" / _safe(case.qualified_id)
    retrieval = {"on": True, "off": False}.get(opts.retrieval, case.spec.run.retrieval)
    events: list[dict] = []
    t0 = time.perf_counter()
    try:
        backend = get_backend(opts.backend)
        outcome = analyze(case.inputs, case.clinical_context(), out_dir, backend=backend, strict=case.spec.run.strict, case_id=_safe(case.id),
                          on_event=events.append, checkpoint_db=db, formats=opts.formats, retrieval=retrieval)  # fmt: skip
        case_s = time.perf_counter() - t0
        report = outcome.report
        chat = _run_chat(case, outcome.thread_id, report, opts, db, run_dir)
        imaging = case_imaging(case, report)
        scores = score_case(case, report, outcome.problems, chat, imaging)
    except Exception as exc:  # a harness or pipeline crash is a result too
        return {**base, "status": "error", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=8),
                "latency": _latency(events, time.perf_counter() - t0)}  # fmt: skip
    res = {**base, "status": "ok" if report is not None else "rejected", "thread_id": outcome.thread_id, "retrieval": retrieval,
           "problems": [p.model_dump() for p in outcome.problems], "scores": scores, "latency": _latency(events, case_s),
           "llm": {"calls": report.provenance.llm_calls if report else 0, "tokens": report.provenance.llm_tokens if report else 0}}  # fmt: skip
    if report is not None:
        res["report"] = _report_digest(report)
        for fmt_name in ("json", "html"):
            if fmt_name in outcome.outputs:
                res[f"report_{fmt_name}"] = str(Path(outcome.outputs[fmt_name]).resolve().relative_to(run_dir.resolve()))
    return res


def run_suite(suite: str, cases: list[LoadedCase], out_root: Path, opts: RunOptions, skipped: list[tuple[str, str]] | None = None,
              bad: list[tuple[str, str]] | None = None, log: Log = print, run_id: str | None = None) -> Path:  # fmt: skip
    """Run every case, write per-case JSON and the summaries; return the run folder."""
    run_id = run_id or datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = out_root / _safe(suite) / run_id
    (run_dir / "cases").mkdir(parents=True, exist_ok=True)
    db = run_dir / "threads.sqlite"
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    results: list[dict] = []
    for cid, reason in skipped or []:
        results.append({"case_id": cid, "suite": suite, "status": "skipped", "reason": reason})
    for cid, error in bad or []:
        results.append({"case_id": cid, "suite": suite, "status": "error", "error": f"invalid case: {error}"})
        log(f"  {cid}: INVALID CASE — {error}")
    for i, case in enumerate(cases, 1):
        res = run_case(case, run_dir, opts, db)
        results.append(res)
        (run_dir / "cases" / f"{_safe(case.qualified_id)}.json").write_text(json.dumps(res, indent=1, default=str) + "\n", encoding="utf-8")
        log(f"  [{i}/{len(cases)}] {case.qualified_id}: {_one_line(res)}")
    run = {
        "suite": suite, "run_id": run_id, "started": started, "wall_s": round(time.perf_counter() - t0, 1), "backend": opts.backend,
        "llm_model": next((r["report"]["llm_model"] for r in results if r.get("report", {}).get("llm_model")), None),
        "app_version": _app_version(), "git_commit": git_commit(), "tool_versions": _tool_versions(results),
        "command": opts.command or " ".join(sys.argv), "notes": opts.notes, "retrieval": opts.retrieval,
    }  # fmt: skip
    write_summaries(run_dir, results, run, opts.bootstrap_samples)
    return run_dir


def write_summaries(run_dir: Path, results: list[dict], run: dict, bootstrap_samples: int = 1000) -> dict:
    summary = aggregate(results, run, bootstrap_samples)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8")
    (run_dir / "summary.md").write_text(render_markdown(summary, results), encoding="utf-8")
    (run_dir / "summary.html").write_text(render_html(summary, results), encoding="utf-8")
    return summary


def rescore_run(run_dir: Path, bootstrap_samples: int = 1000) -> dict:
    """Score a finished run again from its stored reports and case
    specifications (after a change to the metrics, without re-running the
    agent). Chat checks are kept as they were; image metrics are recomputed
    when the case folder with its truth files still exists."""
    from agent.case import InputProblem
    from agent.report import Report
    from evals.harness.case import CaseSpec

    old = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    results = []
    for path in sorted((run_dir / "cases").glob("*.json")):
        res = json.loads(path.read_text(encoding="utf-8"))
        if res.get("status") in ("ok", "rejected") and "case" in res:
            spec = CaseSpec.model_validate(res["case"])
            folder = Path(res["folder"]) if res.get("folder") else None
            case = LoadedCase(id=spec.id or res["case_id"].split("/")[-1], folder=folder or Path("."), spec=spec, inputs=[],
                              suite=res.get("suite", ""))  # fmt: skip
            report = Report.model_validate_json((run_dir / res["report_json"]).read_text(encoding="utf-8")) if res.get("report_json") else None
            problems = [InputProblem.model_validate(p) for p in res.get("problems", [])]
            imaging = case_imaging(case, report) if folder is not None and folder.is_dir() else res["scores"].get("imaging", {})
            res["scores"] = score_case(case, report, problems, res["scores"].get("chat", []), imaging)
            path.write_text(json.dumps(res, indent=1, default=str) + "\n", encoding="utf-8")
        results.append(res)
    seen = {r["case_id"] for r in results}
    # skipped and invalid cases have no case file; keep them from the old summary
    for line in old["cases"].get("skipped_list", []):
        cid, _, why = line.partition(": ")
        if cid not in seen:
            results.append({"case_id": cid, "status": "skipped", "reason": why})
    for line in old["cases"].get("error_list", []):
        cid, _, why = line.partition(": ")
        if cid not in seen:
            results.append({"case_id": cid, "status": "error", "error": why})
    run = {**old["run"], "rescored": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return write_summaries(run_dir, results, run, bootstrap_samples)


def _one_line(res: dict) -> str:
    if res["status"] == "error":
        return f"ERROR {res['error']}"
    sc = res["scores"]
    st = sc["statements"]
    ms = sc["measurements"]
    bits = [res["status"], f"{res['latency']['case_s']:.1f} s"]
    if st:
        bits.append(f"statements {sum(x['correct'] for x in st)}/{len(st)}")
    if ms:
        bits.append(f"measurements {sum(x['pass'] for x in ms)}/{len(ms)}")
    h = sc["hallucinations"]
    if h["findings"] or h["modalities"]:
        bits.append(f"hallucinations {len(h['findings'])}+{len(h['modalities'])}")
    if sc["chat"]:
        bits.append(f"chat {sum(q['correct'] for q in sc['chat'])}/{len(sc['chat'])}")
    if sc["routing"]["failed_calls"]:
        bits.append("failed: " + "; ".join(sc["routing"]["failed_calls"])[:160])
    return ", ".join(bits)


def _app_version() -> str:
    from agent import __version__

    return __version__


def _tool_versions(results: list[dict]) -> dict[str, str]:
    """Versions of the tools this run called, from the tool classes (a failed
    call leaves no section to read a version from)."""
    called = {c["tool"] for r in results for c in (r.get("report") or {}).get("tool_calls", [])}
    out: dict[str, str] = {}
    try:
        from experts.registry import available_tools

        for t in available_tools():
            if t.name in called:
                out[t.name] = t.version
    except Exception as exc:  # an expert that fails to import is visible in its cases already
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out
