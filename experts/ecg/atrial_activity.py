"""Continuous periodic atrial activity (flutter waves) between the QRS complexes.

Why this way: typical atrial flutter shows regular sawtooth waves at
~250–350/min with no isoelectric baseline between them, best seen in II,
III, aVF and V1; sinus rhythm shows one P and one T wave per cycle with a
flat baseline in between, atrial fibrillation irregular waves. So we blank
each QRS (−60…+80 ms around the R peak, where the ventricular complex
dwarfs the atrial wave), band-pass the rest (2–30 Hz) and take its
autocorrelation over the remaining samples: flutter waves repeat at a lag L
in the flutter range *and* at 2L and 3L (a chain of at least four identical
waves), which a P–T pair does not. `periodicity` is the smallest of the
three correlations. The lead must show it in at least two of II, III, aVF,
aVL, V1 at the same lag (± 12 ms) on a multi-lead record; a single lead
needs a higher periodicity. Thresholds are operational, chosen on LUDB's
three "atrial flutter, typical" records against its 197 others (see
README: there is no held-out flutter set in the shared data, so the
numbers are tuning numbers).

The autocorrelation is computed with FFTs (O(n log n)), so long Holter
records are affordable; it describes the whole analysed record (flutter
episodes are not localised in time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

FLUTTER_LEADS = ("II", "III", "aVF", "aVL", "V1")
LAG_RANGE_MS = (150.0, 320.0)  # search range: 190–400 waves/min
BLANK_MS = (60.0, 80.0)  # before / after each R peak
LAG_TOLERANCE_MS = 12.0
MIN_PERIODICITY_MULTI = 0.5
MIN_PERIODICITY_SINGLE = 0.6


@dataclass
class LeadPeriodicity:
    lead: str
    lag_ms: float
    periodicity: float  # min(r(L), r(2L), r(3L))


@dataclass
class AtrialActivity:
    rate_per_min: float  # 60000 / lag of the agreeing leads
    periodicity: float  # the weakest of the agreeing leads' periodicities
    leads: list[str]  # leads that show the periodic waves at the common lag
    per_lead: list[LeadPeriodicity]


def _masked_autocorr(y: np.ndarray, keep: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalised autocorrelation of y over the kept samples only, lags 0..max_lag."""
    y = np.where(keep, y, 0.0)
    m = keep.astype(float)
    n = y.size
    nfft = 1 << int(np.ceil(np.log2(2 * n)))

    def xcorr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.fft.irfft(np.conj(np.fft.rfft(a, nfft)) * np.fft.rfft(b, nfft), nfft)[: max_lag + 1]

    num = xcorr(y, y)  # Σ y_t y_{t+L} over pairs both kept (masked samples are 0)
    e_lead = xcorr(y * y, m)  # Σ y_t² over t with t+L kept
    e_lag = xcorr(m, y * y)  # Σ y_{t+L}² over t kept
    den = np.sqrt(np.maximum(e_lead, 0) * np.maximum(e_lag, 0))
    pairs = xcorr(m, m)
    out = np.where((den > 0) & (pairs > 0.2 * n), num / np.where(den > 0, den, 1.0), 0.0)
    return out


def lead_periodicity(x: np.ndarray, fs: float, r_peaks: np.ndarray, lead: str) -> LeadPeriodicity | None:
    if x.size < 4 * fs or r_peaks.size < 3:
        return None
    sos = sps.butter(2, [2.0 / (fs / 2), min(30.0, 0.45 * fs) / (fs / 2)], btype="bandpass", output="sos")
    y = sps.sosfiltfilt(sos, x)
    keep = np.ones(y.size, dtype=bool)
    pre, post = int(BLANK_MS[0] * fs / 1000), int(BLANK_MS[1] * fs / 1000)
    for r in r_peaks:
        keep[max(0, r - pre) : r + post] = False
    if keep.mean() < 0.3:
        return None
    lo, hi = int(LAG_RANGE_MS[0] * fs / 1000), int(LAG_RANGE_MS[1] * fs / 1000)
    ac = _masked_autocorr(y, keep, 3 * hi + 1)
    lag = lo + int(np.argmax(ac[lo:hi]))
    per = float(min(ac[lag], ac[2 * lag], ac[3 * lag]))
    return LeadPeriodicity(lead=lead, lag_ms=lag / fs * 1000.0, periodicity=per)


def periodic_atrial_activity(signals: dict[str, np.ndarray], fs: float, r_peaks: np.ndarray) -> AtrialActivity | None:
    """Flutter-like atrial activity, or None. `signals`: usable leads by
    standard name (or one unnamed lead)."""
    names = [n for n in FLUTTER_LEADS if n in signals]
    single = False
    if not names:
        if len(signals) != 1:
            return None
        names, single = list(signals), True
    found = [p for n in names if (p := lead_periodicity(signals[n], fs, r_peaks, n)) is not None]
    if single or len(names) == 1:
        ok = [p for p in found if p.periodicity >= MIN_PERIODICITY_SINGLE]
        if not ok:
            return None
        return AtrialActivity(rate_per_min=60000.0 / ok[0].lag_ms, periodicity=ok[0].periodicity, leads=[ok[0].lead], per_lead=found)
    strong = sorted((p for p in found if p.periodicity >= MIN_PERIODICITY_MULTI), key=lambda p: -p.periodicity)
    for ref in strong:
        agree = [p for p in strong if abs(p.lag_ms - ref.lag_ms) <= LAG_TOLERANCE_MS]
        if len(agree) >= 2:
            lag = float(np.median([p.lag_ms for p in agree]))
            return AtrialActivity(rate_per_min=60000.0 / lag, periodicity=min(p.periodicity for p in agree),
                                  leads=[p.lead for p in agree], per_lead=found)
    return None


__all__ = ["AtrialActivity", "LeadPeriodicity", "periodic_atrial_activity", "lead_periodicity", "FLUTTER_LEADS"]
