"""Global fiducial points on the multi-lead median beat.

Why global and why this way: the AHA/ACCF/HRS 2007 Part I recommendations
define PR, QRS and QT on simultaneously recorded leads from the earliest
onset to the latest offset in any lead, the way 12SL and Glasgow measure.
We find boundaries on the spatial velocity — the Euclidean norm of the
lead derivatives across independent leads — which rises at the first
deflection in any lead and falls only when every lead is flat. Each
boundary is where that velocity falls to a fraction of the wave's own
peak velocity above the isoelectric floor. The fractions were chosen on
odd-numbered LUDB records (a grid over 2–25 %) and are reported against
LUDB's cardiologist annotations, odd and even records separately, by
evals/ecg_accuracy_ludb.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from experts.ecg.filters import lowpass
from experts.ecg.median_beat import MedianBeat

INDEPENDENT_12 = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]


@dataclass
class DelineationParams:
    qrs_lowpass_hz: float = 40.0
    slow_lowpass_hz: float = 25.0
    qrs_on_frac: float = 0.02
    qrs_off_frac: float = 0.02
    p_on_frac: float = 0.20
    p_off_frac: float = 0.20
    t_end_frac: float = 0.10
    p_min_snr: float = 4.0  # P-wave slope peak over the beat's high-frequency noise
    p_min_mv: float = 0.03  # P-wave deviation from the TP–PR baseline
    p_guard_ms: float = 24.0  # stop the P search this long before QRS onset (filter smear)
    hold_ms: float = 6.0  # velocity must stay below threshold this long


@dataclass
class Fiducials:
    """Indices into the median-beat window (None when not found)."""

    qrs_on: int | None = None
    qrs_off: int | None = None
    p_on: int | None = None
    p_peak: int | None = None
    p_off: int | None = None
    t_peak: int | None = None
    t_end: int | None = None
    j_point: int | None = None
    leads: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _velocity(w: np.ndarray, fs: float) -> np.ndarray:
    d = np.diff(w, axis=1) * fs / 1000.0  # mV/ms
    v = np.sqrt(np.sum(d**2, axis=0))
    return np.concatenate([v, v[-1:]])


def _smooth(v: np.ndarray, fs: float, ms: float) -> np.ndarray:
    n = max(1, int(ms * fs / 1000.0))
    return np.convolve(v, np.ones(n) / n, mode="same")


def _first_below(v: np.ndarray, start: int, stop: int, thr: float, hold: int, step: int) -> int | None:
    """Walk from `start` towards `stop` (step ±1); return the first index at
    which v stays below thr for `hold` samples."""
    i = start
    run = 0
    while (step > 0 and i < stop) or (step < 0 and i > stop):
        if v[i] < thr:
            run += 1
            if run >= hold:
                return i - step * (hold - 1)
        else:
            run = 0
        i += step
    return None


def delineate(mb: MedianBeat, params: DelineationParams | None = None) -> Fiducials:
    p = params or DelineationParams()
    fs = mb.fs
    ms = lambda v: int(round(v * fs / 1000.0))  # noqa: E731
    leads = [n for n in INDEPENDENT_12 if n in mb.lead_names] or list(mb.lead_names)
    W = np.vstack([mb.lead(n) for n in leads])
    fid = Fiducials(leads=leads)
    hold = max(2, ms(p.hold_ms))
    r = mb.r_index
    n = W.shape[1]

    # --- QRS --------------------------------------------------------------
    wq = lowpass(W, fs, p.qrs_lowpass_hz)
    vq = _smooth(_velocity(wq, fs), fs, 4.0)
    lo, hi = max(0, r - ms(80)), min(n, r + ms(80))
    peak_i = lo + int(np.argmax(vq[lo:hi]))
    v_peak = float(vq[peak_i])
    floor_pre = float(np.min(_smooth(vq, fs, 20.0)[max(0, r - ms(200)) : max(1, r - ms(30))]))
    floor_post = float(np.min(_smooth(vq, fs, 20.0)[min(n - 1, r + ms(40)) : min(n, r + ms(250))]))
    on_thr = floor_pre + p.qrs_on_frac * (v_peak - floor_pre)
    off_thr = floor_post + p.qrs_off_frac * (v_peak - floor_post)
    # walk back from the first point that is already well inside the QRS
    first_big = lo + int(np.argmax(vq[lo:hi] > 0.5 * v_peak))
    fid.qrs_on = _first_below(vq, first_big, max(0, r - ms(200)), on_thr, hold, -1)
    above = np.nonzero(vq[lo:min(n, r + ms(150))] > 0.5 * v_peak)[0]
    last_big = lo + int(above[-1]) if above.size else peak_i
    fid.qrs_off = _first_below(vq, last_big, min(n - 1, r + ms(200)), off_thr, hold, +1)
    if fid.qrs_on is None or fid.qrs_off is None:
        fid.notes.append("QRS boundaries not found on the median beat")
        return fid
    fid.j_point = fid.qrs_off

    # --- slow waves: P and T ---------------------------------------------
    ws = lowpass(W, fs, p.slow_lowpass_hz)
    vs = _smooth(_velocity(ws, fs), fs, 6.0)
    pr_level = ws[:, max(0, fid.qrs_on - ms(12)) : fid.qrs_on - ms(4) + 1].mean(axis=1, keepdims=True)

    # P: within 320 ms before QRS onset (and after the previous T at fast rates)
    p_lo = max(0, fid.qrs_on - ms(min(320.0, 0.45 * mb.rr_ms)))
    p_hi = fid.qrs_on - ms(p.p_guard_ms)
    if p_hi - p_lo > ms(40):
        # deviation from the straight line joining the TP level and the PR level
        tp_level = ws[:, p_lo : p_lo + ms(16)].mean(axis=1, keepdims=True)
        frac = np.linspace(0.0, 1.0, p_hi - p_lo)[None, :]
        line = tp_level + (pr_level - tp_level) * frac
        dev = np.sqrt(np.sum((ws[:, p_lo:p_hi] - line) ** 2, axis=0))
        k = p_lo + int(np.argmax(dev[ms(10):])) + ms(10) if dev.size > ms(20) else p_lo + int(np.argmax(dev))
        vp_pre = vs[p_lo:k]
        vp_post = vs[k:p_hi]
        vfloor = float(np.percentile(vs[p_lo:p_hi], 5))
        vpk_on = float(vp_pre.max()) if vp_pre.size else 0.0
        vpk_off = float(vp_post.max()) if vp_post.size else 0.0
        noise = float(np.median(np.abs(np.diff(W[:, p_lo:p_hi], 2, axis=1)))) * fs / 1000.0 + 1e-6
        if min(vpk_on, vpk_off) > p.p_min_snr * max(noise, 1e-4) and dev[k - p_lo] > p.p_min_mv:
            fid.p_peak = k
            i_on = p_lo + int(np.argmax(vp_pre))
            fid.p_on = _first_below(vs, i_on, p_lo, vfloor + p.p_on_frac * (vpk_on - vfloor), hold, -1)
            i_off = k + int(np.argmax(vp_post))
            fid.p_off = _first_below(vs, i_off, fid.qrs_on - ms(4), vfloor + p.p_off_frac * (vpk_off - vfloor), hold, +1)
            if fid.p_off is None:  # PR segment too short to flatten: take the slowest point before the QRS
                fid.p_off = i_off + int(np.argmin(vs[i_off : fid.qrs_on - ms(4)])) if fid.qrs_on - ms(4) > i_off else None
            if fid.p_on is None:
                fid.p_on = p_lo
                fid.notes.append("P onset at the search-window edge")
        else:
            fid.notes.append("no P wave found on the median beat")
    base = pr_level

    # T: from 60 ms after J to before the next beat's P wave
    t_lo = fid.qrs_off + ms(60)
    rr = int(mb.rr_ms * fs / 1000.0)
    next_p = r + rr + ((fid.p_on - r) if fid.p_on is not None else -ms(250)) - ms(20)
    t_hi = min(n - ms(10), next_p, fid.qrs_on + ms(700))
    if t_hi - t_lo > ms(80):
        dev = np.sqrt(np.sum((ws[:, t_lo:t_hi] - base) ** 2, axis=0))
        k = t_lo + int(np.argmax(dev))
        fid.t_peak = k
        down = vs[k : min(t_hi, k + ms(160))]
        if down.size > 2:
            i_dn = k + int(np.argmax(down))
            vfloor = float(np.min(vs[i_dn:t_hi]))
            fid.t_end = _first_below(vs, i_dn, t_hi, vfloor + p.t_end_frac * (float(vs[i_dn]) - vfloor), hold, +1)
        if fid.t_end is None:
            fid.notes.append("T-wave end not found on the median beat")
    return fid
