"""Compressed sensing with a sparsifying L1 penalty (Lustig et al., MRM 2007;
k-t SPARSE, Lustig et al., ISMRM 2006) via sigpy.

Solves min_x ½‖M F S x − y‖² + λ‖Ψ x‖₁ with Ψ = spatial Daubechies-4
wavelets (per frame) composed with a Fourier transform along time, by
FISTA (sigpy's GradientMethod with a unitary-transform proximal step).
For a single frame Ψ reduces to the plain L1-wavelet penalty of sigpy's
`L1WaveletRecon`; for cine the temporal Fourier transform makes the static
background and the periodic heart motion sparse, which is what lets CS
work at 8×. Coil maps come from ESPIRiT; single-coil data use unit maps.
"""

from __future__ import annotations

import numpy as np

from experts.recon.kspace import KSpaceStudy
from experts.recon.methods.coil_maps import espirit_maps
from experts.recon.methods.common import ReconOutput, ReconParams
from experts.recon.methods.sense import sense_operator

DEFAULT_LAMBDA = 0.01
DEFAULT_ITERATIONS = 40


def sparsifying_transform(frames: int, rows: int, cols: int):
    """Ψ: temporal FFT (when frames > 1) then 2-D db4 wavelet per frame."""
    import sigpy as sp

    ishape = (frames, 1, rows, cols)
    W = sp.linop.Wavelet(ishape, axes=(-2, -1), wave_name="db4")
    if frames == 1:
        return W
    return W * sp.linop.FFT(ishape, axes=(0,))


def run(study: KSpaceStudy, params: ReconParams, display_name: str = "k-space") -> ReconOutput:
    import sigpy as sp

    lam = DEFAULT_LAMBDA if params.lam is None else params.lam
    iters = params.iterations or DEFAULT_ITERATIONS
    if study.coils > 1:
        maps = espirit_maps(study, display_name)
    else:
        maps = np.ones((study.slices, 1, *study.matrix), dtype=np.complex64)
    rows, cols = study.matrix
    out = np.empty((study.frames, study.slices, rows, cols), dtype=np.float32)
    for z in range(study.slices):
        w = study.mask[:, z, None].astype(np.float32)
        A = sense_operator(maps[z], w, study.frames)
        y = study.kspace[:, z] * w
        Psi = sparsifying_transform(study.frames, rows, cols)
        proxg = sp.prox.UnitaryTransform(sp.prox.L1Reg(Psi.oshape, lam), Psi)
        # ‖A‖ ≤ 1 (unit-RSS maps, binary mask, orthonormal FFT): step 1 is safe.
        x = sp.app.LinearLeastSquares(A, y, proxg=proxg, max_iter=iters, alpha=1.0, show_pbar=False).run()
        out[:, z] = np.abs(x[:, 0])
    kind = "k-t (wavelet ⊗ temporal Fourier)" if study.frames > 1 else "wavelet"
    return ReconOutput(
        images=out,
        method="cs",
        description=f"L1 {kind} compressed sensing with ESPIRiT maps (sigpy FISTA), lambda={lam:g}, {iters} iterations",
        model="L1-wavelet CS",
    )
