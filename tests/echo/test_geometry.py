"""Sector cropping and its inverse, LV volumes from masks, ED/ES picking,
and the simulator's truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experts.echo.clip import EchoClip
from experts.echo.cycles import find_beats
from experts.echo.sector import detect_fan, preprocess
from experts.echo.simulate import lv_axes_for_volume, sample_params, simulate_clip, truncated_ellipsoid_volume_ml
from experts.echo.volumes import lv_geometry


def _dice(a, b):
    return 2 * np.logical_and(a, b).sum() / max(a.sum() + b.sum(), 1)


def test_fan_is_found_despite_text_marker_and_ecg(sim_clip, sim_files):
    frames = sim_files["rgb"]
    r0, c0 = sim_files["offset"]
    h, w = sim_clip.frames.shape[1:]
    truth = np.zeros(frames.shape[1:3], bool)
    truth[r0 : r0 + h, c0 : c0 + w] = sim_clip.fan_mask
    fan = detect_fan(frames)
    assert fan.method == "temporal variation"
    assert _dice(fan.mask, truth) > 0.93
    assert fan.coloured_fraction < 0.01  # green ECG and marker are outside / static


def test_crop_round_trip_maps_masks_back(sim_clip, sim_files):
    clip = EchoClip(sim_files["rgb"], "sim", "dicom", fps=sim_clip.fps)
    pre = preprocess(clip, 112)
    r0, c0 = sim_files["offset"]
    h, w = sim_clip.frames.shape[1:]
    truth = np.zeros((sim_clip.frames.shape[0],) + clip.frames.shape[1:3], bool)
    truth[:, r0 : r0 + h, c0 : c0 + w] = sim_clip.lv_mask
    small = pre.crop.to_model(truth.astype(np.float32))
    back = pre.crop.to_original(small)
    assert pre.grey.shape == (sim_clip.frames.shape[0], 112, 112)
    assert np.mean([_dice(back[i], truth[i]) for i in range(0, len(truth), 8)]) > 0.95
    # model pixel centres map onto original coordinates linearly
    r, c = pre.crop.model_to_original(np.array([0.0, 111.0]), np.array([0.0, 111.0]))
    assert r[1] - r[0] == pytest.approx(111 * pre.crop.scale)


def test_discs_and_area_length_on_a_known_ellipse():
    """Full prolate ellipsoid of revolution, semi-axes 40 mm and 20 mm, imaged
    through its axis at 0.25 mm/pixel: V = 4/3 pi a b^2 = 67.0 mL."""
    a, b, sp = 40.0, 20.0, 0.25
    rr, cc = np.mgrid[0:400, 0:240]
    y, x = (rr + 0.5) * sp - 50.0, (cc + 0.5) * sp - 30.0
    mask = (y / a) ** 2 + (x / b) ** 2 <= 1
    g = lv_geometry(mask.astype(float), (sp, sp))
    true_ml = 4 / 3 * math.pi * a * b * b / 1000
    assert g.volume_discs / 1000 == pytest.approx(true_ml, rel=0.02)
    assert g.volume_area_length / 1000 == pytest.approx(true_ml, rel=0.02)
    assert g.length == pytest.approx(2 * a, rel=0.01)
    assert abs(g.axis_angle_deg) < 1


def test_anisotropic_pixels_and_unknown_spacing():
    """The same ellipse sampled with 0.25 x 0.5 mm pixels gives the same mL;
    without spacing the EF ratio of two frames is unchanged."""
    a, b = 40.0, 20.0
    rr, cc = np.mgrid[0:400, 0:120]
    y, x = (rr + 0.5) * 0.25 - 50.0, (cc + 0.5) * 0.5 - 30.0
    mask = ((y / a) ** 2 + (x / b) ** 2 <= 1).astype(float)
    g = lv_geometry(mask, (0.25, 0.5))
    assert g.volume_discs / 1000 == pytest.approx(4 / 3 * math.pi * a * b * b / 1000, rel=0.02)
    small = (((y / (0.9 * a)) ** 2 + (x / (0.8 * b)) ** 2) <= 1).astype(float)
    ef_mm = 1 - lv_geometry(small, (0.25, 0.5)).volume_discs / g.volume_discs
    # in pixel units the shapes differ (anisotropic), so compare on isotropic resampling instead
    iso = np.repeat(mask, 2, axis=1), np.repeat(small, 2, axis=1)
    ef_px = 1 - lv_geometry(iso[1]).volume_discs / lv_geometry(iso[0]).volume_discs
    assert ef_px == pytest.approx(ef_mm, abs=0.01)


def test_simulator_truth_volume_and_geometry():
    p = sample_params(7, width_px=240, height_px=240, n_frames=40)
    a, b = lv_axes_for_volume(p.edv_ml, p)
    assert truncated_ellipsoid_volume_ml(a, b, p.truncation) == pytest.approx(p.edv_ml, rel=1e-9)
    clip = simulate_clip(p, frame_indices=[0, 20])
    sp = clip.spacing_mm
    for i in (0, 20):
        g = lv_geometry(clip.lv_mask[i].astype(float), (sp, sp))
        assert g.volume_discs / 1000 == pytest.approx(clip.volumes_ml[i], rel=0.06)
    assert clip.frames.dtype == np.uint8 and not clip.frames[1].any()  # unrendered frames stay empty
    assert not (clip.lv_mask[0] & ~clip.fan_mask).any()


def test_simulator_is_deterministic():
    p = sample_params(11, n_frames=8, width_px=112, height_px=100)
    a, b = simulate_clip(p), simulate_clip(p)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.volumes_ml, b.volumes_ml)


def test_beats_from_an_area_curve():
    fps, hr = 50.0, 72.0
    t = np.arange(200) / fps
    phase = (t * hr / 60.0) % 1.0
    area = 1000 - 300 * np.sin(np.pi * np.clip(phase / 0.4, 0, 1)) ** 2
    area += np.random.default_rng(0).normal(0, 5, len(t))
    cyc = find_beats(area, fps)
    period = fps * 60 / hr
    assert cyc.heart_rate_bpm(fps) == pytest.approx(hr, rel=0.03)
    true_es = [round((k + 0.2) * period) for k in range(5) if (k + 0.2) * period < 199]
    for es in true_es[1:]:
        assert min(abs(es - s) for s in cyc.es_frames) <= 2
    for b in cyc.beats:
        assert b.ed < b.es and b.es - b.ed < period
    flat = find_beats(np.full(100, 500.0) + np.random.default_rng(1).normal(0, 1, 100), fps)
    assert flat.beats == [] and "no contraction" in flat.notes[0]
