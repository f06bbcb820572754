"""Classical baseline: Otsu threshold to find the LV, then a morphological
active contour (Chan-Vese without edges) tracked frame to frame.

Why a baseline at all: the embedded network's numbers mean little unless
a simple, well-known method is scored on the same clips; this one uses no
training data, so its errors show what the network adds.

Algorithm:
1. On the clip's temporal maximum (a pixel stays dark only if no wall or
   leaflet ever crossed it), threshold the fan at the lower level of a three-class Otsu split and take
   the dark component nearest where the standard apical orientation puts
   the LV (image right of the midline, upper half): the LV core, cut off
   from the atrium by the moving leaflets.
2. Per frame, threshold at Otsu's level inside a region of interest
   around that core (and above its annulus limit), keep the dark component
   holding the core's centre, and refine its border with a few iterations
   of a morphological Chan-Vese level set (Marquez-Neila, Baumela & Alvarez,
   IEEE TPAMI 2014: binary level set, region-mean data term, curvature
   smoothing by SI/IS line operators).
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


def otsu_three_class_low(values: np.ndarray, bins: int = 64) -> float:
    """Lower threshold of a three-class Otsu split (blood / tissue / bright
    wall and pericardium): in echo the blood pool is the darkest class, and
    a two-class split lumps dark extracardiac tissue in with it."""
    hist, edges = np.histogram(values, bins=bins)
    p = hist / max(hist.sum(), 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    cw = np.concatenate([[0], np.cumsum(p)])
    cm = np.concatenate([[0], np.cumsum(p * centres)])
    total = cm[-1]
    best, best_t = -1.0, float(centres[bins // 3])
    for i in range(1, bins - 1):
        for j in range(i + 1, bins):
            w0, w1, w2 = cw[i], cw[j] - cw[i], 1 - cw[j]
            if min(w0, w1, w2) <= 0:
                continue
            m0, m1, m2 = cm[i] / w0, (cm[j] - cm[i]) / w1, (total - cm[j]) / w2
            var = w0 * (m0 - total) ** 2 + w1 * (m1 - total) ** 2 + w2 * (m2 - total) ** 2
            if var > best:
                best, best_t = var, float(edges[i])
    return best_t


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


def _initial_lv(max_img: np.ndarray, fan: np.ndarray) -> tuple[np.ndarray, int]:
    """LV core on the temporal *maximum* image: a pixel stays dark there
    only if no tissue ever crossed it, so walls at their innermost position
    and the sweeping mitral leaflets separate the LV core from the atrium.
    The core is the dark component nearest the place apical views put the
    LV (right of the sector midline, upper half). Returns the core and the
    lowest row the contour may reach (core bottom plus room for the base to
    descend in diastole)."""
    rows, cols = np.nonzero(fan)
    r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
    thr = otsu_three_class_low(max_img[fan])
    dark = ndimage.binary_opening((max_img < thr) & fan, structure=np.ones((3, 3)), iterations=1)
    if not dark.any():
        return np.zeros_like(fan), int(r1)
    # A cavity core is enclosed by walls; dark extracardiac tissue runs out
    # to the sector edge, so components touching the edge are not candidates.
    lab, n = ndimage.label(dark)
    edge = fan & ~ndimage.binary_erosion(fan, iterations=2)
    touching = np.asarray(ndimage.sum(edge, lab, np.arange(1, n + 1))) > 3
    dark = dark & ~np.isin(lab, np.nonzero(touching)[0] + 1)
    depth = ndimage.distance_transform_edt(dark)
    box = np.zeros_like(fan)
    h, w = r1 - r0, c1 - c0
    box[int(r0 + 0.15 * h) : int(r0 + 0.6 * h), int(c0 + 0.45 * w) : int(c0 + 0.85 * w)] = True
    cand = np.where(box, depth, 0)
    if cand.max() <= 0:
        return np.zeros_like(fan), int(r1)
    seed = np.unravel_index(int(np.argmax(cand)), cand.shape)
    lab, _ = ndimage.label(dark)
    core = ndimage.binary_fill_holes(lab == lab[seed])
    rr = np.nonzero(core.any(axis=1))[0]
    limit = int(rr.max() + 0.35 * (rr.max() - rr.min()) + 2)
    return core, limit


def segment_clip(grey: np.ndarray, fan: np.ndarray) -> np.ndarray:
    """(T, S, S) grey 0..255 -> (T, S, S) float32 binary masks.

    Each frame is thresholded on its own (Otsu inside a region of interest
    around the LV core, above the annulus limit), the dark component holding
    the core's centre is kept, and a few active-contour iterations refine
    its border. Frames are independent, so the contour follows the wall
    from ES to ED instead of sticking to the previous frame."""
    smooth = np.stack([ndimage.gaussian_filter(f, 1.2) for f in grey]).astype(np.float32)
    core, limit = _initial_lv(ndimage.gaussian_filter(smooth.max(axis=0), 1.0), fan)
    out = np.zeros(grey.shape, np.float32)
    if not core.any():
        return out
    cc = np.nonzero(core.any(axis=0))[0]
    margin = max(3, int(0.35 * (cc.max() - cc.min() + 1)))
    roi = ndimage.binary_dilation(core, iterations=margin) & fan
    roi[limit:] = False
    seed = np.unravel_index(int(np.argmax(ndimage.distance_transform_edt(core))), core.shape)
    prev = core
    for t in range(grey.shape[0]):
        img = smooth[t]
        dark = ndimage.binary_opening((img < otsu_threshold(img[roi])) & roi, structure=np.ones((3, 3)))
        lab, n = ndimage.label(dark)
        u = np.zeros_like(core)
        if n:
            k = lab[seed] if lab[seed] else int(np.argmax(ndimage.sum(core, lab, np.arange(1, n + 1)))) + 1
            u = ndimage.binary_fill_holes(lab == k)
        if u.any():
            u = morphological_chan_vese(img, u, roi, iterations=3)
            lab, n = ndimage.label(u)
            if n > 1:
                u = lab == (int(np.argmax(ndimage.sum(core, lab, np.arange(1, n + 1)))) + 1)
            u = ndimage.binary_fill_holes(u)
        if not u.any():
            u = prev  # nothing dark around the core this frame: keep the last contour
        out[t] = u
        prev = u
    return out
