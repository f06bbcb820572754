"""The echo pipeline as plain numbers: clip -> fan crop -> LV masks ->
per-frame area/volume -> beats -> EF, heart rate, quality.

Why separate from tool.py: evaluations and benchmarks need the raw numbers
(per-frame volumes, chosen frames, masks) without report objects, and the
tool needs only to translate this result into Measurements and Statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from experts.echo.clip import EchoClip
from experts.echo.cycles import CycleAnalysis, find_beats
from experts.echo.postprocess import keep_one_chamber
from experts.echo.quality import (
    QualityReport,
    assess_segmentation,
    beat_consistency,
    colour_doppler,
    plausible_systole,
    plausible_systolic_fraction,
    systolic_fraction,
    too_few_frames,
)
from experts.echo.sector import Preprocessed, preprocess
from experts.echo.segment import Segmentation, temporal_smooth
from experts.echo.spacing import SpacingDecision, resolve_spacing
from experts.echo.view import ViewCheck, check_apical_view
from experts.echo.volumes import LVGeometry, lv_geometry

MM3_PER_ML = 1000.0


@dataclass
class BeatResult:
    ed: int
    es: int
    edv: float  # mL when spacing is known, else px^3 (only the ratio is used)
    esv: float
    ef: float  # %, method of discs
    edv_al: float
    esv_al: float
    ef_al: float  # %, area-length
    ed_area: float
    es_area: float
    ed_length: float
    es_length: float


@dataclass
class EchoAnalysis:
    clip: EchoClip
    pre: Preprocessed
    spacing: SpacingDecision
    model_spacing_mm: tuple[float, float] | None
    segmentation: Segmentation
    masks: np.ndarray  # (T, S, S) bool on the model grid
    geometry: list[LVGeometry | None]
    areas: np.ndarray  # mm^2 or px^2 (NaN where empty)
    volumes: np.ndarray  # discs, mL or px^3 (NaN where empty)
    volumes_al: np.ndarray
    cycles: CycleAnalysis | None
    beats: list[BeatResult]
    quality: QualityReport
    warnings: list[str] = field(default_factory=list)
    view: ViewCheck | None = None

    @property
    def has_mm(self) -> bool:
        return self.model_spacing_mm is not None

    @property
    def ef_mean(self) -> float | None:
        return float(np.mean([b.ef for b in self.beats])) if self.beats else None

    @property
    def ef_al_mean(self) -> float | None:
        return float(np.mean([b.ef_al for b in self.beats])) if self.beats else None

    @property
    def heart_rate_bpm(self) -> float | None:
        return self.cycles.heart_rate_bpm(self.clip.fps) if self.cycles else None

    def original_masks(self) -> np.ndarray:
        """LV masks at the clip's own resolution (T, H, W)."""
        return self.pre.crop.to_original(self.segmentation.prob)


def analyse_clip(
    clip: EchoClip,
    segmenter,
    user_spacing_mm: float | None = None,
    smooth: bool = False,
    out_size: int = 112,
    lv_side: str = "right",
    one_chamber: bool = True,
    threshold: float = 0.7,
) -> EchoAnalysis:
    """Run the pipeline on a decoded clip. `lv_side="left"` handles clips
    displayed with the LV on the image left (the models expect the standard
    orientation, so the frames are mirrored for segmentation and back).

    `threshold` 0.7: on validation data (not the evaluation set) the
    embedded U-Net's 0.5 contour drew the LV 1.3% too large in area and
    EDV/ESV ~10/7 mL too large; at 0.7 the area bias is gone and the volume
    bias is ~3/2 mL (see weights/MODEL_CARD.md)."""
    warnings = list(clip.warnings)
    quality = QualityReport()
    if clip.truncated:
        quality.limit("the file is damaged or truncated; only the decodable frames were analysed")
    pre = preprocess(clip, out_size)
    warnings.extend(pre.fan.notes)
    spacing = resolve_spacing(clip, pre.fan.bbox, user_spacing_mm)
    warnings.extend(spacing.notes)
    model_spacing = pre.crop.model_spacing_mm(spacing.spacing_mm)
    if clip.fps is None:
        warnings.append("frame rate unknown: heart rate and frame times are not reported")

    for rule in (too_few_frames(clip.n_frames), colour_doppler(pre.fan.coloured_fraction)):
        if rule:
            quality.fail(rule)

    if lv_side == "left":
        mirrored = Preprocessed(pre.grey[:, :, ::-1].copy(), pre.fan_small[:, ::-1].copy(), pre.fan, pre.crop)
        seg = segmenter(mirrored)
        seg.prob = seg.prob[:, :, ::-1].copy()
    else:
        seg = segmenter(pre)
    if smooth:
        seg.prob = temporal_smooth(seg.prob)
    if one_chamber:
        seg.prob, notes = keep_one_chamber(seg.prob, lv_side)
        warnings.extend(notes)
    masks = seg.prob >= threshold
    scale = model_spacing or (1.0, 1.0)
    geometry = [lv_geometry(p, scale, threshold) if m.any() else None for p, m in zip(seg.prob, masks)]
    nan = float("nan")
    areas = np.array([g.area if g else nan for g in geometry])
    unit = MM3_PER_ML if model_spacing else 1.0
    volumes = np.array([g.volume_discs / unit if g else nan for g in geometry])
    volumes_al = np.array([g.volume_area_length / unit if g else nan for g in geometry])

    cycles = None
    view = None
    beats: list[BeatResult] = []
    if quality.verdict != "non_diagnostic" and np.isfinite(areas).sum() >= 3:
        filled = _fill_nan(areas)
        cycles = find_beats(filled, clip.fps)
        elong = np.array([g.length / max(g.max_width, 1e-9) if g else nan for g in geometry])
        angles = np.array([g.axis_angle_deg if g else nan for g in geometry])
        comps = np.array([g.n_components if g else 0 for g in geometry])
        waists = np.array([g.basal_waist if g else False for g in geometry])
        assess_segmentation(quality, masks, seg.prob, pre.fan_small, areas, cycles.smoothed, elong, angles, comps, waists)
        view = check_apical_view(pre.grey, masks, pre.fan_small)
        for reason in view.reasons:
            if view.apical is False:
                quality.fail(reason)
            else:
                warnings.append(f"view not checked: {reason}")
        for b in cycles.beats:
            ged, ges = geometry[b.ed], geometry[b.es]
            if ged is None or ges is None or not (volumes[b.ed] > 0):
                continue
            beats.append(
                BeatResult(
                    ed=b.ed,
                    es=b.es,
                    edv=float(volumes[b.ed]),
                    esv=float(volumes[b.es]),
                    ef=100.0 * float(volumes[b.ed] - volumes[b.es]) / float(volumes[b.ed]),
                    edv_al=float(volumes_al[b.ed]),
                    esv_al=float(volumes_al[b.es]),
                    ef_al=100.0 * float(volumes_al[b.ed] - volumes_al[b.es]) / float(volumes_al[b.ed]),
                    ed_area=ged.area,
                    es_area=ges.area,
                    ed_length=ged.length,
                    es_length=ges.length,
                )
            )
        candidates = len(beats)
        eds, ess = [b.ed for b in beats], [b.es for b in beats]
        fractions = [systolic_fraction(eds, ess, i) for i in range(candidates)]
        implausible = [
            b for b, f in zip(beats, fractions)
            if not (0.0 < b.ef < 95.0) or not plausible_systole(b.ed, b.es, clip.fps) or not plausible_systolic_fraction(f)
        ]
        if implausible:
            shares = ", ".join(f"{f:.0%}" for b, f in zip(beats, fractions) if b in implausible and f is not None)
            why = (
                f"{len(implausible)} of {candidates} candidate beat(s) discarded: EF outside 0-95%, end-diastole to end-systole "
                "interval outside 0.12-0.7 s, or systole outside 15-65% of the beat's cycle"
                + (f" (found {shares})" if shares else "")
                + " - a dip in the area curve, not an ejection"
            )
            beats = [b for b in beats if b not in implausible]
            if not beats:
                warnings.append(why)  # reported below as "no complete cardiac cycle"
            elif len(implausible) > len(beats):
                quality.fail(
                    "the LV area curve does not follow a consistent cardiac cycle: " + why
                    + "; the traced region is probably only part of the LV or not the same region in every frame"
                )
            else:
                quality.limit(why)
        beat_consistency(quality, [b.ef for b in beats])
        if not beats and quality.verdict != "non_diagnostic":
            quality.fail("no complete cardiac cycle (end-diastole then end-systole) was found in the LV area curve" + (f": {cycles.notes[0]}" if cycles.notes else ""))
        elif len(beats) == 1:
            warnings.append("only one beat in the clip: EF is not averaged over beats")
    elif quality.verdict != "non_diagnostic":
        quality.fail("the LV cavity was not found in the clip")

    return EchoAnalysis(clip, pre, spacing, model_spacing, seg, masks, geometry, areas, volumes, volumes_al, cycles, beats, quality, warnings, view)


def _fill_nan(x: np.ndarray) -> np.ndarray:
    x = x.astype(float).copy()
    ok = np.isfinite(x)
    if ok.all():
        return x
    idx = np.arange(len(x))
    x[~ok] = np.interp(idx[~ok], idx[ok], x[ok])
    return x
