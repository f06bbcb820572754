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
from tests.evals.handmade import CRT, LBBB_CASE, UNRELATED, lbbb_hfref_report, loaded


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
    two_ok_one_wrong = lbbb_hfref_report(passages=(CRT, UNRELATED))
    return [
        _result("a", good, seconds=2.0),
        _result("b", no_echo, seconds=4.0, tokens=120),
        _result("e", two_ok_one_wrong, case=loaded(LBBB_CASE.replace('guidelines_allowed: ["ase-cq-2015-*"]', 'guidelines_allowed: []')), seconds=3.0),
        {"case_id": "c", "status": "error", "error": "RuntimeError: boom"},
        {"case_id": "d", "status": "skipped", "reason": "needs shared data"},
    ]


def test_aggregate_counts_and_rates(results):
    s = aggregate(results, RUN, bootstrap_samples=200)
    assert s["cases"] == {**s["cases"], "total": 5, "scored": 3, "errors": 1, "skipped": 1}
    lbbb = s["statements"]["per_statement"]["lbbb"]
    assert (lbbb["tp"], lbbb["fn"], lbbb["n"], lbbb["sensitivity"]) == (3, 0, 3, 1.0)
    lv = s["statements"]["per_statement"]["lvef_reduced"]
    assert (lv["tp"], lv["fn"]) == (2, 1) and lv["sensitivity"] == pytest.approx(2 / 3)
    rb = s["statements"]["per_statement"]["rbbb"]
    assert (rb["fn"], rb["sensitivity"]) == (3, 0.0)
    micro = s["statements"]["micro"]
    assert micro["n"] == 18  # 6 keys (5 expected + the must_not sinus_rhythm) × 3 cases
    qrs = s["measurements"]["per_measurement"]["qrs_duration"]
    assert (qrs["n"], qrs["mae"], qrs["bias"], qrs["pass_rate"]) == (3, 10.0, 10.0, 1.0)
    lvef = s["measurements"]["per_measurement"]["lvef"]
    assert (lvef["n"], lvef["missing"]) == (2, 1)
    assert s["routing"]["tp"] == 5 and s["routing"]["fn"] == 1 and s["routing"]["recall"] == pytest.approx(5 / 6)
    g = s["guidelines"]
    assert (g["cited"], g["correct_cited"], g["required"], g["matched_required"]) == (3, 2, 3, 2)
    assert g["precision"] == pytest.approx(2 / 3) and g["recall"] == pytest.approx(2 / 3)
    assert s["grounding"]["rate"] == 1.0 and s["grounding"]["numbers_checked"] == 12
    assert s["hallucinations"]["findings"] == 3  # sinus_rhythm is in must_not, present in all three
    assert s["latency"]["case_s"]["median"] == 3.0 and s["latency"]["tools"]["ecg_analyze"]["n"] == 3
    assert s["llm"]["tokens"] == 120
    h = s["headline"]
    assert h["cases"] == 3 and h["errors"] == 1 and h["routing_recall"] == pytest.approx(5 / 6) and h["llm_tokens"] == 120
    assert h["guideline_precision"] == pytest.approx(2 / 3)


def test_markdown_and_html_render_the_numbers(results):
    s = aggregate(results, RUN, bootstrap_samples=200)
    md = render_markdown(s, results)
    assert "# Evaluation: unit (20260101-000000)" in md
    assert "| lbbb | 3 | 3/0/0/0 | 1.00 (1.00–1.00)" in md
    assert "| qrs_duration | ms | 3 | 0 | 10.00 | 10.00 |" in md
    assert "0.67 (2/3 cited passages correct) / 0.67 (2/3 required citations made)" in md
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
    assert len(table) == 4 and table[2]["cases"] == "1" and float(table[1]["routing_recall"]) == pytest.approx(5 / 6)
    assert 'href="unit/20260103-000000/summary.html"' in paths["html"].read_text()
