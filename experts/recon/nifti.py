"""Write a reconstructed cine as NIfTI in the ACDC convention (x, y, z, t).

Why NIfTI: it is what the CMR expert reads for cine volumes; voxel
spacing lives in the header zooms (mm) so volumes come out in mL, and the
frame interval in the fourth zoom (ms) when known.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_cine_nifti(
    images_tzrc: np.ndarray,
    path: str | Path,
    spacing_mm: tuple[float, float, float],
    frame_interval_ms: float | None = None,
    description: str = "",
) -> Path:
    """`images_tzrc` is (frames, slices, rows, cols) as the methods return it."""
    import nibabel as nib

    data = np.ascontiguousarray(np.transpose(images_tzrc, (2, 3, 1, 0)).astype(np.float32))
    affine = np.diag([spacing_mm[0], spacing_mm[1], spacing_mm[2], 1.0])
    img = nib.Nifti1Image(data, affine)
    img.header.set_zooms((*spacing_mm, float(frame_interval_ms or 1.0)))
    # Unknown frame timing stays "unknown" so no reader derives a heart rate from it.
    img.header.set_xyzt_units("mm", "msec" if frame_interval_ms else "unknown")
    if description:
        img.header["descrip"] = description.encode()[:79]
    path = Path(path)
    nib.save(img, path)
    return path
