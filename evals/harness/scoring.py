"""Score one case: compare what the agent produced with what case.yaml expects.

Everything here is a pure function of (case spec, report or refusal, chat
answers), so the scores can be unit-tested on hand-made reports and
re-computed from stored per-case JSON.

What counts as what:
- a statement is *predicted present* when a report statement matching the
  key has status `present` (indeterminate is not present, and is counted);
  a statement the tool did not emit is absent;
- *tools needed* are the registered tools of the expected modalities (a
  k-space study also needs the CMR tool for its reconstructed cine); *tools
  called* are the report's tool-call records except chat re-runs;
- *hallucinated findings*: present statements listed in must_not,
  measurements listed in must_not, prose that fails a fresh run of the
  grounding verifier, and prose matching must_not.text;
- *hallucinated modalities*: studies or prose mentions of a modality that
  was not supplied or is listed in must_not (prose of narrative and
  impression; limitations are facts of the run and may name what is missing).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from evals.harness.case import ChatTurn, ExpectedMeasurement, GuidelineAlternatives, LoadedCase, statement_matches

# The tool each modality is routed to (experts/registry.py); a k-space study
# is reconstructed and its derived cine goes on to the CMR tool.
DEFAULT_TOOLS: dict[str, list[str]] = {
    "ecg": ["ecg_analyze"],
    "echo": ["echo_analyze"],
    "cmr": ["cmr_analyze"],
    "kspace": ["recon_reconstruct", "cmr_analyze"],
}


def needed_tools(case: LoadedCase) -> list[str]:
    e = case.spec.expected
    if e.tools is not None:
        return sorted(set(e.tools))
    if e.outcome == "rejected":
        return []
    return sorted({t for m in e.modalities for t in DEFAULT_TOOLS.get(m.value, [])})


def _prose(report) -> str:
    return " ".join(list(report.narrative) + [i.text for i in report.impression])


def _sections_of(report, modality) -> list:
    return [s for s in report.sections if modality is None or s.modality == modality]


def score_statements(case: LoadedCase, report) -> list[dict]:
    rows = []
    seen = set()
    expectations = [(s.key, s.patterns(), s.status == "present", s.modality, "expected") for s in case.spec.expected.statements]
    expectations += [(k, [k], False, None, "must_not") for k in case.spec.must_not.statements]
    for key, patterns, expected, modality, origin in expectations:
        if (key, origin) in seen or (origin == "must_not" and key in {r["key"] for r in rows}):
            continue
        seen.add((key, origin))
        matched, indeterminate = [], []
        if report is not None:
            for sec in _sections_of(report, modality):
                for st in sec.statements:
                    if any(statement_matches(p, st.id, st.label) for p in patterns):
                        if st.status == "present":
                            matched.append(st.id)
                        elif st.status == "indeterminate":
                            indeterminate.append(st.id)
        predicted = bool(matched)
        rows.append({"key": key, "expected": expected, "predicted": predicted, "correct": expected == predicted,
                     "matched": matched, "indeterminate": indeterminate, "origin": origin})  # fmt: skip
    return rows


def _find_measurement(report, exp: ExpectedMeasurement):
    if report is None:
        return None
    for sec in _sections_of(report, exp.modality):
        for m in sec.measurements:
            if m.name == exp.name:
                return m
    return None


def score_measurements(case: LoadedCase, report) -> list[dict]:
    rows = []
    for exp in case.spec.expected.measurements:
        m = _find_measurement(report, exp)
        row: dict[str, Any] = {"name": exp.name, "truth": exp.value, "tolerance": exp.tolerance, "unit": exp.unit, "min": exp.min,
                               "max": exp.max, "expected_flag": exp.flag, "found": m is not None, "predicted": None, "id": None}  # fmt: skip
        checks: list[bool] = []
        if m is not None:
            row.update(predicted=m.value, id=m.id, predicted_unit=m.unit, flag=m.flag)
            unit_ok = exp.unit is None or m.unit == exp.unit
            row["unit_ok"] = unit_ok
            checks.append(unit_ok)
            if exp.value is not None and unit_ok:
                row["error"] = m.value - exp.value
                if exp.tolerance is not None:
                    row["within_tolerance"] = abs(row["error"]) <= exp.tolerance
                    checks.append(row["within_tolerance"])
            if exp.min is not None:
                checks.append(m.value >= exp.min)
            if exp.max is not None:
                checks.append(m.value <= exp.max)
            if exp.flag is not None:
                checks.append(m.flag == exp.flag)
        row["pass"] = m is not None and all(checks)
        rows.append(row)
    return rows


def score_routing(case: LoadedCase, report) -> dict:
    needed = set(needed_tools(case))
    calls = [c for c in (report.provenance.tool_calls if report is not None else []) if c.requested_by != "chat"]
    called = {c.tool for c in calls}
    return {"needed": sorted(needed), "called": sorted(called), "tp": len(called & needed), "fp": len(called - needed),
            "fn": len(needed - called), "failed_calls": [f"{c.tool}({c.study_id}): {c.error}" for c in calls if not c.ok]}  # fmt: skip


def reverify(report) -> list[dict]:
    """Run the grounding verifier again on the final prose. A report that
    passed the pipeline's verifier should lose nothing; anything it loses
    is an ungrounded sentence that reached the user."""
    from agent.verifier import CaseEvidence, verify_draft

    ev = CaseEvidence.build(report.measurements(), report.statements(), report.guidelines, report.supplied_modalities())
    again = verify_draft(report.narrative, report.impression, ev)
    return [{"text": r.text, "reason": r.reason} for r in again.summary.removed]


def modalities_in_prose(text: str) -> set[str]:
    from agent.verifier import MODALITY_PATTERNS

    return {m.value for m, pat in MODALITY_PATTERNS.items() if pat.search(text)}


def claims_text(report) -> str:
    """The report prose with what only *names* things removed — citations,
    the labels of measurements and findings, and the titles and sections
    of cited guidelines ("... Chamber Quantification by Echocardiography"
    names a source, not an echo study) — as the verifier does."""
    from agent.verifier import CITATION

    text = CITATION.sub(" ", _prose(report))
    names = [m.label for m in report.measurements()] + [s.label for s in report.statements()]
    for p in report.guidelines:
        names += [p.citation(), p.guideline, p.section]
    for name in sorted(set(names), key=len, reverse=True):
        if name:
            text = text.replace(name, " ")
    return text


def score_hallucinations(case: LoadedCase, report, statements: list[dict]) -> dict:
    findings: list[str] = []
    modalities: list[str] = []
    if report is None:
        return {"findings": findings, "modalities": modalities, "ungrounded_sentences": []}
    by_key = {row["key"]: row for row in statements}
    for key in case.spec.must_not.statements:
        row = by_key.get(key)
        if row is not None and row["predicted"]:
            findings.append(f"statement {key} present ({', '.join(row['matched'])})")
    for name in case.spec.must_not.measurements:
        ids = [m.id for m in report.measurements() if m.name == name]
        if ids:
            findings.append(f"measurement {name} reported ({', '.join(ids)})")
    ungrounded = reverify(report)
    findings.extend(f"ungrounded sentence: {u['text']!r} ({u['reason']})" for u in ungrounded)
    for call in report.provenance.tool_calls:
        for opt in sorted(set(case.spec.must_not.tool_options) & set(call.options)):
            findings.append(f"tool option {opt} set on {call.tool}({call.study_id}) ({call.requested_by})")
    prose = claims_text(report)
    for pattern in case.spec.must_not.text:
        if re.search(pattern, prose, re.I):
            findings.append(f"prose matches forbidden pattern {pattern!r}")
    supplied = {m.value for m in report.supplied_modalities()}
    allowed = {m.value for m in case.spec.expected.modalities} if case.spec.expected.modalities else supplied
    forbidden = {m.value for m in case.spec.must_not.modalities}
    in_studies = {s.modality.value for s in report.studies}
    for mod in sorted(in_studies - allowed | (in_studies & forbidden)):
        modalities.append(f"{mod} study in the report")
    for mod in sorted(modalities_in_prose(claims_text(report)) - (supplied & allowed - forbidden)):
        modalities.append(f"{mod} named in the report prose")
    return {"findings": findings, "modalities": modalities, "ungrounded_sentences": ungrounded}


def _guideline_item_matches(item, passage_id: str) -> bool:
    alts = item.any_of if isinstance(item, GuidelineAlternatives) else [item]
    return any(fnmatch.fnmatchcase(passage_id, a) for a in alts)


def score_guidelines(case: LoadedCase, report) -> dict | None:
    items = case.spec.expected.guidelines
    if items is None:
        return None
    cited = sorted({p.id for p in report.guidelines}) if report is not None else []
    matched_items = [i for i, item in enumerate(items) if any(_guideline_item_matches(item, c) for c in cited)]
    allowed = case.spec.expected.guidelines_allowed
    correct_cited = [c for c in cited if any(_guideline_item_matches(item, c) for item in items) or any(fnmatch.fnmatchcase(c, a) for a in allowed)]
    # precision counts cited passages, recall counts required items: the two
    # have different denominators, so they are kept apart (not one TP count)
    return {"cited": cited, "expected": len(items), "matched_items": len(matched_items), "correct_cited": len(correct_cited),
            "wrong_cited": len(cited) - len(correct_cited), "missed_items": len(items) - len(matched_items)}  # fmt: skip


def score_abstention(case: LoadedCase, report, problems: list) -> dict | None:
    """Is refusing to measure the right answer here, and did the agent refuse?"""
    e = case.spec.expected
    if e.outcome != "rejected" and e.abstain is None:
        return None
    why: list[str] = []
    if e.outcome == "rejected":
        if report is not None:
            why.append("a report was written although the input should have been refused")
        names = " ".join(f"{p.file} {p.problem}" for p in problems)
        for f in e.rejected_files:
            if f not in names:
                why.append(f"no input problem names {f}")
    if e.abstain == "all" and report is not None:
        if report.measurements():
            why.append(f"{len(report.measurements())} measurement(s) reported")
        present = [st.id for st in report.statements() if st.status == "present"]
        if present:
            why.append(f"present finding(s): {', '.join(present)}")
    elif isinstance(e.abstain, list) and report is not None:
        prose_mods = modalities_in_prose(claims_text(report))
        for mod in e.abstain:
            supplied = mod in (e.modalities or [])  # the case supplies a study of it (expected.modalities)
            if not supplied and any(s.modality == mod for s in report.studies):
                why.append(f"a {mod.value} study appears in the report")
            if any(s.modality == mod and s.measurements for s in report.sections):
                why.append(f"{mod.value} measurements reported")
            present = [st.id for s in report.sections if s.modality == mod for st in s.statements if st.status == "present"]
            if present:
                why.append(f"present {mod.value} finding(s): {', '.join(present)}")
            # A supplied study the expert refused to measure (e.g. a non-apical
            # echo) is rightly named in the report with the reason; a modality
            # the case did not supply must not appear or be spoken of at all.
            if not supplied and mod.value in prose_mods:
                why.append(f"the report prose speaks of {mod.value}")
    return {"expected": e.abstain if e.abstain == "all" else [m.value for m in e.abstain or []] or "rejected",
            "correct": not why, "why": why}  # fmt: skip


def score_history(case: LoadedCase, report) -> dict:
    e = case.spec.expected
    out: dict[str, Any] = {}
    if e.history_quoted is not None:
        notes = (case.clinical_context().notes or "").strip()
        excerpt = (report.reported_history.notes_excerpt or "") if report is not None else ""
        quoted = bool(notes) and notes[:60] in excerpt
        out["history_quoted"] = {"expected": e.history_quoted, "actual": quoted, "correct": quoted == e.history_quoted}
    if e.instructions_flagged is not None:
        flagged = list(report.reported_history.flagged_instructions) if report is not None else []
        out["instructions_flagged"] = {"expected": e.instructions_flagged, "actual": bool(flagged), "flagged": flagged,
                                       "correct": bool(flagged) == e.instructions_flagged}  # fmt: skip
    return out


def check_chat_answer(turn: ChatTurn, answer) -> dict:
    """Compare one ChatAnswer with the expectations of its question."""
    x = turn.expect
    checks: dict[str, bool] = {}
    text = answer.text.lower()
    if x.answered is not None:
        checks["answered"] = answer.answered == x.answered
    cited_suffixes = [c.split(".", 1)[1] if "." in c else c for c in answer.cited_ids]
    for want in x.cites:
        checks[f"cites {want}"] = any(fnmatch.fnmatchcase(s, want) for s in cited_suffixes)
    for s in x.contains:
        checks[f"contains {s!r}"] = s.lower() in text
    for s in x.not_contains:
        checks[f"does not contain {s!r}"] = s.lower() not in text
    if x.intent is not None:
        checks[f"intent {x.intent}"] = answer.intent == x.intent
    if x.tool_called is not None:
        checks["tool re-run" if x.tool_called else "no tool re-run"] = bool(answer.tool_calls) == x.tool_called
    if x.value is not None:
        ms = [m for m in answer.measurements if m.name == x.value.name]
        ok = bool(ms)
        if ok and x.value.value is not None:
            ok = abs(ms[0].value - x.value.value) <= (x.value.tolerance or 0.0)
        if ok and x.value.unit is not None:
            ok = ms[0].unit == x.value.unit
        checks[f"value {x.value.name}"] = ok
    return {"checks": checks, "correct": all(checks.values()) if checks else answer.answered}


def outcome_of(report) -> str:
    return "report" if report is not None else "rejected"


def score_case(case: LoadedCase, report, problems: list, chat: list[dict] | None = None, imaging: dict | None = None) -> dict:
    """All scores of one case (JSON-able)."""
    statements = score_statements(case, report)
    g = report.grounding if report is not None else None
    scores: dict[str, Any] = {
        "outcome": {"expected": case.spec.expected.outcome, "actual": outcome_of(report),
                    "correct": case.spec.expected.outcome in ("any", outcome_of(report))},  # fmt: skip
        "statements": statements,
        "measurements": score_measurements(case, report),
        "routing": score_routing(case, report),
        "grounding": None if g is None else {
            "numbers_checked": g.numbers_checked, "numbers_traced": g.numbers_traced, "sentences_checked": g.sentences_checked,
            "sentences_removed": g.sentences_removed, "composer": g.composer, "fell_back": g.fell_back,
        },  # fmt: skip
        "hallucinations": score_hallucinations(case, report, statements),
        "guidelines": score_guidelines(case, report),
        "abstention": score_abstention(case, report, problems),
        "history": score_history(case, report),
        "chat": chat or [],
        "imaging": imaging or {},
    }
    return scores
