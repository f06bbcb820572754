"""A self-contained HTML report a clinician can open from disk or email.

Why self-contained: no CDN, no external CSS or images (plots are embedded
as data URIs), so it renders offline and inside locked-down hospital
browsers. Citation markers in prose become links to the table row of the
measurement, the finding or the guideline passage they name.
"""

from __future__ import annotations

import base64
import html
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
    citation_text,
)
from agent.report import Report

CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.5rem;margin:0 0 4px} h2{font-size:1.15rem;margin:28px 0 8px;border-bottom:2px solid #d0d7de;padding-bottom:4px}
.meta{color:#57606a;font-size:.9rem}
.warning{background:#ffebe9;border:1px solid #cf222e;padding:10px 14px;border-radius:6px;margin:10px 0}
.disclaimer{background:#fff8c5;border:1px solid #d4a72c;padding:10px 14px;border-radius:6px;margin:14px 0}
.status{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600;font-size:.8rem}
.status.preliminary{background:#ddf4ff;color:#0969da}.status.final{background:#dafbe1;color:#1a7f37}.status.amended{background:#fbefff;color:#8250df}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.88rem;margin:6px 0 12px}
th,td{border:1px solid #d0d7de;padding:5px 8px;text-align:left;vertical-align:top} th{background:#eef1f4}
td.value{font-weight:600;white-space:nowrap}
.flag-high,.flag-low,.flag-abnormal{color:#cf222e;font-weight:700}.flag-normal{color:#1a7f37}
.q-usable{color:#1a7f37}.q-limited{color:#9a6700}.q-non_diagnostic{color:#cf222e}
ul.impression li{margin:4px 0} .refs{color:#57606a;font-size:.8rem}
a.cite{font-size:.75rem;vertical-align:super;text-decoration:none;margin-left:2px}
tr:target{background:#fff8c5}
figure{margin:10px 0;background:#fff;border:1px solid #d0d7de;padding:8px;border-radius:6px}
figure img{max-width:100%} figcaption{font-size:.85rem;color:#57606a}
pre.notes{background:#fff;border:1px solid #d0d7de;padding:10px;white-space:pre-wrap}
details{margin:4px 0} code{font-size:.8rem}
"""

_CITE = re.compile(r"\s*\[(M|S|G):([^\]]+)\]")
_ANCHOR = {"M": "m", "S": "s", "G": "g"}


def _anchor(kind: str, ident: str) -> str:
    return f"{_ANCHOR[kind]}-" + re.sub(r"[^A-Za-z0-9_-]", "_", ident)


def _linkify(text: str) -> str:
    """Escape prose and turn [M:id] markers into superscript links."""
    out, pos = [], 0
    for m in _CITE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        for ident in m.group(2).split(","):
            ident = ident.strip()
            out.append(f'<a class="cite" href="#{_anchor(m.group(1), ident)}" title="{html.escape(ident)}">[{m.group(1)}]</a>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _img(path: str) -> str | None:
    p = Path(path)
    if not p.is_file() or p.stat().st_size > 8 * 2**20:
        return None
    return "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii")


def render_html(report: Report, out_dir: Path | None = None) -> str:
    e = html.escape
    h: list[str] = []
    a = h.append
    a(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>CardioAgent report {e(report.case_id)}</title>")
    a(f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{CSS}</style></head><body><main>")
    a(f"<h1>CardioAgent report — case {e(report.case_id)}</h1>")
    a(f"<div class='meta'><span class='status {report.status}'>{report.status.upper()}</span> · report {e(report.report_id)} · "
      f"created {report.created_at:%Y-%m-%d %H:%M} UTC</div>")  # fmt: skip
    a(f"<p class='signoff'><strong>Sign-off:</strong> {e(signed_line(report))}</p>")
    a(f"<div class='disclaimer' role='note'>{e(report.disclaimer)}</div>")
    pt = patient_view(report)
    a(f"<p class='patient'><strong>{e(pt.heading)}:</strong> {e(pt.text)}</p>")
    for c in pt.conflicts:
        a(f"<div class='warning' role='alert'><strong>Warning — patient data disagree:</strong> {e(c)}</div>")

    a("<h2>Impression</h2><ul class='impression' id='impression'>")
    for item in report.impression:
        cited = citations(item)
        refs = [f"<a href='#{_anchor(kind, i)}'>{e(i)}</a>" for kind, ids in (("S", cited.statements), ("M", cited.measurements), ("G", cited.passages))
                for i in ids]  # fmt: skip
        a(f"<li class='{item.kind}'>{_linkify(item.text)}" + (f" <span class='refs'>({', '.join(refs)})</span>" if refs else "") + "</li>")
    if not report.impression:
        a(f"<li>{e(no_impression_text(report))}</li>")
    a("</ul>")
    if report.narrative:
        a("<h2>Summary</h2>")
        for para in report.narrative:
            a(f"<p>{_linkify(para)}</p>")

    by_id = {m.id: m for x in report.sections for m in x.measurements}  # criteria name their measurement
    for s in report.sections:
        a(f"<h2 id='study-{e(s.study_id)}'>{e(s.modality.display)} — {e(s.study_id)}</h2>")
        src = section_source(s, report)
        a(f"<p class='meta'>{e(src.text)} · tool {e(s.tool)} {e(s.tool_version)} · quality "
          f"<strong class='q-{s.quality.verdict}'>{e(s.quality.verdict.replace('_', '-'))}</strong>"
          + (f" — {e('; '.join(s.quality.reasons))}" if s.quality.reasons else "") + "</p>")  # fmt: skip
        if src.files.folded:
            a(f"<details class='files'><summary>All {len(src.files.files)} files</summary><p class='meta'>{e(', '.join(src.files.files))}</p></details>")
        if s.measurements:
            a("<table class='measurements'><thead><tr><th>Measurement</th><th>Value</th><th>Flag</th><th>Reference</th>"
              "<th>Method</th><th>Evidence</th><th>Source</th></tr></thead><tbody>")  # fmt: skip
            for r in (measurement_row(m, src.series) for m in s.measurements):
                code = f"<br><code>{e(r.code_text)}</code>" if r.code else ""
                ref_src = f"<br><span class='refs'>{e(r.reference_source)}</span>" if r.reference_source else ""
                a(f"<tr id='{_anchor('M', r.id)}'><td>{e(r.label)}{code}</td><td class='value'>{e(r.value)}</td>"
                  f"<td class='flag-{r.flag or 'none'}'>{e(r.flag_text)}</td><td>{e(r.reference)}{ref_src}</td><td>{e(r.method)}</td>"
                  f"<td>{e(r.evidence)}</td><td>{e(r.source)}<br><code>{e(r.id)}</code></td></tr>")  # fmt: skip
            a("</tbody></table>")
        if s.statements:
            a("<table class='statements'><thead><tr><th>Finding</th><th>Status</th><th>Criteria (value, threshold, guideline)</th></tr></thead><tbody>")
            for st in (statement_row(x, by_id) for x in s.statements):
                crit = "".join(
                    f"<li><a href='#{_anchor('M', c.measurement_id)}'>{e(c.title)}</a> {e(c.rule)} — {c.verdict}"
                    + (f" <span class='refs'>({e(c.guideline)})</span>" if c.guideline else "") + "</li>"
                    for c in st.criteria
                )  # fmt: skip
                expl = f"<br><span class='refs'>{e(st.explanation)}</span>" if st.explanation else ""
                a(f"<tr id='{_anchor('S', st.id)}'><td>{e(st.label)}{expl}</td><td>{e(st.status)}</td><td><ul>{crit}</ul></td></tr>")
            a("</tbody></table>")
        for art in s.artifacts:
            if art.media_type == "image/png":
                src = _img(art.path)
                if src:
                    a(f"<figure><img alt='{e(art.title)}' src='{src}'><figcaption>{e(art.title)}</figcaption></figure>")
        if s.warnings:
            a("<ul>" + "".join(f"<li>{e(w)}</li>" for w in s.warnings) + "</ul>")

    if report.guidelines:
        a("<h2>Guideline passages cited</h2>")
        for g in report.guidelines:
            a(f"<details id='{_anchor('G', g.id)}'><summary>{e(citation_text(g))}</summary><p>{e(g.text)}</p>"
              f"<p class='refs'>Paraphrased statement {e(g.id)} ({e(g.collection)})</p></details>")  # fmt: skip

    rh = report.reported_history
    if rh.indication or rh.notes_excerpt:
        a("<h2>Reported history (as supplied, not verified)</h2>")
        if rh.indication:
            a(f"<p>Indication: {e(rh.indication)}</p>")
        if rh.notes_excerpt:
            a(f"<pre class='notes'>{e(rh.notes_excerpt)}</pre>")
        if rh.flagged_instructions:
            a("<p>Text in the notes that reads like instructions to the system was ignored:</p><ul>")
            a("".join(f"<li>“{e(f)}”</li>" for f in rh.flagged_instructions) + "</ul>")

    a("<h2>Limitations</h2><ul>" + "".join(f"<li>{e(x)}</li>" for x in report.limitations) + "</ul>")
    g = grounding_view(report.grounding)
    a(f"<h2>Grounding</h2><p>{e(g.summary)}</p>")
    if g.removed:
        a("<ul>" + "".join(f"<li>{e(line)}</li>" for line in g.removed) + "</ul>")
    pv = provenance_view(report)
    a(f"<h2>Provenance</h2><ul><li>{e(pv.summary)}</li>" + "".join(f"<li>{e(line)}</li>" for line in pv.lines()) + "</ul>")
    if report.rejected_inputs:
        a("<h2>Inputs not used</h2><ul>" + "".join(f"<li>{e(p.line())}</li>" for p in report.rejected_inputs) + "</ul>")
    a("</main></body></html>")
    return "\n".join(h)
