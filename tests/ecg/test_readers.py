"""Readers: WFDB (incl. the malformed CinC-2020 record line), DICOM waveform, CSV."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from experts.core.errors import InputError
from experts.ecg.io import load_study
from experts.ecg.record import STANDARD_12
from tests.ecg.helpers import single_file_study, wfdb_study


def test_wfdb_ludb_twelve_leads_in_mv(examples_dir):
    rec = load_study(wfdb_study(examples_dir / "ecg" / "ludb-1", "1"))
    assert rec.lead_names == STANDARD_12 and rec.fs == 500 and rec.n_samples == 5000
    raw = wfdb.rdrecord(str(examples_dir / "ecg" / "ludb-1" / "1"), physical=False)
    # LUDB's per-lead gains are range normalisation: leads are read as digital units at 1 µV (gain_repair)
    v1 = raw.d_signal[:, raw.sig_name.index("v1")].astype(float) / 1000.0
    assert np.allclose(rec.lead("V1") - np.median(rec.lead("V1")), v1 - np.median(v1))
    assert rec.reference_annotations and "1.ii" in rec.reference_annotations


def test_wfdb_frank_and_monitor_leads(examples_dir):
    rec = load_study(wfdb_study(examples_dir / "ecg" / "ptb-s0010_re", "s0010_re"))
    assert rec.lead_names[:12] == STANDARD_12 and {"X", "Y", "Z"} <= set(rec.lead_names)
    mit = load_study(wfdb_study(examples_dir / "ecg" / "mitdb-100", "100"), max_seconds=60)
    assert sorted(mit.lead_names) == ["MLII", "V5"] and mit.n_samples == 60 * 360


def test_wfdb_cinc2020_malformed_record_line(shared_data, tmp_path):
    d = shared_data / "ecg" / "cinc2020"
    rec = load_study(wfdb_study(d, "E00009"))
    assert rec.lead_names == STANDARD_12 and rec.fs == 500
    assert any("malformed" in n for n in rec.notes)


def test_limb_leads_derived_exactly_match_recorded(examples_dir):
    """PTB records all 12 leads; deriving III/aVR/aVL/aVF from I and II must
    reproduce the recorded ones (electrocardiographs compute them so)."""
    full = load_study(wfdb_study(examples_dir / "ecg" / "ptb-s0010_re", "s0010_re"))
    from experts.ecg.leads import derive_limb_leads

    only = full.subset(["I", "II"] + list(STANDARD_12[6:]))
    derived = derive_limb_leads(only)
    assert set(derived.derived_leads) == {"III", "aVR", "aVL", "aVF"}
    assert any("derived exactly" in n for n in derived.notes)
    for lead in ("III", "aVR", "aVL", "aVF"):
        assert np.max(np.abs(derived.lead(lead) - full.lead(lead))) < 0.002  # PTB's 0.5 µV quantisation


def test_inconsistent_limb_leads_are_flagged(examples_dir):
    """The bundled LUDB record's header gives every lead its own gain (each
    lead comes out 1 mV peak-to-peak), so III ≠ II − I in physical units;
    its digital samples satisfy the identity exactly. Read as the file says
    (no common-scale repair, `range_normalised_uv_per_unit=None` keeps only
    the relative repair, so here we rebuild the file's physical values), the
    quality check must notice and switch amplitude criteria off."""
    from experts.ecg.io.load import normalise
    from experts.ecg.io.wfdb_reader import read_wfdb
    from experts.ecg.quality import assess_record, limb_lead_inconsistency

    study = wfdb_study(examples_dir / "ecg" / "ludb-1", "1")
    raw_rec, units = read_wfdb(study)
    phys = wfdb.rdrecord(str(examples_dir / "ecg" / "ludb-1" / "1"))
    raw_rec.signals = phys.p_signal.T.copy()  # the file's own (per-lead) gains
    ludb = normalise(raw_rec, units)
    raw = wfdb.rdrecord(str(examples_dir / "ecg" / "ludb-1" / "1"), physical=False)
    d = raw.d_signal.astype(float)
    i, ii, iii = (d[:, raw.sig_name.index(n)] for n in ("i", "ii", "iii"))
    assert np.array_equal(iii, ii - i) or np.max(np.abs(iii - (ii - i))) <= 1  # digital identity holds
    assert limb_lead_inconsistency(ludb) > 0.2
    q = assess_record(ludb)
    assert not q.amplitudes_reliable and q.verdict == "limited"
    repaired = load_study(study)
    assert limb_lead_inconsistency(repaired) < 0.01 and assess_record(repaired).amplitudes_reliable
    ptb = load_study(wfdb_study(examples_dir / "ecg" / "ptb-s0010_re", "s0010_re"))
    assert limb_lead_inconsistency(ptb) < 0.02 and assess_record(ptb).amplitudes_reliable


def test_dicom_12_lead_waveform():
    from pathlib import Path

    from pydicom.data import get_testdata_file

    path = Path(get_testdata_file("waveform_ecg.dcm"))
    rec = load_study(single_file_study(path, "dicom"))
    assert rec.lead_names == STANDARD_12 and rec.fs == 1000 and abs(rec.duration_s - 10.0) < 1e-9
    # channel sensitivity is µV: physical values are converted to mV
    assert 0.2 < np.percentile(np.abs(rec.signals), 99.9) < 5.0
    assert "sex: female" in rec.header_comments


def test_dicom_corrupt(tmp_path):
    p = tmp_path / "bad.dcm"
    p.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00garbage")
    with pytest.raises(InputError):
        load_study(single_file_study(p, "dicom"))


def _ludb_csv(examples_dir, tmp_path, header_suffix="", scale=1.0, with_time=False):
    raw = wfdb.rdrecord(str(examples_dir / "ecg" / "ludb-1" / "1"))
    names = [n.upper() if n.startswith("v") or n in ("i", "ii", "iii") else n for n in raw.sig_name]
    names = [{"AVR": "aVR", "AVL": "aVL", "AVF": "aVF"}.get(n.upper(), n) for n in names]
    cols = ([("time", np.arange(raw.sig_len) / raw.fs)] if with_time else []) + [
        (n + header_suffix, raw.p_signal[:, i] * scale) for i, n in enumerate(names)
    ]
    p = tmp_path / "ecg.csv"
    with open(p, "w") as fh:
        fh.write(",".join(c for c, _ in cols) + "\n")
        data = np.column_stack([v for _, v in cols])
        np.savetxt(fh, data, delimiter=",", fmt="%.6f")
    return p, raw


def test_csv_with_sampling_rate(examples_dir, tmp_path):
    p, raw = _ludb_csv(examples_dir, tmp_path)
    rec = load_study(single_file_study(p, "csv"), csv_sampling_rate_hz=500)
    assert rec.lead_names == STANDARD_12 and rec.fs == 500
    assert np.allclose(rec.lead("II"), raw.p_signal[:, 1], atol=1e-5)


def test_csv_needs_a_sampling_rate(examples_dir, tmp_path):
    p, _ = _ludb_csv(examples_dir, tmp_path)
    with pytest.raises(InputError, match="csv_sampling_rate_hz"):
        load_study(single_file_study(p, "csv"))


def test_csv_time_column_gives_rate(examples_dir, tmp_path):
    p, _ = _ludb_csv(examples_dir, tmp_path, with_time=True)
    rec = load_study(single_file_study(p, "csv"))
    assert abs(rec.fs - 500) < 1e-6 and "time" not in rec.lead_names


def test_csv_microvolts_need_a_unit(examples_dir, tmp_path):
    p, _ = _ludb_csv(examples_dir, tmp_path, scale=1000.0)
    with pytest.raises(InputError, match="not plausible in mV"):
        load_study(single_file_study(p, "csv"), csv_sampling_rate_hz=500)
    p2, raw = _ludb_csv(examples_dir, tmp_path, header_suffix=" (uV)", scale=1000.0)
    rec = load_study(single_file_study(p2, "csv"), csv_sampling_rate_hz=500)
    assert np.allclose(rec.lead("II"), raw.p_signal[:, 1], atol=1e-4)


def test_csv_non_numeric(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("I,II\n0.1,0.2\nabc,0.3\n")
    with pytest.raises(InputError, match="non-numeric"):
        load_study(single_file_study(p, "csv"), csv_sampling_rate_hz=500)
