"""Read a DICOM 12-lead / General / Ambulatory ECG waveform with pydicom.

Why pydicom's waveform API: `Dataset.waveform_array` applies channel
sensitivity, correction factor and baseline per the standard (PS3.3
C.10.9), so we only choose the multiplex group and map channel codes to
lead names. Vendors often add a MEDIAN BEAT group; we analyse the rhythm
group and compute our own median beat.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from experts.core.errors import InputError
from experts.ecg.record import ECGRecord


def _lead_label(channel) -> str:
    """'Lead I (Einthoven)' → 'I'; 'Lead aVR' → 'aVR'; else the code meaning."""
    try:
        src = channel.ChannelSourceSequence[0]
        meaning = str(getattr(src, "CodeMeaning", "") or getattr(src, "CodeValue", ""))
    except (AttributeError, IndexError):
        meaning = str(getattr(channel, "ChannelLabel", "") or "")
    m = re.match(r"^\s*lead\s+([^\s(]+)", meaning, re.I)
    return m.group(1) if m else (meaning or str(getattr(channel, "ChannelLabel", "?")))


def _unit(channel) -> str:
    try:
        return str(channel.ChannelSensitivityUnitsSequence[0].CodeValue)
    except (AttributeError, IndexError):
        return "uV"  # PS3.3: ECG channel sensitivity is conventionally µV; say so below


def read_dicom_ecg(path: str, display_name: str, max_seconds: float | None = None) -> tuple[ECGRecord, list[str]]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError, TypeError) as exc:
        raise InputError(display_name, f"corrupt DICOM file ({exc})") from exc
    groups = getattr(ds, "WaveformSequence", None)
    if not groups:
        raise InputError(display_name, "DICOM file has no waveform data (WaveformSequence is missing)")
    candidates = []
    for i, g in enumerate(groups):
        label = str(getattr(g, "MultiplexGroupLabel", "") or "")
        n_ch = int(getattr(g, "NumberOfWaveformChannels", 0) or 0)
        n_s = int(getattr(g, "NumberOfWaveformSamples", 0) or 0)
        fs = float(getattr(g, "SamplingFrequency", 0) or 0)
        if "median" in label.lower():
            continue
        candidates.append((n_ch * (n_s / fs if fs else 0), i, label, fs))
    if not candidates:
        raise InputError(display_name, "DICOM ECG holds only a median-beat group, no rhythm waveform")
    _, index, label, fs = max(candidates)
    group = groups[index]
    if not fs > 0:
        raise InputError(display_name, "DICOM waveform has no valid SamplingFrequency")
    try:
        data = np.asarray(ds.waveform_array(index), dtype=np.float64)  # (samples, channels)
    except Exception as exc:  # pydicom raises ValueError/AttributeError/etc. on malformed waveform data
        raise InputError(display_name, f"cannot decode the waveform data ({type(exc).__name__}: {exc})") from exc
    if data.ndim != 2 or data.shape[0] == 0:
        raise InputError(display_name, "DICOM waveform holds no samples")
    channels = list(getattr(group, "ChannelDefinitionSequence", []) or [])
    names = [_lead_label(c) for c in channels] or [f"channel {k + 1}" for k in range(data.shape[1])]
    units = [_unit(c) for c in channels] or ["uV"] * data.shape[1]
    notes = []
    if channels and any("ChannelSensitivityUnitsSequence" not in c for c in channels):
        notes.append(f"{display_name}: some channels have no sensitivity units; µV was assumed (the DICOM convention).")
    if max_seconds is not None and data.shape[0] / fs > max_seconds:
        notes.append(f"The waveform lasts {data.shape[0] / fs / 60:.1f} min; only the first {max_seconds / 60:.0f} min were analysed.")
        data = data[: int(max_seconds * fs)]
    comments = []
    sex = str(getattr(ds, "PatientSex", "") or "").upper()
    if sex in ("F", "M"):
        comments.append(f"sex: {'female' if sex == 'F' else 'male'}")
    age = str(getattr(ds, "PatientAge", "") or "")
    if m := re.fullmatch(r"(\d{3})Y", age):
        comments.append(f"age: {int(m.group(1))}")
    return (
        ECGRecord(
            signals=data.T,
            lead_names=names,
            fs=fs,
            source_file=display_name,
            files=[display_name],
            original_names=names,
            notes=notes,
            header_comments=comments,
            format="dicom",
        ),
        units,
    )
