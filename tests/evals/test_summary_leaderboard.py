"""Aggregation over cases, the Markdown/HTML summary, and the leaderboard
across run folders — on per-case results scored from hand-made reports."""

from __future__ import annotations

import csv
import io
import json

import pytest

from evals.harness.leaderboard import collect_runs, rows, write_leaderboard
from evals.harness.scoring import score_case
from evals.harness.summary import aggregate, render_html, render_markdown
from tests.evals.handmade import CRT, lbbb_hfref_report, loaded


def _result(case_id: str, report, case=None, seconds: float = 2.0, tokens: int = 0, chat=None) -> dict:
    c = case or loaded()
    return {"case_id": case_id, "status": "ok" if report is not None else "rejected", "scores": score_case(c, report, [], chat),
            "latency": {"case_s": seconds, "nodes": {"intake": 0.1, "run_expert": seconds - 0.5}, "tools": {"ecg_analyze": seconds - 0.6}},
            "llm": {"calls": 1 if tokens else 0, "tokens": tokens}}  # fmt: skip


RUN = {"suite": "unit", "run_id": "20260101-000000", "backend": "rules", "app_version": "0.1.0", "git_commit": "abc1234", "command": "test"}


@pytest.fixture(scope="module")
def results():
    good = lbbb_hfref_report(passages=(CRT,))
    no_echo = lbbb_hfref_report(with_echo=False, passages=())
    return [
        _result("a", good, seconds=2.0),
        _result("b", no_echo, seconds=4.0, tokens=120),
        {"case_id": "c", "status": "error", "error": "RuntimeError: boom"},
        {"case_id": "d", "status": "skipped", "reason": "needs shared data"},
    ]


def test_aggregate_counts_and_rates(results):
    s = aggregate(results, RUN, bootstrap_samples=200)
    assert s["cases"] == {**s["cases"], "total": 4, "scored": 2, "errors": 1, "skipped": 1}
    lbbb = s["statements"]["per_statement"]["lbbb"]
    assert (lbbb["tp"], lbbb["fn"], lbbb["n"], lbbb["sensitivity"]) == (2, 0, 2, 1.0)
    lv = s["statements"]["per_statement"]["lvef_reduced"]
    assert (lv["tp"], lv["fn"], lv["sensitivity"]) == (1, 1, 0.5)
    rb = s["statements"]["per_statement"]["rbbb"]
    assert (rb["fn"], rb["sensitivity"]) == (2, 0.0)
    micro = s["statements"]["micro"]
    assert micro["n"] == 12  # 6 keys (5 expected + the must_not sinus_rhythm) × 2 cases
    qrs = s["measurements"]["per_measurement"]["qrs_duration"]
    assert (qrs["n"], qrs["mae"], qrs["bias"], qrs["pass_rate"]) == (2, 10.0, 10.0, 1.0)
    lvef = s["measurements"]["per_measurement"]["lvef"]
    assert (lvef["n"], lvef["missing"]) == (1, 1)
    assert s["routing"]["tp"] == 3 and s["routing"]["fn"] == 1 and s["routing"]["recall"] == pytest.approx(0.75)
    assert s["guidelines"]["tp"] == 1 and s["guidelines"]["fn"] == 1 and s["guidelines"]["precision"] == 1.0 and s["guidelines"]["recall"] == 0.5
    assert s["grounding"]["rate"] == 1.0 and s["grounding"]["numbers_checked"] == 8
    assert s["hallucinations"]["findings"] == 2  # sinus_rhythm is in must_not, present in both
    assert s["latency"]["case_s"]["median"] == 3.0 and s["latency"]["tools"]["ecg_analyze"]["n"] == 2
    assert s["llm"]["tokens"] == 120
    h = s["headline"]
    assert h["cases"] == 2 and h["errors"] == 1 and h["routing_recall"] == pytest.approx(0.75) and h["llm_tokens"] == 120


def test_markdown_and_html_render_the_numbers(results):
    s = aggregate(results, RUN, bootstrap_samples=200)
    md = render_markdown(s, results)
    assert "# Evaluation: unit (20260101-000000)" in md
    assert "| lbbb | 2 | 2/0/0/0 | 1.00 (1.00–1.00)" in md
    assert "| qrs_duration | ms | 2 | 0 | 10.00 | 10.00 |" in md
    assert "| c | error |" in md
    assert "needs shared data" in md
    html = render_html(s, results)
    assert html.startswith("<!doctype html>") and "<td>lbbb</td>" in html
    assert "RuntimeError: boom" in html


def _write_run(root, suite, run_id, backend, model, results):
    s = aggregate(results, {**RUN, "suite": suite, "run_id": run_id, "backend": backend, "llm_model": model}, bootstrap_samples=50)
    d = root / suite / run_id
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps(s, default=str))
    return s


def test_leaderboard_across_runs(tmp_path, results):
    _write_run(tmp_path, "unit", "20260101-000000", "rules", None, results)
    _write_run(tmp_path, "unit", "20260102-000000", "rules", None, results[:1])
    _write_run(tmp_path, "unit", "20260103-000000", "openai", "qwen3-8b", results[1:2])
    _write_run(tmp_path, "other", "20260101-000000", "rules", None, results)
    (tmp_path / "junk" / "x").mkdir(parents=True)
    (tmp_path / "junk" / "x" / "summary.json").write_text("{not json")
    runs = collect_runs(tmp_path)
    assert len(runs) == 4
    all_rows = rows(runs)
    assert [(r["suite"], r["run"], r["backend"]) for r in all_rows] == [
        ("other", "20260101-000000", "rules"), ("unit", "20260101-000000", "rules"), ("unit", "20260102-000000", "rules"),
        ("unit", "20260103-000000", "openai")]  # fmt: skip
    latest = rows(runs, latest_only=True)
    assert [(r["suite"], r["run"]) for r in latest] == [("other", "20260101-000000"), ("unit", "20260102-000000"), ("unit", "20260103-000000")]
    assert latest[2]["model"] == "qwen3-8b" and latest[2]["version"] == "0.1.0@abc1234"
    paths = write_leaderboard(tmp_path)
    md = paths["md"].read_text()
    assert md.count("\n| unit |") == 3 and "qwen3-8b" in md
    table = list(csv.DictReader(io.StringIO(paths["csv"].read_text())))
    assert len(table) == 4 and table[2]["cases"] == "1" and float(table[1]["routing_recall"]) == pytest.approx(0.75)
    assert 'href="unit/20260103-000000/summary.html"' in paths["html"].read_text()
