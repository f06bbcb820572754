"""Markdown rendering: readable in a terminal, a git diff or an EHR text box."""

from __future__ import annotations

from pathlib import Path

from agent.render.provenance import (
    citations,
    grounding_view,
    measurement_row,
    no_impression_text,
    provenance_view,
    signed_line,
    statement_row,
    strip_citations,
)
from agent.report import Report


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report, out_dir: Path | None = None) -> str:
    lines: list[str] = []
    add = lines.append
    add(f"# CardioAgent report — case {report.case_id}")
    add("")
    add(f"**Status:** {report.status.upper()} · **Report id:** {report.report_id} · **Created:** {report.created_at:%Y-%m-%d %H:%M UTC}")
    add("")
    add(f"**Sign-off:** {signed_line(report)}")
    add("")
    add(f"> {report.disclaimer}")
    add("")
    p = report.patient
    demo = [f"age {p.age_years:g} y" if p.age_years is not None else None, p.sex,
            f"height {p.height_cm:g} cm" if p.height_cm else None, f"weight {p.weight_kg:g} kg" if p.weight_kg else None]  # fmt: skip
    demo_s = ", ".join(x for x in demo if x) or "not given"
    add(f"**Patient (as supplied):** {demo_s}")
    add("")
    add("## Impression")
    for item in report.impression:
        refs = ", ".join(citations(item).all)
        add(f"- {strip_citations(item.text)}" + (f" _(evidence: {refs})_" if refs else ""))
    if not report.impression:
        add(no_impression_text(report))
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
            for r in map(measurement_row, section.measurements):
                add(f"| {_md_cell(r.label)} | {r.value} | {r.flag} | {_md_cell(r.reference)} | {_md_cell(r.method)} | {_md_cell(r.evidence)} | `{r.id}` |")
            add("")
        if section.statements:
            add("| Finding | Status | Criteria | Id |")
            add("|---|---|---|---|")
            for st in map(statement_row, section.statements):
                crit = "; ".join(c.text() for c in st.criteria)
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
    g = grounding_view(report.grounding)
    add("## Grounding")
    add(g.summary)
    for line in g.removed:
        add(f"- {line}")
    add("")
    pv = provenance_view(report)
    add("## Provenance")
    add(pv.summary)
    for line in pv.lines():
        add(f"- {line}")
    add("")
    return "\n".join(lines)
