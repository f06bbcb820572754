"""One canonical label map for the whole CMR expert, with converters.

Why canonical: the embedded model, user-supplied MONAI weights, ACDC label
files and Sunnybrook contour polygons all use different numbers for the same
structures. Everything inside the expert speaks the convention of the MONAI
model-zoo bundle `ventricular_short_axis_3label` (0 background, 1 LV blood
pool, 2 LV myocardium, 3 RV blood pool); conversion happens once, at the
boundary where labels enter or leave.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

BACKGROUND, LV, MYO, RV = 0, 1, 2, 3

STRUCTURES: dict[int, str] = {LV: "LV blood pool", MYO: "LV myocardium", RV: "RV blood pool"}
SHORT: dict[int, str] = {LV: "LV", MYO: "MYO", RV: "RV"}

LabelConvention = Literal["canonical", "acdc"]

# source label -> canonical label
_TO_CANONICAL: dict[str, dict[int, int]] = {
    # MONAI ventricular_short_axis_3label: 1 LV pool, 2 myocardium, 3 RV pool.
    "canonical": {0: BACKGROUND, 1: LV, 2: MYO, 3: RV},
    # ACDC challenge: 1 RV cavity, 2 myocardium, 3 LV cavity.
    "acdc": {0: BACKGROUND, 1: RV, 2: MYO, 3: LV},
}


def to_canonical(labels: np.ndarray, convention: LabelConvention) -> np.ndarray:
    """Map a label array from `convention` to the canonical map. Values the
    convention does not define raise ValueError (a label file with 7 classes
    is not what we think it is)."""
    table = _TO_CANONICAL[convention]
    arr = np.asarray(labels)
    values = np.unique(arr)
    unknown = [int(v) for v in values if int(v) not in table or v != int(v)]
    if unknown:
        raise ValueError(f"label values {unknown[:5]} are not part of the {convention} convention (0-3)")
    lut = np.zeros(max(table) + 1, dtype=np.uint8)
    for src, dst in table.items():
        lut[src] = dst
    return lut[arr.astype(np.int64)]


def from_canonical(labels: np.ndarray, convention: LabelConvention) -> np.ndarray:
    """Inverse of `to_canonical`."""
    table = {dst: src for src, dst in _TO_CANONICAL[convention].items()}
    lut = np.zeros(4, dtype=np.uint8)
    for src, dst in table.items():
        lut[src] = dst
    return lut[np.asarray(labels).astype(np.int64)]


def polygon_mask(shape: tuple[int, int], xy: np.ndarray) -> np.ndarray:
    """Boolean mask of the pixels whose centres lie inside a polygon given as
    (x=column, y=row) points in pixel coordinates (the Sunnybrook and DICOM
    convention: pixel centres at integer coordinates)."""
    from matplotlib.path import Path as MplPath

    xy = np.asarray(xy, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) < 3:
        raise ValueError("a contour needs at least 3 (x, y) points")
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    pts = np.column_stack([xx.ravel(), yy.ravel()])
    return MplPath(xy).contains_points(pts).reshape(rows, cols)


def contours_to_labels(
    shape: tuple[int, int],
    endo: np.ndarray | None = None,
    epi: np.ndarray | None = None,
    rv_endo: np.ndarray | None = None,
) -> np.ndarray:
    """Canonical labels from contour polygons: inside the LV endocardium is
    LV pool, between endo- and epicardium is myocardium, inside an RV
    endocardial contour is RV pool."""
    out = np.zeros(shape, dtype=np.uint8)
    if epi is not None:
        out[polygon_mask(shape, epi)] = MYO
    if endo is not None:
        out[polygon_mask(shape, endo)] = LV
    if rv_endo is not None:
        rv = polygon_mask(shape, rv_endo) & (out == BACKGROUND)
        out[rv] = RV
    return out
