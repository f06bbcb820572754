"""Second- and third-degree AV block (av_conduction.py, criteria_table.av_block_rules).

Synthetic records carry exact truth (experts/ecg/synthetic.py: `av_block`,
`dissociated_atrial_rate`); real LUDB records check that normal sinus
rhythm gets no AV-block statement, and document what the five LUDB
"III degree AV-block" records (all ventricular-paced) get.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from experts.core.types import Criterion, Evidence, Measurement, PatientContext
from experts.ecg.criteria_table import build_rules
from experts.ecg.rules import evaluate
from experts.ecg.synthetic import synthesize
from tests.ecg.test_qt_reliability import SRC, analyse

AV_KEYS = {"third_degree_av_block", "second_degree_av_block_2_to_1", "mobitz_i_av_block", "mobitz_ii_av_block"}
LUDB = Path(os.environ.get("CARDIO_SHARED_DATA", "/nonexistent")) / "ecg" / "ludb" / "data"
needs_ludb = pytest.mark.skipif(not LUDB.is_dir(), reason="LUDB not available (set CARDIO_SHARED_DATA to the shared data folder)")


def statuses(an) -> dict[str, str]:
    return {s.id.split(".", 1)[1]: s.status for s in an.statements if s.id.split(".", 1)[1] in AV_KEYS}


def criterion_values(an, key: str) -> dict[str, float]:
    st = next(s for s in an.statements if s.id.endswith("." + key))
    by_id = {m.id: m for m in an.measurements.items.values()}
    return {by_id[c.measurement_id].name: by_id[c.measurement_id].value for c in st.criteria}


@pytest.mark.parametrize("seed", [1, 2])
def test_complete_block_is_called_with_its_rates(seed):
    sig, names, _ = synthesize(hr=35.0, dissociated_atrial_rate=75.0, qt_ms=440.0, seed=seed)
    an = analyse(sig, names)
    assert statuses(an) == {"third_degree_av_block": "present"}
    vals = criterion_values(an, "third_degree_av_block")
    assert abs(an.measurements.items["heart_rate"].value - 35.0) < 3
    assert abs(an.measurements.items["av_atrial_rate"].value - 75.0) < 5
    assert vals["av_pq_range"] >= 120.0
    st = next(s for s in an.statements if s.id.endswith(".third_degree_av_block"))
    assert all(c.unit and c.threshold is not None for c in st.criteria)
    assert any(c.guideline is not None and "Bradycardia" in c.guideline.guideline for c in st.criteria)


@pytest.mark.parametrize("atrial", [70.0, 90.0])
def test_two_to_one_is_named_as_such_not_mobitz(atrial):
    sig, names, _ = synthesize(hr=atrial, av_block="2:1", seed=1)
    an = analyse(sig, names)
    assert statuses(an) == {"second_degree_av_block_2_to_1": "present"}
    assert abs(an.measurements.items["av_atrial_ventricular_ratio"].value - 2.0) < 0.1
    # the slow ventricular rate is the block's: not sinus bradycardia
    assert not any(s.id.endswith(".sinus_bradycardia") and s.status == "present" for s in an.statements)


@pytest.mark.parametrize("conduction,increments", [(4, (120.0, 60.0, 30.0)), (3, (120.0,))])
def test_wenckebach_is_mobitz_i(conduction, increments):
    sig, names, _ = synthesize(hr=75.0, av_block="mobitz1", conduction=conduction, wenckebach_increments_ms=increments, seed=1)
    an = analyse(sig, names)
    assert statuses(an) == {"mobitz_i_av_block": "present"}
    vals = criterion_values(an, "mobitz_i_av_block")
    assert vals["av_pq_progression"] >= 100.0  # true lengthening ≥ 120 ms per group
    assert not any(s.id.endswith(".atrial_fibrillation") and s.status == "present" for s in an.statements)


@pytest.mark.parametrize("conduction", [3, 4])
def test_constant_pr_with_dropped_beats_is_mobitz_ii(conduction):
    sig, names, _ = synthesize(hr=75.0, av_block="mobitz2", conduction=conduction, seed=1)
    an = analyse(sig, names)
    assert statuses(an) == {"mobitz_ii_av_block": "present"}
    assert criterion_values(an, "mobitz_ii_av_block")["av_pq_range"] <= 30.0


@pytest.mark.parametrize("hr,pr", [(50, 160), (70, 160), (90, 160), (110, 160), (60, 260), (80, 260)])
def test_sinus_rhythm_gets_no_av_block_statement(hr, pr):
    sig, names, _ = synthesize(hr=float(hr), pr_ms=float(pr), seed=3)
    an = analyse(sig, names)
    assert statuses(an) == {}
    assert abs(an.measurements.items["av_atrial_ventricular_ratio"].value - 1.0) < 0.1


def test_weak_p_wave_evidence_is_indeterminate_never_present():
    """The rule engine's evidence rows: the complete-block pattern with a P-wave
    template only 4.5× the noise (threshold 5) must come out indeterminate."""
    vals = {"av_atrial_ventricular_ratio": 2.1, "av_atrial_regularity": 100.0, "av_pq_range": 250.0, "av_two_to_one_fraction": 10.0,
            "av_p_locked_fraction": 10.0, "rr_cv": 3.0, "av_p_consistency": 0.95, "av_p_snr": 4.5, "beat_count": 8.0}
    def m(k: str, v: float) -> Measurement:
        return Measurement(id=f"m.{k}", name=k, label=k, value=v, unit="1", method="test", source=SRC, evidence=Evidence(file="x"))

    ms = {k: m(k, v) for k, v in vals.items()}

    out = evaluate(build_rules(), ms, PatientContext(), "s", SRC, only={"third_degree_av_block"})
    assert [s.status for s in out.statements] == ["indeterminate"]
    snr_row = next(c for c in out.statements[0].criteria if c.measurement_id == "m.av_p_snr")
    assert isinstance(snr_row, Criterion) and snr_row.met is False and snr_row.threshold == 5.0
    ms["av_p_snr"] = m("av_p_snr", 12.0)
    out = evaluate(build_rules(), ms, PatientContext(), "s", SRC, only={"third_degree_av_block"})
    assert [s.status for s in out.statements] == ["present"]


def test_long_pr_sinus_is_not_flutter_any_more():
    """Session 2b false positive: HR 80, PR 260 looked periodic like flutter."""
    sig, names, _ = synthesize(hr=80.0, pr_ms=260.0, seed=0)
    an = analyse(sig, names)
    assert not any(s.id.endswith(".atrial_flutter") and s.status == "present" for s in an.statements)
    assert any("not taken as flutter waves" in w for w in an.warnings) or "atrial_wave_rate" not in an.measurements.items


def _ludb(record: str):
    from evals.ecg_accuracy_statements import run_tool

    return run_tool(LUDB, record)


@needs_ludb
@pytest.mark.parametrize("record", ["2", "3", "5", "9", "14", "25"])
def test_ludb_sinus_records_get_no_av_block_statement(record):
    hea = (LUDB / f"{record}.hea").read_text()
    assert "Sinus rhythm" in hea and "AV" not in hea
    res = _ludb(record)
    assert not [s.id for s in res.statements if s.id.split(".", 1)[1] in AV_KEYS and s.status != "absent"]


@needs_ludb
@pytest.mark.parametrize("record", ["34", "74", "90", "104", "111"])
def test_ludb_paced_complete_block_records_are_not_called_present_from_pacing(record):
    """All five LUDB "III degree AV-block" records are ventricular-paced at
    60/min (104 P-synchronous). The tool does not recognise pacing, so
    complete block is not read from these tracings (README Session 3: 0/5);
    what must not happen is a *different* AV-block type called present."""
    hea = (LUDB / f"{record}.hea").read_text()
    assert "III degree AV-block" in hea and "pacing" in hea
    res = _ludb(record)
    wrong = [s.id for s in res.statements if s.id.split(".", 1)[1] in AV_KEYS - {"third_degree_av_block"} and s.status == "present"]
    assert wrong == []
    hr = next(m.value for m in res.measurements if m.name == "heart_rate")
    assert 55.0 <= hr <= 70.0  # the paced rate, not P waves counted as beats
    assert np.isfinite(hr)
