"""Paced rhythm: pacing spikes on the unfiltered signal (pacing.py), the
paced-rhythm statements and what they make indeterminate (conduction, LVH
voltage, AV block, long QTc, ST/Q-wave criteria)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from experts.ecg.criteria_table import build_rules
from experts.ecg.pacing import detect_spikes
from experts.ecg.rules import evaluate
from experts.ecg.synthetic import add_pacing_spikes, synthesize
from experts.core.types import Evidence, Measurement, PatientContext
from tests.ecg.test_qt_reliability import SRC, analyse

FS = 500.0
LUDB = Path(os.environ.get("CARDIO_SHARED_DATA", "/nonexistent")) / "ecg" / "ludb" / "data"
needs_ludb = pytest.mark.skipif(not LUDB.is_dir(), reason="LUDB not available (set CARDIO_SHARED_DATA to the shared data folder)")
PACED_KEYS = {"ventricular_paced_rhythm", "atrial_paced_rhythm", "av_sequential_paced_rhythm"}


def m(k: str, v: float) -> Measurement:
    return Measurement(id=f"m.{k}", name=k, label=k, value=v, unit="1", method="test", source=SRC, evidence=Evidence(file="x"))


def statuses(an) -> dict[str, str]:
    return {s.id.split(".", 1)[1]: s.status for s in an.statements}


def wide_regular(seed: int = 1):
    sig, names, tr = synthesize(hr=60.0, qrs_ms=150.0, rr_jitter=0.0, seed=seed)
    onsets = tr.r_peaks - int(round(0.4 * 150.0 * FS / 1000.0))  # r_peaks sit at QRS onset + 40 % of the QRS
    return sig, names, onsets


def test_ventricular_spikes_give_ventricular_paced_rhythm_and_make_conduction_indeterminate():
    sig, names, onsets = wide_regular()
    an = analyse(add_pacing_spikes(sig, onsets - 1), names)
    st = statuses(an)
    assert st["ventricular_paced_rhythm"] == "present"
    assert "atrial_paced_rhythm" not in st
    items = an.measurements.items
    assert items["pacing_v_paced_fraction"].value == 100.0
    assert items["pacing_spike_rate"].value == pytest.approx(60.0, abs=1.0)
    assert items["pacing_spike_qrs_interval"].value <= 20.0
    # the wide QRS is not read as native conduction disease
    for key in ("lbbb", "rbbb", "nonspecific_ivcd", "incomplete_lbbb", "lvh_voltage"):
        assert st.get(key) in (None, "indeterminate"), key
    assert any(st.get(k) == "indeterminate" for k in ("lbbb", "nonspecific_ivcd"))
    ind = next(s for s in an.statements if s.id.endswith((".lbbb", ".nonspecific_ivcd")) and s.status == "indeterminate")
    assert "paced rhythm" in (ind.explanation or "")
    # intervals stay measured, labelled as paced
    assert "paced" in items["qrs_duration"].label
    assert any("Ventricular-paced rhythm" in w for w in an.warnings)
    code = next(s.code for s in an.statements if s.id.endswith(".ventricular_paced_rhythm"))
    assert code is not None and code.code == "10370003"


def test_same_wide_regular_rhythm_without_spikes_is_not_called_paced():
    sig, names, _ = wide_regular()
    an = analyse(sig, names)
    assert not PACED_KEYS & set(statuses(an))
    assert an.measurements.items["pacing_spike_count"].value == 0
    assert statuses(an).get("nonspecific_ivcd") == "present"  # unchanged without pacing


def test_spike_on_one_beat_with_regular_wide_qrs_is_only_indeterminate():
    sig, names, onsets = wide_regular()
    an = analyse(add_pacing_spikes(sig, onsets[:1] - 1), names)
    st = statuses(an)
    assert st["ventricular_paced_rhythm"] == "indeterminate"
    assert st.get("nonspecific_ivcd") == "present"  # a possible pacing call does not silence anything


def test_atrial_spikes_give_atrial_paced_rhythm_not_sinus():
    sig, names, tr = synthesize(hr=70.0, seed=2)
    p_on = tr.r_peaks - int(round(0.4 * 90.0 * FS / 1000.0)) - int(round(160.0 * FS / 1000.0))
    an = analyse(add_pacing_spikes(sig, p_on - 1), names)
    st = statuses(an)
    assert st["atrial_paced_rhythm"] == "present"
    assert "ventricular_paced_rhythm" not in st and "av_sequential_paced_rhythm" not in st
    assert not {"sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia"} & set(st)
    assert an.measurements.items["pacing_atrial_spike_r_interval"].value == pytest.approx(196.0, abs=20.0)


def test_av_sequential_pacing():
    sig, names, onsets = wide_regular(seed=3)
    paced = add_pacing_spikes(sig, onsets - 1)
    paced = add_pacing_spikes(paced, onsets - int(round(0.16 * FS)), direction=(-0.3, 0.8, 0.5))
    st = statuses(analyse(paced, names))
    assert st.get("ventricular_paced_rhythm") == "present"
    assert st.get("atrial_paced_rhythm") == "present"
    assert st.get("av_sequential_paced_rhythm") == "present"


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_spikes_on_noisy_sinus(seed):
    sig, names, _ = synthesize(hr=75.0, noise_mv=0.03, seed=seed)
    spikes, *_ = detect_spikes(sig, names, FS)
    assert len(spikes) == 0


def test_one_lead_or_low_rate_is_not_assessed():
    sig, names, onsets = wide_regular()
    paced = add_pacing_spikes(sig, onsets - 1)
    assert len(detect_spikes(paced[1:2], ["II"], FS)[0]) == 0
    assert len(detect_spikes(paced, names, 200.0)[0]) == 0
    assert len(detect_spikes(paced, names, FS)[0]) == len(onsets)


def test_rule_engine_ventricular_pacing_turns_av_block_lvh_and_st_depression_indeterminate():
    ms = {
        "pacing_v_paced_beats": m("pacing_v_paced_beats", 10.0), "pacing_v_paced_fraction": m("pacing_v_paced_fraction", 100.0),
        "pacing_spike_qrs_interval": m("pacing_spike_qrs_interval", 10.0),
        "sokolow_lyon": m("sokolow_lyon", 4.5),
        "st_j_V4": m("st_j_V4", -0.2), "st_j60_V4": m("st_j60_V4", -0.2),
        "st_j_V5": m("st_j_V5", -0.2), "st_j60_V5": m("st_j60_V5", -0.2),
    }
    out = evaluate(build_rules(), ms, PatientContext(), "s", SRC)
    st = {s.id.split(".", 1)[1]: s for s in out.statements}
    assert st["ventricular_paced_rhythm"].status == "present"
    assert st["lvh_voltage"].status == "indeterminate" and "paced rhythm" in st["lvh_voltage"].explanation
    assert st["st_depression_anterior"].status == "indeterminate"
    assert "ventricular pacing" in st["st_depression_anterior"].explanation
    # without pacing the same numbers are LVH present (which pre-empts the ST rule)
    del ms["pacing_v_paced_beats"]
    out = evaluate(build_rules(), ms, PatientContext(), "s", SRC)
    st = {s.id.split(".", 1)[1]: s.status for s in out.statements}
    assert st["lvh_voltage"] == "present" and "ventricular_paced_rhythm" not in st


def _ludb(record: str):
    from evals.ecg_accuracy_statements import run_tool

    return run_tool(LUDB, record)


@needs_ludb
@pytest.mark.parametrize("record", ["8", "34", "45", "74", "90", "95", "104", "111"])
def test_ludb_paced_records_are_called_paced(record):
    assert "pacing" in (LUDB / f"{record}.hea").read_text()
    res = _ludb(record)
    st = {s.id.split(".", 1)[1]: s.status for s in res.statements}
    assert st.get("ventricular_paced_rhythm") == "present"
    native = [k for k, s in st.items() if s == "present" and k.split("_")[0] in ("lbbb", "rbbb", "nonspecific", "lvh", "st", "pathological")]
    assert native == []
    rate = next((x.value for x in res.measurements if x.name == "pacing_spike_rate"), None)
    if rate is not None:
        assert 55.0 <= rate <= 75.0


@needs_ludb
@pytest.mark.parametrize("record", ["45", "90"])
def test_ludb_paced_st_depression_is_indeterminate(record):
    """Session 3 (cont.): these two ventricular-paced records got 'ST depression present'."""
    res = _ludb(record)
    std = [s for s in res.statements if ".st_depression" in s.id]
    assert std and all(s.status == "indeterminate" for s in std)


@needs_ludb
@pytest.mark.parametrize("record", ["1", "2", "3", "17", "88", "109", "110", "127"])
def test_ludb_non_paced_records_are_not_called_paced(record):
    """Including the records with the most spike-like detections (17, 88, 109, 110) and a wandering atrial pacemaker (127)."""
    assert "pacing" not in (LUDB / f"{record}.hea").read_text()
    res = _ludb(record)
    assert not [s.id for s in res.statements if s.id.split(".", 1)[1] in PACED_KEYS]
