"""The simulated acquisition: masks with the CMRxRecon pattern, smooth coil
maps, an exact-EF phantom and a noise-bearing RSS reference."""

from __future__ import annotations

import numpy as np
import pytest

from experts.recon import masks
from experts.recon.fourier import rss
from experts.recon.phantom import make_cine_phantom
from experts.recon.simulate import coil_maps, fully_sampled_study, undersample


def test_equispaced_acs_pattern_is_cmrxrecon_like():
    m = masks.equispaced_acs(192, 8, frames=8, acs=24)
    centre = slice(84, 108)
    assert m[:, centre].all()
    outside = np.ones(192, bool)
    outside[centre] = False
    assert all(m[t, outside].sum() in (20, 21) for t in range(8))  # every 8th of the remaining lines
    assert m.any(axis=0).all()  # time interleaving covers k-space over 8 frames
    assert not np.array_equal(m[0], m[1])
    fixed = masks.equispaced_acs(192, 8, frames=3, acs=24, interleave=False)
    assert (fixed == fixed[0]).all()


def test_variable_density_hits_its_rate():
    m = masks.variable_density(200, 5.0, frames=4, acs=16, seed=1)
    assert (m.sum(axis=1) == 40).all() and m[:, 92:108].all()


def test_coil_maps_are_smooth_and_normalised():
    maps = coil_maps(8, 64, 64, np.random.default_rng(3))
    assert maps.shape == (8, 64, 64) and rss(maps, 0).max() == pytest.approx(1.0, rel=1e-5)
    # no wrap-around seam: neighbouring pixels differ little anywhere in the field of view
    step = max(np.abs(np.diff(maps, axis=1)).max(), np.abs(np.diff(maps, axis=2)).max())
    assert step < 0.1


def test_phantom_ef_and_volumes():
    ph = make_cine_phantom(matrix=64, frames=10, slices=3, seed=4, ef=0.5, pixel_mm=4.0)
    assert ph.images.shape == (64, 64, 3, 10)
    assert ph.ef_percent == pytest.approx(50.0, abs=3.0)
    assert 20 < ph.edv_ml < 400 and ph.esv_ml < ph.edv_ml


def test_reference_is_rss_of_noisy_full_data(small_phantom):
    full = fully_sampled_study(small_phantom.images, coils=4, seed=1, noise_level=0.02)
    assert full.fully_sampled and full.reference.shape == (6, 2, 64, 64)
    us = undersample(full, 4, acs=12)
    assert not us.fully_sampled and us.reference is full.reference
    assert us.nominal_acceleration == 4 and 2 < us.acceleration() < 4
    assert np.all(us.kspace[~np.broadcast_to(us.mask[:, :, None], us.kspace.shape)] == 0)
