"""Classification metrics, bootstrap intervals and agreement, checked
against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from evals.harness.metrics import agreement, binary_summary, bootstrap_ci, confusion, distribution, precision_recall

# 4 TP, 1 FN, 2 FP, 3 TN
PAIRS = [(True, True)] * 4 + [(True, False)] + [(False, True)] * 2 + [(False, False)] * 3


def test_confusion_and_ratios():
    c = confusion(PAIRS)
    assert (c.tp, c.fn, c.fp, c.tn, c.n) == (4, 1, 2, 3, 10)
    assert c.sensitivity() == pytest.approx(4 / 5)
    assert c.specificity() == pytest.approx(3 / 5)
    assert c.ppv() == pytest.approx(4 / 6)
    assert c.f1() == pytest.approx(2 * 4 / (2 * 4 + 2 + 1))
    assert c.accuracy() == pytest.approx(7 / 10)


def test_undefined_metrics_are_none_not_zero():
    only_negatives = [(False, False)] * 5
    s = binary_summary(only_negatives, samples=200)
    assert s["sensitivity"] is None and s["sensitivity_ci"] is None
    assert s["ppv"] is None and s["f1"] is None
    assert s["specificity"] == 1.0 and s["specificity_ci"] == (1.0, 1.0)


def test_bootstrap_ci_brackets_the_estimate_and_is_reproducible():
    pairs = PAIRS * 5
    lo, hi = bootstrap_ci(pairs, "sensitivity", samples=500)
    assert 0 <= lo <= 0.8 <= hi <= 1
    assert hi - lo > 0.05  # 25 positives: a real interval, not a point
    assert bootstrap_ci(pairs, "sensitivity", samples=500) == (lo, hi)
    wider = bootstrap_ci(PAIRS, "sensitivity", samples=500)
    assert wider[1] - wider[0] > hi - lo  # fewer cases, wider interval


def test_agreement_by_hand():
    pred, truth = [102.0, 95.0, 110.0, 100.0], [100.0, 100.0, 100.0, 100.0]
    a = agreement(pred, truth, [5.0, 5.0, 5.0, None])
    d = [2.0, -5.0, 10.0, 0.0]
    mean = sum(d) / 4
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 3)
    assert a["n"] == 4
    assert a["mae"] == pytest.approx(17 / 4)
    assert a["bias"] == pytest.approx(mean)
    assert a["sd"] == pytest.approx(sd)
    assert a["loa_low"] == pytest.approx(mean - 1.96 * sd) and a["loa_high"] == pytest.approx(mean + 1.96 * sd)
    assert a["within_tolerance"] == pytest.approx(2 / 3)  # |2|, |-5| within 5; 10 not; the 4th has no tolerance
    assert "pearson_r" not in a  # constant truth: correlation undefined
    assert agreement([], [])["n"] == 0


def test_distribution_and_precision_recall():
    d = distribution([1.0, 2.0, 3.0, None, float("nan")])
    assert (d["n"], d["mean"], d["median"], d["max"], d["sum"]) == (3, 2.0, 2.0, 3.0, 6.0)
    assert distribution([])["n"] == 0
    pr = precision_recall(3, 1, 2)
    assert pr["precision"] == pytest.approx(0.75) and pr["recall"] == pytest.approx(0.6)
    assert precision_recall(0, 0, 0)["precision"] is None
