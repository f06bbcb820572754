"""Coil sensitivity maps by ESPIRiT (Uecker et al., MRM 2014) via sigpy.

Why from the time-averaged k-space: in cine every frame shares the coil
maps; averaging the frames before calibration lowers noise and, for
time-interleaved masks, fills the calibration block beyond the ACS lines.
"""

from __future__ import annotations

import numpy as np

from experts.core.errors import InputError
from experts.recon.kspace import KSpaceStudy, time_averaged_kspace
from experts.recon.methods.common import calibration_width

MIN_CALIBRATION = 8


def espirit_maps(study: KSpaceStudy, display_name: str = "k-space", crop: float = 0.9) -> np.ndarray:
    """(slices, coils, rows, cols) complex64 maps, normalised to unit RSS
    inside the support and zero outside (ESPIRiT eigenvalue crop)."""
    import sigpy.mri as mr

    width = calibration_width(study)
    if width < MIN_CALIBRATION:
        raise InputError(
            display_name,
            f"only {width} fully sampled central k-space lines; SENSE/ESPIRiT needs at least {MIN_CALIBRATION} "
            "(use method 'zero_filled' or 'cs')",
        )
    averaged = time_averaged_kspace(study.kspace, study.mask)
    maps = np.empty(averaged.shape, dtype=np.complex64)
    for z in range(study.slices):
        maps[z] = mr.app.EspiritCalib(averaged[z], calib_width=width, crop=crop, show_pbar=False).run()
    return maps
