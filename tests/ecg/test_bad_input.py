"""Bad ECG input gets a precise message or a non-diagnostic result, never a
crash or a made-up number."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from experts.core.errors import InputError
from experts.core.tool import ToolRequest
from experts.core.types import Modality, StudyInput
from experts.ecg.io.load import normalise
from experts.ecg.record import ECGRecord
from experts.ecg.tool import ECGTool
from tests.ecg.helpers import wfdb_study


def run(study, tmp_path, **options):
    return ECGTool().run(ToolRequest(study=study, output_dir=str(tmp_path / "out"), options={"make_plot": False, **options}))


def copy_record(src_dir, record, dst_dir):
    dst_dir.mkdir(parents=True, exist_ok=True)
    for p in src_dir.iterdir():
        if p.name.split(".")[0] == record:
            shutil.copy(p, dst_dir / p.name)
    return dst_dir


def test_files_in_different_folders_under_other_names(examples_dir, tmp_path):
    """Browser uploads: each file in its own temp folder under a random name."""
    src = examples_dir / "ecg" / "ludb-1"
    files, names = [], []
    for i, p in enumerate(sorted(src.glob("1.*"))):
        d = tmp_path / f"upload{i}"
        d.mkdir()
        dst = d / f"tmp{i:04d}.bin"
        shutil.copy(p, dst)
        files.append(str(dst))
        names.append(p.name)
    header = files[names.index("1.hea")]
    study = StudyInput(study_id="ecg-7", modality=Modality.ECG, files=files, display_names=names, meta={"format": "wfdb", "header": header})
    res = run(study, tmp_path)
    hr = next(m for m in res.measurements if m.name == "heart_rate")
    assert hr.evidence.file == "1.hea" and 40 < hr.value < 50


def test_corrupt_header(examples_dir, tmp_path):
    d = copy_record(examples_dir / "ecg" / "ludb-1", "1", tmp_path / "r")
    (d / "1.hea").write_text("this is not a header\n")
    with pytest.raises(InputError) as err:
        run(wfdb_study(d, "1"), tmp_path)
    assert err.value.file == "1.hea" and "header" in err.value.problem


def test_missing_signal_file(examples_dir, tmp_path):
    d = copy_record(examples_dir / "ecg" / "mitdb-100", "100", tmp_path / "r")
    (d / "100.dat").unlink()
    with pytest.raises(InputError) as err:
        run(wfdb_study(d, "100"), tmp_path)
    assert "100.dat" in str(err.value)


def test_truncated_signal_file(examples_dir, tmp_path):
    d = copy_record(examples_dir / "ecg" / "ludb-1", "1", tmp_path / "r")
    (d / "1.dat").write_bytes(b"")
    with pytest.raises(InputError):
        run(wfdb_study(d, "1"), tmp_path)


def test_wrong_sampling_rate_in_header_is_non_diagnostic(examples_dir, tmp_path):
    """A header claiming 50 Hz for a 500 Hz record: the rate comes out
    implausible, so no diagnosis and a reason that names the sampling rate."""
    d = copy_record(examples_dir / "ecg" / "ludb-1", "1", tmp_path / "r")
    hea = d / "1.hea"
    hea.write_text(hea.read_text().replace("1 12 500 5000", "1 12 50 5000", 1))
    res = run(wfdb_study(d, "1"), tmp_path)
    assert res.quality.verdict == "non_diagnostic"
    assert any("sampling rate" in r for r in res.quality.reasons)
    assert not any(s.status == "present" for s in res.statements)
    assert not any(m.name == "heart_rate" for m in res.measurements)


def test_implausible_sampling_rate_rejected():
    rec = ECGRecord(signals=np.zeros((1, 100)), lead_names=["II"], fs=10.0, source_file="x.hea")
    with pytest.raises(InputError, match="sampling rate"):
        normalise(rec, ["mV"])


def test_too_short_and_zero_length():
    with pytest.raises(InputError, match="zero samples"):
        normalise(ECGRecord(signals=np.zeros((1, 0)), lead_names=["II"], fs=500.0, source_file="x.hea"), ["mV"])
    with pytest.raises(InputError, match="at least"):
        normalise(ECGRecord(signals=np.zeros((1, 400)), lead_names=["II"], fs=500.0, source_file="x.hea"), ["mV"])


def test_nan_gaps_bridged_and_nan_leads_dropped():
    x = np.sin(np.linspace(0, 60, 5000))
    a = x.copy()
    a[100:150] = np.nan
    b = np.full_like(x, np.nan)
    b[:100] = 0.1
    rec = normalise(ECGRecord(signals=np.vstack([a, b]), lead_names=["II", "V1"], fs=500.0, source_file="x.hea"), ["mV", "mV"])
    assert rec.lead_names == ["II"] and np.isfinite(rec.signals).all()
    assert any("bridged" in n for n in rec.notes) and any("V1" in n and "excluded" in n for n in rec.notes)


def test_all_nan_rejected():
    with pytest.raises(InputError, match="NaN"):
        normalise(ECGRecord(signals=np.full((2, 5000), np.nan), lead_names=["I", "II"], fs=500.0, source_file="x.hea"), ["mV", "mV"])


def test_flat_record_is_non_diagnostic(tmp_path):
    import wfdb

    d = tmp_path / "flat"
    d.mkdir()
    wfdb.wrsamp("flat", fs=500, units=["mV", "mV"], sig_name=["I", "II"], p_signal=np.zeros((5000, 2)), fmt=["16", "16"], write_dir=str(d))
    res = run(wfdb_study(d, "flat"), tmp_path)
    assert res.quality.verdict == "non_diagnostic"
    assert not res.statements and not res.measurements


def test_only_non_ecg_channels(tmp_path):
    import wfdb

    d = tmp_path / "pleth"
    d.mkdir()
    wfdb.wrsamp("p", fs=125, units=["NU"], sig_name=["PLETH"], p_signal=np.random.default_rng(0).normal(size=(2500, 1)), fmt=["16"], write_dir=str(d))
    with pytest.raises(InputError, match="no ECG channel"):
        run(wfdb_study(d, "p"), tmp_path)


def test_two_hour_record_is_truncated_with_a_note(tmp_path):
    """A 2-hour Holter-length record: only max_minutes are read and analysed, and the result says so."""
    import wfdb

    from experts.ecg.synthetic import synthesize

    sig, _, _ = synthesize(fs=100.0, duration_s=60.0, hr=70, seed=11)
    lead = np.tile(sig[1], 120)  # 120 × 1 min
    d = tmp_path / "holter"
    d.mkdir()
    wfdb.wrsamp("h", fs=100, units=["mV"], sig_name=["II"], p_signal=lead[:, None], fmt=["16"], write_dir=str(d))
    res = run(wfdb_study(d, "h"), tmp_path, max_minutes=2)
    assert any("lasts 120.0 min" in w and "first 2 min" in w for w in res.warnings)
    beats = next(m for m in res.measurements if m.name == "beat_count")
    assert 120 <= beats.value <= 160  # about 2 min at 70/min


def test_single_lead_unknown_name(tmp_path):
    import wfdb

    from experts.ecg.synthetic import synthesize

    sig, _, _ = synthesize(fs=250.0, duration_s=20.0, hr=80, seed=12)
    d = tmp_path / "one"
    d.mkdir()
    wfdb.wrsamp("o", fs=250, units=["mV"], sig_name=["chest strap"], p_signal=sig[7][:, None], fmt=["16"], write_dir=str(d))
    res = run(wfdb_study(d, "o"), tmp_path)
    assert any("not standard ECG lead names" in w for w in res.warnings)
    hr = next(m for m in res.measurements if m.name == "heart_rate")
    assert abs(hr.value - 80) < 3
    assert not any(s.category in ("axis", "hypertrophy", "ischaemia") for s in res.statements)
