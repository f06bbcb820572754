"""Readers and writers: every format round-trips to the same canonical
k-space, the intake recognises what we write, and bad files fail with a
specific InputError."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from agent.intake.detect import detect
from experts.core.errors import InputError
from experts.recon.io import read_kspace
from experts.recon.kspace import KSpaceStudy, acs_width, infer_mask
from experts.recon.writers import write_cmrxrecon_mat, write_fastmri_h5, write_npz


def _masked(study):
    return study.kspace * study.mask[:, :, None]


def test_npz_round_trip(tmp_path, r4_study):
    path = write_npz(r4_study, tmp_path / "cine.npz")
    assert detect(path).kind == "kspace_npz"
    got = read_kspace(path, "npz", "cine.npz")
    np.testing.assert_array_equal(got.kspace, _masked(r4_study))
    np.testing.assert_array_equal(got.mask, r4_study.mask)
    np.testing.assert_allclose(got.reference, r4_study.reference)
    assert got.spacing_mm == pytest.approx(r4_study.spacing_mm)
    assert got.frame_interval_ms == pytest.approx(r4_study.frame_interval_ms)
    assert got.nominal_acceleration == 4
    assert got.acs_lines() == 12


def test_cmrxrecon_mat_round_trip_keeps_axes(tmp_path, r4_study):
    path = write_cmrxrecon_mat(r4_study, tmp_path / "cine_sax.mat", variable="kspace_sub04")
    with open(path, "rb") as fh:
        assert fh.read(10) == b"MATLAB 7.3"
    found = detect(path)
    assert found.kind == "kspace_hdf5" and found.meta["matlab"] is True
    with h5py.File(path, "r") as f:  # MATLAB order reversed on disk: (t, z, coil, ky, kx)
        t, z, c, rows, cols = r4_study.kspace.shape
        assert f["kspace_sub04"].shape == (t, z, c, cols, rows)
        assert f["kspace_sub04"].dtype.names == ("real", "imag")
    got = read_kspace(path, "hdf5", "cine_sax.mat")
    assert got.source_format == "cmrxrecon_mat"
    np.testing.assert_allclose(got.kspace, _masked(r4_study), rtol=0, atol=1e-7)
    np.testing.assert_array_equal(got.mask, r4_study.mask)  # inferred from the zero lines
    assert got.nominal_acceleration == 4
    assert got.spacing_mm is None  # CMRxRecon files carry no spacing


def test_cmrxrecon_mask_variable_is_used(tmp_path, full_study):
    from experts.recon.simulate import undersample

    us = undersample(full_study, 8, acs=8, interleave=False)
    path = write_cmrxrecon_mat(us, tmp_path / "cine.mat", variable="kspace_sub08", mask_variable="mask08")
    got = read_kspace(path, "hdf5", "cine.mat")
    np.testing.assert_array_equal(got.mask, us.mask)
    assert got.acs_lines() == 8


def test_fastmri_round_trip_with_header(tmp_path, r4_study):
    path = write_fastmri_h5(r4_study, tmp_path / "file_brain.h5")
    assert detect(path).kind == "kspace_hdf5"
    got = read_kspace(path, "hdf5", "file_brain.h5")
    assert got.source_format == "fastmri_hdf5"
    assert got.kspace.shape == (1, *r4_study.kspace.shape[1:])
    np.testing.assert_array_equal(got.kspace[0], _masked(r4_study)[0])
    np.testing.assert_array_equal(got.mask[0], r4_study.mask[0])
    assert got.spacing_mm == pytest.approx(r4_study.spacing_mm, rel=1e-4)
    assert got.output_shape == r4_study.matrix
    np.testing.assert_allclose(got.reference[0], r4_study.reference[0])


def test_fastmri_cine_extension_keeps_frames_masks_and_timing(tmp_path, r4_study):
    """Cine in the fastMRI layout: a leading frame axis, per-frame
    (time-interleaved) line masks and the frame interval in the header."""
    path = write_fastmri_h5(r4_study, tmp_path / "cine_fastmri.h5", frame=None)
    with h5py.File(path, "r") as f:
        assert f["kspace"].shape == r4_study.kspace.shape
        assert f["mask"].shape == (r4_study.frames, r4_study.matrix[1])  # lines differ per frame
        assert f["reconstruction_rss"].shape == r4_study.reference.shape
    got = read_kspace(path, "hdf5", "cine_fastmri.h5")
    np.testing.assert_array_equal(got.kspace, _masked(r4_study))
    np.testing.assert_array_equal(got.mask, r4_study.mask)
    np.testing.assert_allclose(got.reference, r4_study.reference)
    assert got.frame_interval_ms == pytest.approx(r4_study.frame_interval_ms, rel=1e-4)
    assert got.spacing_mm == pytest.approx(r4_study.spacing_mm, rel=1e-4)
    assert got.acs_lines() == 12


def test_fastmri_mask_of_the_wrong_shape_is_named(tmp_path, r4_study):
    path = write_fastmri_h5(r4_study, tmp_path / "bad_mask.h5", frame=None)
    with h5py.File(path, "a") as f:
        del f["mask"]
        f.create_dataset("mask", data=np.ones((3, 5), np.float32))
    with pytest.raises(InputError, match=r"'mask' has shape \(3, 5\)"):
        read_kspace(path, "hdf5", "bad_mask.h5")


def test_fastmri_single_coil_is_read_as_one_coil(tmp_path):
    ksp = (np.random.default_rng(0).standard_normal((2, 32, 32)) + 1j).astype(np.complex64)
    with h5py.File(tmp_path / "single.h5", "w") as f:
        f.create_dataset("kspace", data=ksp)
    got = read_kspace(tmp_path / "single.h5", "hdf5", "single.h5")
    assert got.coils == 1 and got.slices == 2
    assert any("single-coil" in n for n in got.notes)


@pytest.mark.parametrize(
    "arrays, problem",
    [
        ({"kspace": np.ones((4, 32, 32), np.float32)}, "real-valued"),
        ({"kspace": np.ones((32, 32), np.complex64)}, "shape"),
        ({"kspace": np.zeros((4, 32, 32), np.complex64)}, "all zeros"),
        ({"kspace": np.full((4, 32, 32), np.nan, np.complex64)}, "NaN"),
        ({"kspace": np.ones((4, 4, 4), np.complex64)}, "too small"),
        ({"image": np.ones((4, 32, 32), np.complex64)}, "no 'kspace'"),
        ({"kspace": np.ones((4, 32, 32), np.complex64), "mask": np.ones(7)}, "does not fit"),
        ({"kspace": np.ones((4, 32, 32), np.complex64), "spacing_mm": np.array([1.0, -1.0, 8.0])}, "positive"),
    ],
)
def test_npz_problems_are_named(tmp_path, arrays, problem):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=problem) as info:
        read_kspace(path, "npz", "upload.npz")
    assert info.value.file == "upload.npz"


def test_truncated_and_foreign_files(tmp_path, r4_study):
    good = write_npz(r4_study, tmp_path / "good.npz")
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="(truncated|not a readable)"):
        read_kspace(cut, "npz", "cut.npz")
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(InputError, match="HDF5"):
        read_kspace(text, "hdf5", "notes.h5")
    with h5py.File(tmp_path / "img.h5", "w") as f:
        f.create_dataset("image", data=np.ones((4, 4)))
    with pytest.raises(InputError, match="no k-space dataset"):
        read_kspace(tmp_path / "img.h5", "hdf5", "img.h5")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_kspace(empty, "npz", "empty.npz")


def test_mask_inference_and_acs():
    ksp = np.zeros((2, 1, 3, 8, 16), np.complex64)
    ksp[:, :, :, :, 6:10] = 1
    ksp[0, :, :, :, 0] = 1
    ksp[1, :, :, :, 1] = 1
    mask = infer_mask(ksp)
    assert mask.shape == (2, 1, 8, 16)
    assert acs_width(mask) == 4
    study = KSpaceStudy(kspace=ksp, mask=mask, source_format="npz")
    assert study.acceleration() == pytest.approx(16 / 5)
    assert study.line_mask().shape == (2, 1, 16)


def test_view_sharing_takes_the_nearest_sampling_frame():
    from experts.recon.kspace import view_shared_kspace

    frames, cols = 6, 9
    ksp = np.zeros((frames, 1, 1, 2, cols), np.complex64)
    mask = np.zeros((frames, 1, 2, cols), bool)
    for t in range(frames):
        mask[t, :, :, t % 3 :: 3] = True
        ksp[t, :, :, :, t % 3 :: 3] = t + 1  # value = source frame + 1
    shared = view_shared_kspace(ksp, mask)
    sampled = np.broadcast_to(mask[:, :, None], ksp.shape)
    np.testing.assert_array_equal(shared[sampled], ksp[sampled])  # measured lines untouched
    assert shared[0, 0, 0, 0, 1] == 2  # column 1 sampled by frames 1 and 4: frame 1 is nearer
    assert shared[0, 0, 0, 0, 2] == 6  # column 2 sampled by frames 2 and 5: frame 5 is 1 away cyclically
    assert shared[3, 0, 0, 0, 2] == 3  # frame 3: frame 2 (distance 1) beats frame 5 (distance 2)
    # a bounded window (how the LVEF loss was traced, README): farther lines stay empty
    np.testing.assert_array_equal(view_shared_kspace(ksp, mask, max_distance=1), shared)  # every column is ≤ 1 frame away
    np.testing.assert_array_equal(view_shared_kspace(ksp, mask, max_distance=0), ksp * sampled)  # no sharing: zero-filled
    sparse = mask & (np.arange(frames) == 0)[:, None, None, None]  # only frame 0 sampled anything
    far = view_shared_kspace(ksp * sparse[:, :, None], sparse, max_distance=2)
    assert far[2, 0, 0, 0, 0] == 1 and far[3, 0, 0, 0, 0] == 0  # frame 3 is 3 frames from frame 0
