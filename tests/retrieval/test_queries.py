"""Findings → guideline queries (no model)."""

from __future__ import annotations

import math

from retrieval.queries import queries_from_findings


def m(name, value, unit, flag=None, label=None):
    return {"kind": "measurement", "name": name, "label": label or name, "value": value, "unit": unit, "flag": flag, "status": None}


def s(name, label, status="present"):
    return {"kind": "statement", "name": name, "label": label, "value": None, "unit": None, "flag": None, "status": status}


def texts(findings):
    return [q.text for q in queries_from_findings(findings, ["ecg", "echo"])]


def test_abnormal_measurements_become_valued_queries():
    out = texts([m("lvef", 35, "%", "low", "LV ejection fraction"), m("qtc_fridericia", 510, "ms", "high")])
    assert out[0] == "LVEF 35% → HFrEF heart failure with reduced ejection fraction therapy"
    assert out[1].startswith("QTc 510 ms → markedly prolonged QT")
    assert texts([m("lvef", 45, "%")]) == ["LVEF 45% → HFmrEF heart failure with mildly reduced ejection fraction"]
    assert texts([m("pr_interval", 240, "ms", "high")]) == ["PR 240 ms → first-degree AV block, PR prolongation"]
    assert texts([m("heart_rate", 42, "/min", "low")])[0].startswith("heart rate 42 bpm → bradycardia")
    assert texts([m("qrs_duration", 158, "ms", "high")])[0].startswith("QRS 158 ms → complete bundle branch block")


def test_normal_values_absent_statements_and_nan_give_no_query():
    assert texts([m("lvef", 62, "%", "normal"), m("qtc_bazett", 420, "ms", "normal"), m("heart_rate", 72, "/min")]) == []
    assert texts([s("atrial_fibrillation", "Atrial fibrillation", status="absent")]) == []
    assert texts([s("sinus_rhythm", "Sinus rhythm")]) == []
    assert texts([m("lvef", math.nan, "%", "low"), m("lvef", None, "%", "low")]) == []
    assert texts([]) == []
    assert texts(["not a dict", {"kind": "other"}]) == []


def test_statements_use_their_label_and_search_terms():
    out = texts([s("atrial_fibrillation", "Atrial fibrillation")])
    assert out == ["atrial fibrillation: CHA2DS2-VA stroke risk, oral anticoagulation, rate and rhythm control"]
    out = texts([s("brugada_pattern", "Brugada type 1 pattern")])
    assert out == ["Brugada type 1 pattern"]  # unknown statements are searched by label


def test_one_query_per_concept_and_the_measurement_wins():
    findings = [
        s("long_qtc", "Prolonged QTc"),
        m("qtc_bazett", 530, "ms", "high"),
        m("qtc_fridericia", 505, "ms", "high"),
        s("first_degree_av_block", "First-degree AV block"),
        m("pr_interval", 260, "ms", "high"),
    ]
    qs = queries_from_findings(findings, ["ecg"])
    assert [q.concept for q in qs] == ["qtc", "pr"]
    assert qs[0].text.startswith("QTc 530 ms")  # first valued QTc in input order
    assert "qtc" in qs[0].measurement_names and "qtc_bazett" in qs[0].measurement_names
    assert qs[1].text.startswith("PR 260 ms")


def test_unknown_flagged_measurement_is_searched_by_label():
    out = texts([m("aortic_root_diameter", 45, "mm", "high", "Aortic root diameter")])
    assert out == ["Aortic root diameter 45 mm → increased Aortic root diameter"]
