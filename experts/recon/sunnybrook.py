"""Load a Sunnybrook cine series (real short-axis magnitude DICOM) as a
(x, y, z, t) array, the image source for simulated acquisitions.

Why here: the recon expert's training and evaluation build k-space from
real anatomy; only the magnitude pixel data, pixel spacing, slice spacing and
trigger times are needed. Slices are ordered along the slice normal, phases
by TriggerTime (the dataset README's grouping).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class DicomCine:
    images: np.ndarray  # float32 (x=rows, y=cols, z, t)
    spacing_mm: tuple[float, float, float]
    frame_interval_ms: float
    instance_index: dict[int, tuple[int, int]]  # InstanceNumber → (slice, frame)


def load_dicom_cine(folder: str | Path) -> DicomCine:
    import pydicom

    files = sorted(Path(folder).glob("*.dcm"))
    if not files:
        raise FileNotFoundError(f"no .dcm files in {folder}")
    headers = [pydicom.dcmread(f) for f in files]
    ori = np.asarray(headers[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(ori[:3], ori[3:])
    by_pos: dict[float, list] = {}
    for ds in headers:
        pos = round(float(np.dot(np.asarray(ds.ImagePositionPatient, dtype=float), normal)), 2)
        by_pos.setdefault(pos, []).append(ds)
    positions = sorted(by_pos)
    frames = min(len(v) for v in by_pos.values())
    rows, cols = int(headers[0].Rows), int(headers[0].Columns)
    images = np.zeros((rows, cols, len(positions), frames), dtype=np.float32)
    index: dict[int, tuple[int, int]] = {}
    intervals = []
    for z, pos in enumerate(positions):
        series = sorted(by_pos[pos], key=lambda d: float(d.TriggerTime))[:frames]
        trig = [float(d.TriggerTime) for d in series]
        intervals.extend(np.diff(trig).tolist())
        for t, ds in enumerate(series):
            images[:, :, z, t] = ds.pixel_array.astype(np.float32)
            index[int(ds.InstanceNumber)] = (z, t)
    gaps = np.diff(positions)
    slice_mm = float(np.median(np.abs(gaps))) if len(gaps) else float(headers[0].SliceThickness)
    ps = [float(v) for v in headers[0].PixelSpacing]
    return DicomCine(
        images=images,
        spacing_mm=(ps[0], ps[1], slice_mm),
        frame_interval_ms=float(np.median(intervals)) if intervals else 0.0,
        instance_index=index,
    )


def centre_crop(images: np.ndarray, size: int) -> np.ndarray:
    """Crop (or zero-pad) x and y to size×size around the centre."""
    out = np.zeros((size, size, *images.shape[2:]), dtype=images.dtype)
    sx, sy = images.shape[:2]
    cx, cy = min(sx, size), min(sy, size)
    ox, oy = (sx - cx) // 2, (sy - cy) // 2
    px, py = (size - cx) // 2, (size - cy) // 2
    out[px : px + cx, py : py + cy] = images[ox : ox + cx, oy : oy + cy]
    return out
