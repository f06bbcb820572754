"""Sinus rhythm on a single unnamed lead (CinC 2017's 'ECG', handheld
recorders): P-wave polarity cannot be judged, so the fallback rule rests on
a P wave of constant shape before the QRS complexes and says so.

Truth: LUDB record 1 is labelled sinus bradycardia by its cardiologists
(bundled); CinC 2017 REFERENCE.csv labels (shared data).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import wfdb

from experts.core.tool import ToolRequest
from experts.ecg.tool import ECGTool
from tests.ecg.helpers import wfdb_study


def run(study, tmp_path):
    return ECGTool().run(ToolRequest(study=study, output_dir=str(tmp_path), options={"make_plot": False}))


def _single_unnamed(examples_dir, tmp_path):
    """LUDB record 1's lead II written as a one-channel record named 'ECG'."""
    rec = wfdb.rdrecord(str(examples_dir / "ecg" / "ludb-1" / "1"), physical=False)
    ii = rec.d_signal[:, rec.sig_name.index("ii")].astype(float) / 1000.0  # 1 µV per unit (see gain_repair)
    wfdb.wrsamp("one", fs=500, units=["mV"], sig_name=["ECG"], p_signal=ii[:, None], fmt=["16"], adc_gain=[1000.0], baseline=[0],
                write_dir=str(tmp_path))  # fmt: skip
    return wfdb_study(tmp_path, "one")


def test_single_unnamed_lead_gets_sinus_with_the_fallback_rule(examples_dir, tmp_path):
    res = run(_single_unnamed(examples_dir, tmp_path), tmp_path)
    st = {s.id.split(".", 1)[1]: s for s in res.statements if s.status == "present"}
    sinus = [st[k] for k in ("sinus_rhythm", "sinus_bradycardia") if k in st]
    assert sinus, [s.id for s in res.statements]  # LUDB: sinus bradycardia (the tool's limit is 50/min, LUDB's 60/min)
    crit = {c.measurement_id.split(".", 1)[1]: c for c in sinus[0].criteria}
    assert "p_wave_beats_single_lead" in crit and crit["p_wave_beats_single_lead"].met
    assert crit["p_wave_beats_single_lead"].guideline is None and "operational" in (crit["p_wave_beats_single_lead"].note or "")
    assert "p_wave_amplitude" not in crit  # no lead-II polarity claim on an unnamed lead
    assert "single unnamed lead" in (sinus[0].explanation or "")
    assert any("P-wave polarity cannot be judged" in w for w in res.warnings)


def test_named_lead_ii_keeps_the_polarity_rule(examples_dir, tmp_path):
    res = run(wfdb_study(examples_dir / "ecg" / "ludb-1", "1"), tmp_path)
    ids = {m.name for m in res.measurements}
    assert "p_wave_beats_single_lead" not in ids and "p_wave_amplitude" in ids


def test_af_record_is_not_called_sinus_on_a_single_lead(shared_data, tmp_path):
    res = run(wfdb_study(shared_data / "ecg" / "cinc2017", "A00004"), tmp_path)  # REFERENCE.csv: A
    present = {s.id.split(".", 1)[1] for s in res.statements if s.status == "present"}
    assert not present & {"sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia"}


def test_cinc2017_normal_records_mostly_sinus(shared_data, tmp_path):
    """First 12 'N' records of the tuning half (sorted REFERENCE.csv)."""
    root = shared_data / "ecg" / "cinc2017"
    ref = sorted(csv.reader(open(root / "REFERENCE.csv", newline="")))
    normal = [r for r, lab in ref[: len(ref) // 2] if lab == "N"][:12]
    hits = 0
    for rec in normal:
        res = run(wfdb_study(root, rec), tmp_path)
        hits += any(s.status == "present" and s.id.split(".", 1)[1].startswith("sinus_") for s in res.statements)
    assert hits >= 6, hits  # tuning half overall: 107/168 (session 1: none)
