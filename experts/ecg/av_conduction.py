"""Atrial activity beat by beat, and how it relates to the QRS complexes.

Why a separate P-wave detector: `rhythm.p_wave_presence` only asks whether
a P wave sits in a fixed window before each QRS, which is enough for sinus
rhythm but blind to P waves that are *not* followed by a QRS — the
defining sign of second- and third-degree AV block. Here every P wave is
located on its own:

1. The QRS-T complex of each beat is cancelled by subtracting the median
   beat (from 60 ms before R to 40 ms after the median-beat T end, never
   into the next beat's P): P waves locked to the QRS (conducted sinus
   beats) lie before that window and stay; P waves that fall on the ST-T
   segment (dissociated or blocked) differ from beat to beat, so the median
   suppresses them and the subtraction uncovers them.
2. The residual is band-passed (1–20 Hz, the P-wave band), the QRS blanked,
   and the smoothed energy of the 3 leads with the most peaked energy
   (usually II, V1, aVF) is summed; its peaks, ≥ 240 ms apart and at least
   30 % of the typical peak, are P-wave candidates.
3. Candidates must share one shape (correlation with their median
   template across the chosen leads ≥ 0.5); the median correlation and the
   template's size against the residual noise are the evidence grade the
   rules use to say `indeterminate` instead of `present`.

Then each QRS is given the last P wave 50–450 ms before its onset (its
"P–QRS" interval, P peak to QRS onset — not the clinical PR, which starts
at P onset ≈ half a P duration earlier; only its variability is used), and
each P wave not followed by a QRS before the next P is non-conducted when
the RR around it is long (≥ 1.5 PP: a dropped beat, not a P lost in noise).

All thresholds are operational (chosen on the synthetic generator and
checked against LUDB/CinC 2017/MIT-BIH sinus records for false calls, see
README "Session 3"); the definitions they implement are the 2018
ACC/AHA/HRS bradycardia guideline's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal as sps

P_LEADS = ("II", "V1", "III", "aVF", "I", "aVL", "V2", "MLII")
MIN_PP_S = 0.24  # ≤ 250 atrial waves/min: faster is flutter, handled elsewhere
BLANK_S = (0.05, 0.07)  # QRS blanked before / after R in the residual
QRS_ONSET_BEFORE_R_S = 0.04  # used when no median-beat QRS onset is given
PQ_WINDOW_S = (0.05, 0.45)  # a QRS's associated P peak lies this far before its onset
MIN_CORR = 0.5
LOCK_TOLERANCE_S = 0.025
MIN_SNR = 4.0  # a "P-wave template" below 4× the residual noise is noise (beat-locked T remnants on noisy single leads): no atrial analysis
DROPPED_RR_PP = 1.5  # RR around a non-conducted P at least this many PP
DROPPED_RR_SHORT = 1.25  # ... and a pause against the shorter half of the RR intervals (not every RR of a regular rhythm)


@dataclass
class AVConduction:
    """Per-record AV relationship (times in ms, rates per minute)."""

    atrial_rate: float
    ventricular_rate: float
    p_count: int
    qrs_count: int
    atrial_ventricular_ratio: float  # atrial rate / ventricular rate
    conducted_ratio: float  # QRS with an associated P wave / P waves in the same span
    pq_ms: list[float]  # per QRS with an associated P: P peak to QRS onset
    pq_range_ms: float  # max − min of pq_ms
    nonconducted: int  # P waves followed by no QRS before the next P, in a long RR
    max_consecutive_conducted: int  # longest run of P waves each followed by its QRS
    pq_drop_ms: float  # median (P–QRS before a drop − P–QRS after it): Wenckebach shortening
    pq_progression_ms: float  # median per-group PR lengthening before each drop
    two_to_one_fraction: float  # RR intervals holding exactly two P waves, the second conducted at the usual P–QRS
    atrial_regularity: float  # PP intervals that are 1–3 atrial cycles (± 12 %): P waves at their own regular rate
    p_consistency: float  # median correlation of the P waves with their template
    p_snr: float  # template peak / residual noise SD
    leads: list[str]
    p_peaks: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))
    p_on_st_t: int = 0  # P waves found between QRS end and T end (march-through)
    locked_fraction: float = 1.0  # P waves that recur at the same distance after the next R peak (beat-locked)
    blocked_similarity: float = 0.0  # mean P wave not followed by its QRS vs mean conducted one (correlation, size-penalised)


def _band(x: np.ndarray, fs: float, lo: float, hi: float) -> np.ndarray:
    sos = sps.butter(2, [lo / (fs / 2), min(hi, 0.45 * fs) / (fs / 2)], btype="bandpass", output="sos")
    return sps.sosfiltfilt(sos, x)


def cancel_qrst(x: np.ndarray, r_peaks: np.ndarray, pre: int, post: int) -> np.ndarray:
    """x minus the median QRS-T (R − pre … R + post) at every beat."""
    ok = [r for r in r_peaks if r - pre >= 0 and r + post <= x.size]
    if len(ok) < 3:
        return x.copy()
    tmpl = np.median(np.vstack([x[r - pre : r + post] for r in ok]), axis=0)
    # detrended and tapered (20 ms cosine edges): a template that does not start and end at zero
    # leaves a step at both window edges in every beat, which the band-pass turns into beat-locked
    # "waves" at two or three times the heart rate
    tmpl = tmpl - np.linspace(tmpl[0], tmpl[-1], tmpl.size)
    tmpl *= sps.windows.tukey(tmpl.size, alpha=min(1.0, 2 * 0.02 * 500.0 / max(tmpl.size, 1)))
    y = x.copy()
    for r in ok:
        y[r - pre : r + post] -= tmpl
    return y


def _smooth(e: np.ndarray, n: int) -> np.ndarray:
    return np.convolve(e, np.ones(n) / n, mode="same")


def find_p_waves(
    signals: dict[str, np.ndarray], fs: float, r_peaks: np.ndarray, qrst_post_s: float
) -> tuple[np.ndarray, list[str], float, float, np.ndarray]:
    """P-wave peak samples, leads used, consistency, SNR, and each P wave's
    window (±60 ms of the chosen leads' residual, concatenated)."""
    names = [n for n in P_LEADS if n in signals] or list(signals)[:1]
    pre = int(0.06 * fs)
    post = int(qrst_post_s * fs)
    blank = np.zeros(next(iter(signals.values())).size, dtype=bool)
    b0, b1 = int(BLANK_S[0] * fs), int(BLANK_S[1] * fs)
    for r in r_peaks:
        blank[max(0, r - b0) : r + b1] = True
    res: dict[str, np.ndarray] = {}
    peaked: dict[str, float] = {}
    w = max(1, int(0.06 * fs))
    for n in names:
        y = _band(cancel_qrst(signals[n], r_peaks, pre, post), fs, 1.0, 20.0)
        y[blank] = 0.0
        res[n] = y
        e = _smooth(y * y, w)[~blank]
        med = float(np.median(e)) if e.size else 0.0
        peaked[n] = float(np.quantile(e, 0.95) / med) if med > 0 else 0.0
    chosen = sorted(names, key=lambda n: -peaked[n])[:3]
    energy = sum(_smooth(res[n] ** 2, w) / max(float(np.median(_smooth(res[n] ** 2, w)[~blank])), 1e-12) for n in chosen)
    energy = np.asarray(energy, dtype=float)
    energy[blank] = 0.0
    cand, props = sps.find_peaks(energy, distance=int(MIN_PP_S * fs))
    if cand.size < 3:
        return np.array([], dtype=int), chosen, 0.0, 0.0, np.zeros((0, 1))
    h = props.get("peak_heights", energy[cand])
    ref = float(np.quantile(h, 0.75))
    cand = cand[h >= 0.3 * ref]
    half = int(0.06 * fs)
    cand = cand[(cand - half >= 0) & (cand + half < energy.size)]
    if cand.size < 3:
        return cand, chosen, 0.0, 0.0, np.zeros((cand.size, 1))
    W = np.stack([np.concatenate([res[n][c - half : c + half] for n in chosen]) for c in cand])
    corr = np.zeros(cand.size)
    keep = np.ones(cand.size, dtype=bool)
    for _ in range(2):
        t = np.median(W[keep], axis=0)
        tc = t - t.mean()
        Wc = W - W.mean(axis=1, keepdims=True)
        den = np.linalg.norm(Wc, axis=1) * np.linalg.norm(tc)
        corr = (Wc @ tc) / np.maximum(den, 1e-12)
        keep = corr >= MIN_CORR
        if keep.sum() < 3:
            return cand[keep], chosen, float(np.median(corr)), 0.0, W[keep]
    peaks = cand[keep]
    t = np.median(W[keep], axis=0)
    quiet = np.concatenate([res[n][~blank] for n in chosen])
    noise = 1.4826 * float(np.median(np.abs(quiet - np.median(quiet))))
    snr = float(np.max(np.abs(t)) / noise) if noise > 0 else 0.0
    return peaks, chosen, float(np.median(corr[keep])), snr, W[keep]


def _regularity(pp: np.ndarray, min_pp: float) -> tuple[float, float]:
    """Atrial cycle length and the share of PP intervals it explains.

    P waves that fall inside a QRS, or on a T wave at the same place in most
    beats (the median-beat cancellation then removes them), are missed, so a
    PP interval may span 2 or 3 cycles. The cycle is the one (each PP / 1, 2
    or 3, at least `min_pp`) that explains the most PP intervals as 1–3
    cycles within ±12 %, the longest on a tie (a regular rhythm is explained by
    its own PP, its half and its third alike); it is refined as the median
    of the explained PP / k."""
    if pp.size == 0:
        return 0.0, 0.0
    best_t, best_n = 0.0, -1
    for t in sorted({float(v) / k for v in pp for k in (1, 2, 3) if float(v) / k >= min_pp}, reverse=True):
        k = np.round(pp / t)
        n = int(np.sum((k >= 1) & (k <= 3) & (np.abs(pp - k * t) <= 0.12 * k * t)))
        if n > best_n:
            best_t, best_n = t, n
    k = np.round(pp / best_t)
    ok = (k >= 1) & (k <= 3) & (np.abs(pp - k * best_t) <= 0.12 * k * best_t)
    cycle = float(np.median(pp[ok] / k[ok])) if ok.any() else best_t
    return cycle, float(ok.mean())


def _blocked_like_conducted(windows: np.ndarray, conducted: list[int], blocked: list[int]) -> float:
    """Correlation of the mean non-conducted P wave with the mean conducted
    one, scaled down by their amplitude ratio when it is outside 0.5–2: a
    blocked P wave is the same sinus P wave, so a different shape or size
    means the "blocked P" is something else (a T-wave or U-wave remnant,
    noise). 0 when either group is empty."""
    if not conducted or not blocked or windows.shape[0] <= max(conducted + blocked):
        return 0.0
    a, b = windows[conducted].mean(axis=0), windows[blocked].mean(axis=0)
    a, b = a - a.mean(), b - b.mean()
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0
    r = float(a @ b / (na * nb))
    ratio = nb / na
    return r * min(1.0, ratio / 0.5, 2.0 / ratio)


def analyse_av(
    signals: dict[str, np.ndarray], fs: float, r_peaks: np.ndarray, qrs_onset_before_r_s: float | None = None,
    t_end_after_r_s: float | None = None,
) -> AVConduction | None:
    """AV relationship of a record, or None when there is too little to judge
    (fewer than 4 QRS complexes or 3 P waves, or P waves not above the noise)."""
    if r_peaks.size < 4 or not signals:
        return None
    rr = np.diff(r_peaks)
    onset = int((qrs_onset_before_r_s if qrs_onset_before_r_s is not None else QRS_ONSET_BEFORE_R_S) * fs)
    t_end = t_end_after_r_s if t_end_after_r_s is not None else 0.40
    # cancel up to the T end (+40 ms) but never into the next beat's P wave
    post_s = min(t_end + 0.04, float(np.min(rr)) / fs - 0.25)
    post_s = max(post_s, BLANK_S[1] + 0.02)
    peaks, leads, consistency, snr, windows = find_p_waves(signals, fs, r_peaks, post_s)
    if peaks.size < 3 or snr < MIN_SNR:
        return None
    pp = np.diff(peaks).astype(float)
    med_pp, regular = _regularity(pp, MIN_PP_S * fs)
    atrial_rate = 60.0 * fs / med_pp if med_pp > 0 else 0.0
    vent_rate = 60.0 * fs / float(np.mean(rr))
    qrs_on = r_peaks - onset
    lo, hi = int(PQ_WINDOW_S[0] * fs), int(PQ_WINDOW_S[1] * fs)
    assoc = np.full(r_peaks.size, -1)
    for k, q in enumerate(qrs_on):
        j = np.nonzero((peaks <= q - lo) & (peaks >= q - hi))[0]
        if j.size:
            assoc[k] = int(j[-1])
    pq = [(qrs_on[k] - peaks[assoc[k]]) * 1000.0 / fs for k in range(r_peaks.size) if assoc[k] >= 0]
    span = (r_peaks[0], r_peaks[-1])
    in_span = (peaks > span[0]) & (peaks <= span[1])
    n_p_span = int(in_span.sum())
    conducted_set = {int(a) for a in assoc if a >= 0}
    conducted_ratio = len([a for a in conducted_set if in_span[a]]) / n_p_span if n_p_span else 0.0
    # non-conducted P waves: in the span, not associated, and the RR around them is a dropped beat
    short_rr = float(np.median(rr[rr <= np.median(rr)]))
    nonconducted = 0
    drops: list[tuple[int, int]] = []  # (QRS index before, QRS index after) of each drop
    for j in np.nonzero(in_span)[0]:
        if j in conducted_set:
            continue
        k = int(np.searchsorted(r_peaks, peaks[j]))  # next QRS
        if k == 0 or k >= r_peaks.size:
            continue
        long_rr = r_peaks[k] - r_peaks[k - 1]
        if long_rr >= DROPPED_RR_PP * med_pp and long_rr >= DROPPED_RR_SHORT * short_rr and assoc[k] != j:
            nonconducted += 1
            drops.append((k - 1, k))
    # every P wave in the span not followed by its QRS (in 2:1 block there is no pause to mark them)
    unassociated = [int(j) for j in np.nonzero(in_span)[0] if int(j) not in conducted_set]
    similarity = _blocked_like_conducted(windows, sorted(conducted_set), unassociated)
    # longest run of consecutive P waves each conducted
    run = best = 0
    for j in range(peaks.size):
        run = run + 1 if j in conducted_set else 0
        best = max(best, run)
    pq_arr = np.full(r_peaks.size, np.nan)
    for k in range(r_peaks.size):
        if assoc[k] >= 0:
            pq_arr[k] = (qrs_on[k] - peaks[assoc[k]]) * 1000.0 / fs
    shortening, progression = [], []
    for a, b in drops:
        if not (np.isnan(pq_arr[a]) or np.isnan(pq_arr[b])):
            shortening.append(pq_arr[a] - pq_arr[b])
        # PR lengthening within the conducted group ending at QRS a
        g = a
        while g - 1 >= 0 and not np.isnan(pq_arr[g - 1]) and (r_peaks[g] - r_peaks[g - 1]) < DROPPED_RR_PP * med_pp:
            g -= 1
        if a > g and not (np.isnan(pq_arr[a]) or np.isnan(pq_arr[g])):
            progression.append(pq_arr[a] - pq_arr[g])
    # 2:1: RR intervals holding exactly two P waves, the second one conducted to the closing QRS
    # (at the record's usual P–QRS interval ± 20 ms: in complete block a P wave lands in the P–QRS window by chance)
    two = 0
    pq_typ = float(np.nanmedian(pq_arr)) if np.any(~np.isnan(pq_arr)) else np.nan
    for k in range(1, r_peaks.size):
        inside = np.nonzero((peaks > r_peaks[k - 1]) & (peaks <= r_peaks[k]))[0]
        if inside.size == 2 and assoc[k] == inside[-1] and abs(pq_arr[k] - pq_typ) <= 20.0:
            two += 1
    # locking: a P wave with a P wave at the same distance (± 25 ms) after the next R peak too. P waves
    # driving the QRS (and beat-locked remnants of the T wave) repeat at the same place every beat;
    # P waves independent of the QRS drift through the cycle
    tol = int(LOCK_TOLERANCE_S * fs)
    checked = locked = 0
    for p in peaks:
        k = int(np.searchsorted(r_peaks, p)) - 1
        if k < 0 or k + 1 >= r_peaks.size or r_peaks[k + 1] + (p - r_peaks[k]) > peaks[-1]:
            continue
        checked += 1
        target = r_peaks[k + 1] + (p - r_peaks[k])
        locked += bool(np.any(np.abs(peaks - target) <= tol))
    return AVConduction(
        locked_fraction=locked / checked if checked else 1.0,
        atrial_rate=atrial_rate,
        ventricular_rate=vent_rate,
        p_count=int(peaks.size),
        qrs_count=int(r_peaks.size),
        atrial_ventricular_ratio=atrial_rate / vent_rate if vent_rate > 0 else 0.0,
        conducted_ratio=conducted_ratio,
        pq_ms=[float(v) for v in pq],
        pq_range_ms=float(np.ptp(pq)) if len(pq) >= 2 else 0.0,
        nonconducted=nonconducted,
        max_consecutive_conducted=best,
        pq_drop_ms=float(np.median(shortening)) if shortening else 0.0,
        pq_progression_ms=float(np.median(progression)) if progression else 0.0,
        two_to_one_fraction=two / max(r_peaks.size - 1, 1),
        atrial_regularity=regular,
        p_consistency=consistency,
        p_snr=snr,
        leads=leads,
        p_peaks=peaks,
        blocked_similarity=similarity,
        p_on_st_t=int(sum(1 for p in peaks if np.any((p - r_peaks > int(BLANK_S[1] * fs)) & (p - r_peaks <= int(t_end * fs))))),
    )


__all__ = ["AVConduction", "analyse_av", "find_p_waves", "cancel_qrst"]
