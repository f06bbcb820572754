"""The multi-lead median beat: one representative complex per lead.

Why a median beat: commercial programs (GE 12SL, Glasgow/Uni-G) measure
global intervals on a median or average complex of the dominant beats,
which suppresses noise by √N without moving fiducial points, and gives
every lead the same time axis so the earliest onset and latest offset
across leads can be taken. Ectopic and premature beats are excluded so
they do not blur the dominant morphology.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experts.ecg.filters import diagnostic_band

ALIGN_MAX_SHIFT_S = 0.02
MIN_BEATS = 3
MAX_BEATS = 300


@dataclass
class MedianBeat:
    waves: np.ndarray  # (n_leads, n_samples), mV, diagnostic band
    lead_names: list[str]
    fs: float
    r_index: int  # sample of the aligned R fiducial inside the window
    n_beats: int
    beats_used: np.ndarray  # R-peak sample indices in the record
    rr_ms: float  # median RR of the dominant beats
    start_s: float  # record time of the first used beat's window start
    end_s: float
    # Why kept: a fiducial is only trustworthy if it does not move when the
    # beats change. Medians of the even- and odd-numbered beats (None with
    # fewer than 4 beats) let the QT check re-delineate on two
    # independent halves; `noise_sd` is the robust beat-to-beat SD of each
    # sample divided by √n, the noise left in the median itself.
    halves: tuple[np.ndarray, np.ndarray] | None = None
    noise_sd: np.ndarray | None = None

    def lead(self, name: str) -> np.ndarray:
        return self.waves[self.lead_names.index(name)]

    def t_ms(self, index: float) -> float:
        """Time of a window index relative to R, in ms."""
        return (index - self.r_index) / self.fs * 1000.0


def dominant_beats(r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """Mask of beats not premature (RR before ≥ 80% of the median RR) and
    not followed by a compensatory pause — a timing screen applied before
    morphology is known."""
    n = r_peaks.size
    keep = np.ones(n, dtype=bool)
    if n < 3:
        return keep
    rr = np.diff(r_peaks).astype(float)
    med = np.median(rr)
    keep[1:] &= rr >= 0.8 * med
    keep[0] = False  # no preceding RR: unknown prematurity, and often a cut window
    return keep


def build_median_beat(
    signals: np.ndarray,
    lead_names: list[str],
    fs: float,
    r_peaks: np.ndarray,
    include: np.ndarray | None = None,
    filtered: bool = False,
) -> MedianBeat | None:
    """Median complex of the included beats in every lead.

    `signals` are the record's leads (mV); they are band-limited here
    unless `filtered`. Beats are aligned on the QRS by cross-correlation of
    their spatial slope (±20 ms), then the sample-wise median is taken.
    """
    if r_peaks.size < MIN_BEATS:
        return None
    x = signals if filtered else diagnostic_band(signals, fs)
    mask = dominant_beats(r_peaks, fs) if include is None else include.copy()
    rr = np.diff(r_peaks)
    rr_med = float(np.median(rr[mask[1:]])) if mask[1:].any() else float(np.median(rr))
    pre = int(min(0.50, 0.55 * rr_med / fs) * fs)
    post = int(min(0.80, max(0.40, 0.95 * rr_med / fs - 0.02)) * fs)
    n_total = x.shape[1]
    idx = [i for i, r in enumerate(r_peaks) if mask[i] and r - pre - 2 * ALIGN_MAX_SHIFT_S * fs >= 0 and r + post + 2 * ALIGN_MAX_SHIFT_S * fs < n_total]
    if len(idx) < MIN_BEATS:
        # short records: allow the first beat too
        idx = [i for i, r in enumerate(r_peaks) if r - pre - 2 * ALIGN_MAX_SHIFT_S * fs >= 0 and r + post + 2 * ALIGN_MAX_SHIFT_S * fs < n_total]
        if len(idx) < MIN_BEATS:
            return None
    if len(idx) > MAX_BEATS:  # long records: evenly spaced dominant beats suffice
        idx = [idx[k] for k in np.linspace(0, len(idx) - 1, MAX_BEATS).astype(int)]
    peaks = r_peaks[idx]
    # alignment on the QRS slope (all leads)
    slope = np.sqrt(np.sum(np.diff(x, axis=1) ** 2, axis=0))
    half = int(0.06 * fs)
    shift_max = int(ALIGN_MAX_SHIFT_S * fs)
    segs = np.vstack([slope[p - half : p + half] for p in peaks])
    ref = np.median(segs, axis=0)
    aligned = []
    for p in peaks:
        best, best_s = -np.inf, 0
        for s in range(-shift_max, shift_max + 1):
            seg = slope[p + s - half : p + s + half]
            c = float(seg @ ref)
            if c > best:
                best, best_s = c, s
        aligned.append(p + best_s)
    aligned = np.asarray(aligned, dtype=int)
    stack = np.stack([x[:, a - pre : a + post] for a in aligned])  # beats × leads × samples
    # drop beats whose QRS morphology disagrees with the median (ectopy, artefact)
    med = np.median(stack, axis=0)
    q = slice(pre - half, pre + half)
    corr = []
    for b in stack:
        u, v = b[:, q].ravel(), med[:, q].ravel()
        u, v = u - u.mean(), v - v.mean()
        d = np.linalg.norm(u) * np.linalg.norm(v)
        corr.append(float(u @ v / d) if d > 0 else 0.0)
    corr = np.asarray(corr)
    good = corr >= 0.9
    if good.sum() >= MIN_BEATS:
        stack, aligned = stack[good], aligned[good]
    waves = np.median(stack, axis=0)
    n_used = int(stack.shape[0])
    halves = (np.median(stack[0::2], axis=0), np.median(stack[1::2], axis=0)) if n_used >= 4 else None
    # 1.4826 × MAD = SD for Gaussian noise; the median of n beats has ≈ 1.25 × SD/√n
    mad = np.median(np.abs(stack - waves[None]), axis=0)
    noise_sd = 1.4826 * mad * 1.25 / np.sqrt(n_used)
    return MedianBeat(
        waves=waves,
        lead_names=list(lead_names),
        fs=fs,
        r_index=pre,
        n_beats=int(stack.shape[0]),
        beats_used=aligned,
        rr_ms=rr_med / fs * 1000.0,
        start_s=float((aligned[0] - pre) / fs),
        end_s=float((aligned[-1] + post) / fs),
        halves=halves,
        noise_sd=noise_sd,
    )
