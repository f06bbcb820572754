"""Each method on a small simulated cine: exact where it must be, better
than zero-filling where it claims to be, and clear errors where it cannot
run."""

from __future__ import annotations

import numpy as np
import pytest

from experts.core.errors import InputError
from experts.recon.kspace import KSpaceStudy
from experts.recon.methods import reconstruct
from experts.recon.metrics import nmse, psnr


def test_zero_filled_of_full_data_is_the_rss_reference(full_study):
    out = reconstruct(full_study, "zero_filled")
    np.testing.assert_allclose(out.images, full_study.reference, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", ["sense", "cs"])
def test_iterative_methods_beat_zero_filling(r4_study, method):
    ref = r4_study.reference
    zf = reconstruct(r4_study, "zero_filled").images
    out = reconstruct(r4_study, method)
    assert out.images.shape == ref.shape and out.images.dtype == np.float32
    assert psnr(ref, out.images) > psnr(ref, zf) + 2.0
    assert nmse(ref, out.images) < 0.5 * nmse(ref, zf)
    assert out.method == method and out.description


def test_cs_runs_single_coil_and_sense_refuses(r4_study):
    single = KSpaceStudy(**{**r4_study.__dict__, "kspace": r4_study.kspace[:, :, :1].copy()})
    out = reconstruct(single, "cs")
    assert np.isfinite(out.images).all() and out.images.max() > 0
    with pytest.raises(InputError, match="single-coil"):
        reconstruct(single, "sense")


def test_sense_needs_calibration_lines(full_study):
    from experts.recon.simulate import undersample

    no_acs = undersample(full_study, 4, acs=0, interleave=False)
    with pytest.raises(InputError, match="central k-space lines"):
        reconstruct(no_acs, "sense")


def test_unknown_method():
    with pytest.raises(ValueError):
        reconstruct(None, "magic")  # type: ignore[arg-type]
