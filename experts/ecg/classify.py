"""Beat classification by timing and morphology: normal, supraventricular
ectopic (S), ventricular ectopic (V) — the AAMI EC57 classes.

Why these two features: a ventricular ectopic beat is conducted outside
the His-Purkinje system, so its QRS shape differs from the dominant beat
(low correlation, wider); a supraventricular ectopic beat has the dominant
QRS shape but comes early. Prematurity is judged against the local rhythm
(median of the surrounding RR intervals), so sinus arrhythmia is not
mistaken for ectopy, and S beats are not called where the whole rhythm is
irregular (atrial fibrillation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experts.ecg.filters import diagnostic_band

V_CORR_ALONE = 0.50  # QRS shape this different (and wider): ventricular even if not premature
V_CORR = 0.85  # a premature beat with a shape below this correlation: ventricular
V_WIDER_MS = 24.0  # a non-premature beat must also be this much wider than the dominant one
S_PREMATURITY = 0.85  # RR before the beat below 85 % of the local RR: premature
LOCAL_RR_BEATS = 8


@dataclass
class BeatLabels:
    labels: np.ndarray  # 'N', 'S', 'V' per R-peak ('Q' unclassifiable: artefact or window cut)
    correlation: np.ndarray
    width_ms: np.ndarray
    prematurity: np.ndarray  # RR before / local RR (nan for the first beat)
    wide: np.ndarray | None = None  # QRS wider than the dominant beat by V_WIDER_MS

    def count(self, label: str) -> int:
        return int(np.sum(self.labels == label))


def _local_rr(rr: np.ndarray, i: int) -> float:
    lo, hi = max(0, i - LOCAL_RR_BEATS // 2), min(rr.size, i + LOCAL_RR_BEATS // 2 + 1)
    neighbours = np.concatenate([rr[lo:i], rr[i + 1 : hi]])
    return float(np.median(neighbours)) if neighbours.size else float(rr[i])


def _widths(vel: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    half = int(0.15 * fs)
    out = np.zeros(peaks.size)
    for k, p in enumerate(peaks):
        lo, hi = max(0, p - half), min(vel.size, p + half)
        seg = vel[lo:hi]
        if seg.size == 0:
            continue
        above = np.nonzero(seg > 0.2 * seg.max())[0]
        out[k] = (above[-1] - above[0]) / fs * 1000.0 if above.size else 0.0
    return out


def classify_beats(
    signals: np.ndarray, fs: float, r_peaks: np.ndarray, irregular_rhythm: bool = False, bad: np.ndarray | None = None
) -> BeatLabels:
    """`signals`: the leads used for beat detection (mV); `bad`: per-second
    artefact mask (`quality.bad_segments`) — beats there are 'Q'."""
    n = r_peaks.size
    labels = np.full(n, "N", dtype="<U1")
    if n < 3:
        return BeatLabels(labels, np.ones(n), np.zeros(n), np.full(n, np.nan))
    x = diagnostic_band(np.atleast_2d(signals), fs)
    pre, post = int(0.08 * fs), int(0.12 * fs)
    shift = int(0.03 * fs)
    valid = (r_peaks - pre - shift >= 0) & (r_peaks + post + shift <= x.shape[1])
    vel = np.sqrt(np.sum(np.diff(x, axis=1) ** 2, axis=0))
    width = _widths(vel, r_peaks, fs)
    segs = np.zeros((n, x.shape[0], pre + post))
    for k in np.nonzero(valid)[0]:
        segs[k] = x[:, r_peaks[k] - pre : r_peaks[k] + post]
    corr = np.zeros(n)
    template = np.median(segs[valid], axis=0) if valid.any() else segs[0]
    for _ in range(2):  # second pass: template from the beats that match the first one
        t = template - template.mean(axis=1, keepdims=True)
        tn = np.linalg.norm(t)
        for k in np.nonzero(valid)[0]:
            p = r_peaks[k]
            best = -1.0
            for sh in range(-shift, shift + 1, max(1, int(0.004 * fs))):
                seg = x[:, p + sh - pre : p + sh + post]
                f = seg - seg.mean(axis=1, keepdims=True)
                d = np.linalg.norm(f) * tn
                if d > 0:
                    best = max(best, float(np.sum(f * t) / d))
            corr[k] = best
        good = valid & (corr >= 0.9)
        if good.sum() < 3:
            break
        template = np.median(segs[good], axis=0)
    rr = np.diff(r_peaks).astype(float)
    prem = np.full(n, np.nan)
    for k in range(1, n):
        prem[k] = rr[k - 1] / _local_rr(rr, k - 1)
    from experts.ecg.quality import sample_is_bad

    dom_width = float(np.median(width[valid & (corr >= np.median(corr[valid]))])) if valid.any() else 0.0
    for k in range(n):
        if not valid[k] or (bad is not None and sample_is_bad(bad, int(r_peaks[k]), fs)):
            labels[k] = "Q"
            continue
        premature = k > 0 and prem[k] < S_PREMATURITY
        wide = width[k] > dom_width + V_WIDER_MS
        if (corr[k] < V_CORR and premature) or (corr[k] < V_CORR_ALONE and wide):
            labels[k] = "V"
        elif premature and not irregular_rhythm and corr[k] >= V_CORR:
            labels[k] = "S"
    # if most beats disagree with the "dominant" template, the template is
    # noise, not a rhythm: such beats are unclassifiable, not ventricular
    v = labels == "V"
    if valid.sum() and v.sum() > 0.5 * valid.sum() and np.median(width[v]) <= dom_width + V_WIDER_MS:
        labels[v] = "Q"
    return BeatLabels(labels=labels, correlation=corr, width_ms=width, prematurity=prem, wide=width > dom_width + V_WIDER_MS)
