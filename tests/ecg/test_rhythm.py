"""Beat classification, AF and artefact handling on real records."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from experts.core.tool import ToolRequest
from experts.ecg.tool import ECGTool
from tests.ecg.helpers import wfdb_study


def run(study, tmp_path, **options):
    return ECGTool().run(ToolRequest(study=study, output_dir=str(tmp_path), options={"make_plot": False, **options}))


def test_mitdb100_r_peaks_against_reference(examples_dir):
    """R-peak sensitivity and PPV against MIT-BIH's reference beats (first 10 min)."""
    from experts.ecg.beats import detect_beats
    from experts.ecg.io import load_study
    from experts.ecg.quality import assess_record

    rec = load_study(wfdb_study(examples_dir / "ecg" / "mitdb-100", "100"), max_seconds=600)
    peaks = detect_beats(rec, assess_record(rec)).r_peaks
    ann = wfdb.rdann(str(examples_dir / "ecg" / "mitdb-100" / "100"), "atr", sampto=600 * 360)
    ref = np.array([s for s, c in zip(ann.sample, ann.symbol) if c in "NLRBAaJSVrFejnE/fQ?"])
    tol = int(0.15 * 360)
    tp = sum(1 for r in ref if np.min(np.abs(peaks - r)) <= tol)
    fp = sum(1 for p in peaks if np.min(np.abs(ref - p)) > tol)
    assert tp / ref.size >= 0.995 and tp / (tp + fp) >= 0.995


def test_mitdb100_ectopy_counts(examples_dir, tmp_path):
    res = run(wfdb_study(examples_dir / "ecg" / "mitdb-100", "100"), tmp_path, max_minutes=12)
    m = {x.name: x.value for x in res.measurements}
    ann = wfdb.rdann(str(examples_dir / "ecg" / "mitdb-100" / "100"), "atr", sampto=12 * 60 * 360)
    true_pac = sum(c == "A" for c in ann.symbol)  # atrial premature beats in the first 12 min
    assert true_pac >= 5 and abs(m["pac_count"] - true_pac) <= max(2, 0.3 * true_pac)
    assert m["pvc_count"] <= 5
    st = {s.id.split(".", 1)[1]: s for s in res.statements}
    assert st["sinus_rhythm"].status == "present" and "atrial_fibrillation" not in st or st["atrial_fibrillation"].status == "absent"


def test_cinc2015_false_asystole_alarm_calls_no_asystole_or_vt(examples_dir, tmp_path):
    res = run(wfdb_study(examples_dir / "ecg" / "cinc2015-a103l", "a103l"), tmp_path)
    present = {s.id.split(".", 1)[1] for s in res.statements if s.status == "present"}
    assert not present & {"pause", "nsvt", "atrial_fibrillation"}
    assert any("Artefact" in w for w in res.warnings)


def test_cinc2015_false_vt_alarm(shared_data, tmp_path):
    res = run(wfdb_study(shared_data / "ecg", "v102s"), tmp_path)
    present = {s.id.split(".", 1)[1] for s in res.statements if s.status == "present"}
    assert "nsvt" not in present and "pause" not in present


@pytest.mark.parametrize("record,label", [("A00004", "A")])
def test_cinc2017_af_record(shared_data, tmp_path, record, label):
    res = run(wfdb_study(shared_data / "ecg" / "cinc2017", record), tmp_path)
    st = {s.id.split(".", 1)[1]: s for s in res.statements}
    assert st["atrial_fibrillation"].status == "present"
    assert not any(k.startswith("sinus") and s.status == "present" for k, s in st.items())


def test_artefact_mask_flags_flat_and_clipped_seconds():
    from experts.ecg.quality import bad_segments
    from experts.ecg.synthetic import synthesize

    sig, _, _ = synthesize(duration_s=10, seed=9)
    x = sig[[1, 7]].copy()
    x[:, 2000:2600] = x[0, 2000]  # lead-off: a flat stretch of 1.2 s at 500 Hz
    bad = bad_segments(x, 500.0)
    assert bad[4] and bad[5] and not bad[0] and not bad[8]
