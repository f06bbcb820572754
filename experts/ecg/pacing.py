"""Pacemaker spikes and paced beats.

Why on the raw signal: a pacing stimulus lasts 0.1–1 ms. At 500 Hz it
survives in LUDB as a deflection one or two samples wide, in every lead at
the same sample, that returns to the baseline at once; the 0.5–40 Hz
filters of the beat detector smear it into nothing. So spikes are looked
for in the signal as read (mV, before any filter):

* residual of a 5-sample (10 ms at 500 Hz) running median: a 1–2 sample
  spike stands out in full, a QRS (tens of ms of monotone slope) almost
  not at all;
* narrow: the samples 2 before and 3 after are back near the baseline
  (the residual exceeds 3× the step across the spike);
* in at least 3 of the independent leads (I, II, V1–V6; III, aVR, aVL,
  aVF are derived from I and II) — all of them on a 2-lead recording; one
  lead alone is never enough (not assessed) — at the same sample (± 1),
  each ≥ 8× that lead's robust sample-to-sample noise and ≥ 0.05 mV.

A spike is *ventricular* when the QRS starts at once: the multi-lead
slope 4–50 ms after it reaches ≥ 25 % of the median QRS slope, and the
next R peak is ≤ 250 ms away. It is *atrial* when the slope stays low
for 50 ms and an R peak follows 80–400 ms later. A beat is paced when a
ventricular spike precedes its R peak by ≤ 250 ms (or an atrial spike
by 80–400 ms). All numbers here are operational thresholds of this tool,
chosen on LUDB (9 paced of 200) and checked on CinC 2017 and MIT-BIH.

Without visible spikes, a fixed-rate wide-QRS rhythm is reported as a
measurement only (`pacing_like_wide_regular`); it can support an
`indeterminate` statement, never `present`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_FS = 250.0  # Hz; below, a < 1 ms stimulus cannot be told from noise
INDEPENDENT = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
MIN_SPIKE_MV = 0.05
NOISE_K = 8.0
ONSET_K = 4.0
HELD_MIN_MV = 0.15  # LUDB's recorder also holds small steps at a QRS onset (88, AF): a held pulse must be larger
NARROW_K = 3.0
V_DELAY_MAX_S = 0.40  # spike → detected R peak (on some paced records the detector sits late in the wide QRS or on T)
STEEP_FRACTION = 0.3
A_DELAY_S = (0.08, 0.40)


@dataclass
class PacingFinding:
    spikes: np.ndarray  # sample indices of all spikes
    kinds: list[str]  # per spike: "V", "A" or "?"
    leads_per_spike: list[int]
    amplitude_mv: list[float]  # median over the leads that show it
    v_paced_beats: list[int] = field(default_factory=list)  # indices into r_peaks
    a_paced_beats: list[int] = field(default_factory=list)
    spike_qrs_ms: list[float] = field(default_factory=list)  # ventricular spike → QRS onset (steep slope)
    spike_r_ms: list[float] = field(default_factory=list)  # ventricular spike → R peak
    spike_p_ms: list[float] = field(default_factory=list)  # atrial spike → next R peak (AV delay + QRS onset)
    n_leads: int = 0
    leads: list[str] = field(default_factory=list)

    @property
    def n_v(self) -> int:
        return sum(k == "V" for k in self.kinds)

    @property
    def n_a(self) -> int:
        return sum(k == "A" for k in self.kinds)


def _running_median5(x: np.ndarray) -> np.ndarray:
    pad = np.pad(x, (2, 2), mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(pad, 5)
    return np.median(win, axis=1)


def _lead_spikes(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-sample spike amplitude (0 where not a spike) and the lead's threshold.

    A spike is an abrupt jump (one sample, from a baseline that was still over the two samples
    before) that then turns back at once (the next step has the opposite sign and ≥ 30 % of the
    jump: a spike with or without a decaying after-potential, never a step or a QRS slope), or is held
    exactly constant for two samples (some recorders, LUDB among them, blank the ECG around a pacing pulse)."""
    d = np.diff(x, prepend=x[0])  # d[i] = x[i] - x[i-1]
    a = np.abs(d)
    noise = 1.4826 * np.median(np.abs(d - np.median(d))) + 1e-4
    thr = max(MIN_SPIKE_MV, NOISE_K * noise)
    out = np.zeros_like(x)
    n = len(x)
    for i in np.flatnonzero(a >= thr):
        if i < 4 or i > n - 3:
            continue
        before = max(a[i - 1], a[i - 2], a[i - 3])
        j = i + 1 if np.sign(d[i + 1]) == -np.sign(d[i]) else i + 2  # a 2-sample-wide top
        back = -np.sign(d[i]) * d[j]
        if j == i + 2 and abs(d[i + 1]) > 0.5 * a[i]:
            continue
        held = x[i + 1] == x[i] and x[i + 2] == x[i]  # the recorder holds the value after a pacing pulse (LUDB)
        if a[i] >= ONSET_K * max(before, 0.5 * noise) and (back >= 0.3 * a[i] or (held and a[i] >= HELD_MIN_MV)):
            out[i] = a[i]
    # or: a 1–2 sample deflection that is gone again 3 samples later (residual of a 5-sample running median)
    r = x - _running_median5(x)
    ra = np.abs(r)
    rnoise = 1.4826 * np.median(np.abs(r - np.median(r))) + 1e-4
    rthr = max(MIN_SPIKE_MV, NOISE_K * rnoise)
    for i in np.flatnonzero(ra >= rthr):
        if i < 3 or i > n - 4 or out[i] > 0 or out[i - 1] > 0:
            continue
        step = abs(x[i + 3] - x[i - 2])
        if ra[i] >= NARROW_K * max(step, 0.25 * rthr) and ra[i] >= ra[i - 1] and ra[i] >= ra[i + 1]:
            out[i] = ra[i]
    return out, thr


def detect_spikes(signals: np.ndarray, lead_names: list[str], fs: float) -> tuple[np.ndarray, list[int], list[float], list[str]]:
    """Samples where a narrow spike appears in enough independent leads at once."""
    leads = [n for n in INDEPENDENT if n in lead_names]
    if len(leads) < 2:  # e.g. MIT-BIH MLII + V1: two recorded leads
        leads = [n for n in lead_names if n not in ("III", "aVR", "aVL", "aVF")]
    if fs < MIN_FS or len(leads) < 2:
        return np.array([], dtype=int), [], [], leads
    amp = np.vstack([_lead_spikes(signals[lead_names.index(n)])[0] for n in leads])
    # a spike may land one sample apart between leads
    hit = amp > 0
    spread = hit | np.roll(hit, 1, axis=1) | np.roll(hit, -1, axis=1)
    count = spread.sum(axis=0)
    need = min(3, len(leads))
    idx = np.flatnonzero(count >= need)
    spikes: list[int] = []
    nl: list[int] = []
    am: list[float] = []
    gap = int(round(0.04 * fs))  # one stimulus (and its recharge / the recorder's blanking step)
    for i in idx:
        if spikes and i - spikes[-1] <= gap:
            if count[i] > nl[-1]:
                spikes[-1], nl[-1] = int(i), int(count[i])
                w = amp[:, max(i - 1, 0): i + 2].max(axis=1)
                am[-1] = float(np.median(w[w > 0]))
            continue
        spikes.append(int(i))
        nl.append(int(count[i]))
        w = amp[:, max(i - 1, 0): i + 2].max(axis=1)
        am.append(float(np.median(w[w > 0])))
    return np.array(spikes, dtype=int), nl, am, leads


def _velocity(signals: np.ndarray, lead_names: list[str], leads: list[str], fs: float, spikes: np.ndarray) -> np.ndarray:
    """Multi-lead slope (sum of |first difference| over the leads, 20 ms moving mean) with the spikes blanked."""
    x = np.vstack([signals[lead_names.index(n)] for n in leads]).copy()
    n = x.shape[1]
    for s in spikes:  # replace ±3 samples around the spike by a straight line
        a, b = max(s - 3, 0), min(s + 4, n - 1)
        for row in x:
            row[a:b + 1] = np.linspace(row[a], row[b], b - a + 1)
    v = np.abs(np.diff(x, axis=1)).sum(axis=0)
    k = max(1, int(round(0.02 * fs)))
    return np.convolve(v, np.ones(k) / k, mode="same")


def analyse_pacing(signals: np.ndarray, lead_names: list[str], fs: float, r_peaks: np.ndarray) -> PacingFinding:
    spikes, nl, am, leads = detect_spikes(signals, lead_names, fs)
    f = PacingFinding(spikes=spikes, kinds=[], leads_per_spike=nl, amplitude_mv=am, n_leads=len(leads), leads=leads)
    if len(spikes) == 0 or len(r_peaks) == 0:
        f.kinds = ["?"] * len(spikes)
        return f
    v = _velocity(signals, lead_names, leads, fs, spikes)
    # reference for "steep": the record's steepest deflections (99th percentile of the multi-lead slope), not the
    # detected R peaks — on some paced records the detector sits on the T wave
    ref = float(np.percentile(v, 99))
    d10, d60 = int(round(0.01 * fs)), int(round(0.06 * fs))
    n = len(v)
    for s in spikes:
        nxt = r_peaks[r_peaks > s]
        dr = (nxt[0] - s) / fs if len(nxt) else np.inf
        seg = v[min(s + d10, n - 1): min(s + d60, n)]  # after the spike's own after-potential
        steep = len(seg) > 0 and seg.max() >= STEEP_FRACTION * ref
        if steep and dr <= V_DELAY_MAX_S:
            f.kinds.append("V")
            onset = int(np.argmax(seg >= STEEP_FRACTION * ref)) + d10
            f.spike_qrs_ms.append(1000.0 * onset / fs)
            f.spike_r_ms.append(1000.0 * dr)
        elif not steep and A_DELAY_S[0] <= dr <= A_DELAY_S[1]:
            f.kinds.append("A")
            f.spike_p_ms.append(1000.0 * dr)
        else:
            f.kinds.append("?")
    vs = np.array([s for s, k in zip(spikes, f.kinds) if k == "V"], dtype=int)
    as_ = np.array([s for s, k in zip(spikes, f.kinds) if k == "A"], dtype=int)
    prev = np.concatenate([[-10**9], r_peaks[:-1]])
    for i, (r, p) in enumerate(zip(r_peaks, prev)):
        # the spike must fall after the previous R peak (one spike, one beat)
        if len(vs) and np.any((vs > p) & (r - vs > 0) & (r - vs <= V_DELAY_MAX_S * fs)):
            f.v_paced_beats.append(i)
        if len(as_) and np.any((as_ > p) & (r - as_ >= A_DELAY_S[0] * fs) & (r - as_ <= A_DELAY_S[1] * fs)):
            f.a_paced_beats.append(i)
    return f
