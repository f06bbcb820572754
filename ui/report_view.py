"""The report panel: a Report as an HTML fragment for the clinician.

Why our own fragment and not the downloadable report.html: the panel sits
beside the chat and is read top-down in seconds — status and impression
first, each impression item expandable to the measurements, criteria,
guideline passages and figure it rests on; key measurements before the
per-lead detail; provenance folded away. It is built from the same Report
object, so what the panel shows and what is downloaded cannot disagree.

No JavaScript: expansion uses <details>, links are in-page anchors, and
figures are embedded as data URIs (the panel must render inside locked-down
browsers and in screenshots of the tests).
"""

from __future__ import annotations

import base64
import html
import re
from collections import OrderedDict
from pathlib import Path

from agent.render.provenance import (
    criterion_row,
    evidence_text,
    grounding_view,
    measurement_row,
    section_source,
    no_impression_text,
    provenance_view,
    strip_citations,
    bounds_text,
    citation_text,
    ref_text,
    measurement_flag,
)
from agent.report import ImpressionItem, ModalitySection, Report
from experts.core.types import Measurement, Statement

e = html.escape
MAX_INLINE_IMAGE = 6 * 2**20
MAX_KEY_ROWS = 40
LEAD_ORDER = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "X", "Y", "Z"]
_CITE = re.compile(r"\s*\[(M|S|G):([^\]]+)\]")

STATUS_TEXT = {
    "preliminary": "Preliminary — not signed",
    "final": "Final — signed",
    "amended": "Amended",
}


def anchor(kind: str, ident: str) -> str:
    return f"ca-{kind}-" + re.sub(r"[^A-Za-z0-9_-]", "_", ident)


def image_data_uri(path: str | Path, media_type: str = "image/png") -> str | None:
    p = Path(path)
    try:
        if not p.is_file() or p.stat().st_size > MAX_INLINE_IMAGE:
            return None
        return f"data:{media_type};base64," + base64.b64encode(p.read_bytes()).decode("ascii")
    except OSError:
        return None


def linkify(text: str, known: set[str] | None = None) -> str:
    """Escape prose; turn [M:id] markers into small superscript links."""
    out, pos = [], 0
    for m in _CITE.finditer(text):
        out.append(e(text[pos : m.start()]))
        for ident in m.group(2).split(","):
            ident = ident.strip()
            kind = m.group(1).lower()
            if known is None or ident in known:
                out.append(f"<a class='ca-cite' href='#{anchor(kind, ident)}' title='{e(ident)}'>{kind.upper()}</a>")
        pos = m.end()
    out.append(e(text[pos:]))
    return "".join(out)


strip_markers = strip_citations  # the chat and follow-up answers import it from here


# --- measurement grouping --------------------------------------------------


def lead_of(m: Measurement) -> str | None:
    """The lead a per-lead measurement belongs to (name ends with _<lead>)."""
    leads = m.evidence.leads
    if len(leads) == 1 and m.name.endswith("_" + leads[0]):
        return leads[0]
    return None


def split_measurements(section: ModalitySection) -> tuple[list[Measurement], list[Measurement]]:
    """(key, detail): per-lead values go to the detail matrix; flagged values
    always stay in the key table."""
    key, detail = [], []
    for m in section.measurements:
        (detail if lead_of(m) and m.flag in (None, "normal") else key).append(m)
    if len(key) > MAX_KEY_ROWS:
        flagged = [m for m in key if m.flag in ("low", "high", "abnormal")]
        rest = [m for m in key if m not in flagged]
        keep = flagged + rest[: max(0, MAX_KEY_ROWS - len(flagged))]
        detail = [m for m in key if m not in keep] + detail
        key = [m for m in key if m in keep]
    return key, detail


def _flag_cell(m: Measurement) -> str:
    """The flag as the other formats give it (provenance.measurement_flag): a value
    outside its range the tool left unflagged, or of limited quality, says so."""
    flag, note = measurement_flag(m)
    note_html = f"<div class='ca-muted'>{e(note)}</div>" if note else ""
    if not flag:
        return f"<td class='ca-flag'>{note_html}</td>"
    arrow = {"high": "▲ high", "low": "▼ low", "abnormal": "● abnormal", "normal": "normal"}.get(flag, flag)
    return f"<td class='ca-flag ca-flag-{flag}'>{arrow}{note_html}</td>"


def reference_bounds(m: Measurement) -> str:
    """'390 ms – 460 ms', '≤ 110 ms', '≥ 50%', '−30° to +90°': as every format writes it."""
    rr = m.reference_range
    if rr is None:
        return ""
    return bounds_text(rr.low, rr.high, rr.unit, m.decimals)


def _reference_cell(m: Measurement) -> str:
    rr = m.reference_range
    bounds = reference_bounds(m)
    if not bounds or rr is None:
        return "<td class='ca-ref ca-muted'>—</td>"
    pop = f" <span class='ca-muted'>{e(rr.population)}</span>" if rr.population else ""
    cite = (f"<details class='ca-refsrc'><summary>source</summary>{e(ref_text(rr.source))}</details>" if rr.source else "")
    return f"<td class='ca-ref'><span class='ca-nowrap'>{e(bounds)}</span>{pop}{cite}</td>"


def measurement_rows(ms: list[Measurement], *, with_anchor: bool = True, section_quality: str | None = None, series: str | dict[str, str] = "") -> str:
    """`series`: the series source of the measurements' study, or one per study id."""
    rows = []
    for m in ms:
        r = measurement_row(m, series.get(m.id.split(".", 1)[0], "") if isinstance(series, dict) else series)
        ident = f" id='{anchor('m', r.id)}'" if with_anchor else ""
        code = f" <span class='ca-code' title='{e(r.code_display)}'>{e(r.code_text)}</span>" if r.code else ""
        # a value's quality is shown when it differs from its study's (which the section header shows)
        quality = "" if r.quality in ("usable", section_quality) else f" <span class='ca-q ca-q-{r.quality}'>{e(r.quality.replace('_', '-'))}</span>"
        rows.append(
            f"<tr{ident} class='{'ca-abn' if r.flag in ('low', 'high', 'abnormal') else ''}'>"
            f"<td class='ca-label'>{e(r.label)}{quality}{code}</td><td class='ca-val'>{e(r.value)}</td>{_flag_cell(m)}"
            f"{_reference_cell(m)}<td class='ca-ev'>{e(r.evidence)}<div class='ca-src'>{e(r.method)} · "
            f"{e(r.source)}{(' · ' + e(r.model)) if r.model else ''}</div></td></tr>"
        )
    return "".join(rows)


def measurement_table(
    ms: list[Measurement], *, with_anchor: bool = True, css: str = "ca-mtable", section_quality: str | None = None, series: str | dict[str, str] = ""
) -> str:
    if not ms:
        return ""
    rows = measurement_rows(ms, with_anchor=with_anchor, section_quality=section_quality, series=series)
    return (f"<table class='{css}'><thead><tr><th>Measurement</th><th>Value</th><th>Flag</th><th>Reference</th>"
            f"<th>Evidence · method · source</th></tr></thead><tbody>{rows}</tbody></table>")  # fmt: skip


def per_lead_matrix(ms: list[Measurement], series: str = "") -> str:
    """Per-lead values as a lead × quantity matrix (how ECG readers scan them)."""
    by_quantity: "OrderedDict[str, dict[str, Measurement]]" = OrderedDict()
    labels: dict[str, str] = {}
    leftovers = []
    for m in ms:
        lead = lead_of(m)
        if lead is None:
            leftovers.append(m)
            continue
        base = m.name[: -len(lead) - 1]
        by_quantity.setdefault(base, {})[lead] = m
        labels.setdefault(base, m.label[: -len(lead)].strip() if m.label.endswith(lead) else m.label)
    if not by_quantity:
        return measurement_table(leftovers, with_anchor=True, series=series)
    leads = sorted({lead for d in by_quantity.values() for lead in d}, key=lambda x: (LEAD_ORDER.index(x) if x in LEAD_ORDER else 99, x))
    head = "".join(f"<th title='{e(labels[q])}'>{e(labels[q])}<div class='ca-unit'>{e(next(iter(by_quantity[q].values())).unit)}</div></th>"
                   for q in by_quantity)  # fmt: skip
    rows = []
    for lead in leads:
        cells = []
        for q in by_quantity:
            m = by_quantity[q].get(lead)
            if m is None:
                cells.append("<td class='ca-muted'>—</td>")
            else:
                shown = f"{m.value:.2f}" if m.unit == "mV" and m.decimals == 0 else m.formatted()
                cells.append(f"<td id='{anchor('m', m.id)}' title='{e(m.label)}: {e(evidence_text(m))}'>{e(shown)}</td>")
        rows.append(f"<tr><th class='ca-lead'>{e(lead)}</th>{''.join(cells)}</tr>")
    first = ms[0]
    source = f"{first.source.tool} {first.source.version}; {first.evidence.location or ''}".strip("; ")
    table = (f"<div class='ca-scroll'><table class='ca-matrix'><thead><tr><th>Lead</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
             f"<div class='ca-src'>Per-lead values from {e(first.evidence.file)} ({e(source)}). Hover a cell for its evidence.</div>")  # fmt: skip
    return table + measurement_table(leftovers, series=series)


# --- statements, impression ----------------------------------------------------


def criteria_list(st: Statement, by_id: dict[str, Measurement]) -> str:
    items = []
    for c in (criterion_row(x, by_id) for x in st.criteria):
        value = f"{e(c.measured_label)} <b>{e(c.measured_value)}</b>" if c.measured_label else e(c.title)
        link = f"<a href='#{anchor('m', c.measurement_id)}'>{value}</a>" if c.measured_label else value
        met = f"<span class='ca-{'met' if c.met else 'notmet'}'>{c.verdict}</span>"
        ref = f"<div class='ca-src'>{e(c.guideline)}</div>" if c.guideline else ""
        items.append(f"<li>{link} {e(c.rule)} — {met}{ref}</li>")
    return "<ul class='ca-criteria'>" + "".join(items) + "</ul>" if items else "<span class='ca-muted'>no measured criteria</span>"


def statements_table(section: ModalitySection, by_id: dict[str, Measurement]) -> str:
    if not section.statements:
        return ""
    order = {"present": 0, "indeterminate": 1, "absent": 2}
    rows = []
    for st in sorted(section.statements, key=lambda s: order.get(s.status, 3)):
        expl = f"<div class='ca-src'>{e(st.explanation)}</div>" if st.explanation else ""
        conf = f" <span class='ca-muted'>({st.confidence:.0%})</span>" if st.confidence is not None else ""
        rows.append(f"<tr id='{anchor('s', st.id)}' class='ca-st-{st.status}'><td class='ca-label'>{e(st.label)}{expl}</td>"
                    f"<td><span class='ca-pill ca-pill-{st.status}'>{e(st.status)}</span>{conf}</td><td>{criteria_list(st, by_id)}</td></tr>")  # fmt: skip
    return ("<table class='ca-stable'><thead><tr><th>Finding</th><th>Status</th><th>Criteria (measured value, threshold, guideline)</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")  # fmt: skip


def _figure_ids(report: Report) -> dict[str, list[tuple[str, str]]]:
    """study id → [(figure anchor, title)] for PNG artifacts."""
    out: dict[str, list[tuple[str, str]]] = {}
    for s in report.sections:
        for i, art in enumerate(a for a in s.artifacts if a.media_type == "image/png"):
            out.setdefault(s.study_id, []).append((anchor("f", f"{s.study_id}-{i}"), art.title))
    return out


def impression_item(item: ImpressionItem, report: Report, by_id: dict[str, Measurement], statements: dict[str, Statement],
                    figures: dict[str, list[tuple[str, str]]], number: int = 1) -> str:  # fmt: skip
    passages = {p.id: p for p in report.guidelines}
    parts = []
    cited_m = [by_id[i] for i in item.measurement_ids if i in by_id]
    for sid in item.statement_ids:
        st = statements.get(sid)
        if st is None:
            continue
        parts.append(f"<div class='ca-evh'>Finding <a href='#{anchor('s', st.id)}'>{e(st.label)}</a> "
                     f"<span class='ca-pill ca-pill-{st.status}'>{e(st.status)}</span> — {e(st.source.tool)} {e(st.source.version)}</div>"
                     + criteria_list(st, by_id))  # fmt: skip
        for c in st.criteria:  # measurements behind the criteria are evidence too
            if c.measurement_id in by_id and by_id[c.measurement_id] not in cited_m:
                cited_m.append(by_id[c.measurement_id])
    if cited_m:
        verdicts = {s.study_id: s.quality.verdict for s in report.sections}
        study_quality = verdicts.get(cited_m[0].id.split(".", 1)[0])
        parts.append("<div class='ca-evh'>Measurements</div>"
                     + measurement_table(cited_m, with_anchor=False, css="ca-mtable ca-compact", section_quality=study_quality,
                                         series={s.study_id: section_source(s, report).series for s in report.sections}))  # fmt: skip
    for pid in item.passage_ids:
        p = passages.get(pid)
        if p is None:
            continue
        parts.append(guideline_block(p, open_=True, with_anchor=False))
    studies = {i.split(".", 1)[0] for i in item.statement_ids + item.measurement_ids}
    figs = [f for sid in sorted(studies) for f in figures.get(sid, [])]
    if figs:
        parts.append("<div class='ca-evh'>Figures</div>" + " · ".join(f"<a href='#{fid}'>{e(title)}</a>" for fid, title in figs))
    kind = f"<span class='ca-kind ca-kind-{item.kind}'>{e(item.kind)}</span>"
    body = "".join(parts) or "<span class='ca-muted'>No linked evidence.</span>"
    return (f"<li><details class='ca-imp'><summary><span class='ca-num'>{number}.</span>{kind}<span class='ca-imptext'>{linkify(item.text)}</span></summary>"
            f"<div class='ca-evidence'>{body}</div></details></li>")


def guideline_block(p, *, open_: bool = False, with_anchor: bool = True) -> str:
    grade = ", ".join(x for x in (f"class {p.recommendation_class}" if getattr(p, "recommendation_class", None) else "",
                                  f"level {p.evidence_level}" if getattr(p, "evidence_level", None) else "") if x)  # fmt: skip
    ident = f" id='{anchor('g', p.id)}'" if with_anchor else ""
    return (f"<details class='ca-guide'{ident}{' open' if open_ else ''}><summary>{e(citation_text(p))}</summary>"
            f"<blockquote>{e(p.text)}</blockquote><div class='ca-src'>{e(grade + ' · ' if grade else '')}paraphrased statement {e(p.id)}</div></details>")  # fmt: skip


# --- the panel -----------------------------------------------------------------


def status_banner(report: Report) -> str:
    last = report.signoffs[-1] if report.signoffs else None
    text = STATUS_TEXT.get(report.status, report.status)
    who = (f"<div class='ca-signedby'>{'signed' if last.action == 'signed' else 'amended'} by {e(last.clinician)}<br>"
           f"{last.signed_at:%Y-%m-%d %H:%M} UTC</div>") if last else "<div class='ca-signedby'>awaiting sign-off</div>"  # fmt: skip
    return f"<div class='ca-statusbox'><span class='ca-status ca-status-{report.status}' data-status='{report.status}'>{e(text)}</span>{who}</div>"


def patient_line(report: Report) -> str:
    """Age, sex, height, weight and BSA as used for the thresholds; each with
    where it came from when the report records it (form, context file, file
    metadata), and any disagreement between sources."""
    p = report.patient
    sources: dict = getattr(p, "sources", None) or {}
    conflicts: list = getattr(p, "conflicts", None) or []

    def src(*fields: str) -> str:
        where = [sources[f] for f in fields if sources.get(f)]
        where = list(dict.fromkeys(where))
        return f" <span class='ca-src' title='source'>({e(', '.join(where))})</span>" if where else ""

    bits = [f"{e(f'{p.age_years:g}')} y{src('age_years')}" if p.age_years is not None else None,
            f"{e(p.sex)}{src('sex')}" if p.sex else "sex not given",
            f"{e(f'{p.height_cm:g}')} cm{src('height_cm')}" if p.height_cm else None,
            f"{e(f'{p.weight_kg:g}')} kg{src('weight_kg')}" if p.weight_kg else None,
            f"BSA {p.bsa_m2():.2f} m²" if p.bsa_m2() else None]  # fmt: skip
    shown = [b for b in bits if b]
    demo = " · ".join(shown) if shown != ["sex not given"] else "not given"
    ind = report.reported_history.indication
    warn = ("<div class='ca-warn'><b>Patient data sources disagree</b><ul>" + "".join(f"<li>{e(c)}</li>" for c in conflicts) + "</ul></div>"
            if conflicts else "")  # fmt: skip
    return (f"<div class='ca-patient'><span><b>Patient</b> {demo}</span>"
            + (f"<span><b>Indication</b> {e(ind)}</span>" if ind else "") + "</div>" + warn)


def render_panel(report: Report, downloads_note: str = "") -> str:
    by_id = {m.id: m for m in report.measurements()}
    statements = {st.id: st for st in report.statements()}
    figures = _figure_ids(report)
    h: list[str] = []
    a = h.append
    a("<div class='ca-report' id='ca-report'>")
    a(f"<div class='ca-head'><div><div class='ca-title'>Case {e(report.case_id)}</div>"
      f"<div class='ca-muted'>Report {e(report.report_id)} · created {report.created_at:%Y-%m-%d %H:%M} UTC</div></div>{status_banner(report)}</div>")  # fmt: skip
    a(patient_line(report))
    a(f"<div class='ca-disclaimer'>{e(report.disclaimer)}</div>")

    a("<h3 class='ca-h'>Impression</h3>")
    if report.impression:
        a("<ol class='ca-impression'>" + "".join(impression_item(i, report, by_id, statements, figures, n + 1) for n, i in enumerate(report.impression)) + "</ol>")
        a("<div class='ca-hint'>Open an item to see the measurements, criteria, guideline passages and figures it rests on.</div>")
    else:
        a(f"<p class='ca-muted'>{e(no_impression_text(report))}</p>")
    if report.narrative:
        a("<details class='ca-block'><summary>Summary</summary>" + "".join(f"<p>{linkify(p, set(by_id) | set(statements))}</p>" for p in report.narrative) + "</details>")

    for s in report.sections:
        key, detail = split_measurements(s)
        q = s.quality
        reasons = f" — {e('; '.join(q.reasons))}" if q.reasons else ""
        src = section_source(s, report)
        all_files = (f"<details class='ca-files'><summary>All {len(src.files.files)} files</summary>{e(', '.join(src.files.files))}</details>"
                     if src.files.folded else "")  # fmt: skip
        a(f"<section class='ca-section' id='{anchor('study', s.study_id)}'><h3 class='ca-h'>{e(s.modality.display)} <span class='ca-muted'>{e(s.study_id)}</span>"
          f" <span class='ca-q ca-q-{q.verdict}'>{e(q.verdict.replace('_', '-'))}</span></h3>"
          f"<div class='ca-muted ca-meta'>{e(src.text)} · {e(s.tool)} {e(s.tool_version)}{reasons}{all_files}</div>")  # fmt: skip
        a(statements_table(s, by_id))
        if key:
            a(f"<div class='ca-evh'>Key measurements ({len(key)})</div>" + measurement_table(key, section_quality=q.verdict, series=src.series))
        for i, art in enumerate(x for x in s.artifacts if x.media_type == "image/png"):
            data_uri = image_data_uri(art.path)
            fid = anchor("f", f"{s.study_id}-{i}")
            if data_uri:
                a(f"<figure class='ca-fig' id='{fid}'><img alt='{e(art.title)}' src='{data_uri}'><figcaption>{e(art.title)}</figcaption></figure>")
            elif Path(art.path).is_file():
                a(f"<p class='ca-muted' id='{fid}'>Figure “{e(art.title)}” is too large to show inline ({e(Path(art.path).name)} in the case folder).</p>")
            else:
                a(f"<p class='ca-warn' id='{fid}'>Figure “{e(art.title)}” is missing from the case folder ({e(Path(art.path).name)}).</p>")
        others = [x for x in s.artifacts if x.media_type != "image/png"]
        if others:
            a("<div class='ca-muted'>Other outputs: " + ", ".join(f"{e(x.title)} ({e(Path(x.path).name)})" for x in others) + "</div>")
        if detail:
            a(f"<details class='ca-block'><summary>Per-lead and detailed measurements ({len(detail)})</summary>{per_lead_matrix(detail, src.series)}</details>")
        if s.warnings:
            a("<div class='ca-warn'><b>Tool notes</b><ul>" + "".join(f"<li>{e(w)}</li>" for w in s.warnings) + "</ul></div>")
        a("</section>")

    if report.guidelines:
        a("<h3 class='ca-h'>Guideline passages cited</h3>" + "".join(guideline_block(p) for p in report.guidelines))

    rh = report.reported_history
    if rh.notes_excerpt or rh.flagged_instructions:
        a("<details class='ca-block'><summary>Reported history (as supplied, not verified)</summary>")
        if rh.notes_excerpt:
            a(f"<pre class='ca-notes'>{e(rh.notes_excerpt)}</pre>")
        if rh.flagged_instructions:
            a("<p>Ignored text that read like instructions to the system:</p><ul>" + "".join(f"<li>“{e(x)}”</li>" for x in rh.flagged_instructions) + "</ul>")
        a("</details>")

    a("<h3 class='ca-h'>Limitations</h3><ul class='ca-limits'>" + "".join(f"<li>{e(x)}</li>" for x in report.limitations) + "</ul>")
    if report.rejected_inputs:
        a("<div class='ca-warn'><b>Inputs not used</b><ul>" + "".join(f"<li>{e(p.line())}</li>" for p in report.rejected_inputs) + "</ul></div>")

    if report.signoffs:
        a("<h3 class='ca-h'>Sign-off</h3><ul class='ca-signoffs'>" + "".join(f"<li>{e(line)}</li>" for line in provenance_view(report).signoffs) + "</ul>")

    g = grounding_view(report.grounding)
    pv = provenance_view(report)
    a("<details class='ca-block'><summary>Grounding and provenance</summary>")
    a(f"<p>{e(g.summary)}</p>")
    if g.removed:
        a("<ul>" + "".join(f"<li>{e(line)}</li>" for line in g.removed) + "</ul>")
    a(f"<p>{e(pv.summary)}</p><ul>" + "".join(f"<li>{e(line)}</li>" for line in pv.lines(with_signoffs=False)))
    a("</ul></details>")
    if downloads_note:
        a(f"<div class='ca-muted'>{e(downloads_note)}</div>")
    a("</div>")
    return "\n".join(h)


def empty_panel(message: str = "") -> str:
    text = message or ("No case open. Attach the study files in the chat (ECG, echo, CMR, k-space, notes) and press Enter; "
                       "the report appears here.")  # fmt: skip
    return f"<div class='ca-report ca-empty'><div class='ca-title'>Report</div><p class='ca-muted'>{e(text)}</p></div>"


def running_panel(n_files: int) -> str:
    return (f"<div class='ca-report ca-empty'><div class='ca-title'>Report</div><div class='ca-running'><div class='ca-spinner'></div>"
            f"Analysing {n_files} file{'s' if n_files != 1 else ''}: the report appears here when the experts and the verifier have finished. "
            "Progress is shown in the chat.</div></div>")


def problems_panel(lines: list[str]) -> str:
    items = "".join(f"<li>{e(x)}</li>" for x in lines)
    return (f"<div class='ca-report ca-empty'><div class='ca-title'>No report</div><div class='ca-error' role='alert'>"
            f"<b>The case was not analysed.</b><ul>{items}</ul></div></div>")
