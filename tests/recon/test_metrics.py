"""fastMRI-style metrics: hand-checkable values and a cross-check of SSIM
against MONAI's implementation with the same window settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experts.recon.metrics import centre_crop, compare, nmse, psnr, ssim, ssim_2d


def test_nmse_and_psnr_by_hand():
    ref = np.zeros((1, 4, 4))
    ref[0, 0, 0] = 2.0
    rec = ref.copy()
    rec[0, 1, 1] = 1.0  # MSE = 1/16
    assert nmse(ref, rec) == pytest.approx(1 / 4)
    assert psnr(ref, rec) == pytest.approx(10 * np.log10(4 / (1 / 16)))


def test_identical_images_score_perfectly():
    img = np.random.default_rng(0).random((2, 3, 32, 32))
    q = compare(img, img.copy())
    assert q.nmse == 0 and q.ssim == pytest.approx(1.0) and q.psnr_db == float("inf")


@pytest.mark.slow  # importing MONAI takes tens of seconds on a loaded machine
def test_ssim_matches_monai_uniform_window():
    from monai.metrics import SSIMMetric

    rng = np.random.default_rng(1)
    ref = rng.random((48, 40))
    rec = ref + 0.1 * rng.standard_normal(ref.shape)
    ours = ssim_2d(ref, rec, data_range=float(ref.max()))
    metric = SSIMMetric(spatial_dims=2, data_range=float(ref.max()), kernel_type="uniform", win_size=7, k1=0.01, k2=0.03)
    theirs = float(metric(torch.tensor(rec)[None, None], torch.tensor(ref)[None, None]).item())
    assert ours == pytest.approx(theirs, abs=2e-3)
    assert 0.2 < ours < 0.95


def test_ssim_decreases_with_noise():
    rng = np.random.default_rng(2)
    ref = np.tile(np.linspace(0, 1, 64), (2, 64, 1))
    assert ssim(ref, ref + 0.01 * rng.standard_normal(ref.shape)) > ssim(ref, ref + 0.1 * rng.standard_normal(ref.shape))


def test_centre_crop():
    x = np.arange(6 * 8).reshape(6, 8)
    assert centre_crop(x, (2, 4)).tolist() == [[18, 19, 20, 21], [26, 27, 28, 29]]
    with pytest.raises(ValueError):
        centre_crop(x, (7, 2))
