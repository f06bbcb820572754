"""The ECG tool on the bundled real PhysioNet records (examples/ecg).

Truth comes from the databases themselves: LUDB's cardiologist QRS
annotations and rhythm label, MIT-BIH's reference beat annotations, the
PTB header's diagnosis. Nothing here is a number we typed in from our
own output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import wfdb

from experts.core.tool import ToolRequest
from experts.core.types import ExpertResult
from experts.ecg.tool import ECGTool
from tests.ecg.helpers import wfdb_study


def run(study, tmp_path, **options) -> ExpertResult:
    return ECGTool().run(ToolRequest(study=study, output_dir=str(tmp_path), options=options))


@pytest.fixture(scope="module")
def ludb1(examples_dir, tmp_path_factory) -> ExpertResult:
    study = wfdb_study(examples_dir / "ecg" / "ludb-1", "1")
    return run(study, tmp_path_factory.mktemp("ludb1"))


def _by_name(result: ExpertResult):
    return {m.name: m for m in result.measurements}


def test_ludb1_heart_rate_matches_cardiologist_qrs_annotations(ludb1, examples_dir):
    ann = wfdb.rdann(str(examples_dir / "ecg" / "ludb-1" / "1"), "ii")
    r_samples = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym == "N"])
    truth_hr = 60.0 * 500 / np.mean(np.diff(r_samples))
    hr = _by_name(ludb1)["heart_rate"]
    assert hr.unit == "/min" and hr.code is not None and hr.code.code == "8867-4"
    assert abs(hr.value - truth_hr) < 1.0


def test_ludb1_is_sinus_bradycardia_as_labelled(ludb1):
    # LUDB label for record 1: "Rhythm: Sinus bradycardia."
    st = {s.id: s for s in ludb1.statements}
    brady = st["ecg-1.sinus_bradycardia"]
    assert brady.status == "present" and brady.code is not None and brady.code.code == "426177001"
    hr_crit = next(c for c in brady.criteria if c.measurement_id == "ecg-1.heart_rate")
    assert hr_crit.met and hr_crit.operator == "<" and hr_crit.guideline is not None
    assert hr_crit.guideline.year == 2018 and "Bradycardia" in hr_crit.guideline.guideline
    assert "ecg-1.sinus_rhythm" not in st  # brady pre-empts plain sinus rhythm


def test_ludb1_provenance_and_warnings(ludb1):
    assert ludb1.quality.verdict in ("usable", "limited")
    for m in ludb1.measurements:
        assert m.id == f"ecg-1.{m.name}"
        assert math.isfinite(m.value)
        assert m.evidence.file == "1.hea"
        assert m.source.tool == "ecg_analyze" and m.source.version
    text = " ".join(ludb1.warnings)
    assert "1.ii" in text and "not used" in text  # reference annotations reported, not used
    assert "classifier" in text and "unavailable" in text


@pytest.fixture(scope="module")
def mitdb100(examples_dir, tmp_path_factory) -> ExpertResult:
    return run(wfdb_study(examples_dir / "ecg" / "mitdb-100", "100"), tmp_path_factory.mktemp("mit"), max_minutes=5)


def test_mitdb100_rate_and_sinus_rhythm(mitdb100, examples_dir):
    ann = wfdb.rdann(str(examples_dir / "ecg" / "mitdb-100" / "100"), "atr", sampto=5 * 60 * 360)
    beats = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in "NLRBAaJSVrFejnE/fQ?"])
    truth_hr = 60.0 * 360 / np.mean(np.diff(beats))
    m = _by_name(mitdb100)
    assert abs(m["heart_rate"].value - truth_hr) < 1.0
    assert abs(m["beat_count"].value - beats.size) <= 2
    labels = {s.label for s in mitdb100.statements if s.status == "present"}
    assert "Sinus rhythm" in labels  # MIT-BIH rhythm annotation: (N normal sinus rhythm
    assert any("5 min" in w for w in mitdb100.warnings)  # truncated analysis is reported


def test_ptb_s0010_sinus_rhythm(examples_dir, tmp_path):
    res = run(wfdb_study(examples_dir / "ecg" / "ptb-s0010_re", "s0010_re"), tmp_path)
    labels = {s.label for s in res.statements if s.status == "present"}
    assert "Sinus rhythm" in labels
    assert _by_name(res)["p_wave_amplitude"].value > 0  # upright sinus P in II


def test_macecgdb_unknown_lead_names_rate_only(examples_dir, tmp_path):
    res = run(wfdb_study(examples_dir / "ecg" / "macecgdb-test01_00s", "test01_00s"), tmp_path)
    m = _by_name(res)
    assert 40 < m["heart_rate"].value < 120  # healthy 25-year-old at rest
    assert any("not standard ECG lead names" in w for w in res.warnings)
    assert not any(s.status == "present" and s.category == "rhythm" and "Sinus" in s.label for s in res.statements)


def test_cinc2015_pleth_dropped_and_no_asystole(examples_dir, tmp_path):
    res = run(wfdb_study(examples_dir / "ecg" / "cinc2015-a103l", "a103l"), tmp_path)
    assert any("PLETH" in w for w in res.warnings)
    m = _by_name(res)
    # The monitor's "Asystole" alarm was adjudicated false: beats are found throughout.
    assert m["beat_count"].value > 300
    assert m["rr_max"].value < 3000
