"""End-diastole / end-systole frames per beat from the LV area curve.

Why the area curve: ED is the frame where the LV is largest and ES where it
is smallest (ASE/EACVI 2015 define them by LV size when no ECG is
available); the segmentation gives that size in every frame. EchoNet-Dynamic
finds systoles the same way (peaks of the negated size curve with a
prominence relative to its trimmed range). We:

1. smooth lightly (Savitzky-Golay, ~60 ms window) to suppress frame jitter
   without moving the extremes;
2. find minima (ES) and maxima (ED) with scipy.signal.find_peaks, with a
   minimum spacing of 0.3 s (200/min) and a prominence of 30% of the
   5th-95th percentile range, so noise is not taken for beats; extremes at
   the clip edges are not peaks (the true extreme may lie outside);
3. pair each ES with the last ED before it (and after the previous ES):
   one beat = one ejection.

Heart rate is 60 * fps / median(ED-to-ED and ES-to-ES intervals).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_PERIOD_S = 0.3  # 200/min
DEFAULT_MIN_DISTANCE_FRAMES = 8  # when the frame rate is unknown (assumes >= ~27 frames/s)
PROMINENCE_FRACTION = 0.3
MIN_RELATIVE_EXCURSION = 0.05  # area range / median area below which the LV "does not move"


@dataclass(frozen=True)
class Beat:
    ed: int
    es: int


@dataclass
class CycleAnalysis:
    smoothed: np.ndarray
    ed_frames: list[int]
    es_frames: list[int]
    beats: list[Beat]
    rr_frames: float | None  # median cycle length in frames
    notes: list[str] = field(default_factory=list)

    def heart_rate_bpm(self, fps: float | None) -> float | None:
        if fps is None or self.rr_frames is None or self.rr_frames <= 0:
            return None
        return 60.0 * fps / self.rr_frames


def smooth_curve(area: np.ndarray, fps: float | None) -> np.ndarray:
    from scipy.signal import savgol_filter

    n = len(area)
    window = int(round((fps or 30.0) * 0.06)) | 1  # odd
    window = max(window, 5)
    if n < window + 2:
        return area.astype(float).copy()
    return savgol_filter(area.astype(float), window, 2, mode="interp")


def find_beats(area: np.ndarray, fps: float | None) -> CycleAnalysis:
    from scipy.signal import find_peaks

    a = smooth_curve(np.asarray(area, float), fps)
    notes: list[str] = []
    lo, hi = np.percentile(a, [5, 95])
    median = float(np.median(a))
    if median <= 0 or (hi - lo) / median < MIN_RELATIVE_EXCURSION:
        notes.append(f"the LV area changes by less than {MIN_RELATIVE_EXCURSION:.0%} over the clip: no contraction found")
        return CycleAnalysis(a, [], [], [], None, notes)
    distance = max(3, int(MIN_PERIOD_S * fps)) if fps else DEFAULT_MIN_DISTANCE_FRAMES
    prominence = PROMINENCE_FRACTION * (hi - lo)
    es, _ = find_peaks(-a, distance=distance, prominence=prominence)
    ed, _ = find_peaks(a, distance=distance, prominence=prominence)
    es_l, ed_l = [int(i) for i in es], [int(i) for i in ed]
    beats: list[Beat] = []
    prev_es = -1
    for s in es_l:
        candidates = [d for d in ed_l if prev_es < d < s]
        if candidates:
            beats.append(Beat(ed=candidates[-1], es=s))
        prev_es = s
    intervals = list(np.diff(ed_l)) + list(np.diff(es_l))
    rr = float(np.median(intervals)) if intervals else None
    if not beats:
        notes.append("no end-diastole followed by end-systole was found in the LV area curve")
    return CycleAnalysis(a, ed_l, es_l, beats, rr, notes)
