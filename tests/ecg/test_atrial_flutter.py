"""Atrial flutter: continuous periodic atrial waves between the QRS
complexes (experts/ecg/atrial_activity.py). Truth: synthetic sawtooth
flutter (experts/ecg/synthetic.py, flutter_rate), LUDB's cardiologist
rhythm labels ("Atrial flutter, typical": records 52 and 103 found, 35 —
2:1 conduction — deliberately not), and LUDB sinus records that came
closest to the detector's thresholds (107, 116) or are bundled (ludb-1).
"""

from __future__ import annotations

import pytest

from experts.core.tool import ToolRequest
from experts.ecg.synthetic import synthesize
from experts.ecg.tool import ECGTool
from tests.ecg.helpers import wfdb_study
from tests.ecg.test_qt_reliability import analyse, present

SINUS = {"sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia"}


@pytest.mark.parametrize("flutter_rate,hr,seed", [(300.0, 75.0, 2), (280.0, 70.0, 3), (300.0, 100.0, 5)])
def test_synthetic_flutter_with_block_is_called(flutter_rate, hr, seed):
    sig, names, _ = synthesize(hr=hr, flutter_rate=flutter_rate, qt_ms=380.0, seed=seed)
    an = analyse(sig, names)
    got = present(an)
    assert "atrial_flutter" in got and not got & SINUS and "atrial_fibrillation" not in got
    rate = an.measurements.items["atrial_wave_rate"].value
    assert abs(rate - flutter_rate) < 15
    st = next(s for s in an.statements if s.id.endswith(".atrial_flutter"))
    assert all(c.met for c in st.criteria)
    assert any(c.guideline is not None and c.guideline.year == 2015 for c in st.criteria)
    # flutter waves run through the T wave: no QT, no QTc statement
    assert "qt_interval" not in an.measurements.items and not got & {"long_qtc", "short_qtc"}


def test_two_to_one_flutter_is_only_a_warning():
    sig, names, _ = synthesize(hr=150.0, flutter_rate=300.0, qt_ms=320.0, seed=1)
    an = analyse(sig, names)
    assert "atrial_flutter" not in present(an)
    assert any("2:1 conduction is possible" in w for w in an.warnings), an.warnings


@pytest.mark.parametrize("hr,seed", [(70.0, 1), (130.0, 5), (150.0, 2)])
def test_synthetic_sinus_is_not_flutter(hr, seed):
    sig, names, _ = synthesize(hr=hr, qt_ms=300.0 if hr > 100 else 400.0, seed=seed)
    an = analyse(sig, names)
    assert "atrial_flutter" not in present(an)
    assert present(an) & SINUS


def run(study, tmp_path):
    return ECGTool().run(ToolRequest(study=study, output_dir=str(tmp_path), options={"make_plot": False}))


def test_bundled_ludb_sinus_record_is_not_flutter(examples_dir, tmp_path):
    res = run(wfdb_study(examples_dir / "ecg" / "ludb-1", "1"), tmp_path)
    ids = {s.id.split(".", 1)[1] for s in res.statements if s.status == "present"}
    assert "atrial_flutter" not in ids and ids & SINUS


@pytest.mark.parametrize("record,flutter", [("103", True), ("52", True), ("107", False), ("116", False)])
def test_ludb_flutter_and_nearest_sinus_records(shared_data, tmp_path, record, flutter):
    res = run(wfdb_study(shared_data / "ecg" / "ludb" / "data", record), tmp_path)
    ids = {s.id.split(".", 1)[1] for s in res.statements if s.status == "present"}
    assert ("atrial_flutter" in ids) is flutter, sorted(ids)
    if flutter:
        assert not ids & SINUS and "atrial_fibrillation" not in ids

