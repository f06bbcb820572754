"""The LangGraph graph: intake → plan → experts (fan-out) → retrieve →
compose → verify → render.

With an agentic (LLM) backend, planning is a bounded tool-calling loop:
plan (model turn 1) → experts → collect → agent_step (results and errors go
back to the model as tool messages; model turn k) → experts → … until the
model stops calling tools or `max_plan_steps` turns are used. Calls are
validated before they run, supplied studies the model ignores are still
analysed (required calls), and every call is in the report's provenance.

Why LangGraph: a case is a thread with a checkpoint after every node (a
crash resumes where it stopped, a follow-up question reopens the thread),
expert calls fan out in parallel with `Send`, and progress streams node by
node to the CLI and UI. State holds plain JSON-able dicts so any
checkpointer can store it; the typed models are rebuilt at each node.
"""

from __future__ import annotations

import operator
import time
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Callable, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from agent.backends import get_backend
from agent.backends.base import Backend, ComposeInput, PlannedCall
from agent.backends.toolcalls import RejectedCall, digest_text, parse_call, tool_specs
from agent.case import CaseInput, InputProblem, sanitise_text
from agent.compose import compose as rules_compose
from agent.intake.group import IntakeResult, intake
from agent.patient import resolve_from_files
from agent.notes import reported_history
from agent.report import (
    GroundingSummary,
    ImpressionItem,
    ModalitySection,
    Provenance,
    Report,
    StudySummary,
    ToolCallRecord,
    ToolProvenance,
)
from agent.verifier import CaseEvidence, verify_draft
from experts.core.errors import InputError, ToolUnavailable
from experts.core.tool import ExpertTool, ToolRequest
from experts.core.types import ExpertResult, Modality, StudyInput
from experts.registry import NoToolForModality, load_tool, tool_for_name
from retrieval.types import GuidelinePassage

MAX_DERIVED_ROUNDS = 2
MAX_COMPOSE_ATTEMPTS = 2
MAX_CALLS_PER_TURN = 8  # a model asking for more in one turn is told to slow down


def _merge(a: dict, b: dict) -> dict:
    return {**a, **b}


class CaseState(TypedDict, total=False):
    case: dict
    intake: dict
    abort: list[dict]
    plan_log: list[str]
    plan_calls: list[dict]
    calls: Annotated[list[dict], operator.add]
    results: Annotated[list[dict], operator.add]
    analysed: Annotated[list[str], operator.add]
    unavailable: Annotated[list[str], operator.add]
    derived_round: int
    passages: list[dict]
    passages_for: dict
    retrieval_note: str | None
    draft: dict
    compose_attempts: int
    feedback: list[str]
    grounding: dict
    report: dict
    outputs: dict
    timings: Annotated[dict, _merge]
    # agentic planning (LLM backends): the conversation is JSON, so it is
    # checkpointed with the thread like everything else
    agentic: bool
    agent_messages: list[dict]
    agent_step: int
    agent_done: bool
    agent_pending: list[dict]
    agent_seen: dict
    call_outcomes: Annotated[list[dict], operator.add]
    llm_errors: Annotated[list[str], operator.add]
    llm_down: bool  # the model was unreachable: do not wait for it again this case
    # follow-up questions on this case (agent.chat), appended turn by turn
    chat: Annotated[list[dict], operator.add]


def _cfg(config: RunnableConfig) -> dict:
    return config.get("configurable", {}) if config else {}


def _backend(config: RunnableConfig) -> Backend:
    cfg = _cfg(config)
    backend = cfg.get("backend")
    if isinstance(backend, Backend):
        return backend
    return get_backend(backend)


def _emit(event: dict) -> None:
    try:
        get_stream_writer()(event)
    except Exception:  # no stream consumer (e.g. invoke without streaming)
        pass


def _timed(name: str, fn: Callable[[CaseState, RunnableConfig], dict]) -> Callable[[CaseState, RunnableConfig], dict]:
    def wrapper(state: CaseState, config: RunnableConfig) -> dict:
        _emit({"event": "node_start", "node": name})
        t0 = time.perf_counter()
        out = fn(state, config) or {}
        dt = round(time.perf_counter() - t0, 4)
        timings = {name: round(dt + state.get("timings", {}).get(name, 0.0), 4)} if name != "run_expert" else {}
        out = {**out, "timings": {**out.get("timings", {}), **timings}}
        _emit({"event": "node_end", "node": name, "seconds": dt})
        return out

    wrapper.__name__ = name
    return wrapper


# --- nodes -----------------------------------------------------------------


def node_intake(state: CaseState, config: RunnableConfig) -> dict:
    case = CaseInput.model_validate(state["case"])
    result = intake(case.paths, case.display_names)
    for note in result.notes:  # note files supplied among the inputs join the context
        text = Path(note.path).read_text(encoding="utf-8", errors="replace")
        ctx = case.context
        if ctx.notes and sanitise_text(text).strip() in ctx.notes:
            continue  # the same notes were also given with --context
        ctx.notes = sanitise_text(((ctx.notes + "\n\n") if ctx.notes else "") + text)
        ctx.notes_source = ctx.notes_source or note.display_name
    # Demographics from the files' metadata fill what flags/context leave empty; disagreements are recorded (agent/patient.py)
    case.context.patient = resolve_from_files(case.context.patient, result.studies)
    strict = _cfg(config).get("strict", True)
    abort: list[dict] = []
    if not result.studies:
        why = "no analysable study among the inputs"
        abort = [p.model_dump() for p in result.problems] or [InputProblem(file=", ".join(case.paths[:3]), problem=why).model_dump()]
    elif strict and result.problems:
        abort = [p.model_dump() for p in result.problems]
    _emit({"event": "intake", "studies": [(s.study_id, s.modality.value) for s in result.studies], "problems": len(result.problems)})
    return {"intake": result.model_dump(mode="json"), "case": case.model_dump(mode="json"), "abort": abort}


def _tools_by_modality() -> tuple[dict[Modality, ExpertTool], list[str]]:
    tools: dict[Modality, ExpertTool] = {}
    missing: list[str] = []
    for modality in Modality:
        try:
            tools[modality] = load_tool(modality)
        except NoToolForModality as exc:
            missing.append(str(exc))
    return tools, missing


def _complete_plan(planned: list[PlannedCall], studies: list[StudyInput], tools: dict[Modality, ExpertTool]) -> tuple[list[PlannedCall], list[str]]:
    """Drop calls to unknown tools/studies; add a required call for every
    supplied study the plan left out (an LLM may not ignore a modality)."""
    ids = {s.study_id: s for s in studies}
    log: list[str] = []
    valid: list[PlannedCall] = []
    for call in planned:
        study = ids.get(call.study_id)
        tool = tools.get(study.modality) if study else None
        if study is None or tool is None or tool.name != call.tool:
            log.append(f"dropped invalid call {call.tool}({call.study_id})")
            continue
        valid.append(call)
        opts = "".join(f", {k}={v!r}" for k, v in call.options.items())
        log.append(f"{call.requested_by}: {call.tool}({call.study_id}{opts}){' — ' + call.reason if call.reason else ''}")
    covered = {c.study_id for c in valid}
    for s in studies:
        if s.study_id not in covered and s.modality in tools:
            valid.append(PlannedCall(tool=tools[s.modality].name, study_id=s.study_id, requested_by="required", reason="supplied study not in plan"))
            log.append(f"required: {tools[s.modality].name}({s.study_id}) — supplied study not in plan")
    return valid, log


def node_plan(state: CaseState, config: RunnableConfig) -> dict:
    ir = IntakeResult.model_validate(state["intake"])
    case = CaseInput.model_validate(state["case"])
    tools, _missing = _tools_by_modality()
    backend = _backend(config)
    enabled = _cfg(config).get("enabled_modalities")
    switched_off = {m for m in tools if enabled is not None and m.value not in enabled}
    unavailable = [
        f"{s.modality.display} analysis was switched off for this run; {s.study_id} was not analysed."
        if s.modality in switched_off
        else f"No {s.modality.display} expert is available in this build; {s.study_id} was not analysed."
        for s in ir.studies
        if s.modality not in tools or s.modality in switched_off
    ]
    tools = {m: t for m, t in tools.items() if m not in switched_off}
    if backend.agentic:
        from agent.backends.prompts import planning_messages

        messages = planning_messages(ir.studies, ir.problems, unavailable, case.context)
        turn = _agent_turn(backend, messages, ir.studies, tools, step=1, ran=[])
        calls, log = _complete_plan(turn.pop("accepted"), ir.studies, tools)
        log = turn.pop("log") + log
        return {**turn, "plan_log": log, "plan_calls": [c.__dict__ for c in calls], "agentic": True,
                "agent_seen": {"results": 0, "calls": 0}, "unavailable": unavailable, "derived_round": 0}  # fmt: skip
    planned = backend.plan(ir.studies, tools, case.context)
    calls, log = _complete_plan(planned, ir.studies, tools)
    return {"plan_log": log, "unavailable": unavailable, "derived_round": 0, "plan_calls": [c.__dict__ for c in calls]}


def _agent_turn(backend: Backend, messages: list[dict], studies: list[StudyInput], tools: dict[Modality, ExpertTool], step: int,
                ran: list[dict]) -> dict:  # fmt: skip
    """One model turn: ask, validate each call, keep the rejections to
    answer them as tool errors next turn. A model that cannot be reached
    ends the loop; the required calls still run."""
    specs = tool_specs(tools, studies)
    log: list[str] = []
    try:
        turn = backend.plan_turn(messages, specs)
    except Exception as exc:
        from agent.backends.llm import LLMUnavailable

        why = f"{type(exc).__name__}: {exc}"
        return {"accepted": [], "log": [f"llm: planning turn {step} failed ({why}); planning continues without the model"],
                "llm_errors": [f"The language model could not plan (turn {step}): {exc}. Required analyses ran without it." if step == 1
                               else f"The language model failed during planning (turn {step}): {exc}. Planning stopped; the analyses "
                               "already run were kept."],
                "agent_messages": messages, "agent_step": step, "agent_done": True, "agent_pending": [],
                "llm_down": isinstance(exc, LLMUnavailable)}  # fmt: skip
    _emit({"event": "llm_turn", "node": "plan", "turn": step, "tool_calls": len(turn.tool_calls)})
    accepted: list[PlannedCall] = []
    pending: list[dict] = []
    this_turn: set[str] = set()
    done_before = {(r["study_id"], repr(sorted((r.get("options") or {}).items()))) for r in ran if r.get("ok")}
    for i, req in enumerate(turn.tool_calls):
        try:
            if i >= MAX_CALLS_PER_TURN:
                raise RejectedCall(f"at most {MAX_CALLS_PER_TURN} calls per turn")
            call = parse_call(req, tools, studies, specs)
            if call.study_id in this_turn:
                raise RejectedCall(f"{call.study_id} is already being analysed in this turn; one call per study per turn")
            if (call.study_id, repr(sorted(call.options.items()))) in done_before:
                raise RejectedCall(f"{call.study_id} was already analysed with these options; use the result above")
            this_turn.add(call.study_id)
            accepted.append(call)
            pending.append({"call_id": req.id, "tool": call.tool, "study_id": call.study_id})
        except RejectedCall as exc:
            pending.append({"call_id": req.id, "tool": req.name, "error": str(exc)})
            log.append(f"llm: rejected {req.name}({req.arguments[:160]}) — {exc}")
    done = not turn.tool_calls
    if done:
        log.append(f"llm: planning finished after {step} turn{'s' if step > 1 else ''}" + (f" — {turn.text[:300]}" if turn.text else ""))
    return {"accepted": accepted, "log": log, "agent_messages": messages + [turn.message], "agent_step": step,
            "agent_done": done, "agent_pending": pending}  # fmt: skip


def _all_studies(state: CaseState) -> list[StudyInput]:
    studies = list(IntakeResult.model_validate(state["intake"]).studies)
    for r in state.get("results", []):
        studies.extend(StudyInput.model_validate(d) for d in r.get("derived_studies", []))
    return studies


def _tool_messages(state: CaseState) -> list[dict]:
    """Answer every call of the model's last turn (result digest or error),
    then tell it what else ran (required calls, derived studies)."""
    outcomes = {o["call_id"]: o for o in state.get("call_outcomes", [])}
    seen = state.get("agent_seen") or {"results": 0, "calls": 0}
    results, calls = state.get("results", []), state.get("calls", [])
    latest = {r["study_id"]: r for r in results}
    messages: list[dict] = []
    asked: set[str] = set()
    for p in state.get("agent_pending", []):
        if p.get("error"):
            content = f"ERROR: {p['error']}"
        else:
            asked.add(p["study_id"])
            o = outcomes.get(p["call_id"])
            if o is None:
                content = "ERROR: the call did not run"
            elif not o["ok"]:
                content = f"ERROR: {o['error']}"
            else:
                content = digest_text(latest[p["study_id"]])
        messages.append({"role": "tool", "tool_call_id": p["call_id"], "content": content})
    extra = [digest_text(r) for r in results[seen["results"]:] if r["study_id"] not in asked]
    extra += [f"ERROR: {c['tool']} on {c['study_id']}: {c['error']}" for c in calls[seen["calls"]:]
              if not c["ok"] and c["requested_by"] != "llm"]  # fmt: skip
    if extra:
        messages.append({"role": "user", "content": "The system also ran these required analyses (studies you did not call, "
                         "or studies derived by a tool):\n" + "\n".join(extra)})  # fmt: skip
    return messages


def node_agent_step(state: CaseState, config: RunnableConfig) -> dict:
    backend = _backend(config)
    tools, _ = _tools_by_modality()
    messages = list(state.get("agent_messages", [])) + _tool_messages(state)
    step = state.get("agent_step", 1) + 1
    seen = {"results": len(state.get("results", [])), "calls": len(state.get("calls", []))}
    log = list(state.get("plan_log", []))
    if step > backend.max_plan_steps:
        log.append(f"llm: step limit reached ({backend.max_plan_steps} turns); planning stopped")
        return {"agent_messages": messages, "agent_done": True, "agent_pending": [], "agent_seen": seen, "plan_calls": [],
                "plan_log": log}  # fmt: skip
    turn = _agent_turn(backend, messages, _all_studies(state), tools, step, state.get("calls", []))
    calls = turn.pop("accepted")
    log += turn.pop("log")
    for c in calls:
        opts = "".join(f", {k}={v!r}" for k, v in c.options.items())
        log.append(f"llm (turn {step}): {c.tool}({c.study_id}{opts})")
    return {**turn, "plan_log": log, "plan_calls": [c.__dict__ for c in calls], "agent_seen": seen}


def route_after_agent_step(state: CaseState) -> list[Send] | str:
    sends = _dispatch(state.get("plan_calls", []), _all_studies(state), state)
    return sends or "collect"


def _dispatch(calls: list[dict], studies: list[StudyInput], state: CaseState) -> list[Send]:
    by_id = {s.study_id: s for s in studies}
    case = state["case"]
    return [
        Send("run_expert", {"call": c, "study": by_id[c["study_id"]].model_dump(mode="json"), "case": case})
        for c in calls
        if c["study_id"] in by_id
    ]


def route_after_plan(state: CaseState) -> list[Send] | str:
    studies = IntakeResult.model_validate(state["intake"]).studies
    sends = _dispatch(state.get("plan_calls", []), studies, state)
    return sends or "collect"


def node_run_expert(payload: dict, config: RunnableConfig) -> dict:
    """Run one tool on one study. Errors become records, never crashes:
    the case goes on with the other studies."""
    call = payload["call"]
    study = StudyInput.model_validate(payload["study"])
    case = CaseInput.model_validate(payload["case"])
    out_dir = Path(_cfg(config).get("out_dir") or ".") / "artifacts" / study.study_id
    _emit({"event": "tool_start", "tool": call["tool"], "study_id": study.study_id})
    t0 = time.perf_counter()
    record = ToolCallRecord(tool=call["tool"], study_id=study.study_id, options=call.get("options") or {}, ok=False,
                            requested_by=call.get("requested_by", "planner"))  # fmt: skip
    results: list[dict] = []
    try:
        tool = tool_for_name(call["tool"])
        request = ToolRequest(study=study, patient=case.context.patient, output_dir=str(out_dir), options=call.get("options") or {})
        result = tool.run(request)
        results.append(result.model_dump(mode="json"))
        record.ok = True
    except (InputError, ToolUnavailable) as exc:
        record.error = str(exc)
    except Exception as exc:  # a bug in a tool must not take the case down
        record.error = f"internal error in {call['tool']}: {type(exc).__name__}: {exc}"
        if _cfg(config).get("debug"):
            traceback.print_exc()
    record.runtime_s = round(time.perf_counter() - t0, 4)
    _emit({"event": "tool_end", "tool": call["tool"], "study_id": study.study_id, "ok": record.ok, "error": record.error,
           "seconds": record.runtime_s})  # fmt: skip
    out = {"calls": [record.model_dump(mode="json")], "results": results, "analysed": [study.study_id]}
    if call.get("call_id"):
        out["call_outcomes"] = [{"call_id": call["call_id"], "study_id": study.study_id, "ok": record.ok, "error": record.error}]
    return out


def node_collect(state: CaseState, config: RunnableConfig) -> dict:
    return {"derived_round": state.get("derived_round", 0) + 1}


def _derived_pending(state: CaseState) -> list[StudyInput]:
    done = set(state.get("analysed", []))
    pending = []
    for r in state.get("results", []):
        for d in r.get("derived_studies", []):
            s = StudyInput.model_validate(d)
            if s.study_id not in done:
                pending.append(s)
    return pending


def route_after_collect(state: CaseState) -> list[Send] | str:
    """Studies a tool derived (e.g. CMR reconstructed from k-space) go to
    their own expert, for a bounded number of rounds."""
    after = "agent_step" if state.get("agentic") and not state.get("agent_done") else "retrieve"
    pending = _derived_pending(state)
    if not pending or state.get("derived_round", 0) > MAX_DERIVED_ROUNDS:
        return after
    tools, _ = _tools_by_modality()
    calls = [
        {"tool": tools[s.modality].name, "study_id": s.study_id, "options": {}, "requested_by": "required"}
        for s in pending
        if s.modality in tools
    ]
    return _dispatch(calls, pending, state) or after


def _latest_results(state: CaseState) -> list[dict]:
    """One result per study: a study re-run with other options (by the
    model) shows its latest result, in the place of its first."""
    latest: dict[str, dict] = {}
    for r in state.get("results", []):
        latest[r["study_id"]] = r
    return list(latest.values())


def _superseded(state: CaseState) -> list[str]:
    """Plan lines for studies analysed more than once (a model re-ran a
    tool with other options): the report shows the latest result; all of
    them stay in the case thread's checkpoints."""
    counts: dict[str, int] = {}
    for r in state.get("results", []):
        counts[r["study_id"]] = counts.get(r["study_id"], 0) + 1
    return [f"{sid}: analysed {n} times; the report shows the latest result (all are kept in the case thread)"
            for sid, n in counts.items() if n > 1]  # fmt: skip


def _sections(state: CaseState) -> list[ModalitySection]:
    from agent.derived import carry_parent_quality

    results = carry_parent_quality([ExpertResult.model_validate(r) for r in _latest_results(state)])
    return [ModalitySection.from_result(r) for r in results]


def _supplied(state: CaseState) -> set[Modality]:
    ir = IntakeResult.model_validate(state["intake"])
    supplied = {s.modality for s in ir.studies}
    for r in state.get("results", []):
        for d in r.get("derived_studies", []):
            supplied.add(Modality(d["modality"]))
    return supplied


def _findings(sections: list[ModalitySection]) -> list[tuple[str, dict]]:
    out = []
    for s in sections:
        for st in s.statements:
            if st.status == "present":
                out.append((st.id, {"kind": "statement", "name": st.id.split(".")[-1], "label": st.label, "status": st.status,
                                    "modality": s.modality.value}))  # fmt: skip
        for m in s.measurements:
            if m.flag in ("low", "high", "abnormal"):
                out.append((m.id, {"kind": "measurement", "name": m.name, "label": m.label, "value": m.value, "unit": m.unit,
                                   "flag": m.flag, "modality": s.modality.value}))  # fmt: skip
    return out


def node_retrieve(state: CaseState, config: RunnableConfig) -> dict:
    from retrieval.api import passages_for_findings

    if not _cfg(config).get("retrieval", True):
        return {"passages": [], "passages_for": {}, "retrieval_note": "guideline retrieval switched off for this run"}
    sections = _sections(state)
    modalities = sorted(m.value for m in _supplied(state))
    passages: dict[str, dict] = {}
    passages_for: dict[str, list[str]] = {}
    notes: list[str] = []
    for finding_id, finding in _findings(sections):
        try:
            outcome = passages_for_findings([finding], modalities, k=_cfg(config).get("passages_per_finding", 2))
        except Exception as exc:  # retrieval must never sink a report
            notes.append(f"guideline retrieval failed: {type(exc).__name__}: {exc}")
            break
        if outcome.note:
            notes.append(outcome.note)
        for p in outcome.passages:
            passages[p.id] = p.model_dump(mode="json")
            passages_for.setdefault(finding_id, []).append(p.id)
    note = "; ".join(sorted(set(notes))) or None
    return {"passages": list(passages.values()), "passages_for": passages_for, "retrieval_note": note}


def _compose_input(state: CaseState) -> ComposeInput:
    ir = IntakeResult.model_validate(state["intake"])
    case = CaseInput.model_validate(state["case"])
    passages = {p["id"]: GuidelinePassage.model_validate(p) for p in state.get("passages", [])}
    with_result = {r["study_id"] for r in state.get("results", [])}
    return ComposeInput(
        sections=_sections(state),
        passages_for={k: [passages[i] for i in v if i in passages] for k, v in state.get("passages_for", {}).items()},
        supplied=_supplied(state),
        problems=ir.problems,
        # a failed re-run does not make a study's earlier result a failure
        failed_calls=[ToolCallRecord.model_validate(c) for c in state.get("calls", []) if not c["ok"] and c["study_id"] not in with_result],
        unavailable=list(state.get("unavailable", [])),
        context=case.context,
        feedback=list(state.get("feedback", [])),
    )


def node_compose(state: CaseState, config: RunnableConfig) -> dict:
    inp = _compose_input(state)
    attempts = state.get("compose_attempts", 0)
    backend = _backend(config)
    # Limitations always come from the rules composer: they are facts of
    # the run (what was supplied, what failed), not prose to be drafted.
    rules = rules_compose(inp.sections, inp.passages_for, inp.supplied, inp.problems, inp.failed_calls, inp.unavailable, inp.context)
    composer = backend.name
    errors: list[str] = []
    if attempts >= MAX_COMPOSE_ATTEMPTS:
        draft, composer = rules, "rules"
    elif state.get("llm_down"):
        draft, composer = rules, "rules"
        errors.append("The language model could not draft the report: it was unreachable. The deterministic composer wrote it.")
    else:
        try:
            draft = backend.compose(inp)
        except Exception as exc:
            draft, composer = rules, "rules"
            inp.feedback.append(f"backend compose failed: {type(exc).__name__}: {exc}")
            if backend.name != "rules":
                errors.append(f"The language model could not draft the report: {exc}. The deterministic composer wrote it.")
    llm_errors = list(dict.fromkeys(state.get("llm_errors", []) + errors))
    out = {} if not errors else {"llm_errors": errors}
    return {
        **out,
        "draft": {
            "narrative": draft.narrative,
            "impression": [i.model_dump() for i in draft.impression],
            "limitations": rules.limitations + llm_errors,
            "composer": composer,
            "fell_back": attempts >= MAX_COMPOSE_ATTEMPTS or (composer == "rules" and backend.name != "rules"),
        },
        "compose_attempts": attempts + 1,
    }


def node_verify(state: CaseState, config: RunnableConfig) -> dict:
    sections = _sections(state)
    ev = CaseEvidence.build(
        [m for s in sections for m in s.measurements],
        [st for s in sections for st in s.statements],
        [GuidelinePassage.model_validate(p) for p in state.get("passages", [])],
        _supplied(state),
    )
    d = state["draft"]
    verified = verify_draft(d["narrative"], [ImpressionItem.model_validate(i) for i in d["impression"]], ev, composer=d["composer"])
    verified.summary.fell_back = bool(d.get("fell_back"))
    feedback = [f"{r.text!r}: {r.reason}" for r in verified.summary.removed]
    extra = {}
    if d["composer"] != "rules" and verified.summary.removed:
        # the final grounding block describes the final prose; earlier
        # drafts' removed sentences stay auditable in the logged plan
        attempt = state.get("compose_attempts", 1)
        extra["plan_log"] = list(state.get("plan_log", [])) + [
            f"compose attempt {attempt} ({d['composer']}): removed {r.where} sentence {r.text[:200]!r} — {r.reason}"
            for r in verified.summary.removed
        ]
    return {
        **extra,
        "grounding": verified.summary.model_dump(mode="json"),
        "draft": {**d, "narrative": verified.narrative, "impression": [i.model_dump() for i in verified.impression]},
        "feedback": feedback,
    }


def route_after_verify(state: CaseState) -> str:
    g = state["grounding"]
    if g["sentences_removed"] and state["draft"]["composer"] != "rules":
        return "compose"  # feed the failures back once, then the rules composer takes over
    return "render"


def _str_or_none(value) -> str | None:
    return str(value) if value not in (None, "") else None


def build_report(state: CaseState, config: RunnableConfig) -> Report:
    case = CaseInput.model_validate(state["case"])
    ir = IntakeResult.model_validate(state["intake"])
    sections = _sections(state)
    backend = _backend(config)
    d = state["draft"]
    passages = [GuidelinePassage.model_validate(p) for p in state.get("passages", [])]
    cited = {pid for i in d["impression"] for pid in i.get("passage_ids", [])}
    tools_prov: dict[str, ToolProvenance] = {}
    for s in sections:
        for m in s.measurements:
            key = f"{m.source.tool}@{m.source.version}:{m.source.model}"
            tools_prov.setdefault(key, ToolProvenance(tool=m.source.tool, version=m.source.version, model=m.source.model,
                                                      weights_sha256=m.source.weights_sha256))  # fmt: skip
        tools_prov.setdefault(f"{s.tool}@{s.tool_version}", ToolProvenance(tool=s.tool, version=s.tool_version))
    studies = list(ir.studies)
    for r in state.get("results", []):
        studies.extend(StudyInput.model_validate(x) for x in r.get("derived_studies", []))
    return Report(
        report_id=_cfg(config).get("report_id") or f"{case.case_id}-{int(time.time())}",
        case_id=case.case_id,
        patient=case.context.patient,
        reported_history=reported_history(case.context),
        studies=[StudySummary(study_id=s.study_id, modality=s.modality, files=s.display_names or [Path(f).name for f in s.files],
                              description=s.description, acquired_at=_str_or_none(s.meta.get("acquired_at"))) for s in studies],  # fmt: skip
        sections=sections,
        narrative=d["narrative"],
        impression=[ImpressionItem.model_validate(i) for i in d["impression"]],
        guidelines=[p for p in passages if p.id in cited],
        limitations=d["limitations"],
        rejected_inputs=ir.problems,
        grounding=GroundingSummary.model_validate(state["grounding"]),
        provenance=Provenance(
            backend=backend.name,
            llm_model=backend.model,
            tools=list(tools_prov.values()),
            tool_calls=[ToolCallRecord.model_validate(c) for c in state.get("calls", [])],
            plan=list(state.get("plan_log", [])) + _superseded(state),
            node_timings_s=dict(state.get("timings", {})),
            retrieval_note=state.get("retrieval_note"),
            llm_calls=backend.usage.calls,
            llm_tokens=backend.usage.tokens,
        ),
    )


def node_render(state: CaseState, config: RunnableConfig) -> dict:
    from agent.render import write_report

    report = build_report(state, config)
    out_dir = Path(_cfg(config).get("out_dir") or ".")
    formats = _cfg(config).get("formats") or ("json", "md", "html")
    # The SR renderer references the DICOM inputs it describes; tell it
    # which files this case read (outside a batch nobody else does).
    from agent.render.sr import source_files

    studies = IntakeResult.model_validate(state["intake"]).studies
    with source_files([f for s in studies for f in s.files]):
        outputs = write_report(report, out_dir, formats)
    return {"report": report.model_dump(mode="json"), "outputs": {k: str(v) for k, v in outputs.items()}}


def route_after_intake(state: CaseState) -> str:
    return END if state.get("abort") else "plan"


def build_graph(checkpointer: Any = None):
    """The case graph bound to `checkpointer`. Compiling costs tens of
    milliseconds (type hints, signatures), so it happens once per process;
    each caller gets a cheap copy bound to its own checkpointer."""
    return _compiled_graph().copy(update={"checkpointer": checkpointer})


@lru_cache(maxsize=1)
def _compiled_graph():
    g = StateGraph(CaseState)
    g.add_node("intake", _timed("intake", node_intake))
    g.add_node("plan", _timed("plan", node_plan))
    g.add_node("run_expert", _timed("run_expert", node_run_expert))
    g.add_node("collect", _timed("collect", node_collect))
    g.add_node("agent_step", _timed("agent_step", node_agent_step))
    g.add_node("retrieve", _timed("retrieve", node_retrieve))
    g.add_node("compose", _timed("compose", node_compose))
    g.add_node("verify", _timed("verify", node_verify))
    g.add_node("render", _timed("render", node_render))
    g.add_edge(START, "intake")
    g.add_conditional_edges("intake", route_after_intake, ["plan", END])
    g.add_conditional_edges("plan", route_after_plan, ["run_expert", "collect"])
    g.add_edge("run_expert", "collect")
    g.add_conditional_edges("collect", route_after_collect, ["run_expert", "agent_step", "retrieve"])
    g.add_conditional_edges("agent_step", route_after_agent_step, ["run_expert", "collect"])
    g.add_edge("retrieve", "compose")
    g.add_edge("compose", "verify")
    g.add_conditional_edges("verify", route_after_verify, ["compose", "render"])
    g.add_edge("render", END)
    return g.compile()
