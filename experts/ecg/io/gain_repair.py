"""Repair WFDB records whose per-lead gains are range normalisation.

Why: LUDB v1.0.1 as published on PhysioNet (headers identical to its
SHA256SUMS) gives every lead an ADC gain equal to that lead's own digital
peak-to-peak, so each lead reads as exactly 1 "mV" peak-to-peak. The
digital samples themselves are the electrocardiograph's: they satisfy
III = II − I (and Goldberger's equations) exactly, in integer units, which
only holds when all leads share one scale. Reading the file's physical
values therefore distorts every amplitude *and* the ratios between leads:
the frontal axis (from I and aVF), the Sokolow–Lyon / Cornell sums and ST
levels were all wrong, and the spatial velocity used for delineation mixed
leads at arbitrary weights.

What we do, and only when the evidence is unambiguous:
1. the record has recorded (not derived) leads I, II and at least one of
   III / aVR / aVL / aVF;
2. the limb-lead identities hold in the *digital* samples (residual below
   0.5 % — quantisation) but fail in the physical values (residual above
   the quality check's 10 %), so the per-lead gains are what is wrong;
3. every lead's gain equals its digital peak-to-peak (± 1 unit): the gains
   are a range normalisation, not a calibration.
Then all leads are read as digital units × one common scale. The file does
not say what one unit is; `uv_per_unit` (default 1 µV, the resolution that
gives LUDB's leads the amplitudes of adult ECGs: median lead II peak-to-peak
1.1 mV, V2 and V5 1.75 mV over the 200 records) is used and the record says
so in a note. With `uv_per_unit=None` only the relative scale is restored
(axis, delineation) and the record is marked so that absolute-amplitude
criteria stay off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIGITAL_MAX_RESIDUAL = 0.005  # quantisation of integer samples
PHYSICAL_MIN_RESIDUAL = 0.10  # same limit as quality.EINTHOVEN_MAX_RESIDUAL
IDENTITIES = {"III": lambda i, ii: ii - i, "aVR": lambda i, ii: -(i + ii) / 2, "aVL": lambda i, ii: i - ii / 2, "aVF": lambda i, ii: ii - i / 2}


@dataclass
class GainRepair:
    signals: np.ndarray  # leads × samples, mV on the common scale (or digital units / 1000 when uv_per_unit is None)
    note: str
    absolute_scale_known: bool


def limb_residual(signals: np.ndarray, names: list[str]) -> float | None:
    """RMS residual of the limb-lead identities over the limb-lead RMS
    (None without I, II and one more recorded limb lead)."""
    if "I" not in names or "II" not in names:
        return None
    i = signals[names.index("I")] - np.mean(signals[names.index("I")])
    ii = signals[names.index("II")] - np.mean(signals[names.index("II")])
    num = den = 0.0
    for lead, f in IDENTITIES.items():
        if lead not in names:
            continue
        x = signals[names.index(lead)] - np.mean(signals[names.index(lead)])
        exp = f(i, ii)
        num += float(np.mean((x - exp) ** 2))
        den += float(np.mean(x**2) + np.mean(exp**2)) / 2
    if den <= 0 or not any(lead in names for lead in IDENTITIES):
        return None
    return float(np.sqrt(num / den))


def repair_range_normalised_gains(
    physical: np.ndarray, std_names: list[str], gains: list[float], baselines: list[float], uv_per_unit: float | None
) -> GainRepair | None:
    """Return the re-scaled signals when the three conditions of the module
    docstring hold, else None (the record is left as the file says)."""
    if len(gains) != physical.shape[0] or len(baselines) != physical.shape[0]:
        return None
    g = np.asarray(gains, dtype=np.float64)
    if not np.all(np.isfinite(g)) or np.any(g <= 0) or g.max() / g.min() < 1.01:
        return None
    digital = physical * g[:, None] + np.asarray(baselines, dtype=np.float64)[:, None]
    digital = np.round(digital)
    res_digital = limb_residual(digital, std_names)
    res_physical = limb_residual(physical, std_names)
    if res_digital is None or res_physical is None:
        return None
    if not (res_digital < DIGITAL_MAX_RESIDUAL and res_physical > PHYSICAL_MIN_RESIDUAL):
        return None
    finite = np.all(np.isfinite(digital), axis=1)
    pp = np.where(finite, np.nanmax(digital, axis=1) - np.nanmin(digital, axis=1), np.nan)
    if not np.all(np.abs(pp[finite] - g[finite]) <= 1.0):
        return None
    centred = digital - np.median(digital, axis=1, keepdims=True)
    why = (
        f"the file's per-lead gains equal each lead's own digital peak-to-peak (range normalisation: every lead would read 1 mV "
        f"peak-to-peak) while the digital samples satisfy III = II − I exactly (residual {res_digital:.1%} digital vs "
        f"{res_physical:.0%} with the file's gains)"
    )
    if uv_per_unit is None:
        return GainRepair(signals=centred / 1000.0, note=f"Amplitude scale: {why}; leads were put on one common scale, whose size "
                          "in mV is unknown, so absolute-amplitude criteria are off.", absolute_scale_known=False)  # fmt: skip
    return GainRepair(
        signals=centred * uv_per_unit / 1000.0,
        note=f"Amplitude scale: {why}; all leads were read on one common scale assuming {uv_per_unit:g} µV per digital unit "
        "(option range_normalised_uv_per_unit). Absolute amplitudes (voltage, ST, Q-wave criteria) rest on that assumption.",
        absolute_scale_known=True,
    )
