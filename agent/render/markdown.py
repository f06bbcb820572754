"""Markdown rendering: readable in a terminal, a git diff or an EHR text box."""

from __future__ import annotations

import re
from pathlib import Path

from agent.report import Report
from experts.core.types import Measurement, format_quantity

_CITE = re.compile(r"\s*\[(M|S|G):([^\]]+)\]")


def strip_citations(text: str) -> str:
    return _CITE.sub("", text).strip()


def reference_text(m: Measurement) -> str:
    rr = m.reference_range
    if rr is None or (rr.low is None and rr.high is None):
        return ""
    lo = format_quantity(rr.low, rr.unit, m.decimals) if rr.low is not None else "…"
    hi = format_quantity(rr.high, rr.unit, m.decimals) if rr.high is not None else "…"
    pop = f" ({rr.population})" if rr.population else ""
    return f"{lo} – {hi}{pop}"


def evidence_text(m: Measurement) -> str:
    e = m.evidence
    parts = [e.file]
    if e.location:
        parts.append(e.location)
    if e.leads:
        parts.append("leads " + ",".join(e.leads))
    if e.time_span_s:
        parts.append(f"{e.time_span_s[0]:.2f}–{e.time_span_s[1]:.2f} s")
    if e.frames:
        parts.append("frames " + ",".join(map(str, e.frames[:8])) + ("…" if len(e.frames) > 8 else ""))
    if e.slices:
        parts.append("slices " + ",".join(map(str, e.slices[:12])) + ("…" if len(e.slices) > 12 else ""))
    if e.phases:
        parts.append("phases " + ",".join(map(str, e.phases)))
    return "; ".join(parts)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report, out_dir: Path | None = None) -> str:
    lines: list[str] = []
    add = lines.append
    add(f"# CardioAgent report — case {report.case_id}")
    add("")
    add(f"**Status:** {report.status.upper()} · **Report id:** {report.report_id} · **Created:** {report.created_at:%Y-%m-%d %H:%M UTC}")
    add("")
    add(f"> {report.disclaimer}")
    add("")
    p = report.patient
    demo = [f"age {p.age_years:g} y" if p.age_years is not None else None, p.sex,
            f"height {p.height_cm:g} cm" if p.height_cm else None, f"weight {p.weight_kg:g} kg" if p.weight_kg else None]  # fmt: skip
    demo_s = ", ".join(x for x in demo if x) or "not given"
    add(f"**Patient (as supplied):** {demo_s}")
    add("")
    if report.impression:
        add("## Impression")
        for item in report.impression:
            refs = ", ".join(item.statement_ids + item.measurement_ids + item.passage_ids)
            add(f"- {strip_citations(item.text)}" + (f" _(evidence: {refs})_" if refs else ""))
        add("")
    if report.narrative:
        add("## Summary")
        for para in report.narrative:
            add(strip_citations(para))
            add("")
    for section in report.sections:
        add(f"## {section.modality.display} — {section.study_id}")
        add(f"Files: {', '.join(section.files)} · Tool: {section.tool} {section.tool_version} · Quality: **{section.quality.verdict}**"
            + (f" ({'; '.join(section.quality.reasons)})" if section.quality.reasons else ""))  # fmt: skip
        add("")
        if section.measurements:
            add("| Measurement | Value | Flag | Reference | Method | Evidence | Id |")
            add("|---|---|---|---|---|---|---|")
            for m in section.measurements:
                add(f"| {_md_cell(m.label)} | {m.with_unit()} | {m.flag or ''} | {_md_cell(reference_text(m))} | {_md_cell(m.method)} | "
                    f"{_md_cell(evidence_text(m))} | `{m.id}` |")  # fmt: skip
            add("")
        if section.statements:
            add("| Finding | Status | Criteria | Id |")
            add("|---|---|---|---|")
            for st in section.statements:
                crit = "; ".join(
                    f"{c.measurement_id.split('.')[-1]} {c.operator} {c.threshold:g} {c.unit} ({'met' if c.met else 'not met'}"
                    + (f"; {c.guideline.short()}" if c.guideline else "") + ")"
                    for c in st.criteria
                )  # fmt: skip
                add(f"| {_md_cell(st.label)} | {st.status} | {_md_cell(crit)} | `{st.id}` |")
            add("")
        for a in section.artifacts:
            if a.media_type == "image/png" and out_dir is not None:
                try:
                    rel = Path(a.path).resolve().relative_to(Path(out_dir).resolve())
                except ValueError:
                    rel = Path(a.path)
                add(f"![{a.title}]({rel.as_posix()})")
                add("")
    if report.guidelines:
        add("## Guideline passages cited")
        for g in report.guidelines:
            add(f"- **[{g.id}]** {g.citation()}: {g.text}")
        add("")
    rh = report.reported_history
    if rh.indication or rh.notes_excerpt:
        add("## Reported history (as supplied, not verified)")
        if rh.indication:
            add(f"Indication: {rh.indication}")
        if rh.notes_excerpt:
            add("")
            add("```text")
            add(rh.notes_excerpt)
            add("```")
        if rh.flagged_instructions:
            add("")
            add("Text in the notes that reads like instructions to the system was ignored:")
            for f in rh.flagged_instructions:
                add(f"- “{f}”")
        add("")
    if report.limitations:
        add("## Limitations")
        for lim in report.limitations:
            add(f"- {lim}")
        add("")
    g = report.grounding
    add("## Grounding")
    add(f"Composer: {g.composer}{' (fallback after failed LLM drafts)' if g.fell_back else ''}. Sentences checked {g.sentences_checked}, "
        f"kept {g.sentences_kept}, removed {g.sentences_removed}; numbers traced {g.numbers_traced}/{g.numbers_checked}.")  # fmt: skip
    for r in g.removed:
        add(f"- removed ({r.where}): “{r.text}” — {r.reason}")
    add("")
    pv = report.provenance
    add("## Provenance")
    add(f"{pv.app} {pv.app_version}, schema {pv.schema_version}, backend {pv.backend}" + (f" ({pv.llm_model})" if pv.llm_model else ""))
    for t in pv.tools:
        add(f"- tool {t.tool} {t.version}" + (f", model {t.model}" if t.model else "") + (f", weights sha256 {t.weights_sha256[:16]}…" if t.weights_sha256 else ""))
    for step in pv.plan:
        add(f"- plan: {step}")
    for c in pv.tool_calls:
        add(f"- call {c.tool}({c.study_id}) {'ok' if c.ok else 'FAILED: ' + (c.error or '')} in {c.runtime_s:.2f} s")
    if pv.retrieval_note:
        add(f"- retrieval: {pv.retrieval_note}")
    for s in report.signoffs:
        add(f"- {s.action} by {s.clinician} at {s.signed_at:%Y-%m-%d %H:%M UTC}" + (f": {s.comment}" if s.comment else ""))
    add("")
    return "\n".join(lines)
