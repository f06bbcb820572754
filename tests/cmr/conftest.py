"""Small simulated studies shared by the CMR tests (generated, so they run
on a fresh clone), and the Sunnybrook location under ../shared/data."""

from __future__ import annotations

import numpy as np
import pytest

from experts.cmr.simulate import Acquisition, HeartParams, simulate_study


def small_study(seed: int = 7, n_phases: int = 10, n_slices: int = 9, lv_ef: float = 0.55, **acq_kw):
    """A quick stack: 112x112 at 1.8 mm, 10 mm slices, no supersampling."""
    heart = HeartParams(lv_radius_mm=27, lv_length_mm=78, wall_mm=9, lv_ef=lv_ef, rv_ef=0.5, rv_width_mm=45, rv_depth_mm=22)
    acq = Acquisition(
        pixel_mm=1.8,
        rows=112,
        cols=112,
        thickness_mm=8.0,
        gap_mm=2.0,
        n_phases=n_phases,
        first_w_mm=-8.0,
        n_slices=n_slices,
        noise=0.03,
        bias=0.2,
        supersample=1,
        subplanes=1,
        slice_shift_mm=np.zeros((n_slices, 2)),
        **acq_kw,
    )
    return simulate_study(seed, heart=heart, acq=acq)


@pytest.fixture(scope="session")
def sim_small():
    return small_study()


@pytest.fixture(scope="session")
def sunnybrook(shared_data):
    d = shared_data / "cmr" / "sunnybrook"
    if not d.is_dir():
        pytest.skip("Sunnybrook data not in ../shared/data/cmr")
    return d
