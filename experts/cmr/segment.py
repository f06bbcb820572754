"""Segment every slice of every phase, then clean the label maps.

Why two passes: the network sees 1.5 mm pixels in a 192 mm field, so it
must be pointed at the heart. A first pass over a wide, coarse field
(2.5 mm pixels) on a few middle slices finds the ventricles; the fine pass
is centred on them. Cine motion is the fallback when the coarse pass finds
nothing (it peaks over the heart but also over the diaphragm).

Clean-up follows how experts contour: one LV pool per slice, holes in it
(papillary muscles, trabeculae) belong to the pool, myocardium must touch
that pool (or be an apical cap), one RV pool per slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experts.cmr.cine import CineStack
from experts.cmr.labels import LV, MYO, RV
from experts.cmr.models import Segmenter
from experts.cmr.preprocess import GridMap, heart_centre, normalise


@dataclass
class Segmentation:
    labels: np.ndarray  # (T, Z, H, W) canonical uint8
    centre: tuple[float, float]  # native (row, col) the fine pass was centred on
    located_by: str  # "network" | "motion" | "image centre"


def _run(seg: Segmenter, images: np.ndarray, gm: GridMap, conv, groups=None, batch: int = 32) -> np.ndarray:
    """(N, H, W) native images -> (N, H, W) uint8 labels on the native grid
    (probabilities are resampled, then argmax; one batch at a time so a
    large cine never holds all class maps in memory)."""
    out = np.empty(images.shape, dtype=np.uint8)
    x_all = normalise(gm.to_model(images), conv, groups)
    for i in range(0, x_all.shape[0], batch):
        probs = seg.predict(x_all[i : i + batch])
        out[i : i + batch] = gm.to_native(probs).argmax(dim=1).numpy().astype(np.uint8)
    return out


def locate_heart(stack: CineStack, seg: Segmenter) -> tuple[tuple[float, float], str]:
    T, Z, H, W = stack.images.shape
    if seg.coarse is not None:
        zs = list(range(Z // 4, max(Z // 4 + 1, (3 * Z + 3) // 4)))
        ts = sorted({0, T // 3}) if T > 1 else [0]
        imgs = stack.images[np.ix_(ts, zs)].reshape(-1, H, W)
        gm = GridMap.for_stack((H, W), stack.pixel_spacing_mm, ((H - 1) / 2, (W - 1) / 2), seg.coarse)
        lab = _run(seg, imgs, gm, seg.coarse)
        heart = np.isin(lab, [LV, MYO, RV])
        lv = lab == LV
        if lv.sum() * stack.pixel_spacing_mm[0] * stack.pixel_spacing_mm[1] > 300:  # > 3 cm^2 in total
            rr, cc = np.nonzero(heart.any(axis=0))
            weights = heart.sum(axis=0)[rr, cc]
            return (float((rr * weights).sum() / weights.sum()), float((cc * weights).sum() / weights.sum())), "network"
    if T > 1:
        return heart_centre(stack.images, stack.pixel_spacing_mm), "motion"
    return ((H - 1) / 2.0, (W - 1) / 2.0), "image centre"


def segment_stack(stack: CineStack, seg: Segmenter) -> Segmentation:
    T, Z, H, W = stack.images.shape
    if seg.convention.pixel_spacing_mm is None:
        centre, how = ((H - 1) / 2.0, (W - 1) / 2.0), "image centre"
    else:
        centre, how = locate_heart(stack, seg)
    gm = GridMap.for_stack((H, W), stack.pixel_spacing_mm, centre, seg.convention)
    flat = stack.images.reshape(T * Z, H, W)
    groups = [slice(t * Z, (t + 1) * Z) for t in range(T)]  # one "volume" per phase
    labels = _run(seg, flat, gm, seg.convention, groups).reshape(T, Z, H, W)
    labels = clean_labels(labels, stack.pixel_spacing_mm)
    return Segmentation(labels=labels, centre=centre, located_by=how)


RV_MAX_GAP_MM = 10.0  # an RV pool lies against the septum: within this distance of the LV


def clean_labels(labels: np.ndarray, spacing_mm: tuple[float, float] = (1.5, 1.5)) -> np.ndarray:
    """Per image: largest LV component with holes filled, myocardium
    connected to it, and the largest RV component that lies next to the LV
    (false RV on liver or bowel is dropped). Works on (..., H, W)."""
    from scipy import ndimage as ndi

    out = labels.copy()
    flat = out.reshape(-1, *labels.shape[-2:])
    reach = max(1, int(round(RV_MAX_GAP_MM / min(spacing_mm))))
    for i in range(flat.shape[0]):
        flat[i] = _clean_one(flat[i], ndi, reach)
    return out


def _largest(mask: np.ndarray, ndi) -> np.ndarray:
    lab, n = ndi.label(mask)
    if n <= 1:
        return mask
    sizes = ndi.sum(mask, lab, index=range(1, n + 1))
    return lab == (int(np.argmax(sizes)) + 1)


def _clean_one(img: np.ndarray, ndi, rv_reach: int = 7) -> np.ndarray:
    if not img.any():
        return img
    out = np.zeros_like(img)
    lv = _largest(img == LV, ndi)
    myo = img == MYO
    if lv.any():
        lv = ndi.binary_fill_holes(lv)
        # myocardium: components touching the pool (within 2 px)
        near = ndi.binary_dilation(lv, iterations=2)
        lab, n = ndi.label(myo)
        keep = np.unique(lab[near & myo])
        myo = np.isin(lab, keep[keep > 0])
        # pixels enclosed by the myocardial ring but labelled otherwise are pool
        ring = ndi.binary_fill_holes(myo | lv)
        lv = lv | (ring & ~myo)
    else:
        myo = _largest(myo, ndi)  # apical cap without a cavity
    rv = (img == RV) & ~lv & ~myo
    if rv.any() and (lv.any() or myo.any()):
        near = ndi.binary_dilation(lv | myo, structure=np.ones((3, 3), bool), iterations=rv_reach)
        lab, n = ndi.label(rv)
        touching = np.unique(lab[near & rv])
        rv = np.isin(lab, touching[touching > 0])
    rv = _largest(rv, ndi)
    out[rv] = RV
    out[myo] = MYO
    out[lv] = LV
    return out
