"""Shared types and helpers of the reconstruction methods."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from experts.recon.fourier import ifft2c, rss
from experts.recon.kspace import KSpaceStudy


@dataclass
class ReconParams:
    lam: float | None = None  # regularisation weight (method default when None)
    iterations: int | None = None
    weights: str | None = None  # VarNet state dict path (embedded default when None)
    frame_batch: int = 4  # frames per network forward pass (memory bound)


@dataclass
class ReconOutput:
    images: np.ndarray  # float32 magnitude (frames, slices, rows, cols)
    method: str
    description: str  # one line for Measurement.method and the report
    model: str | None = None
    weights_sha256: str | None = None
    runtime_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def zero_filled_rss(kspace: np.ndarray) -> np.ndarray:
    """(frames, slices, coils, rows, cols) → (frames, slices, rows, cols)."""
    return rss(ifft2c(kspace), coil_axis=2).astype(np.float32)


def intensity_scale(study: KSpaceStudy) -> float:
    """The 99th percentile of the zero-filled RSS image: dividing k-space by
    it puts every study on a unit intensity range."""
    frame = zero_filled_rss(study.kspace[:1] * study.mask[:1, :, None])
    value = float(np.percentile(frame, 99))
    return value if value > 0 else 1.0


def calibration_width(study: KSpaceStudy, cap: int = 32) -> int:
    """Central phase-encode lines usable for coil calibration: the ACS block
    (sampled in every frame, so time averaging only lowers its noise), or,
    when it is narrow, the block sampled in at least one frame (filled by
    time averaging for time-interleaved cine; frames then disagree where the
    heart moves, so it is the second choice)."""
    from experts.recon.kspace import acs_width

    acs = study.acs_lines()
    if acs >= 16:
        return min(acs, cap)
    union = study.mask.any(axis=0)[None]
    return min(acs_width(union), cap)


# Why one thread by default: the agent runs experts side by side and the CPU
# is usually shared. Measured on a loaded 2-core machine, two OpenMP/BLAS
# threads made a small VarNet pass ~15× and ESPIRiT ~1.5× slower than one
# (threads spinning on synchronisation). CARDIO_RECON_THREADS overrides.
def recon_threads() -> int:
    try:
        return max(1, int(os.environ.get("CARDIO_RECON_THREADS", "1")))
    except ValueError:
        return 1


@contextmanager
def limited_threads(n: int | None = None):
    """Set torch and BLAS thread pools for the duration of a reconstruction,
    restoring the caller's settings afterwards."""
    n = n or recon_threads()
    torch_before = None
    try:
        import torch

        torch_before = torch.get_num_threads()
        torch.set_num_threads(n)
    except ImportError:  # torch is a dependency; this guards minimal installs
        pass
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            yield
        else:
            with threadpool_limits(n):
                yield
    finally:
        if torch_before is not None:
            import torch

            torch.set_num_threads(torch_before)
