"""Numeric-range matching (retrieval/numeric.py) and its fusion vote. No model, no index."""

import pytest

from retrieval.corpus_loader import load_corpus
from retrieval.numeric import Interval, NumericIndex, Quantity, query_quantities, statement_intervals
from retrieval.search import fuse_with_numeric, rrf_fuse


def values(query: str) -> dict[str, float]:
    return {q.measurement: q.value for q in query_quantities(query)}


def test_query_values_with_and_without_units():
    assert values("QRS 140 ms with LBBB") == {"qrs_duration": 140.0}
    assert values("LVEF 33% → reduced LVEF") == {"lvef": 33.0}
    assert values("QTc 485") == {"qtc": 485.0}  # no unit: the measurement's own
    assert values("EF of 30% on optimal therapy") == {"lvef": 30.0}
    assert values("E/A 2.3 in DCM") == {"e_over_a": 2.3}
    assert values("LA volume index 44 mL/m²") == {"la_volume_index": 44.0}
    assert values("regular tachycardia at 180 bpm") == {"heart_rate": 180.0}


def test_query_units_are_converted():
    assert values("ST elevation 2 mm in V2") == {"st_elevation": pytest.approx(0.2)}  # 1 mm = 0.1 mV
    assert values("IVC 25 mm") == {"ivc_diameter": pytest.approx(2.5)}


def test_query_without_a_named_value_gives_nothing():
    assert query_quantities("criteria for complete LBBB") == []
    assert query_quantities("AF for 3 days, cardioversion planned") == []
    assert query_quantities("troponin 6 × URL after PCI") == []  # not a measurement in the table
    assert query_quantities("") == []


def one(text: str, measurement: str) -> list[Interval]:
    return [iv for iv in statement_intervals(text) if iv.measurement == measurement]


def test_statement_ranges_and_inequalities():
    [rng] = one("CRT should be considered with LBBB and a QRS duration of 130–149 ms.", "qrs_duration")
    assert rng.contains(130) and rng.contains(149) and not rng.contains(150) and not rng.contains(129)
    [upper] = one("ICD for LVEF of 35% or less despite therapy.", "lvef")
    assert upper.contains(35) and not upper.contains(36)
    [below] = one("CRT is not indicated when the QRS duration is below 130 ms.", "qrs_duration")
    assert below.contains(129) and not below.contains(130)  # open bound
    [start] = one("A corrected QT interval is regarded as prolonged from 450 ms in men.", "qtc")
    assert start.contains(450) and not start.contains(449)
    [half_open] = one("An ICD may be considered for an LVEF of 4% to less than 6%.", "lvef")
    assert half_open.contains(4) and not half_open.contains(6)


def test_numbers_go_to_the_measurement_named_before_them():
    text = ("A primary-prevention ICD is recommended with LVEF of 35% or less despite at least 3 months of "
            "therapy, and a QRS of 150 ms or more favours CRT.")
    got = {(iv.measurement, iv.low, iv.high) for iv in statement_intervals(text)}
    assert ("lvef", float("-inf"), 35.0) in got
    assert ("qrs_duration", 150.0, float("inf")) in got
    assert all(iv.measurement != "lvef" or iv.high == 35.0 for iv in statement_intervals(text))  # not "3 months"
    # a number whose measurement is not named is left out, not guessed
    assert statement_intervals("Observe for at least 5 days before implanting.") == []
    # lead names are not numbers
    assert statement_intervals("ST elevation in V2 and V3 is common.") == []


def test_real_corpus_crt_statements_split_by_qrs_range():
    passages = load_corpus().by_id()
    index = NumericIndex({pid: p.text for pid, p in passages.items()})
    qrs_140 = [Quantity("qrs_duration", 140.0)]
    assert index.matches("esc-hf-2021-crt-lbbb-130-149", qrs_140)
    assert index.matches("esc-pacing-2021-crt-lbbb-130-149", qrs_140)
    assert not index.matches("esc-hf-2021-crt-lbbb-150", qrs_140)
    assert not index.matches("esc-hf-2021-crt-qrs-under-130", qrs_140)
    assert index.matches("esc-hf-2021-crt-lbbb-150", [Quantity("qrs_duration", 150.0)])
    # a value for another measurement does not count
    assert not index.matches("esc-hf-2021-crt-lbbb-130-149", [Quantity("qtc", 140.0)])
    # sex-specific limits: either counts
    assert index.matches("ecg-p4-prolonged-qtc-thresholds", [Quantity("qtc", 455.0)])
    assert not index.matches("ecg-p4-prolonged-qtc-thresholds", [Quantity("qtc", 440.0)])


def test_vote_reorders_candidates_and_adds_none():
    index = NumericIndex({
        "crt-150": "CRT is recommended for a QRS duration of 150 ms or more.",
        "crt-130-149": "CRT should be considered for a QRS duration of 130–149 ms.",
        "other": "Unrelated statement.",
        "outside": "A QRS of 120–149 ms is also mentioned here.",
    })
    rankings = [["crt-150", "other", "crt-130-149"], ["crt-150", "crt-130-149", "other"]]
    weights = [0.8, 1.0]
    plain = [d for d, _ in rrf_fuse(rankings, weights=weights)]
    assert plain[0] == "crt-150"
    voted = [d for d, _ in fuse_with_numeric(rankings, weights, [Quantity("qrs_duration", 140.0)], index, 1.0)]
    assert voted[0] == "crt-130-149"
    assert "outside" not in voted  # matches, but neither retriever found it
    # no value in the query, or weight 0: plain fusion
    assert fuse_with_numeric(rankings, weights, [], index, 1.0) == rrf_fuse(rankings, weights=weights)
    assert fuse_with_numeric(rankings, weights, [Quantity("qrs_duration", 140.0)], index, 0.0) == rrf_fuse(
        rankings, weights=weights
    )
