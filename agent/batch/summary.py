"""summary.html: one self-contained page that says how the batch went.

Why: the first question after a night run is "what failed and why", the
second "do the numbers look plausible". The page shows counts per status
and modality, failures grouped by kind with every row listed, and the
distribution of each key measurement and the prevalence of each finding
(matplotlib PNGs embedded as data URIs, so the page works offline and can
be mailed). Every case links to its own report.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from agent.atomic import atomic_write_text
from agent.batch.cohort import FIXED_COLUMNS, Tables

CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
main{max-width:1150px;margin:0 auto;padding:24px} h1{font-size:1.45rem;margin:0 0 6px}
h2{font-size:1.1rem;margin:26px 0 8px;border-bottom:2px solid #d0d7de;padding-bottom:4px}
table{border-collapse:collapse;background:#fff;font-size:.85rem;margin:6px 0 12px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top} th{background:#eef1f4}
.ok{color:#1a7f37;font-weight:600}.failed{color:#cf222e;font-weight:600}.pending{color:#9a6700;font-weight:600}
.meta{color:#57606a;font-size:.9rem}
figure{margin:0;background:#fff;border:1px solid #d0d7de;padding:6px;border-radius:6px}
figcaption{font-size:.8rem;color:#57606a}
.disclaimer{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px;margin:12px 0;font-size:.9rem}
"""

MAX_PLOTS = 24
MAX_FAILURE_ROWS = 500


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _histograms(cohort: list[dict]) -> tuple[str, list[tuple[str, int]]] | None:
    """One grid figure: a histogram per numeric key-measurement column with
    ≥ 2 values (one figure, one savefig: a batch summary must not take
    longer than a case). Returns the data URI and (column, n) per panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = sorted({c for row in cohort for c in row if c not in FIXED_COLUMNS and not c.startswith("finding.")})
    panels = []
    for col in columns:
        values = [row[col] for row in cohort if isinstance(row.get(col), (int, float)) and row[col] == row[col]]
        if len(values) >= 2:
            panels.append((col, values))
    panels = panels[:MAX_PLOTS]
    if not panels:
        return None
    ncols = min(3, len(panels))
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 2.5 * nrows), squeeze=False)
    for ax, (col, values) in zip(axes.flat, panels):
        ax.hist(values, bins=min(20, max(5, len(set(values)))), color="#0969da", alpha=0.85)
        ax.set_title(f"{col} (n={len(values)})", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    uri = _png(fig)
    plt.close(fig)
    return uri, [(c, len(v)) for c, v in panels]


def _prevalence(cohort: list[dict]) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present: Counter[str] = Counter()
    assessed: Counter[str] = Counter()
    for row in cohort:
        for k, v in row.items():
            if k.startswith("finding.") and isinstance(v, str):
                assessed[k] += 1
                present[k] += v == "present"
    if not assessed:
        return None
    keys = sorted(assessed, key=lambda k: (-present[k], k))[:30]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(keys) + 0.8), layout="constrained")
    ax.barh([k.removeprefix("finding.") for k in keys][::-1], [present[k] for k in keys][::-1], color="#8250df")
    ax.set_xlabel("cases with the finding present", fontsize=8)
    ax.tick_params(labelsize=7)
    uri = _png(fig)
    plt.close(fig)
    return uri


def render_summary(tables: Tables, run_info: dict) -> str:
    e = html.escape
    cohort = tables.cohort
    status = Counter(row["status"] for row in cohort)
    modalities: Counter[str] = Counter()
    for row in cohort:
        for m in filter(None, str(row.get("modalities") or "").split(";")):
            modalities[m] += 1
    kinds = Counter(f["kind"] for f in tables.failures)
    h: list[str] = []
    a = h.append
    a(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>CardioAgent batch summary</title><style>{CSS}</style></head><body><main>")
    a("<h1>CardioAgent batch summary</h1>")
    a(f"<div class='meta'>Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · input {e(str(run_info.get('input', '')))} · "
      f"engine {e(str(run_info.get('engine', '')))} · configuration {e(str(run_info.get('config_hash', ''))[:12])}</div>")  # fmt: skip
    a("<div class='disclaimer'>Decision support only: every per-case report is preliminary and must be reviewed by a qualified clinician.</div>")
    a("<h2>Cases</h2><table><tr><th>cases</th><th>reported</th><th>failed</th><th>not run yet</th></tr>")
    a(f"<tr><td>{len(cohort)}</td><td class='ok'>{status['ok']}</td><td class='failed'>{status['failed']}</td><td class='pending'>{status['pending']}</td></tr></table>")
    if modalities:
        a("<table><tr><th>modality</th><th>reported cases</th></tr>" + "".join(f"<tr><td>{e(m)}</td><td>{n}</td></tr>" for m, n in sorted(modalities.items())) + "</table>")
    runs = run_info.get("runs") or []
    if runs:
        a("<h2>Runs</h2><table><tr><th>started</th><th>engine</th><th>workers</th><th>skipped (done)</th><th>ran</th><th>wall s</th><th>cases/min</th><th>completed</th></tr>")
        for r in runs:
            a(f"<tr><td>{e(str(r.get('started_at', ''))[:19])}</td><td>{e(str(r.get('engine')))}</td><td>{r.get('workers')}</td><td>{r.get('skipped')}</td>"
              f"<td>{r.get('ran')}</td><td>{r.get('wall_s')}</td><td>{r.get('cases_per_minute')}</td><td>{'yes' if r.get('completed') else 'no'}</td></tr>")  # fmt: skip
        a("</table>")
    a("<h2>Failures</h2>")
    if tables.failures:
        a("<table><tr><th>kind</th><th>rows</th></tr>" + "".join(f"<tr><td>{e(k)}</td><td>{n}</td></tr>" for k, n in sorted(kinds.items())) + "</table>")
        a("<p class='meta'><code>input_not_used</code>: the case was reported without that file; the other kinds mean no report for the case.</p>")
        a("<table><tr><th>case</th><th>file</th><th>why</th><th>kind</th></tr>")
        for f in tables.failures[:MAX_FAILURE_ROWS]:
            a(f"<tr><td>{e(f['case_id'])}</td><td>{e(f['file'])}</td><td>{e(f['problem'])}</td><td>{e(f['kind'])}</td></tr>")
        a("</table>")
        if len(tables.failures) > MAX_FAILURE_ROWS:
            a(f"<p>… {len(tables.failures) - MAX_FAILURE_ROWS} more rows in failures.csv</p>")
    else:
        a("<p>None.</p>")
    hists = _histograms(cohort)
    if hists:
        uri, panels = hists
        a("<h2>Distributions of key measurements</h2>")
        a(f"<figure><img style='width:100%' alt='histograms of {len(panels)} key measurements' src='{uri}'>"
          "<figcaption>One panel per modality and measurement (first study of each modality per case); all values in measurements.csv"
          "</figcaption></figure>")  # fmt: skip
    prev = _prevalence(cohort)
    if prev:
        a(f"<h2>Findings</h2><figure><img style='width:620px' alt='finding prevalence' src='{prev}'><figcaption>Cases with each finding present "
          "(statements decided by the tools' cited criteria)</figcaption></figure>")  # fmt: skip
    a("<h2>All cases</h2><table><tr><th>case</th><th>status</th><th>modalities</th><th>quality</th><th>findings</th><th>runtime s</th></tr>")
    for row in cohort:
        link = f"<a href='{e(row['report'])}'>{e(row['case_id'])}</a>" if row.get("report") else e(row["case_id"])
        a(f"<tr><td>{link}</td><td class='{e(row['status'])}'>{e(row['status'])}</td><td>{e(str(row.get('modalities', '')))}</td>"
          f"<td>{e(str(row.get('quality', '')))}</td><td>{e(str(row.get('findings', '')))}</td><td>{row.get('runtime_s', '')}</td></tr>")  # fmt: skip
    a("</table></main></body></html>")
    return "\n".join(h)


def write_summary(tables: Tables, run_info: dict, out: Path) -> Path:
    return atomic_write_text(out / "summary.html", render_summary(tables, run_info))
