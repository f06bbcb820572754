"""Markdown rendering: readable in a terminal, a git diff or an EHR text box.

Every piece of text that is not our own markup is escaped (`_md`): file
names, the case id, the indication, notes quotes, patient fields, and the
tool and model text that may quote them, so a file named
`<img src=x onerror=alert(1)>.dcm` or an indication `**bold**` prints
literally in a Markdown viewer instead of becoming HTML or formatting.
"""

from __future__ import annotations

import re
from pathlib import Path

from agent.render.provenance import (
    citations,
    grounding_view,
    measurement_row,
    section_source,
    no_impression_text,
    patient_view,
    provenance_view,
    signed_line,
    statement_row,
    strip_citations,
    citation_text,
)
from agent.report import Report


# '_' inside a word (p_wave_beats) cannot start emphasis in CommonMark and stays as is
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&#]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def _md(text: object) -> str:
    """Text shown literally by any CommonMark/GFM renderer: Markdown
    punctuation and HTML-significant characters backslash-escaped, line
    breaks flattened (a cell or a list item stays one line)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\r", " ").replace("\n", " ")


def _md_cell(text: object) -> str:
    return _md(text)


def _fence(text: str) -> str:
    """A code fence longer than any backtick run in the text."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def render_markdown(report: Report, out_dir: Path | None = None) -> str:
    lines: list[str] = []
    add = lines.append
    add(f"# CardioAgent report — case {_md(report.case_id)}")
    add("")
    add(f"**Status:** {report.status.upper()} · **Report id:** {_md(report.report_id)} · **Created:** {report.created_at:%Y-%m-%d %H:%M UTC}")
    add("")
    add(f"**Sign-off:** {_md(signed_line(report))}")
    add("")
    add(f"> {_md(report.disclaimer)}")
    add("")
    pv_patient = patient_view(report)
    add(f"**{pv_patient.heading}:** {_md(pv_patient.text)}")
    add("")
    for c in pv_patient.conflicts:
        add(f"> **Warning — patient data disagree:** {_md(c)}")
        add("")
    add("## Impression")
    for item in report.impression:
        refs = ", ".join(citations(item).all)
        add(f"- {_md(strip_citations(item.text))}" + (f" _(evidence: {_md(refs)})_" if refs else ""))
    if not report.impression:
        add(_md(no_impression_text(report)))
    add("")
    if report.narrative:
        add("## Summary")
        for para in report.narrative:
            add(_md(strip_citations(para)))
            add("")
    by_id = {m.id: m for x in report.sections for m in x.measurements}  # criteria name their measurement
    for section in report.sections:
        add(f"## {_md(section.modality.display)} — {_md(section.study_id)}")
        src = section_source(section, report)
        add(f"{_md(src.text)}" + (f" ({src.FULL_LIST_NOTE})" if src.files.folded else "") + f" · Tool: {_md(section.tool)} {_md(section.tool_version)} · Quality: **{_md(section.quality.verdict)}**"
            + (f" ({_md('; '.join(section.quality.reasons))})" if section.quality.reasons else ""))  # fmt: skip
        add("")
        if section.measurements:
            add("| Measurement | Value | Flag | Reference | Method | Evidence | Id |")
            add("|---|---|---|---|---|---|---|")
            for r in (measurement_row(m, src.series) for m in section.measurements):
                add(f"| {_md_cell(r.label)} | {_md_cell(r.value)} | {_md_cell(r.flag_text)} | {_md_cell(r.reference)} | {_md_cell(r.method)} | {_md_cell(r.evidence)} | {_md_cell(r.id)} |")
            add("")
        if section.statements:
            add("| Finding | Status | Criteria | Id |")
            add("|---|---|---|---|")
            for st in (statement_row(x, by_id) for x in section.statements):
                crit = "; ".join(c.text() for c in st.criteria)
                add(f"| {_md_cell(st.label)} | {_md_cell(st.status)} | {_md_cell(crit)} | {_md_cell(st.id)} |")
            add("")
        for a in section.artifacts:
            if a.media_type == "image/png" and out_dir is not None:
                try:
                    rel = Path(a.path).resolve().relative_to(Path(out_dir).resolve())
                except ValueError:
                    rel = Path(a.path)
                add(f"![{_md(a.title)}](<{rel.as_posix().replace('<', '%3C').replace('>', '%3E')}>)")
                add("")
    if report.guidelines:
        add("## Guideline passages cited")
        for g in report.guidelines:
            add(f"- **\\[{_md(g.id)}\\]** {_md(citation_text(g))}: {_md(g.text)}")
        add("")
    rh = report.reported_history
    if rh.indication or rh.notes_excerpt:
        add("## Reported history (as supplied, not verified)")
        if rh.indication:
            add(f"Indication: {_md(rh.indication)}")
        if rh.notes_excerpt:
            add("")
            fence = _fence(rh.notes_excerpt)
            add(f"{fence}text")
            add(rh.notes_excerpt)
            add(fence)
        if rh.flagged_instructions:
            add("")
            add("Text in the notes that reads like instructions to the system was ignored:")
            for f in rh.flagged_instructions:
                add(f"- “{_md(f)}”")
        add("")
    if report.limitations:
        add("## Limitations")
        for lim in report.limitations:
            add(f"- {_md(lim)}")
        add("")
    g = grounding_view(report.grounding)
    add("## Grounding")
    add(_md(g.summary))
    for line in g.removed:
        add(f"- {_md(line)}")
    add("")
    pv = provenance_view(report)
    add("## Provenance")
    add(_md(pv.summary))
    for line in pv.lines():
        add(f"- {_md(line)}")
    add("")
    if report.rejected_inputs:
        add("## Inputs not used")
        for prob in report.rejected_inputs:
            add(f"- {_md(prob.line())}")
        add("")
    return "\n".join(lines)
