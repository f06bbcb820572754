"""End-diastole / end-systole frames per beat from the LV area curve.

Why the area curve: ED is the frame where the LV is largest and ES where it
is smallest (ASE/EACVI 2015 define them by LV size when no ECG is
available); the segmentation gives that size in every frame. EchoNet-Dynamic
finds systoles the same way (peaks of the negated size curve with a
prominence relative to its trimmed range). We:

1. smooth lightly (Savitzky-Golay, ~60 ms window) to suppress frame jitter
   without moving the extremes;
2. ES: interior local minima (scipy.signal.find_peaks, >= 0.3 s apart,
   i.e. <= 200/min) reached by a fall of at least half the 5th-95th
   percentile range since the previous ES, so noise and diastasis dips are
   not taken for beats (the fall is measured on the left only, so an ES
   near the end of the clip still counts);
3. ED of each beat: the largest area between the previous ES (or the clip
   start) and this ES, if it is a real peak inside the clip; a maximum on
   the first frame may lie before the clip and is not used.

Heart rate is 60 * fps / mean cycle length, the cycle length being the
span between the first and last ES (and ED) over the cycles it contains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_PERIOD_S = 0.3  # 200/min
MAX_PERIOD_S = 2.0  # 30/min: how far back an end-diastole may lie
DEFAULT_MIN_DISTANCE_FRAMES = 8  # when the frame rate is unknown (assumes >= ~27 frames/s)
DEFAULT_MAX_PERIOD_FRAMES = 60
PROMINENCE_FRACTION = 0.5  # as EchoNet-Dynamic's systole picker
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
    rr_frames: float | None  # mean cycle length in frames
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
    window = int(MAX_PERIOD_S * fps) if fps else DEFAULT_MAX_PERIOD_FRAMES
    drop_needed = PROMINENCE_FRACTION * (hi - lo)

    # ES: interior local minima reached by a sufficient fall from the
    # largest area of the preceding cycle. Measuring the fall on the left
    # only keeps an ES near the end of the clip (its right side is cut off).
    minima, _ = find_peaks(-a, distance=distance)
    es_l: list[int] = []
    for m in minima:
        start = es_l[-1] if es_l else max(0, m - window)  # the fall must happen after the previous ES
        if a[start : m + 1].max() - a[m] >= drop_needed:
            es_l.append(int(m))
    # ED of each ejection: the largest area between the previous ES (or the
    # clip start) and this ES, if it is a true peak inside the clip; a
    # maximum on the first frame may lie before the clip and is not used.
    beats: list[Beat] = []
    ed_l: list[int] = []
    prev = max(0, (es_l[0] - window) if es_l else 0)
    for s_ in es_l:
        seg = a[prev:s_]
        if seg.size >= 2:
            ed = prev + int(np.argmax(seg))
            if ed > 0 and a[ed] >= a[ed - 1] and a[ed] - a[s_] >= drop_needed:
                beats.append(Beat(ed=ed, es=s_))
                ed_l.append(ed)
        prev = s_
    # Cycle length: the span from the first to the last ES (and ED) divided
    # by the number of cycles in it, which averages out the one-frame
    # quantisation of single intervals.
    spans = [(x[-1] - x[0], len(x) - 1) for x in (es_l, ed_l) if len(x) >= 2]
    rr = float(sum(s for s, _ in spans) / sum(k for _, k in spans)) if spans else None
    if not beats:
        notes.append("no end-diastole followed by end-systole was found in the LV area curve")
    return CycleAnalysis(a, sorted(ed_l), es_l, beats, rr, notes)
