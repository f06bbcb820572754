"""The rule engine and the criteria table, on hand-made measurements."""

from __future__ import annotations

from experts.core.types import Evidence, Measurement, PatientContext, Source
from experts.ecg.criteria_table import build_rules
from experts.ecg.rules import evaluate

SRC = Source(tool="ecg_analyze", version="test")


def meas(**values) -> dict[str, Measurement]:
    units = {"heart_rate": "/min", "p_wave_beats": "%", "qrs_axis": "deg"}
    out = {}
    for name, v in values.items():
        unit = units.get(name) or ("mV" if "amplitude" in name or name.startswith("st_") or name in ("sokolow_lyon", "cornell_voltage") else "ms")
        out[name] = Measurement(id=f"s.{name}", name=name, label=name, value=v, unit=unit, method="test", source=SRC, evidence=Evidence(file="x"))
    return out


def run(patient=None, **values):
    res = evaluate(build_rules("framingham"), meas(**values), patient or PatientContext(), "s", SRC)
    return {s.id.split(".", 1)[1]: s for s in res.statements}


SINUS = dict(p_wave_beats=100.0, p_wave_amplitude=0.15)


def test_sinus_rate_categories():
    assert "sinus_rhythm" in run(heart_rate=72.0, **SINUS)
    brady = run(heart_rate=45.0, **SINUS)
    assert "sinus_bradycardia" in brady and "sinus_rhythm" not in brady
    assert "sinus_tachycardia" in run(heart_rate=120.0, **SINUS)
    assert not run(heart_rate=72.0, p_wave_beats=10.0, p_wave_amplitude=0.15)  # no P waves: not sinus


def test_first_degree_block_needs_sinus():
    assert "first_degree_av_block" in run(heart_rate=70.0, pr_interval=240.0, **SINUS)
    assert "first_degree_av_block" not in run(heart_rate=70.0, pr_interval=240.0, p_wave_beats=0.0, p_wave_amplitude=0.0)


def test_qtc_sex_specific_and_missing_sex_is_conservative():
    male = run(PatientContext(sex="male"), qtc_framingham=455.0)
    female = run(PatientContext(sex="female"), qtc_framingham=455.0)
    unknown = run(PatientContext(), qtc_framingham=455.0)
    assert "long_qtc" in male and "long_qtc" not in female and "long_qtc" not in unknown
    crit = male["long_qtc"].criteria[0]
    assert crit.threshold == 450.0 and crit.guideline is not None and crit.guideline.year == 2009
    unknown_470 = run(PatientContext(), qtc_framingham=470.0)["long_qtc"]
    assert unknown_470.criteria[0].threshold == 460.0 and "sex not given" in (unknown_470.criteria[0].note or "")


def test_lbbb_and_exclusions():
    base = dict(qrs_duration=150.0, r_peak_time_V6=80.0, q_amplitude_I=0.0, q_amplitude_V6=0.0,
                sokolow_lyon=4.0, st_j_V1=0.3, st_j_V2=0.4)
    st = run(PatientContext(sex="male", age_years=60), **base)
    assert "lbbb" in st
    assert "nonspecific_ivcd" not in st and "lvh_voltage" not in st  # LBBB pre-empts both
    assert not any(k.startswith("st_elevation") for k in st)  # UDMI ST criteria do not apply with LBBB


def test_rbbb_morphology():
    st = run(qrs_duration=140.0, r_prime_amplitude_V1=0.4, s_duration_I=60.0, s_duration_V6=55.0,
             r_peak_time_V6=40.0, q_amplitude_I=0.1, q_amplitude_V6=0.1)
    assert "rbbb" in st and "lbbb" not in st
    inc = run(qrs_duration=112.0, r_prime_amplitude_V1=0.4, s_duration_I=60.0, s_duration_V6=55.0)
    assert "incomplete_rbbb" in inc and "nonspecific_ivcd" not in inc


def test_st_elevation_needs_two_contiguous_leads_and_sex_age_thresholds():
    one = run(PatientContext(sex="male", age_years=50), st_j_II=0.2, st_j_III=0.02, st_j_aVF=0.03)
    assert not any(k.startswith("st_elevation") for k in one)
    two = run(PatientContext(sex="male", age_years=50), st_j_II=0.2, st_j_III=0.15, st_j_aVF=0.03)
    inferior = two["st_elevation_inferior"]
    assert inferior.status == "present" and "II, III" in inferior.label
    assert all(c.guideline is not None and c.guideline.year == 2018 for c in inferior.criteria)
    # V2–V3: 0.18 mV is enough for a woman (≥0.15), not for a man ≥40 (≥0.20)
    v = dict(st_j_V2=0.18, st_j_V3=0.18)
    assert "st_elevation_anterior" in run(PatientContext(sex="female", age_years=50), **v)
    assert "st_elevation_anterior" not in run(PatientContext(sex="male", age_years=50), **v)
    assert "st_elevation_anterior" not in run(PatientContext(), **v)  # sex unknown: least over-calling threshold


def test_axis_and_voltage():
    assert "left_axis_deviation" in run(qrs_axis=-50.0)
    assert "right_axis_deviation" in run(qrs_axis=120.0)
    assert not run(qrs_axis=45.0)
    assert "lvh_voltage" in run(PatientContext(sex="female"), sokolow_lyon=2.0, cornell_voltage=2.2)
    assert "lvh_voltage" not in run(PatientContext(sex="male"), sokolow_lyon=2.0, cornell_voltage=2.2)
    assert "low_qrs_voltage" in run(qrs_amplitude_limb_max=0.4, qrs_amplitude_precordial_max=1.5)


def test_every_criterion_cites_or_says_operational():
    for rule in build_rules("bazett"):
        conds = list(getattr(rule, "all_of", ())) + list(getattr(rule, "any_of", ()))
        conds += [lc for lc in getattr(rule, "lead_conds", ())]
        for c in conds:
            assert c.ref is not None or "operational" in (c.note or ""), (rule.key, c.measurement)
            if c.ref is not None:
                assert c.ref.guideline and c.ref.year >= 1949 and c.ref.section
