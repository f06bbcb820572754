"""QA session 3b: how paced and AF records are *reported*.

- ventricular pacing: sinus rhythm is never `present` next to it; intervals of paced complexes carry no native
  reference range or flag; a median beat that mixes spike-preceded and other beats says so;
- the two P-wave metrics are labelled so they cannot read as the same quantity;
- QT/QTc during atrial fibrillation are `limited`, unflagged, and long/short QTc is indeterminate;
- the printout caption follows the number of leads.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from experts.core.tool import ToolRequest
from experts.ecg.criteria_table import build_rules
from experts.ecg.pipeline import _limit_qt_in_af, printout_caption
from experts.ecg.record import ECGRecord
from experts.ecg.rules import evaluate
from experts.ecg.synthetic import add_pacing_spikes, synthesize
from experts.ecg.tool import ECGTool
from experts.core.types import PatientContext
from tests.ecg.helpers import wfdb_study
from tests.ecg.test_pacing import FS, m, statuses, wide_regular
from tests.ecg.test_qt_reliability import SRC, analyse

PACED = ("qrs_duration", "qt_interval", "qtc_bazett", "qtc_fridericia", "qtc_framingham", "qrs_axis", "pr_interval")
SINUS = ("sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia")
QT = ("qt_interval", "qtc_bazett", "qtc_fridericia", "qtc_framingham")


def test_ventricular_pacing_with_p_waves_is_not_also_sinus_rhythm():
    sig, names, onsets = wide_regular()  # synthetic beats carry a P wave before every QRS
    plain = statuses(analyse(sig, names))
    assert plain.get("sinus_rhythm") == "present"  # the same tracing without spikes reads as sinus
    st = statuses(analyse(add_pacing_spikes(sig, onsets - 1), names))
    assert st["ventricular_paced_rhythm"] == "present"
    assert not any(st.get(k) == "present" for k in SINUS)
    assert st.get("sinus_rhythm") == "indeterminate"


def test_paced_intervals_have_no_native_range_and_say_why():
    sig, names, onsets = wide_regular()
    an = analyse(add_pacing_spikes(sig, onsets - 1), names)
    items = an.measurements.items
    for name in PACED:
        if name in items:
            mm = items[name]
            assert mm.reference_range is None and mm.flag is None, name
            assert "not applicable to paced complexes" in mm.method
            assert "(paced complexes)" in mm.label  # every beat is spike-preceded: not mixed
    assert "qrs_duration" in items and "qtc_framingham" in items


def test_median_beat_with_few_paced_beats_is_labelled_mixed():
    sig, names, onsets = wide_regular()
    an = analyse(add_pacing_spikes(sig, onsets[::2] - 1), names)  # spikes on every other beat (~50 %)
    assert statuses(an)["ventricular_paced_rhythm"] == "present"
    q = an.measurements.items["qrs_duration"]
    assert "mixed median beat" in q.label and "(paced complexes)" not in q.label
    assert "after a ventricular pacing spike" in q.evidence.location
    assert q.flag is None and q.reference_range is None


def test_p_wave_metrics_are_labelled_as_different_quantities():
    sig, names, _ = synthesize(hr=70.0, seed=2)
    items = analyse(sig, names).measurements.items
    a, b = items["p_wave_beats"].label, items["av_conducted_ratio"].label
    assert a.startswith("QRS complexes preceded by") and "template" in a  # denominator: QRS complexes
    assert b.startswith("Atrial waves") and "share of atrial waves" in b  # denominator: atrial waves
    assert a != b
    # no number with a unit in a label: it would read like a measurement in the report's prose
    assert not re.search(r"\d\s*(ms|%|bpm)", a + b)


def test_qt_in_atrial_fibrillation_is_limited_and_unflagged():
    sig, names, _ = synthesize(hr=70.0, seed=2)
    an = analyse(sig, names)
    ms = an.measurements
    assert ms.items["qtc_framingham"].flag == "normal"
    ms.add("af_burden", "Time in atrial-fibrillation-like rhythm", 100.0, "%", "test")
    _limit_qt_in_af(an, ms, "s")
    for name in QT:
        mm = ms.items[name]
        assert mm.quality == "limited" and mm.flag is None, name
        assert "atrial fibrillation" in mm.method and "RR interval varies" in mm.method
    assert "not applied during atrial fibrillation" in ms.items["qtc_framingham"].reference_range.population
    assert any("QT/QTc during atrial fibrillation" in w for w in an.warnings)


def test_qt_without_af_is_untouched():
    sig, names, _ = synthesize(hr=70.0, seed=2)
    an = analyse(sig, names)
    assert all("atrial fibrillation" not in an.measurements.items[n].method for n in QT)
    assert an.measurements.items["qtc_framingham"].flag == "normal"


def test_long_qtc_in_af_is_indeterminate():
    ms = {k: m(k, v) for k, v in {
        "rr_irregularity": 15.0, "af_burden": 100.0, "af_twelve_lead_tracing": 100.0, "qtc_framingham": 500.0,
    }.items()}
    out = {s.id.split(".", 1)[1]: s for s in evaluate(build_rules(), ms, PatientContext(sex="female"), "s", SRC).statements}
    assert out["atrial_fibrillation"].status == "present"
    assert out["long_qtc"].status == "indeterminate"
    assert "RR interval varies" in out["long_qtc"].explanation


def test_printout_caption_follows_lead_count():
    one = ECGRecord(signals=np.zeros((1, 3000)), lead_names=["ECG"], fs=300.0, source_file="x")
    twelve = ECGRecord(signals=np.zeros((12, 5000)), lead_names=["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4",
                                                               "V5", "V6"], fs=FS, source_file="x")  # fmt: skip
    assert "12-lead" not in printout_caption(one) and "Single-lead" in printout_caption(one)
    assert printout_caption(twelve).startswith("12-lead")


def _run(folder, record, tmp_path, plot=False):
    return ECGTool().run(ToolRequest(study=wfdb_study(folder, record), output_dir=str(tmp_path), options={"make_plot": plot}))


def test_ludb_104_paced_report_is_consistent(shared_data, tmp_path):
    folder = shared_data / "ecg" / "ludb" / "data"
    if not (folder / "104.hea").exists():
        pytest.skip("LUDB 104 not in the shared data")
    res = _run(folder, "104", tmp_path)
    st = {s.id.split(".", 1)[1]: s.status for s in res.statements}
    assert st["ventricular_paced_rhythm"] == "present"
    assert not any(st.get(k) == "present" for k in SINUS)
    items = {mm.name: mm for mm in res.measurements}
    for name in PACED:
        if name in items:
            assert items[name].flag is None and items[name].reference_range is None, name
            assert "paced" in items[name].label
    # 3 of 11 beats show a spike: the median beat is not all paced beats and says so
    assert "mixed median beat" in items["qrs_duration"].label


def test_cinc2017_single_lead_af_caption_and_qt(shared_data, tmp_path):
    folder = shared_data / "ecg" / "cinc2017"
    if not (folder / "A00004.hea").exists():
        pytest.skip("CinC 2017 A00004 not in the shared data")
    res = _run(folder, "A00004", tmp_path, plot=True)
    assert res.artifacts and all("12-lead" not in a.title for a in res.artifacts)
    st = {s.id.split(".", 1)[1]: s.status for s in res.statements}
    assert st["atrial_fibrillation"] == "present"
    items = {mm.name: mm for mm in res.measurements}
    for name in QT:
        if name in items:
            assert items[name].quality == "limited" and items[name].flag is None, name
