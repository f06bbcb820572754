"""QT is reported, and QT-based statements made, only on a T-wave end that
is measurable: clear of the median beat's noise, reproducible between the
even- and odd-numbered beats, and (short QTc) taken across a full 12-lead
set. Truth: synthetic ECGs with exact QT (experts/ecg/synthetic.py); CinC
2017 records labelled normal that had a false "short QTc" before the check.
"""

from __future__ import annotations

import numpy as np
import pytest

from experts.core.types import PatientContext, Source
from experts.ecg.io.load import normalise
from experts.ecg.pipeline import AnalysisConfig, analyze_record
from experts.ecg.record import ECGRecord
from experts.ecg.synthetic import synthesize

SRC = Source(tool="ecg_analyze", version="test")


def analyse(sig: np.ndarray, names: list[str], fs: float = 500.0):
    rec = normalise(ECGRecord(signals=sig, lead_names=names, fs=fs, source_file="synthetic.csv"), ["mV"] * len(names))
    return analyze_record(rec, PatientContext(), "s", SRC, AnalysisConfig(make_plot=False))


def present(an) -> set[str]:
    return {s.id.split(".", 1)[1] for s in an.statements if s.status == "present"}


def short_qt_ecg(**kw):
    # QT 300 ms at 75/min: Framingham QTc = 300 + 154 × (1 − 0.8) ≈ 331 ms, well below 390
    return synthesize(hr=75.0, qt_ms=300.0, qrs_ms=90.0, duration_s=10.0, seed=3, **kw)


def test_clean_twelve_lead_short_qt_is_still_called():
    sig, names, truth = short_qt_ecg()
    an = analyse(sig, names)
    assert an.qt_reliability is not None and an.qt_reliability.measurable, an.qt_reliability
    qt = an.measurements.items["qt_interval"].value
    assert abs(qt - truth.qt_ms) < 15
    assert an.measurements.items["qt_lead_count"].value == 8
    assert "short_qtc" in present(an)
    st = next(s for s in an.statements if s.id.endswith(".short_qtc"))
    lead_crit = next(c for c in st.criteria if c.measurement_id.endswith(".qt_lead_count"))
    assert lead_crit.met and lead_crit.guideline is not None and lead_crit.guideline.year == 2007


def test_single_lead_short_qt_is_not_called_short():
    """One lead can only under-estimate the global QT: QT may be reported, a short QTc is not claimed."""
    sig, names, _ = short_qt_ecg()
    an = analyse(sig[[names.index("II")]], ["ECG"])
    assert "short_qtc" not in present(an)
    if "qt_interval" in an.measurements.items:
        assert any("short QTc is not assessed" in w for w in an.warnings), an.warnings
    else:
        assert any(w.startswith("QT not measurable") for w in an.warnings), an.warnings


def test_noisy_single_lead_reports_no_qt_at_all():
    sig, names, _ = synthesize(hr=70.0, qt_ms=400.0, noise_mv=0.12, wander_mv=0.1, duration_s=30.0, seed=5)
    an = analyse(sig[[names.index("I")]] * 0.5, ["ECG"])
    assert an.verdict != "non_diagnostic"  # the rhythm is still readable
    items = an.measurements.items
    assert not {"qt_interval", "qtc_framingham", "qtc_bazett", "qtc_fridericia"} & set(items)
    assert not present(an) & {"short_qtc", "long_qtc"}
    assert any(w.startswith("QT not measurable") for w in an.warnings), an.warnings


def test_qt_reliability_flags_a_moving_t_end():
    from experts.ecg.delineate import delineate
    from experts.ecg.median_beat import build_median_beat
    from experts.ecg.qt_reliability import T_END_AGREEMENT_MS, assess_qt

    sig, names, truth = synthesize(hr=60.0, qt_ms=420.0, duration_s=20.0, seed=7, noise_mv=0.0, wander_mv=0.0)
    # alternate the repolarisation: every other beat's T wave 60 ms shorter (T-wave end alternans)
    fs = 500.0
    out = sig.copy()
    for k, r in enumerate(truth.r_peaks):
        if k % 2:
            seg = slice(r + int(0.12 * fs), min(out.shape[1], r + int(0.6 * fs)))
            out[:, seg] = 0.0  # no T wave at all on odd beats
    mb = build_median_beat(out, names, fs, truth.r_peaks)
    assert mb is not None and mb.halves is not None
    fid = delineate(mb)
    rel = assess_qt(mb, fid)
    assert not rel.measurable
    assert rel.reasons, rel
    if rel.t_end_spread_ms is not None:
        assert rel.t_end_spread_ms > T_END_AGREEMENT_MS or any("T-wave end" in r for r in rel.reasons)


@pytest.mark.parametrize("record", ["A00019", "A02029", "A01435", "A01351"])
def test_cinc2017_normal_records_have_no_false_short_qtc(shared_data, tmp_path, record):
    """REFERENCE.csv: N. Before the check these four had QTc 329–363 ms and a 'short QTc' statement."""
    from experts.core.tool import ToolRequest
    from experts.ecg.tool import ECGTool
    from tests.ecg.helpers import wfdb_study

    res = ECGTool().run(ToolRequest(study=wfdb_study(shared_data / "ecg" / "cinc2017", record), output_dir=str(tmp_path),
                                    options={"make_plot": False}))
    ids = {s.id.split(".", 1)[1] for s in res.statements if s.status == "present"}
    assert "short_qtc" not in ids
    assert any("short QTc is not assessed" in w or w.startswith("QT not measurable") for w in res.warnings), res.warnings
