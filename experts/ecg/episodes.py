"""Rhythm over time: atrial-fibrillation windows, pauses and ventricular
runs, merged into episodes with their time spans.

Why windows: a 30-minute Holter strip can hold sinus rhythm, paroxysms of
AF and runs of ectopy; one record-level verdict would hide them. AF is
called where the RR series is irregular *and* the beats lack a consistent
P wave — the two ECG features of the ESC 2024 definition — after leaving
out the intervals around ectopic beats, which are irregular for another
reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WINDOW_BEATS = 16
STEP_BEATS = 8
AF_IRREGULARITY = 0.06  # median |ΔRR| / median RR (chosen on odd-numbered CinC 2017 records, see evals)
AF_MAX_P_FRACTION = 0.6
# A window keeps its AF verdict when at most this share of its beats fall on artefact (they are left out of the RR and
# P-wave counts). Session 1 dropped any window touching one artefact beat, so a noisy first or last second of a 30-s
# handheld record (electrode contact) cut a whole-record AF episode below the ESC 30-s limit: 19 of 58 AF records of
# the CinC 2017 tuning half were "indeterminate" for that reason.
MAX_ARTEFACT_FRACTION = 0.25
MAX_GAP_BEATS = STEP_BEATS  # AF runs this close, with no P waves in between, are one episode (see _bridge_short_gaps)
PAUSE_MS = 3000.0
NSVT_MIN_BEATS = 3
NSVT_MIN_RATE = 100.0


@dataclass
class Episode:
    kind: str  # "af", "pause", "ventricular_run"
    start_s: float
    end_s: float
    beats: int = 0
    rate: float | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class RhythmEpisodes:
    af: list[Episode] = field(default_factory=list)
    pauses: list[Episode] = field(default_factory=list)
    ventricular_runs: list[Episode] = field(default_factory=list)
    signal_loss: list[Episode] = field(default_factory=list)
    af_burden: float = 0.0  # % of the analysed span
    irregularity: float | None = None  # record-level, ectopy-adjacent RR excluded
    analysed_s: tuple[float, float] = (0.0, 0.0)


def _irregularity(rr: np.ndarray) -> float | None:
    if rr.size < 4:
        return None
    return float(np.median(np.abs(np.diff(rr))) / np.median(rr))


def _bridge_short_gaps(is_af: np.ndarray, p: np.ndarray, labels: np.ndarray) -> None:
    """Join two AF runs separated by at most MAX_GAP_BEATS beats that still
    lack P waves (fewer than AF_MAX_P_FRACTION of them have one): a few
    momentarily regular RR intervals do not mean sinus rhythm came back,
    which needs P waves. Without this a 30-s AF record split by one regular
    window was two episodes, each below the ESC 30-s limit."""
    idx = np.nonzero(is_af)[0]
    if idx.size < 2:
        return
    for a, b in zip(idx[:-1], idx[1:]):
        gap = slice(a + 1, b)
        if 1 < b - a <= MAX_GAP_BEATS + 1:
            keep = labels[gap] != "Q"
            pf = float(np.mean(p[gap][keep])) if keep.any() else 0.0
            if pf < AF_MAX_P_FRACTION:
                is_af[gap] = True


def find_episodes(
    r_peaks: np.ndarray,
    fs: float,
    labels: np.ndarray,
    p_per_beat: np.ndarray | None,
    bad: np.ndarray | None = None,
    duration_s: float | None = None,
    wide: np.ndarray | None = None,
) -> RhythmEpisodes:
    """`labels`: per-beat N/S/V/Q; 'Q' beats (artefact) break AF windows and
    ventricular runs, and a long RR over artefact is signal loss, not a pause."""
    from experts.ecg.quality import SEGMENT_S

    out = RhythmEpisodes()
    if r_peaks.size < 4:
        return out
    t = r_peaks / fs
    out.analysed_s = (float(t[0]), float(t[-1]))
    rr = np.diff(r_peaks) / fs * 1000.0
    # RR intervals that touch a ventricular or unclassifiable beat are
    # irregular for another reason. Supraventricular "premature" beats stay
    # in: in AF every beat looks premature to a timing rule, and in sinus
    # rhythm with PACs the P-wave criterion keeps AF from being called.
    ectopic = (labels == "V") | (labels == "Q")
    clean = ~(ectopic[1:] | ectopic[:-1])
    out.irregularity = _irregularity(rr[clean])
    p = p_per_beat if p_per_beat is not None else np.zeros(r_peaks.size, dtype=bool)

    # AF windows
    n = r_peaks.size
    is_af = np.zeros(n, dtype=bool)
    win = min(WINDOW_BEATS, n - 1)
    starts = sorted(set(range(0, max(1, n - 1 - win), STEP_BEATS)) | {max(0, n - 1 - win)})  # the last window ends on the last beat
    for a in starts:
        b = min(n - 1, a + win)
        seg = rr[a:b][clean[a:b]]
        irr = _irregularity(seg)
        artefact = labels[a : b + 1] == "Q"
        if artefact.mean() > MAX_ARTEFACT_FRACTION:
            continue
        p_clean = p[a + 1 : b + 1][~artefact[1:]]
        pf = float(np.mean(p_clean)) if p_clean.size else 1.0
        if irr is not None and irr > AF_IRREGULARITY and pf < AF_MAX_P_FRACTION:
            is_af[a : b + 1] = True
    _bridge_short_gaps(is_af, p, labels)
    k = 0
    while k < n:
        if is_af[k]:
            j = k
            while j + 1 < n and is_af[j + 1]:
                j += 1
            if j > k:
                # the rhythm runs half an RR beyond its first and last beat; an
                # episode holding the record's first (last) beat runs from its start (to its end)
                half = float(np.median(rr[k:j])) / 2000.0
                a = 0.0 if k == 0 else max(0.0, float(t[k]) - half)
                b = float(t[j]) + half
                if duration_s:
                    b = duration_s if j == n - 1 else min(duration_s, b)
                out.af.append(Episode("af", a, b, beats=j - k + 1, rate=60.0 * (j - k) / max(t[j] - t[k], 1e-6)))
            k = j + 1
        else:
            k += 1
    span = duration_s if duration_s else max(t[-1] - t[0], 1e-6)
    out.af_burden = min(100.0, 100.0 * sum(e.duration_s for e in out.af) / span)

    for i in np.nonzero(rr > PAUSE_MS)[0]:
        if bad is not None and bad.size:
            a, b = int(t[i] / SEGMENT_S), int(t[i + 1] / SEGMENT_S)
            if np.any(bad[a : b + 1]):
                out.signal_loss.append(Episode("signal_loss", float(t[i]), float(t[i + 1])))
                continue
        out.pauses.append(Episode("pause", float(t[i]), float(t[i + 1]), beats=2))

    # runs of ≥3 consecutive ventricular beats faster than 100/min
    k = 0
    while k < n:
        if labels[k] == "V":
            j = k
            while j + 1 < n and labels[j + 1] == "V":
                j += 1
            count = j - k + 1
            # a ventricular run is a run of wide complexes: one narrow beat in it means artefact or aberrancy
            all_wide = wide is None or bool(np.all(wide[k : j + 1]))
            if count >= NSVT_MIN_BEATS and all_wide:
                rate = 60.0 * (count - 1) / max(t[j] - t[k], 1e-6)
                if rate > NSVT_MIN_RATE:
                    out.ventricular_runs.append(Episode("ventricular_run", float(t[k]), float(t[j]), beats=count, rate=rate))
            k = j + 1
        else:
            k += 1
    return out
