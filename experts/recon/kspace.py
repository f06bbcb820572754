"""The in-memory k-space study every reader returns and every method consumes.

Canonical layout: `kspace[frame, slice, coil, row, col]`, complex64, with
rows the readout (fully sampled) direction and cols the phase-encode
direction that Cartesian acceleration skips. The fastMRI layout
(slice, coil, kx, ky) maps onto it directly; CMRxRecon's MATLAB
(kx, ky, coil, slice, frame) is transposed by the reader. The sampling mask is
kept per frame and slice as `mask[frame, slice, row, col]` so time-interleaved
cine patterns and 2-D (k-t radial/Gaussian) patterns need no special case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class KSpaceStudy:
    kspace: np.ndarray  # complex64 (frames, slices, coils, rows, cols), zeros where not sampled
    mask: np.ndarray  # bool (frames, slices, rows, cols)
    source_format: str  # "fastmri_hdf5" | "cmrxrecon_mat" | "npz"
    dataset_name: str = "kspace"
    reference: np.ndarray | None = None  # float32 magnitude (frames, slices, h, w); h, w may be a centre crop
    reference_origin: str | None = None  # where the reference came from, for the report
    spacing_mm: tuple[float, float, float] | None = None  # (row, col, slice) of the output grid
    frame_interval_ms: float | None = None
    output_shape: tuple[int, int] | None = None  # centre crop of the image grid (fastMRI reconSpace)
    nominal_acceleration: float | None = None  # as labelled by the file (e.g. CMRxRecon "sub08")
    notes: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return self.kspace.shape[0]

    @property
    def slices(self) -> int:
        return self.kspace.shape[1]

    @property
    def coils(self) -> int:
        return self.kspace.shape[2]

    @property
    def matrix(self) -> tuple[int, int]:
        return self.kspace.shape[3], self.kspace.shape[4]

    @property
    def fully_sampled(self) -> bool:
        return bool(self.mask.all())

    def acceleration(self) -> float:
        """Effective acceleration: k-space locations on the grid / locations
        sampled (ACS lines included, unlike CMRxRecon's nominal labels)."""
        return float(self.mask.size / max(int(self.mask.sum()), 1))

    def acs_lines(self) -> int:
        """Width of the central block of phase-encode lines sampled in every
        frame and slice (the auto-calibration signal)."""
        return acs_width(self.mask)

    def line_mask(self) -> np.ndarray | None:
        """(frames, slices, cols) when the mask is Cartesian (whole readout
        lines sampled or skipped), else None."""
        full = self.mask.all(axis=-2)
        empty = ~self.mask.any(axis=-2)
        if np.all(full | empty):
            return full
        return None


def infer_mask(kspace: np.ndarray) -> np.ndarray:
    """Sampled locations are those where any coil holds a non-zero sample.

    Why per frame and slice: CMRxRecon and fastMRI challenge files store the
    undersampled k-space with exact zeros in skipped lines; a measured sample
    is exactly zero in all coils with probability zero.
    """
    return np.any(kspace != 0, axis=2)


def acs_width(mask: np.ndarray) -> int:
    """Contiguous central phase-encode lines sampled in all frames/slices."""
    cols = mask.reshape(-1, *mask.shape[-2:]).all(axis=(0, 1))
    n = cols.shape[0]
    centre = n // 2
    if not cols[centre]:
        return 0
    left = centre
    while left - 1 >= 0 and cols[left - 1]:
        left -= 1
    right = centre
    while right + 1 < n and cols[right + 1]:
        right += 1
    return right - left + 1


def time_averaged_kspace(kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average each k-space location over the frames that sampled it:
    (frames, slices, coils, rows, cols) → (slices, coils, rows, cols).

    Why: time-interleaved cine masks sample every line in some frame, so
    the average is a (motion-blurred) fully sampled k-space — the classic
    source of coil maps and of a temporal prior in k-t methods.
    """
    counts = mask.sum(axis=0)  # (slices, rows, cols)
    total = kspace.sum(axis=0)
    return (total / np.maximum(counts, 1)[:, None]).astype(np.complex64)


def view_shared_kspace(kspace: np.ndarray, mask: np.ndarray, max_distance: int | None = None) -> np.ndarray:
    """Fill each frame's unsampled locations from the nearest frame in
    (cyclic) time that sampled them — sliding-window view sharing.

    Why nearest rather than the whole-cycle average: on held-out phantoms
    the RSS of nearest-frame sharing was 3.4 dB (R=4) and 0.9 dB (R=8)
    closer to the reference in the heart region than average sharing,
    because the heart moves less between neighbouring frames. Locations
    sampled in no frame stay zero. (frames, slices, coils, rows, cols)."""
    frames = kspace.shape[0]
    t = np.arange(frames)
    dist = np.abs(t[:, None] - t[None, :])
    dist = np.minimum(dist, frames - dist).astype(np.float32)  # cyclic: cine is ECG-gated
    out = np.empty_like(kspace)
    for f in range(frames):
        near = dist[f] if max_distance is None else np.where(dist[f] <= max_distance, dist[f], np.inf)
        cost = np.where(mask, near[:, None, None, None], np.inf)  # (frames, slices, rows, cols)
        src = np.argmin(cost, axis=0)  # nearest sampling frame per location
        gathered = np.take_along_axis(kspace, src[None, :, None], axis=0)[0]  # (slices, coils, rows, cols)
        sampled_near = np.isfinite(cost.min(axis=0))
        out[f] = np.where(sampled_near[:, None], gathered, 0)
    return out
