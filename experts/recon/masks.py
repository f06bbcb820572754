"""Cartesian undersampling patterns for simulated acquisitions.

`equispaced_acs` reproduces the CMRxRecon 2023 cine pattern: every R-th
phase-encode line plus a fully sampled block of 24 central (ACS) lines, the
nominal factor R counting the equispaced lines only. Shifting the first line
by one per frame ("time-interleaved") lets the frames together cover
k-space, which k-t methods exploit. `variable_density` draws lines at random
with a density that falls off from the centre (fastMRI-style random masks,
Lustig's variable-density CS sampling).
"""

from __future__ import annotations

import numpy as np


def equispaced_acs(
    n_cols: int, acceleration: int, frames: int = 1, acs: int = 24, interleave: bool = True
) -> np.ndarray:
    """(frames, n_cols) bool line mask."""
    if acceleration < 1:
        raise ValueError("acceleration must be >= 1")
    mask = np.zeros((frames, n_cols), dtype=bool)
    start = (n_cols - acs) // 2
    for t in range(frames):
        offset = (t % acceleration) if interleave else 0
        mask[t, offset::acceleration] = True
        mask[t, start : start + acs] = True
    return mask


def variable_density(
    n_cols: int, acceleration: float, frames: int = 1, acs: int = 24, seed: int = 0, decay: float = 3.0
) -> np.ndarray:
    """(frames, n_cols) bool line mask with `n_cols / acceleration` lines per
    frame in total (ACS included), drawn with density ∝ (1-|k|)^decay."""
    rng = np.random.default_rng(seed)
    n_lines = max(int(round(n_cols / acceleration)), acs)
    k = np.abs(np.arange(n_cols) - n_cols // 2) / (n_cols / 2)
    density = np.clip(1.0 - k, 1e-3, None) ** decay
    start = (n_cols - acs) // 2
    mask = np.zeros((frames, n_cols), dtype=bool)
    for t in range(frames):
        mask[t, start : start + acs] = True
        free = np.flatnonzero(~mask[t])
        extra = n_lines - acs
        if extra > 0:
            p = density[free] / density[free].sum()
            mask[t, rng.choice(free, size=extra, replace=False, p=p)] = True
    return mask


def expand_line_mask(line_mask: np.ndarray, slices: int, rows: int) -> np.ndarray:
    """(frames, cols) → (frames, slices, rows, cols) as KSpaceStudy keeps it."""
    frames, cols = line_mask.shape
    return np.broadcast_to(line_mask[:, None, None, :], (frames, slices, rows, cols)).copy()
