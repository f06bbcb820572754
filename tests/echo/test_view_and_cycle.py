"""The apical-view check (image-based cavity shape) and the cardiac-cycle
timing rule, on synthetic images, simulated clips and the truth masks."""

from __future__ import annotations

import numpy as np
import pytest

from experts.echo.quality import plausible_systolic_fraction, systolic_fraction
from experts.echo.view import check_apical_view, sector_apex


def _fan(size: int = 112, half_angle_deg: float = 40.0) -> np.ndarray:
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    r = np.hypot(rows, cols - size / 2)
    ang = np.degrees(np.arctan2(cols - size / 2, rows))
    return (r <= size - 4) & (np.abs(ang) <= half_angle_deg)


def _clip_with_cavity(centre_rc, semi_axes, angle_deg, frames=8, size=112, seed=0):
    """Bright speckled tissue in a fan with one dark elliptical cavity."""
    rng = np.random.default_rng(seed)
    fan = _fan(size)
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    a, b = semi_axes
    t = np.radians(angle_deg)
    dr, dc = rows - centre_rc[0], cols - centre_rc[1]
    u = dr * np.cos(t) + dc * np.sin(t)  # along the axis (angle from vertical)
    v = -dr * np.sin(t) + dc * np.cos(t)
    cavity = (u / a) ** 2 + (v / b) ** 2 <= 1
    grey = np.where(cavity, 10.0, 120.0)[None] + rng.normal(0, 8, (frames, size, size))
    grey = np.clip(grey, 0, 255) * fan[None]
    return grey.astype(np.float32), np.repeat(cavity[None], frames, axis=0), fan


def test_sector_apex_is_the_top_of_the_fan():
    apex, depth = sector_apex(_fan())
    assert apex[0] == 0 and apex[1] == pytest.approx(56, abs=1)
    assert depth == pytest.approx(108, abs=2)


def test_elongated_cavity_along_the_beam_is_apical():
    grey, masks, fan = _clip_with_cavity((50, 62), (28, 14), angle_deg=5)
    view = check_apical_view(grey, masks, fan)
    assert view.apical is True and not view.reasons
    assert view.elongation == pytest.approx(2.0, abs=0.2)
    assert view.axis_from_beam_deg < 15


def test_round_cavity_is_not_apical_whatever_the_mask_shape():
    grey, round_masks, fan = _clip_with_cavity((55, 56), (16, 16), angle_deg=0)
    # A network with an apical prior draws a bullet inside the round cavity
    # (as the embedded U-Net does on simulated short-axis clips): the check
    # must measure the image, not the mask's shape. (Limit: the dark region
    # is searched within a quarter of the mask's diameter around it, so a
    # trace much narrower than the cavity would hide its roundness.)
    rows, cols = np.mgrid[0:112, 0:112]
    bullet = ((rows - 57) / 14.0) ** 2 + ((cols - 56) / 11.0) ** 2 <= 1
    for masks in (round_masks, np.repeat(bullet[None], len(grey), axis=0)):
        view = check_apical_view(grey, masks, fan)
        assert view.apical is False
        assert view.elongation < 1.2
        assert "nearly round" in view.reasons[0] and "non-apical" in view.reasons[0]


def test_cavity_across_the_beam_is_not_apical():
    grey, masks, fan = _clip_with_cavity((60, 56), (26, 12), angle_deg=80)
    view = check_apical_view(grey, masks, fan)
    assert view.apical is False and view.axis_from_beam_deg > 60
    assert "off the ultrasound beam" in view.reasons[0]


def test_view_is_not_judged_without_a_traced_cavity():
    grey, masks, fan = _clip_with_cavity((50, 62), (28, 14), angle_deg=5)
    view = check_apical_view(grey, np.zeros_like(masks), fan)
    assert view.apical is None and view.reasons


def test_systolic_fraction_of_each_beat():
    # Real pydicom clip with the classical baseline: beats (36, 57), (66, 76), (109, 114).
    eds, ess = [36, 66, 109], [57, 76, 114]
    fractions = [systolic_fraction(eds, ess, i) for i in range(3)]
    assert fractions == pytest.approx([21 / 30, 10 / 43, 5 / 43])
    assert [plausible_systolic_fraction(f) for f in fractions] == [False, True, False]
    # A simulated clip at 128/min, 27 frames/s: systole 5 frames of 12.
    assert plausible_systolic_fraction(systolic_fraction([7, 19], [12, 25], 0))
    assert systolic_fraction([7], [12], 0) is None and plausible_systolic_fraction(None)


class _TruthSegmenter:
    """The simulator's own masks as a perfect segmenter: the quality rules
    must not reject a correct trace of a simulated apical clip."""

    def __init__(self, sim, offset_rc):
        self.sim, self.offset = sim, offset_rc

    def __call__(self, pre):
        from experts.echo.segment import Segmentation

        T = self.sim.lv_mask.shape[0]
        H, W = pre.crop.frame_hw
        r0, c0 = self.offset
        h, w = self.sim.lv_mask.shape[1:]
        full = np.zeros((T, H, W), np.float32)
        full[:, r0 : r0 + h, c0 : c0 + w] = self.sim.lv_mask
        prob = pre.crop.to_model(full)
        return Segmentation(prob.astype(np.float32), "truth", None, "simulator truth")


def test_correct_trace_of_an_apical_clip_passes_view_and_cycle_rules(sim_clip, sim_files):
    from experts.echo.analysis import analyse_clip
    from experts.echo.clip import EchoClip, UltrasoundRegion

    rgb, (r0, c0) = sim_files["rgb"], sim_files["offset"]
    h, w = sim_clip.frames.shape[1:]
    clip = EchoClip(rgb, "sim", "dicom", fps=sim_clip.fps, fps_source="test", spacing_mm=None)
    clip.region = UltrasoundRegion(c0, r0, c0 + w - 1, r0 + h - 1, sim_clip.spacing_mm, sim_clip.spacing_mm, 1)
    an = analyse_clip(clip, _TruthSegmenter(sim_clip, (r0, c0)), threshold=0.5)
    assert an.view is not None and an.view.apical is True
    assert an.quality.verdict != "non_diagnostic", an.quality.reasons
    assert not any("candidate beat" in r for r in an.quality.reasons)
    assert an.ef_mean == pytest.approx(sim_clip.ef_true, abs=5)
