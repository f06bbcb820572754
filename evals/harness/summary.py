"""Aggregate per-case results of one run into a summary, and render it as
Markdown and HTML.

The summary is a plain dict (written as summary.json) so the leaderboard
reads runs without importing anything, and an old run stays readable
after the harness changes.
"""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

from evals.harness.metrics import agreement, binary_summary, distribution, precision_recall

SUMMARY_VERSION = 1


def _mean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def aggregate(results: list[dict], run: dict, bootstrap_samples: int = 1000) -> dict:
    """`results`: per-case dicts as the runner writes them; `run`: metadata."""
    scored = [r for r in results if r.get("scores")]
    errors = [r for r in results if r.get("status") == "error"]
    skipped = [r for r in results if r.get("status") == "skipped"]

    # statements: one (expected, predicted) pair per case and key
    pairs: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    indeterminate: dict[str, int] = defaultdict(int)
    for r in scored:
        for row in r["scores"]["statements"]:
            pairs[row["key"]].append((row["expected"], row["predicted"]))
            indeterminate[row["key"]] += bool(row["indeterminate"])
    per_statement = {k: {**binary_summary(v, bootstrap_samples), "indeterminate": indeterminate[k]} for k, v in sorted(pairs.items())}
    all_pairs = [p for v in pairs.values() for p in v]
    macro = {m: _mean([s[m] for s in per_statement.values()]) for m in ("sensitivity", "specificity", "ppv", "f1")}

    # measurements: agreement per name (with units), missing values, pass rate
    by_name: dict[str, list[dict]] = defaultdict(list)
    for r in scored:
        for row in r["scores"]["measurements"]:
            by_name[row["name"]].append(row)
    per_measurement = {}
    for name, rows in sorted(by_name.items()):
        paired = [x for x in rows if x.get("error") is not None]
        agg = agreement([x["predicted"] for x in paired], [x["truth"] for x in paired], [x["tolerance"] for x in paired])
        found = [x["predicted"] for x in rows if x["found"]]
        if found and not paired:  # bounds or flags only: show what was reported
            agg["mean_predicted"] = sum(found) / len(found)
        per_measurement[name] = {**agg, "unit": next((x["unit"] for x in rows if x["unit"]), None), "expected": len(rows),
                                 "missing": sum(1 for x in rows if not x["found"]), "pass_rate": _mean([float(x["pass"]) for x in rows])}  # fmt: skip
    all_meas = [x for rows in by_name.values() for x in rows]

    routing = [r["scores"]["routing"] for r in scored]
    rt = precision_recall(sum(x["tp"] for x in routing), sum(x["fp"] for x in routing), sum(x["fn"] for x in routing))
    rt["failed_calls"] = sum(len(x["failed_calls"]) for x in routing)

    grounding = [r["scores"]["grounding"] for r in scored if r["scores"]["grounding"]]
    checked = sum(g["numbers_checked"] for g in grounding)
    traced = sum(g["numbers_traced"] for g in grounding)
    hall = [r["scores"]["hallucinations"] for r in scored]

    guides = [r["scores"]["guidelines"] for r in scored if r["scores"]["guidelines"] is not None]
    cited = sum(len(g["cited"]) for g in guides)
    required = sum(g["expected"] for g in guides)
    gl = {"cases": len(guides), "cited": cited, "correct_cited": sum(g["correct_cited"] for g in guides), "required": required,
          "matched_required": sum(g["matched_items"] for g in guides),
          "precision": (sum(g["correct_cited"] for g in guides) / cited) if cited else None,
          "recall": (sum(g["matched_items"] for g in guides) / required) if required else None}  # fmt: skip

    abst = [r["scores"]["abstention"] for r in scored if r["scores"]["abstention"] is not None]
    outcome = [r["scores"]["outcome"]["correct"] for r in scored]
    history = defaultdict(list)
    for r in scored:
        for k, v in r["scores"]["history"].items():
            history[k].append(v["correct"])

    chat = [q for r in scored for q in r["scores"]["chat"]]
    seg = defaultdict(lambda: defaultdict(list))
    recon = defaultdict(list)
    for r in scored:
        im = r["scores"]["imaging"]
        s = im.get("segmentation") or {}
        for metric in ("dice", "hd95_mm"):
            for k, v in (s.get(metric) or {}).items():
                seg[metric][k].append(v)
        for k, v in (im.get("reconstruction") or {}).items():
            if isinstance(v, (int, float)):
                recon[k].append(v)
    imaging_errors = [f"{r['case_id']}: {v['error']}" for r in scored for v in r["scores"]["imaging"].values() if isinstance(v, dict) and "error" in v]

    node_times: dict[str, list[float]] = defaultdict(list)
    tool_times: dict[str, list[float]] = defaultdict(list)
    for r in scored:
        for node, s in (r.get("latency", {}).get("nodes") or {}).items():
            node_times[node].append(s)
        for tool, s in (r.get("latency", {}).get("tools") or {}).items():
            tool_times[tool].append(s)

    groups: dict[str, list[dict]] = defaultdict(list)
    for r in scored:
        groups[group_of(r, run.get("suite"))].append(r)
    by_source = {}
    if len(groups) > 1:
        for g, rs in sorted(groups.items()):
            gp = [(row["expected"], row["predicted"]) for r in rs for row in r["scores"]["statements"]]
            gm = [float(x["pass"]) for r in rs for x in r["scores"]["measurements"]]
            by_source[g] = {"cases": len(rs), "statements": binary_summary(gp, bootstrap_samples), "measurement_pass_rate": _mean(gm),
                            "measurements": len(gm)}  # fmt: skip

    summary: dict[str, Any] = {
        "summary_version": SUMMARY_VERSION,
        "run": run,
        "cases": {"total": len(results), "scored": len(scored), "errors": len(errors), "skipped": len(skipped),
                  "error_list": [f"{r['case_id']}: {r.get('error')}" for r in errors],
                  "skipped_list": [f"{r['case_id']}: {r.get('reason')}" for r in skipped]},  # fmt: skip
        "statements": {"per_statement": per_statement, "macro": macro, "micro": binary_summary(all_pairs, bootstrap_samples)},
        "by_source": by_source,
        "measurements": {"per_measurement": per_measurement, "pass_rate": _mean([float(x["pass"]) for x in all_meas]), "expected": len(all_meas)},
        "routing": rt,
        "grounding": {"numbers_checked": checked, "numbers_traced": traced, "rate": (traced / checked) if checked else None,
                      "sentences_removed_by_pipeline": sum(g["sentences_removed"] for g in grounding),
                      "fell_back_to_rules": sum(1 for g in grounding if g["fell_back"])},  # fmt: skip
        "hallucinations": {"findings": sum(len(h["findings"]) for h in hall), "modalities": sum(len(h["modalities"]) for h in hall),
                           "ungrounded_sentences": sum(len(h["ungrounded_sentences"]) for h in hall),
                           "cases_with_any": sum(1 for h in hall if h["findings"] or h["modalities"])},  # fmt: skip
        "guidelines": gl,
        "abstention": {"cases": len(abst), "correct": sum(a["correct"] for a in abst), "accuracy": _mean([float(a["correct"]) for a in abst])},
        "outcome": {"cases": len(outcome), "correct": sum(outcome), "accuracy": _mean([float(x) for x in outcome])},
        "history": {k: {"cases": len(v), "correct": sum(v)} for k, v in history.items()},
        "chat": {"questions": len(chat), "correct": sum(q["correct"] for q in chat), "accuracy": _mean([float(q["correct"]) for q in chat]),
                 "answered": sum(bool(q.get("answered")) for q in chat), "latency_s": distribution([q.get("seconds") for q in chat]),
                 "llm_tokens": sum(q.get("llm_tokens", 0) for q in chat)},  # fmt: skip
        "imaging": {"segmentation": {m: {k: _mean(v) for k, v in d.items()} for m, d in seg.items()},
                    "segmentation_cases": max((len(v) for d in seg.values() for v in d.values()), default=0),
                    "reconstruction": {k: _mean(v) for k, v in recon.items()}, "reconstruction_cases": max((len(v) for v in recon.values()), default=0),
                    "errors": imaging_errors},  # fmt: skip
        "latency": {"case_s": distribution([r.get("latency", {}).get("case_s") for r in scored]),
                    "nodes": {k: distribution(v) for k, v in sorted(node_times.items())},
                    "tools": {k: distribution(v) for k, v in sorted(tool_times.items())}},  # fmt: skip
        "llm": {"calls": sum(r.get("llm", {}).get("calls", 0) for r in scored), "tokens": sum(r.get("llm", {}).get("tokens", 0) for r in scored)},
    }
    summary["headline"] = headline(summary)
    return summary


def group_of(result: dict, run_suite: str | None) -> str:
    """The source a case belongs to: its id up to the first '-' (ludb,
    mitdb, cinc2017, sinus, af, ...), prefixed with its suite in a
    composite run such as smoke."""
    name = result["case_id"].split("/")[-1]
    prefix = name.split("-")[0]
    suite = result.get("suite")
    return prefix if not suite or suite == run_suite else f"{suite}/{prefix}"


def headline(s: dict) -> dict:
    """The few numbers a leaderboard row shows."""
    return {
        "cases": s["cases"]["scored"],
        "errors": s["cases"]["errors"],
        "statement_f1_macro": s["statements"]["macro"]["f1"],
        "sensitivity_micro": s["statements"]["micro"]["sensitivity"],
        "specificity_micro": s["statements"]["micro"]["specificity"],
        "measurement_pass_rate": s["measurements"]["pass_rate"],
        "grounding_rate": s["grounding"]["rate"],
        "hallucinated_findings": s["hallucinations"]["findings"],
        "hallucinated_modalities": s["hallucinations"]["modalities"],
        "routing_precision": s["routing"]["precision"],
        "routing_recall": s["routing"]["recall"],
        "guideline_precision": s["guidelines"]["precision"] if s["guidelines"]["cases"] else None,
        "guideline_recall": s["guidelines"]["recall"] if s["guidelines"]["cases"] else None,
        "abstention_accuracy": s["abstention"]["accuracy"],
        "chat_accuracy": s["chat"]["accuracy"],
        "dice_lv": (s["imaging"]["segmentation"].get("dice") or {}).get("LV"),
        "psnr_db": s["imaging"]["reconstruction"].get("psnr_db"),
        "ssim": s["imaging"]["reconstruction"].get("ssim"),
        "latency_median_s": s["latency"]["case_s"].get("median"),
        "llm_tokens": s["llm"]["tokens"] + s["chat"]["llm_tokens"],
    }


# --- rendering ------------------------------------------------------------------


def fmt(x: Any, nd: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def fmt_ci(value: float | None, ci: list | tuple | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


def sections(s: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of each table; Markdown and HTML render the same."""
    out = []
    st = s["statements"]["per_statement"]
    if st:
        rows = [[k, str(v["n"]), f"{v['tp']}/{v['fp']}/{v['fn']}/{v['tn']}", fmt_ci(v["sensitivity"], v["sensitivity_ci"]),
                 fmt_ci(v["specificity"], v["specificity_ci"]), fmt_ci(v["ppv"], v["ppv_ci"]), fmt_ci(v["f1"], v["f1_ci"]),
                 str(v["indeterminate"])] for k, v in st.items()]  # fmt: skip
        mi = s["statements"]["micro"]
        ma = s["statements"]["macro"]
        rows.append(["**all (micro)**", str(mi["n"]), f"{mi['tp']}/{mi['fp']}/{mi['fn']}/{mi['tn']}", fmt_ci(mi["sensitivity"], mi["sensitivity_ci"]),
                     fmt_ci(mi["specificity"], mi["specificity_ci"]), fmt_ci(mi["ppv"], mi["ppv_ci"]), fmt_ci(mi["f1"], mi["f1_ci"]), ""])  # fmt: skip
        rows.append(["**macro mean**", "", "", fmt(ma["sensitivity"], 2), fmt(ma["specificity"], 2), fmt(ma["ppv"], 2), fmt(ma["f1"], 2), ""])
        out.append(("Statements (95% bootstrap CI over cases)", ["statement", "n", "TP/FP/FN/TN", "sensitivity", "specificity", "PPV", "F1", "indeterminate"], rows))
    bs = s.get("by_source") or {}
    if bs:
        rows = [[g, str(v["cases"]), str(v["statements"]["n"]), fmt_ci(v["statements"]["sensitivity"], v["statements"]["sensitivity_ci"]),
                 fmt_ci(v["statements"]["specificity"], v["statements"]["specificity_ci"]), fmt_ci(v["statements"]["ppv"], v["statements"]["ppv_ci"]),
                 fmt_ci(v["statements"]["f1"], v["statements"]["f1_ci"]),
                 f"{fmt(v['measurement_pass_rate'], 2)} ({v['measurements']})" if v["measurements"] else "–"] for g, v in bs.items()]  # fmt: skip
        out.append(("By source (case-id prefix): statements pooled, micro", ["source", "cases", "pairs", "sensitivity", "specificity", "PPV", "F1",
                                                                             "measurement pass"], rows))  # fmt: skip
    pm = s["measurements"]["per_measurement"]
    if pm:
        rows = [[k, v.get("unit") or "", str(v["n"]), str(v["missing"]), fmt(v.get("mae"), 2) if "mae" in v else (f"(mean {v['mean_predicted']:.3g})" if "mean_predicted" in v else "–"), fmt(v.get("bias"), 2),
                 f"{fmt(v.get('loa_low'), 1)} … {fmt(v.get('loa_high'), 1)}" if "loa_low" in v else "–", fmt(v.get("pearson_r"), 3),
                 fmt(v.get("within_tolerance"), 2), fmt(v.get("pass_rate"), 2)] for k, v in pm.items()]  # fmt: skip
        out.append(("Measurements (predicted − truth)", ["measurement", "unit", "n paired", "missing", "MAE", "bias", "95% limits of agreement", "r",
                                                        "within tolerance", "pass"], rows))  # fmt: skip
    im = s["imaging"]
    if im["segmentation"] or im["reconstruction"]:
        rows = []
        for metric, d in im["segmentation"].items():
            for k, v in d.items():
                rows.append([f"{metric} {k}", fmt(v, 3), str(im["segmentation_cases"])])
        for k, v in im["reconstruction"].items():
            rows.append([k, fmt(v, 3 if k != "psnr_db" else 2), str(im["reconstruction_cases"])])
        out.append(("Images (from tool artifacts vs simulator truth)", ["metric", "mean", "cases"], rows))
    r, g, h, gl = s["routing"], s["grounding"], s["hallucinations"], s["guidelines"]
    rows = [
        ["cases scored / errors / skipped", f"{s['cases']['scored']} / {s['cases']['errors']} / {s['cases']['skipped']}"],
        ["expected outcome (report or refusal)", f"{s['outcome']['correct']}/{s['outcome']['cases']}"],
        ["tool routing precision / recall", f"{fmt(r['precision'], 2)} / {fmt(r['recall'], 2)} (TP {r['tp']}, FP {r['fp']}, FN {r['fn']}; failed calls {r['failed_calls']})"],
        ["grounding rate (numbers traced / checked)", f"{fmt(g['rate'], 3)} ({g['numbers_traced']}/{g['numbers_checked']})"],
        ["sentences removed by the pipeline's verifier", str(g["sentences_removed_by_pipeline"])],
        ["hallucinated findings / modalities", f"{h['findings']} / {h['modalities']} (cases with any: {h['cases_with_any']})"],
        ["ungrounded sentences in final reports (re-verified)", str(h["ungrounded_sentences"])],
        ["guideline citation precision / recall", f"{fmt(gl['precision'], 2)} ({gl['correct_cited']}/{gl['cited']} cited passages correct) / "
         f"{fmt(gl['recall'], 2)} ({gl['matched_required']}/{gl['required']} required citations made) over {gl['cases']} case(s)" if gl["cases"] else "–"],
        ["abstention correct", f"{s['abstention']['correct']}/{s['abstention']['cases']}" if s["abstention"]["cases"] else "–"],
    ]  # fmt: skip
    for k, v in s["history"].items():
        rows.append([k.replace("_", " "), f"{v['correct']}/{v['cases']}"])
    if s["chat"]["questions"]:
        c = s["chat"]
        rows.append(["chat answers correct", f"{c['correct']}/{c['questions']} (answered {c['answered']}; median {fmt(c['latency_s'].get('median'), 1)} s)"])
    lat = s["latency"]["case_s"]
    rows.append(["latency per case (s): median / p90 / max", f"{fmt(lat.get('median'), 1)} / {fmt(lat.get('p90'), 1)} / {fmt(lat.get('max'), 1)}"])
    rows.append(["LLM calls / tokens (report + chat)", f"{s['llm']['calls']} / {s['llm']['tokens'] + s['chat']['llm_tokens']}"])
    out.append(("Agent behaviour", ["metric", "value"], rows))
    nodes = s["latency"]["nodes"] | {f"tool {k}": v for k, v in s["latency"]["tools"].items()}
    if nodes:
        out.append(("Latency per node and tool (s)", ["node", "n", "mean", "median", "p90", "max"],
                    [[k, str(v["n"]), fmt(v.get("mean"), 2), fmt(v.get("median"), 2), fmt(v.get("p90"), 2), fmt(v.get("max"), 2)] for k, v in nodes.items()]))  # fmt: skip
    return out


def case_rows(results: list[dict]) -> list[list[str]]:
    rows = []
    for r in results:
        sc = r.get("scores") or {}
        st = sc.get("statements", [])
        ms = sc.get("measurements", [])
        h = sc.get("hallucinations", {})
        problems = [f"{x['key']}: expected {'present' if x['expected'] else 'absent'}" for x in st if not x["correct"]]
        problems += [_measurement_problem(x) for x in ms if not x["pass"]]
        problems += h.get("findings", []) + h.get("modalities", [])
        ab = sc.get("abstention")
        if ab and not ab["correct"]:
            problems += ab["why"]
        problems += [f"chat: {q['question']!r} failed {', '.join(k for k, ok in q['checks'].items() if not ok)}" for q in sc.get("chat", []) if not q["correct"]]
        if r.get("status") in ("error", "skipped"):
            problems = [str(r.get("error") or r.get("reason"))]
        rows.append([r["case_id"], r.get("status", ""), f"{sum(x['correct'] for x in st)}/{len(st)}" if st else "–",
                     f"{sum(x['pass'] for x in ms)}/{len(ms)}" if ms else "–", fmt(r.get("latency", {}).get("case_s"), 1),
                     "; ".join(problems)[:400] or "ok"])  # fmt: skip
    return rows


def _measurement_problem(x: dict) -> str:
    if not x["found"]:
        return f"{x['name']}: missing"
    want = []
    if x.get("truth") is not None:
        want.append(f"truth {fmt(x['truth'], 1)}" + (f" ± {fmt(x['tolerance'], 1)}" if x.get("tolerance") is not None else ""))
    if x.get("min") is not None:
        want.append(f"min {fmt(x['min'], 2)}")
    if x.get("max") is not None:
        want.append(f"max {fmt(x['max'], 2)}")
    if x.get("expected_flag"):
        want.append(f"flag {x['expected_flag']} (got {x.get('flag')})")
    if x.get("unit_ok") is False:
        want.append(f"unit {x['unit']} (got {x.get('predicted_unit')})")
    return f"{x['name']}: {x['predicted']:.4g} ({', '.join(want)})"


CASE_HEADER = ["case", "status", "statements correct", "measurements pass", "seconds", "problems"]


def _run_lines(run: dict) -> list[str]:
    tools = ", ".join(f"{k} {v}" for k, v in sorted((run.get("tool_versions") or {}).items())) or "–"
    return [f"- backend: **{run.get('backend')}**" + (f", model {run['llm_model']}" if run.get("llm_model") else ""),
            f"- cardioagent {run.get('app_version')}, commit {run.get('git_commit') or 'unknown'}; tools: {tools}",
            f"- started {run.get('started')}, {fmt(run.get('wall_s'), 0)} s wall; command: `{run.get('command')}`"]  # fmt: skip


def render_markdown(s: dict, results: list[dict]) -> str:
    run = s["run"]
    lines = [f"# Evaluation: {run.get('suite')} ({run.get('run_id')})", "", *_run_lines(run)]
    if run.get("notes"):
        lines += [f"- note: {n}" for n in run["notes"]]
    lines.append("")
    for title, header, rows in sections(s):
        lines += [f"## {title}", "", *_md_table(header, rows), ""]
    if s["cases"]["skipped_list"]:
        lines += ["## Skipped", ""] + [f"- {x}" for x in s["cases"]["skipped_list"]] + [""]
    lines += ["## Cases", "", *_md_table(CASE_HEADER, case_rows(results)), ""]
    return "\n".join(lines)


CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#f0f3f7}tr:nth-child(even) td{background:#fafafa}code{background:#f4f4f4;padding:1px 4px}.bad{color:#a00}"""


def _html_table(header: list[str], rows: list[list[str]], link_col: int | None = None, links: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, c in enumerate(row):
            text = html.escape(c.replace("**", ""))
            if link_col == j and links and links[i]:
                text = f'<a href="{html.escape(links[i])}">{text}</a>'
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(s: dict, results: list[dict]) -> str:
    run = s["run"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(str(run.get('suite')))} evaluation</title>",
             f"<style>{CSS}</style></head><body>", f"<h1>Evaluation: {html.escape(str(run.get('suite')))} ({html.escape(str(run.get('run_id')))})</h1><ul>"]  # fmt: skip
    for line in _run_lines(run) + [f"- note: {n}" for n in run.get("notes") or []]:
        parts.append(f"<li>{html.escape(line[2:].replace('**', '').replace('`', ''))}</li>")
    parts.append("</ul>")
    for title, header, rows in sections(s):
        parts.append(f"<h2>{html.escape(title)}</h2>{_html_table(header, rows)}")
    if s["cases"]["skipped_list"]:
        parts.append("<h2>Skipped</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in s["cases"]["skipped_list"]) + "</ul>")
    links = [r.get("report_html") or "" for r in results]
    parts.append(f"<h2>Cases</h2>{_html_table(CASE_HEADER, case_rows(results), 0, links)}</body></html>")
    return "\n".join(parts)
