"""Synthetic ECGs with exact truth, written as real WFDB records.

Sinus rhythms come straight from the ECG expert's generator
(`experts.ecg.synthetic.synthesize`) with the parameter draws of its own
evaluation (`evals.ecg_accuracy_synthetic.random_case`). Two variants the
generator has no switch for are built here from its beat model
(`_beat_template`, `LEAD_VECTORS`) so the truth stays exact:

- atrial fibrillation: no P wave, irregularly irregular RR (independent
  draws, coefficient of variation ~20%), small 5–7 Hz fibrillatory waves;
- a left-bundle-branch-block pattern: broad QRS (≥150 ms) with the
  activation vector turned leftward and posterior, no septal q in I/V6
  (the initial vector has no x component) and a late R peak in V6.

Truth is what was generated: intervals in ms, the rhythm and conduction
pattern by construction, heart rate from the generated R peaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FS = 500.0


@dataclass
class SyntheticECG:
    signals: np.ndarray  # (12, n) mV
    leads: list[str]
    fs: float
    truth: dict  # pr_ms, qrs_ms, qt_ms, rr_ms, heart_rate, rhythm, pattern


def write_wfdb(folder: Path, name: str, ecg: SyntheticECG) -> list[Path]:
    """Write `name.hea` + `name.dat` (16-bit, 1 µV resolution)."""
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    sig = np.ascontiguousarray(ecg.signals.T)
    wfdb.wrsamp(name, fs=ecg.fs, units=["mV"] * sig.shape[1], sig_name=list(ecg.leads), p_signal=sig, fmt=["16"] * sig.shape[1],
                adc_gain=[1000.0] * sig.shape[1], baseline=[0] * sig.shape[1], write_dir=str(folder))  # fmt: skip
    return [folder / f"{name}.hea", folder / f"{name}.dat"]


def _hr_from_peaks(r_peaks: np.ndarray, fs: float) -> float:
    return float(60.0 * fs / np.mean(np.diff(r_peaks)))


def sinus(seed: int, **overrides) -> SyntheticECG:
    """A sinus-rhythm ECG from the expert's generator (random physiology)."""
    from evals.ecg_accuracy_synthetic import random_case
    from experts.ecg.synthetic import synthesize

    params = random_case(np.random.default_rng(seed))
    params.update(overrides)
    sig, names, truth = synthesize(fs=FS, seed=seed, **params)
    hr = _hr_from_peaks(truth.r_peaks, FS)
    return SyntheticECG(sig, names, FS, {"pr_ms": truth.pr_ms, "qrs_ms": truth.qrs_ms, "qt_ms": truth.qt_ms, "rr_ms": 60000.0 / hr,
                                         "heart_rate": hr, "rhythm": "sinus", "pattern": "normal", "params": params})  # fmt: skip


def _amp(rng: np.random.Generator, pattern: str) -> dict:
    from experts.ecg.synthetic import _unit

    if pattern == "lbbb":
        # leftward, posterior activation; no septal q in I/V6 (initial vector
        # without an x component), a broad late R in I/aVL/V5/V6, QS-like V1
        return {"p": rng.uniform(0.10, 0.2), "q": rng.uniform(0.15, 0.3), "r": rng.uniform(1.4, 2.0), "s": rng.uniform(0.2, 0.4),
                "t": rng.uniform(0.2, 0.4),
                "p_dir": _unit([0.6, 0.7, 0.2]), "q_dir": _unit([0.0, 0.2, -1.0]), "r_dir": _unit([0.9, 0.1, -0.45]),
                "s_dir": _unit([0.0, -0.3, -1.0]), "t_dir": _unit([-0.7, -0.2, 0.5])}  # fmt: skip
    return {"p": 0.0, "q": rng.uniform(0.1, 0.3), "r": rng.uniform(0.8, 1.8), "s": rng.uniform(0.3, 0.9), "t": rng.uniform(0.2, 0.5),
            "p_dir": _unit([0.6, 0.7, 0.2]), "q_dir": _unit([-0.5, 0.1, 0.8] + rng.normal(0, 0.1, 3)),
            "r_dir": _unit([0.8, 0.5, -0.2] + rng.normal(0, 0.15, 3)), "s_dir": _unit([-0.4, -0.5, -0.7] + rng.normal(0, 0.1, 3)),
            "t_dir": _unit([0.7, 0.5, 0.3] + rng.normal(0, 0.1, 3))}  # fmt: skip


def _assemble(beat: np.ndarray, starts: list[int], n: int, rng: np.random.Generator, noise_mv: float, wander_mv: float) -> np.ndarray:
    from experts.ecg.synthetic import LEAD_VECTORS, LEADS

    dip = np.zeros((3, n))
    for t in starts:
        end = min(n, t + beat.shape[1])
        dip[:, t:end] += beat[:, : end - t]
    sig = np.vstack([LEAD_VECTORS[name] for name in LEADS]) @ dip
    tt = np.arange(n) / FS
    sig += wander_mv * np.sin(2 * np.pi * 0.3 * tt + rng.uniform(0, 2 * np.pi))[None, :]
    sig += rng.normal(0, noise_mv, size=sig.shape)
    return sig


def atrial_fibrillation(seed: int, duration_s: float = 10.0, mean_hr: float | None = None) -> SyntheticECG:
    """AF: no P waves, independent RR draws, fibrillatory waves."""
    from experts.ecg.synthetic import LEAD_VECTORS, LEADS, _beat_template

    rng = np.random.default_rng(seed)
    hr = mean_hr or rng.uniform(75, 125)
    qrs, qt = rng.uniform(80, 105), rng.uniform(330, 380)
    pr = 120.0  # the (empty) P segment before each QRS: the template starts at P onset
    beat, q0, r_off = _beat_template(FS, pr, qrs, qt, 100.0, _amp(rng, "af"))
    n = int(duration_s * FS)
    rr_mean = 60.0 / hr
    starts, peaks = [], []
    t = int(0.2 * FS)
    while t + beat.shape[1] < n:
        starts.append(t)
        peaks.append(t + r_off)
        t += int(FS * max(0.33, rng.normal(rr_mean, 0.2 * rr_mean)))
    sig = _assemble(beat, starts, n, rng, rng.uniform(0.005, 0.015), rng.uniform(0.0, 0.08))
    # fibrillatory waves: 5–7 Hz, varying amplitude, mostly in the inferior/right-precordial directions
    tt = np.arange(n) / FS
    f = rng.uniform(5.0, 7.0)
    phase = np.cumsum(2 * np.pi * (f + 0.5 * np.sin(2 * np.pi * 0.2 * tt)) / FS)
    fw = 0.04 * (1 + 0.4 * np.sin(2 * np.pi * 0.13 * tt)) * np.sin(phase)
    direction = np.array([0.2, 0.7, 0.7]) / np.linalg.norm([0.2, 0.7, 0.7])
    sig += np.outer(np.vstack([LEAD_VECTORS[name] for name in LEADS]) @ direction, fw)
    hr_true = _hr_from_peaks(np.asarray(peaks), FS)
    return SyntheticECG(sig, list(LEADS), FS, {"pr_ms": None, "qrs_ms": beat_qrs(qrs), "qt_ms": qt, "rr_ms": 60000.0 / hr_true,
                                               "heart_rate": hr_true, "rhythm": "af", "pattern": "normal"})  # fmt: skip


def beat_qrs(qrs_ms: float) -> float:
    """The generator's QRS truth: its three parts are rounded to samples."""
    return (int(round(0.15 * qrs_ms * FS / 1000)) + int(round(0.5 * qrs_ms * FS / 1000)) + int(round(0.35 * qrs_ms * FS / 1000))) * 1000.0 / FS


def lbbb_pattern(seed: int, duration_s: float = 10.0, hr: float | None = None) -> SyntheticECG:
    """Sinus rhythm with a left-bundle-branch-block activation pattern."""
    from experts.ecg.synthetic import _beat_template

    rng = np.random.default_rng(seed)
    hr = hr or rng.uniform(60, 85)
    qrs = rng.uniform(155, 175)
    pr = rng.uniform(150, 190)
    rr = 60.0 / hr
    qt = min(max(rng.uniform(420, 460) * rr ** (1 / 3), qrs + 200), 0.85 * rr * 1000 - pr)
    beat, q0, r_off = _beat_template(FS, pr, qrs, qt, 100.0, _amp(rng, "lbbb"))
    n = int(duration_s * FS)
    starts, peaks = [], []
    t = int(0.3 * FS)
    while t + beat.shape[1] < n:
        starts.append(t)
        peaks.append(t + r_off)
        t += int(round(rr * (1 + rng.normal(0, 0.02)) * FS))
    sig = _assemble(beat, starts, n, rng, rng.uniform(0.005, 0.015), rng.uniform(0.0, 0.08))
    from experts.ecg.synthetic import LEADS

    hr_true = _hr_from_peaks(np.asarray(peaks), FS)
    return SyntheticECG(sig, list(LEADS), FS, {"pr_ms": pr, "qrs_ms": beat_qrs(qrs), "qt_ms": qt, "rr_ms": 60000.0 / hr_true,
                                               "heart_rate": hr_true, "rhythm": "sinus", "pattern": "lbbb"})  # fmt: skip


def flat_line(seconds: float = 10.0, seed: int = 0) -> SyntheticECG:
    """A 12-lead recording with the electrodes off: baseline noise only."""
    from experts.ecg.synthetic import LEADS

    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    return SyntheticECG(rng.normal(0, 0.002, size=(12, n)), list(LEADS), FS, {"rhythm": None})


# --- expectations ---------------------------------------------------------------

SINUS_KEYS = ["sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia"]
IVCD_KEYS = ["nonspecific_ivcd", "lbbb", "rbbb", "incomplete_lbbb", "incomplete_rbbb"]
INTERVAL_TOLERANCE_MS = {"pr_interval": 10.0, "qrs_duration": 10.0, "qt_interval": 25.0}  # IEC 60601-2-25 mean-difference limits
HR_TOLERANCE = 2.0


def expectations(ecg: SyntheticECG) -> dict:
    """Statements and measurements a correct ECG tool must report, from the
    exact truth and the thresholds the tool cites (AHA/ACCF/HRS 2009)."""
    t = ecg.truth
    st: list[dict] = []
    ms: list[dict] = [{"name": "heart_rate", "value": round(t["heart_rate"], 1), "tolerance": HR_TOLERANCE, "unit": "/min"}]
    if t["rhythm"] == "af":
        st.append({"id": "atrial_fibrillation", "status": "present"})
        st.append({"any_of": SINUS_KEYS, "status": "absent", "name": "sinus (any rate)"})
    else:
        st.append({"id": "atrial_fibrillation", "status": "absent"})
        hr = t["heart_rate"]
        key = "sinus_bradycardia" if hr < 50 else "sinus_tachycardia" if hr > 100 else "sinus_rhythm"
        st.append({"id": key, "status": "present"})
        for other in SINUS_KEYS:
            if other != key:
                st.append({"id": other, "status": "absent"})
        st.append({"id": "first_degree_av_block", "status": "present" if t["pr_ms"] > 200 else "absent"})
        ms.append({"name": "pr_interval", "value": round(t["pr_ms"], 1), "tolerance": INTERVAL_TOLERANCE_MS["pr_interval"], "unit": "ms"})
    if t["pattern"] == "lbbb":
        st.append({"id": "lbbb", "status": "present"})
    else:
        st.append({"any_of": IVCD_KEYS, "status": "present" if t["qrs_ms"] > 110 else "absent", "name": "QRS > 110 ms conduction delay (any)"})
        st.append({"id": "lbbb", "status": "absent"})
    ms.append({"name": "qrs_duration", "value": round(t["qrs_ms"], 1), "tolerance": INTERVAL_TOLERANCE_MS["qrs_duration"], "unit": "ms"})
    ms.append({"name": "qt_interval", "value": round(t["qt_ms"], 1), "tolerance": INTERVAL_TOLERANCE_MS["qt_interval"], "unit": "ms"})
    return {"statements": st, "measurements": ms}
