"""Readers on real DICOM echo clips (pydicom's bundled apical 4-chamber
clip and the full pydicom-data version) and on files we write ourselves."""

from __future__ import annotations

import numpy as np
import pytest

from experts.core.errors import InputError
from experts.echo.io import read_clip
from experts.echo.sector import detect_fan
from experts.echo.spacing import resolve_spacing
from tests.echo.conftest import pydicom_data_file


@pytest.fixture(scope="module")
def small_clip():
    from pydicom import examples

    return read_clip(str(examples.get_path("ybr_color")), "examples_ybr_color.dcm")


def test_real_ybr_clip_is_decoded_to_grey_rgb_once(small_clip):
    clip = small_clip
    assert clip.frames.shape == (30, 240, 320, 3) and clip.frames.dtype == np.uint8
    assert clip.details["photometric_interpretation"] == "YBR_FULL_422"
    # A grey echo decoded once is grey: channels agree. Converting YBR->RGB a
    # second time would shift energy into G (the "green echo" bug).
    f = clip.frames.astype(float)
    fan = f.mean(axis=-1) > 20
    assert abs(f[..., 1][fan].mean() - f[..., 0][fan].mean()) < 3
    assert np.abs(f[..., 1] - f[..., 0])[fan].mean() < 3


def test_real_clip_timing(small_clip):
    assert small_clip.fps == pytest.approx(30.0, abs=0.01)
    assert small_clip.fps_source.startswith("Frame Time")


def test_downsampled_clip_spacing_is_rescaled(small_clip):
    """The 320x240 example keeps the 640x480 original's ultrasound region
    (0.0510 cm/pixel, corner at (595, 414)); spacing must double."""
    region = small_clip.region
    assert (region.x0, region.y0, region.x1, region.y1) == (84, 31, 595, 414)
    assert region.delta_x_mm == pytest.approx(0.5105, abs=1e-4)
    fan = detect_fan(small_clip.frames)
    decision = resolve_spacing(small_clip, fan.bbox)
    assert decision.scale == pytest.approx(0.5)
    assert decision.spacing_mm == pytest.approx((1.0210, 1.0210), abs=1e-3)
    assert "rescaled" in decision.notes[0]


@pytest.mark.slow
def test_full_size_clip_matches_the_small_one():
    clip = read_clip(pydicom_data_file("color3d_jpeg_baseline.dcm"), "color3d_jpeg_baseline.dcm")
    assert clip.frames.shape == (120, 480, 640, 3)
    decision = resolve_spacing(clip, detect_fan(clip.frames[:30]).bbox)
    assert decision.scale == 1.0 and decision.spacing_mm == pytest.approx((0.5105, 0.5105), abs=1e-4)
    from pydicom import examples

    small = read_clip(str(examples.get_path("ybr_color")), "small.dcm")
    # Same acquisition at half size: the first frame, downsampled 2x, matches.
    big = clip.frames[0].astype(float).mean(axis=-1).reshape(240, 2, 320, 2).mean(axis=(1, 3))
    sm = small.frames[0].astype(float).mean(axis=-1)
    assert np.corrcoef(big.ravel(), sm.ravel())[0, 1] > 0.9


def test_our_dicom_and_videos_round_trip(sim_clip, sim_files):
    dcm = read_clip(sim_files["dicom"], "sim_a4c.dcm", "dicom")
    assert dcm.n_frames == sim_clip.frames.shape[0]
    assert dcm.fps == pytest.approx(sim_clip.fps, rel=1e-3)
    assert dcm.region is not None and dcm.region.delta_x_mm == pytest.approx(sim_clip.spacing_mm)
    r0, c0 = sim_files["offset"]
    h, w = sim_clip.frames.shape[1:]
    assert np.array_equal(dcm.frames, sim_files["rgb"])  # uncompressed RGB: bit-exact
    for key in ("avi", "mp4"):
        vid = read_clip(sim_files[key], f"sim.{key}", "video")
        assert vid.source_format == "video" and vid.spacing_mm is None and vid.region is None
        assert vid.n_frames == sim_clip.frames.shape[0]
        assert vid.fps == pytest.approx(sim_clip.fps, rel=0.01)
        err = np.abs(vid.grey()[:, r0 : r0 + h, c0 : c0 + w] - sim_clip.frames.astype(np.float32)).mean()
        assert err < 12, f"{key}: mean abs error {err:.1f} grey levels after lossy coding"


def test_unreadable_files_name_the_problem(tmp_path, sim_files):
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_clip(empty, "empty.dcm")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00AVI " + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="video") as exc:
        read_clip(junk, "junk.avi", "video")
    assert exc.value.file == "junk.avi"
    data = sim_files["dicom"].read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="cut.dcm"):
        read_clip(cut, "cut.dcm", "dicom")


def test_still_image_and_non_ultrasound_are_refused():
    from pydicom import examples

    with pytest.raises(InputError, match="not an ultrasound"):
        read_clip(str(examples.get_path("mr")), "mr.dcm", "dicom")
    with pytest.raises(InputError, match="single still"):
        read_clip(pydicom_data_file("US1_UNCR.dcm"), "US1_UNCR.dcm", "dicom")
