"""Real anatomy: simulated k-space from the Sunnybrook cine magnitudes of a
patient the embedded VarNet never saw (SC-HF-I-4).

CG-SENSE is not asserted here: on these field-of-view-filling crops its
ESPIRiT maps deviate in a few per cent of the pixels and it lands near the
zero-filled PSNR (documented in experts/recon/README.md)."""

from __future__ import annotations

import numpy as np
import pytest

from experts.recon.methods import reconstruct
from experts.recon.metrics import psnr, ssim
from experts.recon.simulate import fully_sampled_study, undersample
from experts.recon.sunnybrook import centre_crop, load_dicom_cine

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def sunnybrook_slice(shared_data):
    folder = shared_data / "cmr" / "sunnybrook" / "SC-HF-I-4" / "dicom"
    if not folder.is_dir():
        pytest.skip("Sunnybrook SC-HF-I-4 not in shared data")
    cine = load_dicom_cine(folder)
    assert cine.images.shape == (256, 256, 10, 20)
    assert cine.spacing_mm[0] == pytest.approx(1.2891) and cine.frame_interval_ms > 0
    z = cine.images.shape[2] // 2
    images = centre_crop(cine.images[:, :, z : z + 1, :10], 128)
    return fully_sampled_study(images, coils=8, seed=5, spacing_mm=cine.spacing_mm, frame_interval_ms=cine.frame_interval_ms)


@pytest.mark.parametrize("method", ["cs", "varnet"])
def test_methods_beat_zero_filling_on_real_anatomy(sunnybrook_slice, method):
    us = undersample(sunnybrook_slice, 4, acs=16)
    ref = sunnybrook_slice.reference
    zf = reconstruct(us, "zero_filled").images
    out = reconstruct(us, method).images
    assert psnr(ref, out) > psnr(ref, zf) + 1.5
    if method == "varnet":
        assert ssim(ref, out) > ssim(ref, zf)
