"""Classical baseline: Otsu threshold to find the LV, then a morphological
active contour (Chan-Vese without edges) tracked frame to frame.

Why a baseline at all: the embedded network's numbers mean little unless
a simple, well-known method is scored on the same clips; this one uses no
training data, so its errors show what the network adds.

Algorithm:
1. On the clip's temporal mean (speckle averages out, the blood pool stays
   dark), threshold the fan at Otsu's level and pick the dark component
   most like an apical LV: large, right of the sector midline (standard
   apical orientation puts the LV on the image right), upper two thirds,
   not hugging the sector edge.
2. Per frame, evolve a morphological Chan-Vese level set (Marquez-Neila,
   Baumela & Alvarez, IEEE TPAMI 2014: binary level set, region-mean data
   term, curvature smoothing by SI/IS line operators) starting from the
   previous frame's mask, inside a band around it, so the contour follows
   the wall and cannot run off into other chambers in one step.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_LINES = [
    np.array([[0, 0, 0], [1, 1, 1], [0, 0, 0]], bool),
    np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]], bool),
    np.eye(3, dtype=bool),
    np.fliplr(np.eye(3, dtype=bool)),
]


def _sup_inf(u: np.ndarray) -> np.ndarray:
    return np.any([ndimage.binary_erosion(u, s) for s in _LINES], axis=0)


def _inf_sup(u: np.ndarray) -> np.ndarray:
    return np.all([ndimage.binary_dilation(u, s) for s in _LINES], axis=0)


def otsu_threshold(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=128)
    centres = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(centres[int(np.argmax(between))])


def morphological_chan_vese(image: np.ndarray, init: np.ndarray, region: np.ndarray, iterations: int = 6, smoothing: int = 1, lambda_in: float = 1.0, lambda_out: float = 1.5) -> np.ndarray:
    u = init & region
    for _ in range(iterations):
        inside, outside = u & region, ~u & region
        if not inside.any() or not outside.any():
            break
        c1, c0 = image[inside].mean(), image[outside].mean()
        gy, gx = np.gradient(u.astype(float))
        edge = (np.abs(gy) + np.abs(gx)) > 0
        force = lambda_in * (image - c1) ** 2 - lambda_out * (image - c0) ** 2
        u = u.copy()
        u[edge & (force < 0) & region] = True
        u[edge & (force > 0)] = False
        for _ in range(smoothing):
            u = _inf_sup(_sup_inf(u))
    return u


def _initial_lv(mean_img: np.ndarray, fan: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(fan)
    thr = otsu_threshold(mean_img[fan])
    dark = ndimage.binary_opening((mean_img < thr) & fan, structure=np.ones((3, 3)), iterations=2)
    lab, n = ndimage.label(dark)
    if n == 0:
        return np.zeros_like(fan)
    edge = fan & ~ndimage.binary_erosion(fan, iterations=3)
    r0, r1 = rows.min(), rows.max()
    c_mid = 0.5 * (cols.min() + cols.max())
    best, best_score = 0, 0.0
    for k in range(1, n + 1):
        comp = lab == k
        area = comp.sum()
        if area < 0.01 * fan.sum():
            continue
        rc, cc = np.nonzero(comp)
        score = float(area)
        score *= 1.0 if cc.mean() > c_mid - 2 else 0.3
        score *= 1.0 if rc.mean() < r0 + 0.65 * (r1 - r0) else 0.3
        score *= max(0.1, 1.0 - 3.0 * (comp & edge).sum() / max(np.sqrt(area), 1))
        if score > best_score:
            best, best_score = k, score
    if best == 0:
        return np.zeros_like(fan)
    return ndimage.binary_fill_holes(lab == best)


def segment_clip(grey: np.ndarray, fan: np.ndarray) -> np.ndarray:
    """(T, S, S) grey 0..255 -> (T, S, S) float32 binary masks."""
    smooth = np.stack([ndimage.gaussian_filter(f, 1.2) for f in grey]).astype(np.float32)
    init = _initial_lv(ndimage.gaussian_filter(smooth.mean(axis=0), 1.0), fan)
    out = np.zeros(grey.shape, np.float32)
    if not init.any():
        return out
    prev = init
    target_area = init.sum()
    for t in range(grey.shape[0]):
        band = ndimage.binary_dilation(prev, iterations=4) & fan
        u = morphological_chan_vese(smooth[t], prev, band)
        lab, n = ndimage.label(u)
        if n > 1:
            overlaps = ndimage.sum(prev, lab, index=np.arange(1, n + 1))
            u = lab == (int(np.argmax(overlaps)) + 1)
        u = ndimage.binary_fill_holes(u)
        # A leak (through the open mitral valve) or a collapse is rejected:
        # keep the previous contour rather than follow it.
        if not u.any() or u.sum() > 1.6 * target_area or u.sum() < 0.3 * target_area:
            u = prev
        out[t] = u
        prev = u
    return out
