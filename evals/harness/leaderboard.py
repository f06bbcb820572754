"""The leaderboard: one row per run (suite × backend × model × version),
read from every results/<suite>/<run>/summary.json under a results root.

Why rebuilt from the run folders every time: runs are the record; the
leaderboard is a view of them, so deleting a bad run folder or copying in
a colleague's run is all it takes to change it.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

from evals.harness.summary import CSS, fmt

COLUMNS: list[tuple[str, str, int]] = [  # (headline key, column title, decimals)
    ("cases", "cases", 0),
    ("errors", "errors", 0),
    ("statement_f1_macro", "F1 (macro)", 3),
    ("sensitivity_micro", "sens", 3),
    ("specificity_micro", "spec", 3),
    ("measurement_pass_rate", "meas. pass", 3),
    ("grounding_rate", "grounding", 3),
    ("hallucinated_findings", "halluc. findings", 0),
    ("hallucinated_modalities", "halluc. modalities", 0),
    ("routing_precision", "routing P", 3),
    ("routing_recall", "routing R", 3),
    ("guideline_precision", "guideline P", 3),
    ("guideline_recall", "guideline R", 3),
    ("abstention_accuracy", "abstention", 3),
    ("chat_accuracy", "chat", 3),
    ("dice_lv", "Dice LV", 3),
    ("psnr_db", "PSNR dB", 2),
    ("ssim", "SSIM", 3),
    ("latency_median_s", "median s/case", 1),
    ("llm_tokens", "LLM tokens", 0),
]


def collect_runs(root: Path) -> list[dict]:
    """Every run summary under `root` (results/<suite>/<run>/summary.json)."""
    runs = []
    for path in sorted(root.glob("*/*/summary.json")):
        try:
            s = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if "headline" not in s or "run" not in s:
            continue
        s["_path"] = str(path.parent.relative_to(root))
        runs.append(s)
    return runs


def rows(runs: list[dict], latest_only: bool = False) -> list[dict]:
    """Leaderboard rows sorted by suite then run time; with `latest_only`,
    the newest run per (suite, backend, model, version)."""
    out = []
    for s in runs:
        r = s["run"]
        out.append({"suite": r.get("suite"), "run": r.get("run_id"), "backend": r.get("backend"), "model": r.get("llm_model") or "",
                     "version": f"{r.get('app_version')}@{r.get('git_commit') or '?'}", "path": s["_path"], **s["headline"]})  # fmt: skip
    out.sort(key=lambda x: (x["suite"] or "", x["run"] or ""))
    if latest_only:
        newest: dict[tuple, dict] = {}
        for x in out:
            newest[(x["suite"], x["backend"], x["model"], x["version"])] = x
        out = sorted(newest.values(), key=lambda x: (x["suite"] or "", x["run"] or ""))
    return out


HEAD = ["suite", "run", "backend", "model", "version"]


def _cells(x: dict) -> list[str]:
    return [str(x[k]) for k in HEAD] + [fmt(float(x[k]) if isinstance(x.get(k), (int, float)) and d else x.get(k), d) for k, _t, d in COLUMNS]


def render_markdown(items: list[dict]) -> str:
    header = HEAD + [t for _k, t, _d in COLUMNS]
    lines = ["# CardioAgent evaluation leaderboard", "",
             "One row per run; metrics as defined in docs/EVALS.md. '–' = not applicable to the suite.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]  # fmt: skip
    lines += ["| " + " | ".join(_cells(x)) + " |" for x in items]
    return "\n".join(lines) + "\n"


def render_html(items: list[dict]) -> str:
    header = HEAD + [t for _k, t, _d in COLUMNS]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for x in items:
        cells = [html.escape(c) for c in _cells(x)]
        cells[1] = f'<a href="{html.escape(x["path"])}/summary.html">{cells[1]}</a>'
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>CardioAgent leaderboard</title><style>{CSS}</style></head><body>"
            f"<h1>CardioAgent evaluation leaderboard</h1><table><tr>{head}</tr>{''.join(body)}</table></body></html>")  # fmt: skip


def render_csv(items: list[dict]) -> str:
    buf = io.StringIO()
    keys = HEAD + ["path"] + [k for k, _t, _d in COLUMNS]
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    for x in items:
        w.writerow(x)
    return buf.getvalue()


def write_leaderboard(root: Path, latest_only: bool = False) -> dict[str, Path]:
    items = rows(collect_runs(root), latest_only)
    paths = {"md": root / "leaderboard.md", "html": root / "leaderboard.html", "csv": root / "leaderboard.csv"}
    paths["md"].write_text(render_markdown(items), encoding="utf-8")
    paths["html"].write_text(render_html(items), encoding="utf-8")
    paths["csv"].write_text(render_csv(items), encoding="utf-8")
    return paths
