"""Reconstruction methods behind one call: `reconstruct(study, method, params)`.

Each method takes the canonical `KSpaceStudy` and returns magnitude images
(frames, slices, rows, cols) at the scale of a fully sampled RSS image, so
metrics and the CMR expert see comparable intensities whichever method ran.
"""

from __future__ import annotations

import time

import numpy as np

from experts.recon.kspace import KSpaceStudy
from experts.recon.methods.common import ReconOutput, ReconParams, intensity_scale, limited_threads

METHODS = ("zero_filled", "sense", "cs", "varnet")
MULTI_COIL_ONLY = ("sense", "varnet")


def reconstruct(study: KSpaceStudy, method: str, params: ReconParams | None = None) -> ReconOutput:
    """Run one method on a study (k-space scaled to unit image range first,
    scaled back afterwards, so default regularisation weights transfer)."""
    params = params or ReconParams()
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    scale = intensity_scale(study)
    scaled = KSpaceStudy(**{**study.__dict__, "kspace": (study.kspace * study.mask[:, :, None] / scale).astype(np.complex64)})
    started = time.perf_counter()
    if method == "zero_filled":
        from experts.recon.methods.zero_filled import run
    elif method == "sense":
        from experts.recon.methods.sense import run
    elif method == "cs":
        from experts.recon.methods.cs import run
    else:
        from experts.recon.methods.varnet import run
    with limited_threads():
        out = run(scaled, params)
    out.images = (out.images * scale).astype(np.float32)
    out.runtime_s = time.perf_counter() - started
    return out
