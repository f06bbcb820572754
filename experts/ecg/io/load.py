"""Load any supported ECG study and normalise it.

Why a separate normalisation step: every reader returns raw channels with
their own names and units; the checks that protect the analysis (units to
mV, non-ECG channels dropped, NaN gaps, implausible rates, empty or
one-sample signals) are the same for all formats and live here once.
"""

from __future__ import annotations

import numpy as np

from experts.core.errors import InputError
from experts.core.types import StudyInput
from experts.ecg.leads import derive_limb_leads, is_non_ecg_channel, normalise_lead_name, reorder_standard, voltage_scale_to_mv
from experts.ecg.record import STANDARD_12, ECGRecord

KNOWN_LEADS = set(STANDARD_12) | {"MLII", "MLI", "MLIII", "MCL1", "X", "Y", "Z"}
MIN_FS_HZ = 50.0  # below this a QRS (~100 ms) is a handful of samples
MAX_FS_HZ = 20_000.0
MIN_DURATION_S = 2.0  # fewer than ~2 beats cannot give a rate
MAX_NAN_FRACTION = 0.5  # a lead more than half missing is dropped


def load_study(
    study: StudyInput, *, csv_sampling_rate_hz: float | None = None, max_seconds: float | None = None,
    range_normalised_uv_per_unit: float | None = 1.0,
) -> ECGRecord:  # fmt: skip
    fmt = str(study.meta.get("format") or "").lower()
    first = study.display_names[0] if study.display_names else (study.files[0] if study.files else study.study_id)
    if not study.files:
        raise InputError(first, "the ECG study has no files")
    if fmt == "wfdb" or (not fmt and any(str(f).lower().endswith(".hea") for f in study.files)):
        from experts.ecg.io.wfdb_reader import read_wfdb

        raw, units = read_wfdb(study, max_seconds=max_seconds, range_normalised_uv_per_unit=range_normalised_uv_per_unit)
    elif fmt == "dicom":
        from experts.ecg.io.dicom_reader import read_dicom_ecg

        raw, units = read_dicom_ecg(study.files[0], study.display_name(study.files[0]), max_seconds=max_seconds)
    elif fmt == "csv":
        from experts.ecg.io.csv_reader import read_csv_ecg

        raw, units = read_csv_ecg(
            study.files[0], study.display_name(study.files[0]), fs=csv_sampling_rate_hz, max_seconds=max_seconds
        )
    else:
        raise InputError(first, f"unsupported ECG format {fmt or 'unknown'!r} (expected wfdb, dicom or csv)")
    return normalise(raw, units)


def normalise(raw: ECGRecord, units: list[str]) -> ECGRecord:
    """Standard names, millivolts, ECG channels only, NaN gaps handled."""
    name = raw.source_file
    if not (MIN_FS_HZ <= raw.fs <= MAX_FS_HZ):
        raise InputError(name, f"sampling rate {raw.fs:g} Hz is implausible for an ECG (expected {MIN_FS_HZ:g}–{MAX_FS_HZ:g} Hz)")
    if raw.n_samples == 0:
        raise InputError(name, "the signal has zero samples")
    if raw.duration_s < MIN_DURATION_S:
        raise InputError(name, f"the signal lasts {raw.duration_s:.2f} s; at least {MIN_DURATION_S:g} s are needed for a rhythm")

    keep, names, originals = [], [], []
    notes = list(raw.notes)
    dropped = list(raw.dropped_channels)
    unknown = []
    for i, (orig, unit) in enumerate(zip(raw.original_names, units + ["mV"] * (len(raw.original_names) - len(units)))):
        if is_non_ecg_channel(orig, unit):
            dropped.append(f"{orig} ({unit})" if unit else orig)
            continue
        scale = voltage_scale_to_mv(unit)
        if scale is None:
            dropped.append(f"{orig} (unit {unit!r} is not a voltage)")
            continue
        std = normalise_lead_name(orig)
        if std in names:
            notes.append(f"Channel {orig!r} duplicates lead {std}; the first was kept.")
            continue
        if std not in KNOWN_LEADS:
            unknown.append(orig)
        keep.append(raw.signals[i] * scale)
        names.append(std)
        originals.append(orig)
    if dropped:
        notes.append(f"Non-ECG channels were not analysed: {', '.join(dropped)}.")
    if not keep:
        raise InputError(name, "no ECG channel found (all channels are non-ECG signals such as PLETH/ABP/RESP)")
    if unknown:
        notes.append(
            f"Lead name(s) {', '.join(repr(u) for u in unknown)} are not standard ECG lead names; "
            "they were used for rhythm only, not for lead-specific criteria."
        )

    signals = np.vstack(keep)
    good_rows = []
    for j in range(signals.shape[0]):
        row = signals[j]
        bad = ~np.isfinite(row)
        frac = float(bad.mean())
        if frac > MAX_NAN_FRACTION:
            notes.append(f"Lead {names[j]}: {frac:.0%} of samples are missing (NaN); the lead was excluded.")
            continue
        if frac > 0:
            idx = np.arange(row.size)
            row = row.copy()
            row[bad] = np.interp(idx[bad], idx[~bad], row[~bad])
            notes.append(f"Lead {names[j]}: {frac:.1%} of samples were missing (NaN) and were bridged by linear interpolation.")
            signals[j] = row
        good_rows.append(j)
    if not good_rows:
        raise InputError(name, "every ECG lead is mostly missing samples (NaN)")
    rec = ECGRecord(
        signals=signals[good_rows],
        lead_names=[names[j] for j in good_rows],
        fs=raw.fs,
        source_file=raw.source_file,
        files=raw.files,
        original_names=[originals[j] for j in good_rows],
        dropped_channels=dropped,
        notes=notes,
        header_comments=raw.header_comments,
        reference_annotations=raw.reference_annotations,
        format=raw.format,
        amplitude_scale_known=raw.amplitude_scale_known,
    )
    return derive_limb_leads(reorder_standard(rec))
