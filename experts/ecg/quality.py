"""Per-lead signal quality and the study-level verdict.

Why these checks: each is a way an ECG lies. A flat or saturated lead has
no cardiac signal; muscle noise and powerline hum hide P waves and move
fiducial points; baseline wander shifts ST measurements. Rules must know
which leads they may trust, and a study with no trustworthy lead must not
produce diagnoses (the result model enforces that).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal as sps

from experts.ecg.record import ECGRecord

FLAT_P2P_MV = 0.05  # robust peak-to-peak below 50 µV: no cardiac signal
SATURATION_FRACTION = 0.02  # >2 % of samples pinned at the extreme value
NOISE_RATIO_LIMITED = 0.15  # RMS above 40 Hz relative to the QRS amplitude
NOISE_RATIO_BAD = 0.40
WANDER_MV_LIMITED = 1.0  # low-pass (<0.5 Hz) excursion range in mV
POWERLINE_RATIO = 0.3  # RMS at 50/60 Hz relative to QRS amplitude


@dataclass
class LeadQuality:
    lead: str
    usable: bool
    problems: list[str] = field(default_factory=list)
    p2p_mv: float = 0.0
    noise_ratio: float = 0.0
    wander_mv: float = 0.0
    score: float = 0.0  # higher is better; used to rank leads for beat detection


EINTHOVEN_MAX_RESIDUAL = 0.10  # RMS(III − (II − I)) relative to the RMS of the limb leads


@dataclass
class RecordQuality:
    leads: dict[str, LeadQuality]
    verdict: str  # usable | limited | non_diagnostic
    reasons: list[str] = field(default_factory=list)
    amplitudes_reliable: bool = True  # False when recorded limb leads contradict Einthoven's law

    def usable_leads(self) -> list[str]:
        return [n for n, q in self.leads.items() if q.usable]


def _butter(fs: float, kind: str, cutoff: float | tuple[float, float], order: int = 2):
    nyq = fs / 2.0
    wn = np.asarray(cutoff, dtype=float) / nyq
    return sps.butter(order, np.clip(wn, 1e-4, 0.99), btype=kind, output="sos")


def assess_lead(name: str, x: np.ndarray, fs: float) -> LeadQuality:
    q = LeadQuality(lead=name, usable=True)
    lo, hi = np.percentile(x, [0.5, 99.5])
    q.p2p_mv = float(hi - lo)
    if q.p2p_mv < FLAT_P2P_MV:
        q.usable = False
        q.problems.append(f"flat line (amplitude {q.p2p_mv * 1000:.0f} µV)")
        return q
    xmax, xmin = float(np.max(x)), float(np.min(x))
    pinned = float(np.mean((x >= xmax - 1e-9) | (x <= xmin + 1e-9)))
    if pinned > SATURATION_FRACTION:
        q.problems.append(f"saturated ({pinned:.0%} of samples at the amplifier limit)")
        if pinned > 0.2:
            q.usable = False
    # QRS amplitude proxy: robust range of the 0.5-40 Hz band
    band = sps.sosfiltfilt(_butter(fs, "bandpass", (0.5, min(40.0, fs / 2.5))), x)
    qrs_amp = float(np.subtract(*np.percentile(band, [99.5, 0.5])))
    if fs > 90:
        hf = sps.sosfiltfilt(_butter(fs, "highpass", min(40.0, fs / 2.5)), x)
        # median of 1-s RMS windows: bursts of noise do not condemn a lead
        win = int(fs)
        n = hf.size // win
        if n >= 1:
            rms = np.sqrt(np.mean(hf[: n * win].reshape(n, win) ** 2, axis=1))
            q.noise_ratio = float(np.median(rms) / max(qrs_amp, 1e-6))
        if q.noise_ratio > NOISE_RATIO_BAD:
            q.usable = False
            q.problems.append(f"severe high-frequency noise (noise/QRS ratio {q.noise_ratio:.2f})")
        elif q.noise_ratio > NOISE_RATIO_LIMITED:
            q.problems.append(f"high-frequency noise (noise/QRS ratio {q.noise_ratio:.2f})")
    low = sps.sosfiltfilt(_butter(fs, "lowpass", 0.5), x)
    q.wander_mv = float(np.subtract(*np.percentile(low, [99, 1])))
    if q.wander_mv > WANDER_MV_LIMITED:
        q.problems.append(f"baseline wander ({q.wander_mv:.1f} mV drift)")
    if qrs_amp < 0.1:
        q.problems.append(f"very low amplitude ({qrs_amp * 1000:.0f} µV)")
    q.score = (qrs_amp / (1e-3 + qrs_amp * q.noise_ratio)) * (0.3 if q.problems else 1.0) * (1.0 if q.usable else 0.0)
    return q


def assess_record(record: ECGRecord) -> RecordQuality:
    leads = {n: assess_lead(n, record.signals[i], record.fs) for i, n in enumerate(record.lead_names)}
    # a derived lead inherits the problems of I and II; judge the recorded ones
    recorded = [n for n in record.lead_names if n not in record.derived_leads]
    usable = [n for n in recorded if leads[n].usable]
    reasons: list[str] = []
    for n in recorded:
        if leads[n].problems:
            reasons.append(f"lead {n}: {'; '.join(leads[n].problems)}")
    if not usable:
        verdict = "non_diagnostic"
        reasons.insert(0, "no lead carries a usable ECG signal")
    elif len(usable) < len(recorded) or any(leads[n].problems for n in usable):
        verdict = "limited"
    else:
        verdict = "usable"
    for n in record.derived_leads:
        if not (leads.get("I") and leads["I"].usable and leads.get("II") and leads["II"].usable):
            leads[n].usable = False
    rq = RecordQuality(leads=leads, verdict=verdict, reasons=reasons)
    if not record.amplitude_scale_known:
        rq.amplitudes_reliable = False
        rq.reasons.append("the file's per-lead gains are a range normalisation and no common scale was assumed: amplitudes are in unknown units")
        if rq.verdict == "usable":
            rq.verdict = "limited"
    residual = limb_lead_inconsistency(record)
    if residual is not None and residual > EINTHOVEN_MAX_RESIDUAL:
        rq.amplitudes_reliable = False
        rq.reasons.append(
            f"recorded limb leads contradict Einthoven's and Goldberger's laws (III ≠ II − I; residual {residual:.0%} of the "
            "limb-lead signal): the per-lead calibration (gain) in the file or the lead wiring is wrong, so amplitudes, "
            "axis and ST levels are unreliable"
        )
        if rq.verdict == "usable":
            rq.verdict = "limited"
    return rq


def limb_lead_inconsistency(record: ECGRecord) -> float | None:
    """RMS residual of the four limb-lead identities (III = II − I,
    aVR = −(I+II)/2, aVL = I − II/2, aVF = II − I/2) over the RMS of the
    limb leads, for leads that were recorded (not derived). None when
    fewer than I, II and one more limb lead were recorded.

    Why: electrocardiographs record two limb leads and compute the others,
    so the identities hold to quantisation. A violation means the file's
    per-lead gains are wrong (or the leads are mislabelled), which silently
    corrupts every amplitude criterion."""
    if not (record.has("I") and record.has("II")):
        return None
    recorded = [n for n in ("III", "aVR", "aVL", "aVF") if record.has(n) and n not in record.derived_leads]
    if not recorded:
        return None
    i, ii = record.lead("I"), record.lead("II")
    i, ii = i - np.mean(i), ii - np.mean(ii)  # means are linear: identities hold for them too
    expected = {"III": ii - i, "aVR": -(i + ii) / 2, "aVL": i - ii / 2, "aVF": ii - i / 2}
    num = den = 0.0
    for n in recorded:
        x = record.lead(n) - np.mean(record.lead(n))
        num += float(np.mean((x - expected[n]) ** 2))
        den += float(np.mean(x**2) + np.mean(expected[n] ** 2)) / 2
    return float(np.sqrt(num / den)) if den > 0 else None


SEGMENT_S = 1.0
FLAT_RUN_S = 0.15  # the signal does not change at all for 150 ms: lead-off or clipping
JUMP_FACTOR = 2.5  # a second whose range is 2.5× the record's typical range: motion artefact
HF_NOISE_FACTOR = 5.0  # RMS above 40 Hz 5× the record's typical second (and ≥ 5 % of the QRS range): EMG or motion
STEP_MV = 1.0  # the sub-1 Hz baseline moves more than 1 mV within a second: electrode motion


def _longest_constant_run(x: np.ndarray) -> int:
    same = np.abs(np.diff(x)) < 1e-9
    if not same.any():
        return 0
    # lengths of runs of True
    d = np.diff(np.concatenate([[0], same.astype(np.int8), [0]]))
    starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    return int((ends - starts).max()) + 1


def bad_segments(signals: np.ndarray, fs: float) -> np.ndarray:
    """Boolean per 1-s segment: True where any given lead is flat or clipped,
    jumps far beyond its usual range, or its baseline steps by more than
    1 mV. Beats there are not classified and rhythm episodes are not called
    there: a monitor's false asystole or VT alarm usually comes from exactly
    such stretches."""
    from experts.ecg.filters import lowpass

    x = np.atleast_2d(signals)
    w = int(SEGMENT_S * fs)
    n = x.shape[1] // w
    if n == 0:
        return np.zeros(0, dtype=bool)
    seg = x[:, : n * w].reshape(x.shape[0], n, w)
    flat_run = int(FLAT_RUN_S * fs)
    flat = np.array([[_longest_constant_run(seg[l, k]) >= flat_run for k in range(n)] for l in range(x.shape[0])])
    rng = seg.max(axis=2) - seg.min(axis=2)
    # the upper quartile, not the median: at slow or irregular rates (AF, bradycardia) many 1-s segments hold no QRS, the
    # median second is QRS-free, and every second *with* a QRS looked like a 2.5x "jump" (3 of 10 s of LUDB AF records)
    typical = np.percentile(rng, 75, axis=1, keepdims=True)
    jump = rng > JUMP_FACTOR * np.maximum(typical, 1e-6)
    base = lowpass(x, fs, 1.0)[:, : n * w].reshape(x.shape[0], n, w)
    step = (base.max(axis=2) - base.min(axis=2)) > STEP_MV
    noisy = np.zeros_like(flat)
    if fs > 100:
        from experts.ecg.filters import highpass

        hf = highpass(x, fs, 40.0)[:, : n * w].reshape(x.shape[0], n, w)
        ratio = np.sqrt(np.mean(hf**2, axis=2)) / np.maximum(typical, 1e-6)
        noisy = ratio > np.maximum(0.05, HF_NOISE_FACTOR * np.median(ratio, axis=1, keepdims=True))
    return np.any(flat | jump | step | noisy, axis=0)


def sample_is_bad(bad: np.ndarray, sample: int, fs: float) -> bool:
    if bad.size == 0:
        return False
    k = min(int(sample / (SEGMENT_S * fs)), bad.size - 1)
    return bool(bad[k])
