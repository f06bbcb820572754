"""Global intervals against exact truth (synthetic) and the plot artifact."""

from __future__ import annotations

import numpy as np
import pytest

from experts.core.types import PatientContext, Source
from experts.ecg.io.load import normalise
from experts.ecg.pipeline import AnalysisConfig, analyze_record
from experts.ecg.record import ECGRecord
from experts.ecg.synthetic import synthesize

SRC = Source(tool="ecg_analyze", version="test")


def analyse(sig, names, fs, tmp_path=None):
    rec = normalise(ECGRecord(signals=sig, lead_names=names, fs=fs, source_file="syn.hea"), ["mV"] * len(names))
    return analyze_record(rec, PatientContext(), "s", SRC, AnalysisConfig(make_plot=tmp_path is not None, output_dir=tmp_path))


@pytest.mark.parametrize("case", [
    dict(hr=60, pr_ms=160, qrs_ms=90, qt_ms=400, seed=1),
    dict(hr=75, pr_ms=230, qrs_ms=140, qt_ms=400, seed=2),
    dict(hr=50, pr_ms=130, qrs_ms=80, qt_ms=440, seed=3),
])
def test_intervals_on_exact_synthetic_truth(case):
    sig, names, truth = synthesize(fs=500.0, noise_mv=0.01, wander_mv=0.05, **case)
    an = analyse(sig, names, 500.0)
    m = an.measurements.items
    assert abs(m["pr_interval"].value - truth.pr_ms) <= 20
    assert abs(m["qrs_duration"].value - truth.qrs_ms) <= 20
    assert abs(m["qt_interval"].value - truth.qt_ms) <= 20
    assert abs(m["heart_rate"].value - case["hr"]) < 3
    assert m["qrs_duration"].code.code == "8633-0" and m["qrs_duration"].evidence.leads


def test_qtc_formulas_consistent():
    sig, names, truth = synthesize(fs=500.0, hr=75, qt_ms=400, seed=4)
    m = analyse(sig, names, 500.0).measurements.items
    qt, rr = m["qt_interval"].value, float(m["qt_interval"].value)  # noqa: F841
    rr_s = 60.0 / 75
    # all three corrections agree with their formulas on the median RR used (within RR jitter)
    assert abs(m["qtc_bazett"].value - qt / np.sqrt(rr_s)) < 12
    assert abs(m["qtc_fridericia"].value - qt / rr_s ** (1 / 3)) < 8
    assert abs(m["qtc_framingham"].value - (qt + 154 * (1 - rr_s))) < 5


def test_wide_qrs_synthetic_is_not_called_normal():
    sig, names, truth = synthesize(fs=500.0, hr=70, pr_ms=160, qrs_ms=150, qt_ms=440, seed=5)
    an = analyse(sig, names, 500.0)
    labels = {s.label for s in an.statements}
    assert an.measurements.items["qrs_duration"].value >= 130
    assert labels & {"Left bundle branch block", "Right bundle branch block", "Nonspecific intraventricular conduction delay"}


def test_printout_png(tmp_path):
    sig, names, _ = synthesize(fs=500.0, seed=6)
    an = analyse(sig, names, 500.0, tmp_path)
    assert an.artifacts and an.artifacts[0].media_type == "image/png"
    from PIL import Image

    im = Image.open(an.artifacts[0].path)
    assert im.size[0] > 1500 and im.size[0] > 2 * im.size[1]
    px = np.asarray(im.convert("RGB"), dtype=int)
    assert (px.sum(axis=2) < 150).mean() > 0.002  # black traces were drawn on the grid
