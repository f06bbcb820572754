"""Small simulated acquisitions shared by the reconstruction tests.

Sizes are kept tiny (64×64, a few frames, 4 coils) so the default test run
stays fast; the real-data and full-size checks live in the slow/shared-data
tests and in benchmarks/ and evals/.
"""

from __future__ import annotations

import pytest

from experts.recon.phantom import make_cine_phantom
from experts.recon.simulate import fully_sampled_study, undersample


@pytest.fixture(scope="session")
def small_phantom():
    return make_cine_phantom(matrix=64, frames=6, slices=2, seed=11, pixel_mm=4.0, slice_mm=8.0)


@pytest.fixture(scope="session")
def full_study(small_phantom):
    return fully_sampled_study(
        small_phantom.images,
        coils=4,
        seed=3,
        noise_level=0.005,
        spacing_mm=small_phantom.spacing_mm,
        frame_interval_ms=small_phantom.frame_interval_ms,
    )


@pytest.fixture(scope="session")
def r4_study(full_study):
    return undersample(full_study, 4, acs=12)
