"""The in-memory cine stack every reader produces and every step consumes.

Why one type: DICOM series, ACDC NIfTI files and reconstructed k-space all
end up as the same (phase, slice, row, column) array with its geometry in
millimetres, so segmentation and quantification never look at file formats
and the geometry checks are done once, by the reader that knows the format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class StackProblem:
    """A reason the stack cannot give trustworthy volumes (non-diagnostic) or
    can only give them with a caveat (limited)."""

    severity: str  # "limited" | "non_diagnostic"
    message: str


@dataclass
class CineStack:
    """A short-axis cine stack.

    `images` is float32 (T phases, Z slices, H rows, W columns). Slices are
    ordered by their position along the slice normal (ascending), phases by
    trigger time. `slice_positions_mm` are those positions (for DICOM the
    projection of ImagePositionPatient on the normal, never SliceLocation or
    SliceThickness). `affine_ras` maps (column i, row j, slice k) voxel
    indices to RAS millimetres, as NIfTI stores it.
    """

    images: np.ndarray
    pixel_spacing_mm: tuple[float, float]  # (between rows, between columns)
    slice_positions_mm: np.ndarray
    affine_ras: np.ndarray
    source_format: str  # "dicom" | "nifti" | "synthetic"
    files: list[str] = field(default_factory=list)  # display names of the files used
    slice_thickness_mm: float | None = None
    trigger_times_ms: np.ndarray | None = None  # (T,) mean over slices
    heart_rate_bpm: float | None = None
    ed_phase_hint: int | None = None  # 0-based, when the input states it
    es_phase_hint: int | None = None
    reference_labels: dict[int, np.ndarray] = field(default_factory=dict)  # phase -> (Z, H, W) canonical
    problems: list[StackProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # harmless facts worth telling the user
    # (T, Z) index into the DICOM datasets the stack came from (for DICOM SEG)
    dicom_frames: list[list[tuple[str, int | None]]] | None = None
    series_description: str = ""
    patient_sex: str | None = None  # from the DICOM header, "female"/"male"
    missing_slice_positions_mm: list[float] = field(default_factory=list)  # gaps bridged by the disc summation
    original_phases: list[int] | None = None  # 0-based phase numbers in the input, when this is a subset

    def phase_number(self, t: int) -> int:
        """1-based phase number as the input counts it."""
        return (self.original_phases[t] if self.original_phases else t) + 1

    @property
    def n_phases(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_slices(self) -> int:
        return int(self.images.shape[1])

    @property
    def slice_spacing_mm(self) -> float:
        """Centre-to-centre distance of adjacent slices (median)."""
        if self.n_slices < 2:
            return float(self.slice_thickness_mm or 0.0)
        return float(np.median(np.diff(self.slice_positions_mm)))

    @property
    def voxel_volume_ml(self) -> float:
        """Pixel area times slice spacing, in mL (1 mL = 1000 mm^3)."""
        return self.pixel_spacing_mm[0] * self.pixel_spacing_mm[1] * self.slice_spacing_mm / 1000.0

    def slice_weights_mm(self) -> np.ndarray:
        """Thickness each slice stands for in a disc summation: the spacing,
        or half the distance to each neighbour where spacing varies."""
        z = np.asarray(self.slice_positions_mm, dtype=float)
        if len(z) < 2:
            return np.array([float(self.slice_thickness_mm or 0.0)])
        d = np.diff(z)
        w = np.empty_like(z)
        w[0] = d[0]
        w[-1] = d[-1]
        if len(z) > 2:
            w[1:-1] = 0.5 * (d[:-1] + d[1:])
        return w

    def verdict(self) -> str:
        if any(p.severity == "non_diagnostic" for p in self.problems):
            return "non_diagnostic"
        if self.problems:
            return "limited"
        return "usable"
