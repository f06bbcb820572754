"""Lead names and exact limb-lead derivation.

Why: vendors spell leads many ways ('DI', 'Lead II', 'AVR', 'v1'); rules
need the standard names. And a record that holds only I and II still has
all six limb leads by Einthoven's and Goldberger's equations, exactly.
"""

from __future__ import annotations

import re

import numpy as np

from experts.ecg.record import ECGRecord

_ALIASES = {
    "i": "I", "di": "I", "leadi": "I", "l1": "I",
    "ii": "II", "dii": "II", "leadii": "II", "l2": "II",
    "iii": "III", "diii": "III", "leadiii": "III", "l3": "III",
    "avr": "aVR", "leadavr": "aVR",
    "avl": "aVL", "leadavl": "aVL",
    "avf": "aVF", "leadavf": "aVF",
    **{f"v{i}": f"V{i}" for i in range(1, 7)},
    **{f"leadv{i}": f"V{i}" for i in range(1, 7)},
    **{f"c{i}": f"V{i}" for i in range(1, 7)},  # European chest-lead naming
    "mlii": "MLII", "mli": "MLI", "mliii": "MLIII", "mcl1": "MCL1",
    "vx": "X", "vy": "Y", "vz": "Z", "x": "X", "y": "Y", "z": "Z",
}  # fmt: skip

# Channels that are not ECG (monitor records mix them in).
_NON_ECG = re.compile(r"^(pleth|abp|art|cvp|pap|resp|spo2|co2|ppg|pulse|bp|nbp|icp|temp|eeg|emg|eog)", re.I)


def normalise_lead_name(raw: str) -> str:
    """Map a vendor's lead label to the standard name; unknown labels are
    returned stripped but otherwise unchanged (the caller warns)."""
    key = re.sub(r"[\s_\-.()]", "", str(raw)).lower()
    return _ALIASES.get(key, str(raw).strip())


def is_non_ecg_channel(raw: str, unit: str | None = None) -> bool:
    """PLETH, ABP, RESP... or a channel whose unit is not a voltage."""
    if _NON_ECG.match(str(raw).strip()):
        return True
    if unit:
        u = unit.strip().lower()
        if u and u not in ("mv", "uv", "µv", "μv", "v", "nu", "mv/1", "millivolts", "microvolts"):
            return True
    return False


def voltage_scale_to_mv(unit: str | None) -> float | None:
    """Factor converting a voltage unit to mV; None when the unit is unknown."""
    u = (unit or "mV").strip().lower()
    return {"mv": 1.0, "millivolts": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolts": 1e-3, "v": 1e3}.get(u)


DERIVATIONS = {
    "III": "II - I",
    "aVR": "-(I + II) / 2",
    "aVL": "I - II / 2",
    "aVF": "II - I / 2",
}


def derive_limb_leads(record: ECGRecord) -> ECGRecord:
    """Add III, aVR, aVL, aVF computed from I and II when they are missing.

    Exact by definition (Einthoven: III = II − I; Goldberger's augmented
    leads), so nothing is estimated. Leads already recorded are kept as
    recorded. The record notes which leads were derived.
    """
    if not (record.has("I") and record.has("II")):
        return record
    lead_i, lead_ii = record.lead("I"), record.lead("II")
    formulas = {
        "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / 2.0,
        "aVL": lead_i - lead_ii / 2.0,
        "aVF": lead_ii - lead_i / 2.0,
    }
    missing = [n for n in formulas if not record.has(n)]
    if not missing:
        return record
    signals = np.vstack([record.signals] + [formulas[n][None, :] for n in missing])
    names = record.lead_names + missing
    out = ECGRecord(
        signals=signals,
        lead_names=names,
        fs=record.fs,
        source_file=record.source_file,
        files=record.files,
        original_names=record.original_names + [f"{n} (derived)" for n in missing],
        derived_leads=record.derived_leads + missing,
        dropped_channels=record.dropped_channels,
        notes=record.notes
        + [f"Leads {', '.join(missing)} were derived exactly from I and II ({'; '.join(f'{n} = {DERIVATIONS[n]}' for n in missing)})."],
        header_comments=record.header_comments,
        reference_annotations=record.reference_annotations,
        format=record.format,
        amplitude_scale_known=record.amplitude_scale_known,
    )
    return reorder_standard(out)


def reorder_standard(record: ECGRecord) -> ECGRecord:
    """Put standard leads in the conventional order, others after them."""
    from experts.ecg.record import STANDARD_12

    order = [n for n in STANDARD_12 if record.has(n)] + [n for n in record.lead_names if n not in STANDARD_12]
    if order == record.lead_names:
        return record
    idx = [record.lead_names.index(n) for n in order]
    record.signals = record.signals[idx]
    record.original_names = [record.original_names[i] for i in idx]
    record.lead_names = order
    return record
