"""Expert contours of the Sunnybrook Cardiac Data, as canonical labels.

Why here: the Sunnybrook contours are the only real expert labels the
project has; training (`train.py`), the measurements in `evals/` and the
real-data tests must all map them onto the cine stack the same way. A
contour file `IM-0001-NNNN-icontour-manual.txt` belongs to the image whose
InstanceNumber is NNNN; it lists (x=column, y=row) pixel coordinates.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from experts.cmr.cine import CineStack
from experts.cmr.labels import MYO, contours_to_labels

_CONTOUR_NAME = re.compile(r"IM-\d+-(\d+)-([io])contour-manual\.txt$")


@dataclass
class ContourImage:
    """Expert labels of one (phase, slice) image of a stack."""

    phase: int
    slice: int
    labels: np.ndarray  # canonical, (H, W)
    has_epi: bool


@dataclass
class SunnybrookReference:
    """Contour-derived labels and the volumes experts would report."""

    images: list[ContourImage] = field(default_factory=list)

    def by_slice(self) -> dict[int, list[ContourImage]]:
        out: dict[int, list[ContourImage]] = {}
        for im in self.images:
            out.setdefault(im.slice, []).append(im)
        return out

    def ed_es_per_slice(self) -> dict[int, tuple[ContourImage, ContourImage | None]]:
        """Per contoured slice, the ED image (the one with an epicardial
        contour, else the larger pool) and the ES image (the other one)."""
        out = {}
        for z, ims in self.by_slice().items():
            ims = sorted(ims, key=lambda im: (not im.has_epi, -int((im.labels == 1).sum())))
            out[z] = (ims[0], ims[1] if len(ims) > 1 else None)
        return out


def read_contour(path: str | Path) -> np.ndarray:
    xy = np.loadtxt(path, dtype=float, ndmin=2)
    if xy.shape[1] != 2 or len(xy) < 3:
        raise ValueError(f"{Path(path).name}: expected at least 3 'x y' lines")
    return xy


def load_sunnybrook_reference(patient_dir: str | Path, stack: CineStack) -> SunnybrookReference:
    """Rasterise a Sunnybrook patient's contours onto `stack` (read from the
    same patient's `dicom/` folder)."""
    import pydicom

    patient_dir = Path(patient_dir)
    if stack.dicom_frames is None:
        raise ValueError("the stack was not read from DICOM")
    where: dict[int, tuple[int, int]] = {}
    for t, row in enumerate(stack.dicom_frames):
        for z, (path, _frame) in enumerate(row):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["InstanceNumber"])
            where[int(ds.InstanceNumber)] = (t, z)
    contours: dict[int, dict[str, np.ndarray]] = {}
    for sub in ("i-contours", "o-contours"):
        for f in sorted((patient_dir / sub).glob("*.txt")):
            m = _CONTOUR_NAME.search(f.name)
            if not m:
                continue
            contours.setdefault(int(m.group(1)), {})["endo" if m.group(2) == "i" else "epi"] = read_contour(f)
    shape = stack.images.shape[2:]
    ref = SunnybrookReference()
    for inst, c in sorted(contours.items()):
        if inst not in where or "endo" not in c:
            continue  # an epicardial contour alone does not define the pool
        t, z = where[inst]
        labels = contours_to_labels(shape, endo=c["endo"], epi=c.get("epi"))
        ref.images.append(ContourImage(phase=t, slice=z, labels=labels, has_epi="epi" in c))
    return ref


def reference_volumes(ref: SunnybrookReference, stack: CineStack) -> dict[str, float]:
    """EDV, ESV, EF and LV mass the way the experts' contours give them:
    disc summation over the contoured slices, each at its own ED/ES phase,
    mass from the ED myocardium x 1.05 g/mL."""
    px = stack.pixel_spacing_mm[0] * stack.pixel_spacing_mm[1]
    weights = stack.slice_weights_mm()
    edv = esv = myo = 0.0
    n_myo = 0
    for z, (ed, es) in ref.ed_es_per_slice().items():
        w = float(weights[z])
        edv += float((ed.labels == 1).sum()) * px * w / 1000.0
        if es is not None:
            esv += float((es.labels == 1).sum()) * px * w / 1000.0
        if ed.has_epi:
            myo += float((ed.labels == MYO).sum()) * px * w / 1000.0
            n_myo += 1
    out = {"lv_edv": edv, "lv_esv": esv}
    if edv > 0:
        out["lv_sv"] = edv - esv
        out["lvef"] = 100.0 * (edv - esv) / edv
    if n_myo:
        out["lv_mass"] = 1.05 * myo
    return out
