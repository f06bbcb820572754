"""Range-normalised per-lead gains (LUDB v1.0.1) are replaced by one common
scale; correctly calibrated files are left alone.

Truth: the digital samples of LUDB satisfy III = II − I exactly, and LUDB's
cardiologists label the frontal axis of record 1 as "left axis deviation"
(LUDB uses the convention horizontal 0…+30°, so "left" is below 0°).
"""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from experts.core.tool import ToolRequest
from experts.ecg.io import load_study
from experts.ecg.io.gain_repair import repair_range_normalised_gains
from experts.ecg.quality import assess_record, limb_lead_inconsistency
from experts.ecg.tool import ECGTool
from tests.ecg.helpers import wfdb_study


def test_ludb1_is_read_on_one_common_scale(examples_dir):
    rec = load_study(wfdb_study(examples_dir / "ecg" / "ludb-1", "1"))
    assert rec.amplitude_scale_known
    assert any("range normalisation" in n and "1 µV per digital unit" in n for n in rec.notes)
    assert limb_lead_inconsistency(rec) < 0.01
    raw = wfdb.rdrecord(str(examples_dir / "ecg" / "ludb-1" / "1"), physical=False)
    d = raw.d_signal.astype(float)
    for name, lead in (("i", "I"), ("v4", "V4")):
        x = d[:, raw.sig_name.index(name)]
        assert np.ptp(rec.lead(lead)) == pytest.approx(np.ptp(x) / 1000.0)  # 1 µV per unit, not 1 mV per lead
    assert np.ptp(rec.lead("V4")) > 2.0 * np.ptp(rec.lead("aVF"))  # relative lead sizes survive


def test_ludb1_axis_and_amplitude_criteria_are_applied(examples_dir, tmp_path):
    res = ECGTool().run(ToolRequest(study=wfdb_study(examples_dir / "ecg" / "ludb-1", "1"), output_dir=str(tmp_path), options={"make_plot": False}))
    m = {x.name: x for x in res.measurements}
    # LUDB: "left axis deviation"; in LUDB's convention "normal" starts at +30° (net-area axis here: ~+11°)
    assert m["qrs_axis"].value < 30
    assert "sokolow_lyon" in m and 0.5 < m["sokolow_lyon"].value < 6.0
    assert not any("Amplitude-based criteria" in w for w in res.warnings)
    assert res.quality.verdict == "usable"


def test_unknown_scale_keeps_amplitude_criteria_off(examples_dir):
    rec = load_study(wfdb_study(examples_dir / "ecg" / "ludb-1", "1"), range_normalised_uv_per_unit=None)
    assert not rec.amplitude_scale_known and limb_lead_inconsistency(rec) < 0.01
    q = assess_record(rec)
    assert not q.amplitudes_reliable and q.verdict == "limited"


def test_calibrated_records_are_untouched(examples_dir):
    ptb = wfdb.rdrecord(str(examples_dir / "ecg" / "ptb-s0010_re" / "s0010_re"))
    names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "X", "Y", "Z"]
    assert repair_range_normalised_gains(ptb.p_signal.T, names, list(ptb.adc_gain), list(ptb.baseline), 1.0) is None
    rec = load_study(wfdb_study(examples_dir / "ecg" / "ptb-s0010_re", "s0010_re"))
    assert not any("range normalisation" in n for n in rec.notes)


def test_wrong_gain_that_is_not_range_normalisation_is_not_repaired():
    """One lead with a wrong calibration (not equal to its range) is a
    genuine inconsistency: it stays flagged, not silently re-scaled."""
    rng = np.random.default_rng(0)
    t = np.arange(5000) / 500
    i = np.round(400 * np.sin(2 * np.pi * 1.2 * t) + rng.normal(0, 5, t.size))
    ii = np.round(900 * np.sin(2 * np.pi * 1.2 * t + 0.4))
    digital = np.vstack([i, ii, ii - i])
    gains = [1000.0, 1000.0, 700.0]
    physical = digital / np.array(gains)[:, None]
    assert repair_range_normalised_gains(physical, ["I", "II", "III"], gains, [0.0, 0.0, 0.0], 1.0) is None


def test_ludb_axis_orders_like_the_cardiologists_categories(shared_data):
    """Median measured axis per LUDB category follows the category order
    (left deviation < horizontal < normal < vertical); with the per-lead
    gains it did not (lead I and aVF were scaled independently)."""
    import csv

    root = shared_data / "ecg" / "ludb"
    rows = sorted(csv.DictReader(open(root / "ludb.csv", newline="", encoding="utf-8")), key=lambda r: int(r["ID"]))
    by_cat: dict[str, list[float]] = {}
    for row in rows[1::8]:  # 25 records, both parities
        cat = row["Electric axis of the heart"].replace("Electric axis of the heart:", "").strip()
        if cat not in ("left axis deviation", "horizontal", "normal", "vertical"):
            continue
        res = ECGTool().run(ToolRequest(study=wfdb_study(root / "data", row["ID"]), output_dir="/tmp/cardio-test-axis", options={"make_plot": False}))
        ax = [m.value for m in res.measurements if m.name == "qrs_axis"]
        if ax:
            by_cat.setdefault(cat, []).append(ax[0])
    med = {k: float(np.median(v)) for k, v in by_cat.items()}
    assert med["left axis deviation"] < med["horizontal"] < med["normal"] < med["vertical"]
    assert med["left axis deviation"] < 10 and 30 <= med["normal"] <= 70


def test_ludb_amplitudes_plausible_over_the_database(shared_data):
    """Over 20 LUDB records, lead II and V5 peak-to-peak on the common
    1 µV scale fall in adult ranges (0.3–4 mV), which the per-lead gains
    (every lead exactly 1 mV) could not show."""
    root = shared_data / "ecg" / "ludb" / "data"
    pp_ii, pp_v5 = [], []
    for rid in range(1, 200, 10):
        rec = load_study(wfdb_study(root, str(rid)))
        assert rec.amplitude_scale_known and limb_lead_inconsistency(rec) < 0.01
        pp_ii.append(np.ptp(rec.lead("II")))
        pp_v5.append(np.ptp(rec.lead("V5")))
    assert 0.3 < np.median(pp_ii) < 4.0 and 0.3 < np.median(pp_v5) < 4.0
    assert np.std(pp_ii) > 0.1  # not all normalised to one value
