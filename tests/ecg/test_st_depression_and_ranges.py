"""ST depression with the lead-specific thresholds of AHA/ACCF/HRS 2009
Part VI (V2–V3 ≥0.05 mV, other leads ≥0.1 mV, two contiguous leads),
secondary ST-T changes with bundle-branch block (Part IV), and the
reference ranges of heart rate, PR, P duration and QRS axis."""

from __future__ import annotations

import pytest

from experts.core.tool import ToolRequest
from experts.core.types import PatientContext
from experts.ecg.intervals import heart_rate_reference
from experts.ecg.tool import ECGTool
from tests.ecg.helpers import wfdb_study
from tests.ecg.test_rules import SINUS, run

RBBB = dict(qrs_duration=140.0, r_prime_amplitude_V1=0.4, s_duration_I=60.0, s_duration_V6=55.0,
            r_peak_time_V6=40.0, q_amplitude_I=0.1, q_amplitude_V6=0.1)
LBBB = dict(qrs_duration=150.0, r_peak_time_V6=80.0, q_amplitude_I=0.0, q_amplitude_V6=0.0)


def st(**leads: float) -> dict[str, float]:
    """ST level at J and J+60 equal (horizontal) per lead."""
    out = {}
    for lead, v in leads.items():
        out[f"st_j_{lead}"] = v
        out[f"st_j60_{lead}"] = v
    return out


def std(statements) -> dict:
    return {k: s for k, s in statements.items() if k.startswith("st_depression")}


def test_qa_case_v1_and_v4_below_their_threshold_are_not_st_depression():
    # QA: V1 −0.06 and V4 −0.05 mV were called against a −0.05 mV threshold; outside V2–V3 it is −0.1 mV
    assert not std(run(**st(V1=-0.06, V4=-0.05, V5=-0.02)))
    assert not std(run(**st(I=-0.08, aVL=-0.09)))


def test_lead_specific_thresholds_and_citation():
    v23 = std(run(**st(V2=-0.06, V3=-0.06)))["st_depression_anterior"]
    assert v23.status == "present" and "V2, V3" in v23.label
    j_rows = [c for c in v23.criteria if c.measurement_id.startswith("s.st_j_")]
    assert {c.threshold for c in j_rows} == {-0.05}
    assert all(c.guideline is not None and "Part VI" in c.guideline.guideline for c in j_rows)
    lat = std(run(**st(I=-0.12, aVL=-0.11)))["st_depression_lateral"]
    assert lat.status == "present" and {c.threshold for c in lat.criteria if c.measurement_id.startswith("s.st_j_")} == {-0.1}
    # upsloping (back above the threshold at J+60) does not count
    ups = run(st_j_V2=-0.08, st_j60_V2=0.0, st_j_V3=-0.08, st_j60_V3=0.0)
    assert not std(ups)


def test_two_contiguous_leads():
    assert not std(run(**st(V1=-0.15, V2=-0.01, V3=-0.15)))  # V1 and V3 are not neighbours
    assert not std(run(**st(II=-0.15, aVF=-0.01, III=-0.15)))  # Cabrera order: II–aVF–III
    assert "st_depression_inferior" in run(**st(II=-0.15, aVF=-0.12, III=0.0))


def test_rbbb_makes_v1_v3_depression_secondary():
    s = run(**RBBB, **st(V1=-0.12, V2=-0.1, V3=-0.08))
    assert "rbbb" in s
    d = s["st_depression_anterior"]
    assert d.status == "indeterminate" and "secondary" in d.label
    assert "secondary to right bundle branch block" in d.explanation and "Part IV" in d.explanation
    # lateral precordial leads are not affected by RBBB: still primary ST depression there
    s2 = run(**RBBB, **st(V2=-0.1, V3=-0.1, V5=-0.15, V6=-0.15))
    d2 = s2["st_depression_anterior"]
    assert d2.status == "present" and "V5, V6" in d2.label and "V2" not in d2.label
    assert "V2, V3 not counted" in d2.explanation
    # without RBBB the same V1–V3 values are primary
    assert run(**st(V1=-0.12, V2=-0.1, V3=-0.08))["st_depression_anterior"].status == "present"


def test_lbbb_makes_all_st_depression_secondary():
    s = run(**LBBB, **st(V5=-0.2, V6=-0.2, I=-0.15, aVL=-0.15))
    assert "lbbb" in s
    assert {d.status for d in std(s).values()} == {"indeterminate"}


def test_heart_rate_reference_matches_sinus_rules():
    ref = heart_rate_reference()
    assert (ref.low, ref.high) == (50.0, 100.0) and ref.source is not None and ref.source.year == 2018
    for hr, flag, rhythm in ((45.0, "low", "sinus_bradycardia"), (50.0, "normal", "sinus_rhythm"), (100.0, "normal", "sinus_rhythm"),
                             (101.0, "high", "sinus_tachycardia")):
        assert ref.classify(hr) == flag
        assert rhythm in run(heart_rate=hr, **SINUS)


def test_ludb1_heart_rate_flagged_low_with_reference(examples_dir, tmp_path):
    folder = examples_dir / "ecg" / "ludb-1"
    if not (folder / "1.hea").exists():
        pytest.skip("examples/ecg/ludb-1 not present")
    res = ECGTool().run(ToolRequest(study=wfdb_study(folder, "1"), output_dir=str(tmp_path), options={"make_plot": False}))
    m = {x.name: x for x in res.measurements}
    hr = m["heart_rate"]
    assert hr.value < 50 and hr.flag == "low" and hr.reference_range is not None and hr.reference_range.low == 50.0
    assert any(s.id.endswith(".sinus_bradycardia") and s.status == "present" for s in res.statements)
    for name in ("pr_interval", "qrs_duration", "qrs_axis"):
        if name in m:
            assert m[name].reference_range is not None and m[name].flag is not None


def test_ptb_rbbb_st_depression_is_secondary_not_ischaemic(examples_dir, tmp_path):
    folder = examples_dir / "ecg" / "ptb-s0010_re"
    if not (folder / "s0010_re.hea").exists():
        pytest.skip("examples/ecg/ptb-s0010_re not present")
    res = ECGTool().run(ToolRequest(study=wfdb_study(folder, "s0010_re"), patient=PatientContext(),
                                    output_dir=str(tmp_path), options={"make_plot": False}))
    st_ = {s.id.split(".", 1)[1]: s for s in res.statements}
    assert st_["rbbb"].status == "present"
    deps = [s for k, s in st_.items() if k.startswith("st_depression")]
    assert all(s.status != "present" for s in deps)  # V1–V4 were called "present" before (QA)
    for s in deps:
        assert "secondary" in s.label
        assert not any(c.measurement_id.endswith(("st_j_V1", "st_j_V4")) for c in s.criteria)
