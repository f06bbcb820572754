"""SENSE / CG-SENSE (Pruessmann et al., MRM 1999 and 2001) with ESPIRiT maps.

Solves min_x ½‖M F S x − y‖² + ½λ‖x‖² by conjugate gradient (sigpy's
LinearLeastSquares), all frames of a slice at once since they share the
coil maps. The small Tikhonov term and the bounded iteration count keep
noise amplification in check at high acceleration.
"""

from __future__ import annotations

import numpy as np

from experts.core.errors import InputError
from experts.recon.kspace import KSpaceStudy
from experts.recon.methods.coil_maps import espirit_maps
from experts.recon.methods.common import ReconOutput, ReconParams

DEFAULT_LAMBDA = 0.005
DEFAULT_ITERATIONS = 10


def sense_operator(maps: np.ndarray, weights: np.ndarray, frames: int):
    """Sampling ∘ 2-D FFT ∘ coil sensitivities for (frames, 1, rows, cols)
    images, with per-frame sampling weights (frames, 1, rows, cols).

    Built from sigpy linops directly: `sigpy.mri.linop.Sense` with an
    `ishape` carrying a frame axis would Fourier-transform over the frame and
    coil axes too (it transforms over all image dimensions)."""
    import sigpy as sp

    rows, cols = maps.shape[-2:]
    S = sp.linop.Multiply((frames, 1, rows, cols), maps)
    F = sp.linop.FFT(S.oshape, axes=(-2, -1))
    P = sp.linop.Multiply(F.oshape, weights)
    return P * F * S


def run(study: KSpaceStudy, params: ReconParams, display_name: str = "k-space") -> ReconOutput:
    import sigpy as sp

    if study.coils < 2:
        raise InputError(display_name, "single-coil k-space: SENSE needs at least 2 receive coils (use 'zero_filled' or 'cs')")
    lam = DEFAULT_LAMBDA if params.lam is None else params.lam
    iters = params.iterations or DEFAULT_ITERATIONS
    maps = espirit_maps(study, display_name)
    out = np.empty((study.frames, study.slices, *study.matrix), dtype=np.float32)
    for z in range(study.slices):
        w = study.mask[:, z, None].astype(np.float32)  # (frames, 1, rows, cols)
        A = sense_operator(maps[z], w, study.frames)
        y = study.kspace[:, z] * w
        x = sp.app.LinearLeastSquares(A, y, lamda=lam, max_iter=iters, show_pbar=False).run()
        out[:, z] = np.abs(x[:, 0])
    return ReconOutput(
        images=out,
        method="sense",
        description=f"CG-SENSE with ESPIRiT coil maps (sigpy), lambda={lam:g}, {iters} iterations",
        model="CG-SENSE/ESPIRiT",
    )
