"""Is this clip good enough for the numbers we computed from it?

Why explicit rules: an EF from a clip with no visible contraction, a colour
Doppler overlay or a flickering mask is a made-up number. Each rule names
what it saw; `non_diagnostic` means no measurement is reported, `limited`
means numbers are reported with the reasons attached.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_FRAMES = 16
MAX_COLOUR_FRACTION = 0.02
MAX_EMPTY_FRACTION = 0.10
MIN_NEIGHBOUR_DICE = 0.85
MAX_AREA_JITTER = 0.05
MIN_ELONGATION = 1.1  # a dilated, spherical LV is still ~1.2-1.4; a short-axis ring is ~1.0
MAX_AXIS_TILT_DEG = 40.0
MAX_FRAGMENTED_FRACTION = 0.2
MAX_EDGE_CONTACT_FRACTION = 0.3
MAX_UNCERTAIN_FRACTION = 0.35
MAX_WAIST_FRACTION = 0.2  # frames whose outline has a basal waist (atrium traced too)
MAX_BEAT_EF_SPREAD = 20.0  # percentage points between the lowest and highest beat
MIN_SYSTOLE_S, MAX_SYSTOLE_S = 0.12, 0.7  # ED -> ES interval
# ED -> ES as a share of the beat's cycle length. Physiology: isovolumic
# contraction plus ejection (Weissler's LVET = 413 - 1.7 x HR ms) take
# ~25% of the cycle at 45/min and ~50% at 150/min; the margins allow one
# frame of quantisation at each end and short ejection in heart failure.
MIN_SYSTOLIC_FRACTION, MAX_SYSTOLIC_FRACTION = 0.15, 0.65


@dataclass
class QualityReport:
    verdict: str = "usable"  # usable | limited | non_diagnostic
    reasons: list[str] = field(default_factory=list)

    def limit(self, reason: str) -> None:
        if self.verdict == "usable":
            self.verdict = "limited"
        self.reasons.append(reason)

    def fail(self, reason: str) -> None:
        self.verdict = "non_diagnostic"
        self.reasons.append(reason)


def too_few_frames(n_frames: int) -> str | None:
    if n_frames < MIN_FRAMES:
        return f"only {n_frames} frames: at least {MIN_FRAMES} are needed to capture a heart cycle"
    return None


def colour_doppler(colour_fraction: float) -> str | None:
    if colour_fraction > MAX_COLOUR_FRACTION:
        return (
            f"colour Doppler clip: {colour_fraction:.0%} of the sector is colour-coded flow, which hides the "
            "blood-tissue border; supply a greyscale (B-mode) apical view"
        )
    return None


def neighbour_dice(masks: np.ndarray) -> np.ndarray:
    a, b = masks[:-1], masks[1:]
    inter = np.logical_and(a, b).sum(axis=(1, 2))
    total = a.sum(axis=(1, 2)) + b.sum(axis=(1, 2))
    return np.where(total > 0, 2 * inter / np.maximum(total, 1), 1.0)


def assess_segmentation(
    report: QualityReport,
    masks: np.ndarray,
    prob: np.ndarray,
    fan_small: np.ndarray,
    areas: np.ndarray,
    smoothed_areas: np.ndarray,
    elongations: np.ndarray,
    axis_angles: np.ndarray,
    components: np.ndarray,
    waists: np.ndarray | None = None,
) -> None:
    """Rules on the per-frame masks; `areas` etc. are NaN for empty frames."""
    T = masks.shape[0]
    empty = ~masks.any(axis=(1, 2))
    if empty.mean() > MAX_EMPTY_FRACTION:
        report.fail(f"no LV cavity was found in {empty.sum()} of {T} frames")
        return
    nd = neighbour_dice(masks[~empty]) if (~empty).sum() > 1 else np.ones(1)
    if np.median(nd) < MIN_NEIGHBOUR_DICE:
        report.limit(f"the LV mask is unstable from frame to frame (median overlap of neighbouring frames {np.median(nd):.2f})")
    valid = ~np.isnan(areas)
    if valid.sum() > 4:
        jitter = float(np.std(areas[valid] - smoothed_areas[valid]) / max(np.mean(areas[valid]), 1e-9))
        if jitter > MAX_AREA_JITTER:
            report.limit(f"the LV area curve is jittery ({jitter:.1%} of the mean area frame to frame)")
    el = float(np.nanmedian(elongations)) if np.isfinite(elongations).any() else float("nan")
    tilt = float(np.nanmedian(np.abs(axis_angles))) if np.isfinite(axis_angles).any() else float("nan")
    if np.isfinite(el) and el < MIN_ELONGATION:
        report.limit(
            f"the segmented cavity is nearly round (length/width {el:.2f}), not the elongated LV of an apical view: "
            "the clip may be a short-axis or other non-apical view"
        )
    if np.isfinite(tilt) and tilt > MAX_AXIS_TILT_DEG:
        report.limit(f"the LV long axis is tilted {tilt:.0f} degrees from the sector axis: the clip may not be an apical view")
    if (components[~empty] > 1).mean() > MAX_FRAGMENTED_FRACTION:
        report.limit("the LV mask breaks into several pieces in many frames")
    if waists is not None and waists[~empty].mean() > MAX_WAIST_FRACTION:
        report.limit(
            f"in {waists[~empty].mean():.0%} of frames the traced cavity narrows at the base and widens again: "
            "the left atrium is probably included (mitral annulus missed), which inflates volumes"
        )
    edge = fan_small & ~_eroded(fan_small, 2)
    touching = np.array([(m & edge).sum() > 0.05 * max(m.sum(), 1) for m in masks[~empty]])
    if touching.mean() > MAX_EDGE_CONTACT_FRACTION:
        report.limit("the LV reaches the edge of the scan sector in many frames (part of the ventricle may be cut off)")
    inside = prob[masks]
    uncertain = float(((inside > 0.5) & (inside < 0.8)).mean()) if inside.size else 1.0
    if uncertain > MAX_UNCERTAIN_FRACTION:
        report.limit(f"the segmentation is unsure of the LV border ({uncertain:.0%} of cavity pixels have probability 0.5-0.8)")


def _eroded(mask: np.ndarray, it: int) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_erosion(mask, iterations=it)


def beat_consistency(report: QualityReport, beat_efs: list[float]) -> None:
    """Beats of one clip should agree: in sinus rhythm EF varies by a few
    points from beat to beat, so a wide spread means the segmentation is
    inconsistent (or the rhythm irregular) and the average is unreliable."""
    if len(beat_efs) >= 2 and max(beat_efs) - min(beat_efs) > MAX_BEAT_EF_SPREAD:
        report.limit(
            f"EF differs widely between beats ({min(beat_efs):.0f}% to {max(beat_efs):.0f}%): the LV border is not traced "
            "consistently (or the rhythm is irregular), so the beat average is unreliable"
        )


def plausible_systole(ed: int, es: int, fps: float | None) -> bool:
    if fps is None:
        return True
    return MIN_SYSTOLE_S <= (es - ed) / fps <= MAX_SYSTOLE_S


def beat_cycle_frames(eds: list[int], i: int) -> int | None:
    """Cycle length (frames) around beat i: to the next beat's ED, else from
    the previous one; None for a lone beat."""
    if i + 1 < len(eds):
        return eds[i + 1] - eds[i]
    if i > 0:
        return eds[i] - eds[i - 1]
    return None


def systolic_fraction(eds: list[int], ess: list[int], i: int) -> float | None:
    cycle = beat_cycle_frames(eds, i)
    if not cycle or cycle <= 0:
        return None
    return (ess[i] - eds[i]) / cycle


def plausible_systolic_fraction(fraction: float | None) -> bool:
    """A detected "beat" whose ED -> ES interval is a tenth of its cycle, or
    two thirds of it, is not a heartbeat: the area curve is following
    something other than the LV (a partial trace, a trace that switches
    between LV and atrium, noise)."""
    return fraction is None or MIN_SYSTOLIC_FRACTION <= fraction <= MAX_SYSTOLIC_FRACTION
