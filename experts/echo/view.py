"""Is this an apical view of the LV? A geometric check on the image.

Why a rule on the image rather than on the mask: a segmentation network
trained on apical clips draws an apical-looking, bullet-shaped LV even in a
short-axis clip (we saw exactly that: on simulated parasternal short-axis
clips the embedded U-Net's mask had length/width 1.2-2.0 and pointed at the
transducer). The mask can only tell us *where* the cavity is; its *shape*
must come from the pixels. So, per frame:

1. blood pixels = the darkest class of a three-class Otsu split of the fan
   (blood / tissue / bright wall), on a lightly smoothed image;
2. the cavity = the dark connected region that overlaps the traced LV
   (that frame's mask, or the region traced in at least a quarter of the
   frames, so a flickering or fragmentary mask still points at the right
   cavity), with holes (papillary muscles, trabeculae) filled; a region
   that leaks out to the sector edge through a wall dropout is cut to a
   margin of a quarter of the mask's diameter around the trace;
3. its elongation (square root of the ratio of the second moments) and the
   angle between its long axis and the beam through its centre (the line
   from the sector apex).

Why these two: in an apical view the transducer sits on the LV apex, so
the cavity is cut along its long axis and that axis runs along the beam.
Its length clearly exceeds its width: an ellipse with a moment ratio of 1.2
has width/length 0.83, rounder than the apical LV even of dilated,
spherical ventricles (width/length ~0.5-0.6 in normal hearts, rising
toward ~0.7-0.8 in dilated cardiomyopathy; the limit is ours, not a
guideline threshold, and an extremely spherical LV could be flagged). In
diastole the cavity found this way usually runs on into the atrium
through the open mitral valve, which only lengthens it. A short-axis cut
is round (ratio ~1.0), and when it is not the axis of the cavity has no
reason to point at the transducer. Measured
values are in EVALUATION.md (simulated held-out apical clips, simulated
short-axis clips, the real pydicom apical clip).

This is not a view classifier: it cannot tell a four-chamber from a
two-chamber view (both are valid for single-plane EF), nor detect
foreshortening. It only answers "is the traced cavity an LV cut along its
long axis from the apex", which is what single-plane EF needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_APICAL_ELONGATION = 1.2
MAX_AXIS_FROM_BEAM_DEG = 35.0
MIN_FRAMES_MEASURED = 3


@dataclass
class ViewCheck:
    elongation: float | None  # median over frames
    axis_from_beam_deg: float | None
    frames_measured: int
    apical: bool | None  # None: could not be judged
    reasons: list[str] = field(default_factory=list)


def sector_apex(fan: np.ndarray) -> tuple[np.ndarray, float]:
    """Top of the fan (where the transducer is) in (row, col) and the fan's
    depth in pixels."""
    rr, cc = np.nonzero(fan)
    top = rr.min()
    sel = rr <= top + 1
    apex = np.array([float(top), float(cc[sel].mean())])
    return apex, float(np.hypot(rr - apex[0], cc - apex[1]).max())


def _moment_axis(region: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
    rr, cc = np.nonzero(region)
    if rr.size < 10:
        return None
    pts = np.vstack([rr, cc]).astype(float)
    evals, evecs = np.linalg.eigh(np.cov(pts))
    return float(np.sqrt(evals[1] / max(evals[0], 1e-9))), evecs[:, 1], pts.mean(axis=1)


def cavity_region(grey: np.ndarray, where: np.ndarray, fan: np.ndarray, blood_threshold: float) -> np.ndarray | None:
    """The dark connected region of `grey` that overlaps `where` (the
    traced LV), holes filled. If it leaks out to the edge of the sector
    (through a wall dropout) it is cut to a margin around `where`."""
    from scipy import ndimage

    dark = (grey < blood_threshold) & fan
    lab, n = ndimage.label(dark)
    if n == 0:
        return None
    overlap = np.asarray(ndimage.sum(where, lab, np.arange(1, n + 1)))
    if overlap.max() <= 0:
        return None
    region = lab == int(np.argmax(overlap)) + 1
    rim = fan & ~ndimage.binary_erosion(fan, iterations=2)
    if (region & rim).any():
        margin = max(2, int(round(0.25 * np.sqrt(where.sum() * 4.0 / np.pi))))
        near = ndimage.binary_dilation(where, iterations=margin)
        lab2, n2 = ndimage.label(region & near)
        if n2 == 0:
            return None
        ov2 = np.asarray(ndimage.sum(where, lab2, np.arange(1, n2 + 1)))
        region = lab2 == int(np.argmax(ov2)) + 1
    return ndimage.binary_fill_holes(region)


def check_apical_view(grey: np.ndarray, masks: np.ndarray, fan: np.ndarray, max_frames: int = 32) -> ViewCheck:
    """Judge the view on up to `max_frames` evenly spaced frames with a
    traced cavity. `grey` (T, S, S) model-grid frames, `masks` (T, S, S)."""
    from scipy import ndimage

    from experts.echo.classical import otsu_three_class_low

    frames = np.nonzero(masks.reshape(len(masks), -1).sum(axis=1) >= 10)[0]
    if frames.size < MIN_FRAMES_MEASURED or not fan.any():
        return ViewCheck(None, None, int(frames.size), None, ["too few frames with a traced cavity to judge the view"])
    frames = frames[np.unique(np.linspace(0, frames.size - 1, min(frames.size, max_frames)).astype(int))]
    # Where the LV is: the traced mask of the frame, plus the region traced
    # in at least a quarter of the frames (a mask that flickers or shrinks
    # to a fragment in one frame still points at the right cavity).
    consensus = masks.mean(axis=0) >= 0.25
    smooth = ndimage.gaussian_filter(grey[frames].astype(np.float32), (0, 1, 1))
    threshold = otsu_three_class_low(smooth[:, fan].ravel()[::3])
    apex, _ = sector_apex(fan)
    elong, angle = [], []
    for img, t in zip(smooth, frames):
        region = cavity_region(img, masks[t] | consensus, fan, threshold)
        shape = _moment_axis(region) if region is not None else None
        if shape is None:
            continue
        e, axis, centre = shape
        beam = centre - apex
        norm = np.linalg.norm(beam)
        if norm < 1e-6:
            continue
        elong.append(e)
        angle.append(float(np.degrees(np.arccos(min(1.0, abs(float(axis @ beam) / norm))))))
    if len(elong) < MIN_FRAMES_MEASURED:
        return ViewCheck(None, None, len(elong), None, ["the cavity outline could not be measured on the image"])
    e_med, a_med = float(np.median(elong)), float(np.median(angle))
    reasons = []
    if e_med < MIN_APICAL_ELONGATION:
        reasons.append(
            f"the LV cavity on the image is nearly round (length/width {e_med:.2f} < {MIN_APICAL_ELONGATION}): this looks like a "
            "short-axis or other non-apical view, and single-plane EF needs an apical view"
        )
    elif a_med > MAX_AXIS_FROM_BEAM_DEG:
        reasons.append(
            f"the long axis of the cavity runs {a_med:.0f} degrees off the ultrasound beam (an apical view looks along it, "
            f"< {MAX_AXIS_FROM_BEAM_DEG:.0f} degrees): the transducer is not at the LV apex, so this is not an apical view"
        )
    return ViewCheck(e_med, a_med, len(elong), not reasons, reasons)
