"""Rate and RR-interval statistics, and P-wave presence per beat.

Why P waves here: "sinus" means each QRS is preceded by a P wave of sinus
origin (upright in II). The RR series alone cannot tell sinus rhythm
from a regular junctional or atrial rhythm, nor atrial fibrillation from
sinus arrhythmia with ectopy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

MIN_BEATS = 3  # at least two RR intervals for a rate
PLAUSIBLE_HR = (20.0, 300.0)  # /min; outside: detection failed or the header's sampling rate is wrong


@dataclass
class RRStats:
    n_beats: int
    heart_rate: float  # /min from mean RR
    rr_mean_ms: float
    rr_median_ms: float
    rr_sdnn_ms: float
    rr_rmssd_ms: float
    rr_cv: float  # SDNN / mean
    rr_min_ms: float
    rr_max_ms: float
    span_s: tuple[float, float]


def rr_stats(r_peaks: np.ndarray, fs: float) -> RRStats | None:
    if r_peaks.size < MIN_BEATS:
        return None
    rr = np.diff(r_peaks) / fs * 1000.0
    mean = float(np.mean(rr))
    return RRStats(
        n_beats=int(r_peaks.size),
        heart_rate=60000.0 / mean,
        rr_mean_ms=mean,
        rr_median_ms=float(np.median(rr)),
        rr_sdnn_ms=float(np.std(rr, ddof=1)) if rr.size > 1 else 0.0,
        rr_rmssd_ms=float(np.sqrt(np.mean(np.diff(rr) ** 2))) if rr.size > 1 else 0.0,
        rr_cv=float(np.std(rr, ddof=1) / mean) if rr.size > 1 else 0.0,
        rr_min_ms=float(np.min(rr)),
        rr_max_ms=float(np.max(rr)),
        span_s=(float(r_peaks[0] / fs), float(r_peaks[-1] / fs)),
    )


@dataclass
class PWaveFinding:
    lead: str
    fraction_with_p: float  # 0..1 of beats whose P window matches the template
    template_amplitude_mv: float  # signed amplitude of the median-beat P wave
    n_beats: int
    per_beat: np.ndarray | None = None  # bool per R-peak: a matching P wave precedes it


def p_wave_presence(x: np.ndarray, fs: float, r_peaks: np.ndarray, lead: str) -> PWaveFinding | None:
    """Find a P wave on the median beat of one lead and count the beats that
    share it.

    The P window spans 220 ms ending 20 ms before the QRS onset of the
    median beat (limited by the preceding RR so a
    T wave of the previous beat is not mistaken for a P wave at fast rates).
    A beat "has" the P wave when its window correlates (r ≥ 0.5) with the
    template and its deflection is at least half the template's.
    """
    if r_peaks.size < MIN_BEATS:
        return None
    sos = sps.butter(2, [0.5 / (fs / 2), min(30.0, fs / 2.5) / (fs / 2)], btype="bandpass", output="sos")
    y = sps.sosfiltfilt(sos, x)
    rr = np.diff(r_peaks)
    stop = _qrs_onset_offset(y, r_peaks, fs) + int(0.02 * fs)  # end the P window 20 ms before QRS onset
    start = stop + int(0.22 * fs)
    start = min(start, int(0.45 * np.median(rr)))  # at fast rates, stay clear of the previous T wave
    if start - stop < int(0.04 * fs):
        return PWaveFinding(lead=lead, fraction_with_p=0.0, template_amplitude_mv=0.0, n_beats=0)
    windows = []
    index = []
    tail = max(2, int(0.012 * fs))
    for bi, r in enumerate(r_peaks):
        if bi == 0:
            continue
        lo, hi = r - start, r - stop
        if lo < 0 or hi >= y.size:
            continue
        w = y[lo:hi]
        windows.append(w - np.mean(w[-tail:]))  # PR segment is the isoelectric reference
        index.append(bi)
    if len(windows) < 2:
        return None
    W = np.vstack(windows)
    template = np.median(W, axis=0)
    k = int(np.argmax(np.abs(template)))
    amp = float(template[k])
    per_beat = np.zeros(r_peaks.size, dtype=bool)
    if abs(amp) < 0.03:
        return PWaveFinding(lead=lead, fraction_with_p=0.0, template_amplitude_mv=amp, n_beats=len(windows), per_beat=per_beat)
    tc = template - template.mean()
    hits = 0
    for bi, w in zip(index, W):
        wc = w - w.mean()
        denom = np.linalg.norm(wc) * np.linalg.norm(tc)
        r = float(wc @ tc / denom) if denom > 0 else 0.0
        if r >= 0.5 and np.sign(w[k]) == np.sign(amp) and abs(w[k]) >= 0.5 * abs(amp):
            hits += 1
            per_beat[bi] = True
    return PWaveFinding(lead=lead, fraction_with_p=hits / len(windows), template_amplitude_mv=amp, n_beats=len(windows), per_beat=per_beat)


def _qrs_onset_offset(y: np.ndarray, r_peaks: np.ndarray, fs: float) -> int:
    """Samples from QRS onset to R on the median beat of one lead: walking
    back from R, the first point where the slope falls below 10% of the
    steepest QRS slope. Bounded to 30–150 ms (a Q wave or slurred upstroke
    must not push the P window into the QRS)."""
    pre = int(0.20 * fs)
    segs = [y[r - pre : r + 1] for r in r_peaks if r - pre >= 0]
    if len(segs) < 2:
        return int(0.08 * fs)
    tmpl = np.median(np.vstack(segs), axis=0)
    d = np.abs(np.diff(tmpl))
    thr = 0.10 * float(np.max(d[-int(0.12 * fs):]))
    i = d.size - 1
    while i > 0 and (d[i] >= thr or d.size - i < int(0.03 * fs)):
        i -= 1
    return int(np.clip(d.size - i, int(0.03 * fs), int(0.15 * fs)))
