"""PR must not be measured from the previous beat's T wave (session 2 false first-degree AV block).

At 90/min with QT 400 ms the previous T wave ends 267 ms before QRS onset;
the old P search opened 300 ms before it and read PR 300 ms for a true
160 ms. Exact synthetic truth (experts/ecg/synthetic.py), whole pipeline.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from experts.core.types import PatientContext, Source
from experts.ecg.delineate import delineate
from experts.ecg.io.load import normalise
from experts.ecg.pipeline import AnalysisConfig, analyze_record
from experts.ecg.pr_reliability import PR_AGREEMENT_MS, assess_pr
from experts.ecg.record import ECGRecord
from experts.ecg.synthetic import synthesize

SRC = Source(tool="ecg_analyze", version="test")


def analyse(**case):
    sig, names, truth = synthesize(fs=500.0, **case)
    rec = normalise(ECGRecord(signals=sig, lead_names=names, fs=500.0, source_file="syn.hea"), ["mV"] * len(names))
    return analyze_record(rec, PatientContext(), "s", SRC, AnalysisConfig(make_plot=False)), truth


def avb_called(an) -> bool:
    return any(st.id.endswith(".first_degree_av_block") and st.status == "present" for st in an.statements)


@pytest.mark.parametrize("hr,qt,seed", [(90, 400, 0), (90, 480, 2), (100, 400, 1), (110, 360, 0)])
def test_normal_pr_at_fast_rates_is_not_read_from_the_t_wave(hr, qt, seed):
    """Cases with an isoelectric TP segment: PR is measured and correct, no AV block."""
    an, truth = analyse(hr=hr, qt_ms=qt, pr_ms=160.0, seed=seed)
    pr = an.measurements.items["pr_interval"].value
    assert abs(pr - truth.pr_ms) <= 15, pr
    assert not avb_called(an)


def test_p_wave_touching_the_t_wave_gives_no_pr_and_says_why():
    """100/min, QT 440, PR 160: the T wave ends where the P wave starts (TP gap 0):
    the onset cannot be separated, so no PR rather than a PR from the T wave."""
    an, _ = analyse(hr=100, qt_ms=440.0, pr_ms=160.0, seed=0)
    assert "pr_interval" not in an.measurements.items
    assert not avb_called(an)
    assert any("PR not measured" in w or "PR not measurable" in w for w in an.warnings), an.warnings


@pytest.mark.parametrize("hr,pr", [(60, 240), (70, 260), (50, 300)])
def test_long_pr_is_still_called_first_degree_av_block(hr, pr):
    an, truth = analyse(hr=hr, qt_ms=420.0 * (60.0 / hr) ** (1 / 3), pr_ms=float(pr), seed=0)
    assert abs(an.measurements.items["pr_interval"].value - truth.pr_ms) <= 15
    assert avb_called(an)
    st = next(s for s in an.statements if s.id.endswith(".first_degree_av_block"))
    assert st.criteria[0].measurement_id.endswith("pr_interval") and st.criteria[0].threshold == 200.0


def test_pr_that_differs_between_beat_halves_is_not_reproducible():
    """Median of the even beats with PR 160, odd beats with PR 240: the P onset moves
    80 ms with the beats, so the PR check refuses it; identical halves pass."""
    short, _ = analyse(hr=60, qt_ms=400.0, pr_ms=160.0, seed=3, rr_jitter=0.0)
    long_, _ = analyse(hr=60, qt_ms=400.0, pr_ms=240.0, seed=3, rr_jitter=0.0)
    mb_s, mb_l = short.median_beat, long_.median_beat
    assert mb_s.waves.shape == mb_l.waves.shape and mb_s.r_index == mb_l.r_index
    mixed = replace(mb_s, halves=(mb_s.waves, mb_l.waves))
    rel = assess_pr(mixed, delineate(mixed))
    assert not rel.measurable
    assert abs(rel.half_pr_ms[0] - rel.half_pr_ms[1]) > PR_AGREEMENT_MS
    same = replace(mb_s, halves=(mb_s.waves, mb_s.waves))
    assert assess_pr(same, delineate(same)).measurable
