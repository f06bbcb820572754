"""Is the RV segmentation believable next to the LV? (session 3)

Why: the RV is the harder ventricle to segment (thin wall, trabeculae, the
basal inflow/outflow); a model that misses part of it returns a small RV
EDV and a plausible-looking RVEF with nothing to say it is wrong. QA saw
RV EDV 74 mL next to LV EDV 183 mL on Sunnybrook SC-HF-I-1 with no warning.

Two checks, both about the reliability of the *segmentation*, never a
diagnosis (RV or LV dilatation changes the ratio too, so a warning says
"check the RV contours", not "small RV"):

1. RV EDV / LV EDV outside [0.5, 2.5]. Rationale: in healthy adults the RV
   EDV is about equal to or a little larger than the LV EDV (SCMR 2020
   normal-values review, section "Right ventricular dimensions and
   function", corpus passage cmr-ref-2020-rv-values), i.e. a ratio near 1.
   Disease moves it, but a ratio of 0.5 already needs an LV twice the size
   of its RV (e.g. a dilated LV with a normal RV) and 2.5 an RV two and a
   half times the LV (severe RV volume overload with a small LV); outside
   that band a segmentation failure is far more likely than physiology.
   The bounds are our engineering choice, not a published cut-off.
2. No RV pool on the most basal slice where the LV is counted (at RV ED):
   in a short-axis stack the RV inflow/outflow reaches at least as far
   basally as the LV base, so an RV that stops short of it has lost its
   basal slices -- the commonest cause of an under-measured RV.

Either makes every RV measurement `limited` and RV statements
`indeterminate` (tool.py).
"""

from __future__ import annotations

import numpy as np

from experts.cmr.labels import LV, RV
from experts.cmr.quantify import Function

RV_LV_EDV_RATIO_MIN = 0.5
RV_LV_EDV_RATIO_MAX = 2.5


def basal_end(fn: Function, labels: np.ndarray) -> tuple[int, int] | None:
    """(basal-most slice where the LV pool is counted at ED, step towards
    the base: -1 or +1), or None if the base cannot be told. The base is
    the side of the slices left out by the basal (>= 50 % myocardium) rule;
    without such a slice, the end of the counted LV with the larger pool
    (the apex tapers)."""
    ed = fn.ed
    pool = (labels[ed] == LV).any(axis=(1, 2))
    counted = np.nonzero(fn.curves.lv_included[ed] & pool)[0]
    if len(counted) < 2:
        return None
    first, last = int(counted[0]), int(counted[-1])
    basal_excluded = np.nonzero(pool & ~fn.curves.lv_included[ed])[0]
    if len(basal_excluded):
        before = int((basal_excluded < first).sum())
        after = int((basal_excluded > last).sum())
        if before != after:
            return (first, -1) if before > after else (last, 1)
    areas = (labels[ed] == LV).sum(axis=(1, 2))
    if areas[first] == areas[last]:
        return None
    return (first, -1) if areas[first] > areas[last] else (last, 1)


def rv_checks(fn: Function, labels: np.ndarray) -> list[str]:
    """Messages saying why the RV volumes are unreliable; empty if none."""
    v = fn.values
    out: list[str] = []
    if "rv_edv" not in v or "lv_edv" not in v or fn.rv_ed is None:
        return out
    rv_edv, lv_edv = v["rv_edv"], v["lv_edv"]
    if lv_edv > 0:
        ratio = rv_edv / lv_edv
        if ratio < RV_LV_EDV_RATIO_MIN or ratio > RV_LV_EDV_RATIO_MAX:
            side = "small" if ratio < RV_LV_EDV_RATIO_MIN else "large"
            out.append(
                f"RV EDV {rv_edv:.0f} mL is {ratio:.2f} x LV EDV {lv_edv:.0f} mL, outside the "
                f"{RV_LV_EDV_RATIO_MIN:g}-{RV_LV_EDV_RATIO_MAX:g} expected even with one ventricle dilated: the RV "
                f"segmentation is probably {'incomplete' if side == 'small' else 'spilling into neighbouring structures'} "
                "(or the LV one wrong); RV volumes and RVEF are unreliable, check the RV contours in the montage"
            )
    base = basal_end(fn, labels)
    if base is not None:
        b, step = base
        rv_present = (labels[fn.rv_ed] == RV).any(axis=(1, 2))
        if rv_present.any():
            basal_side = rv_present[: b + 1] if step < 0 else rv_present[b:]
            if not basal_side.any():
                out.append(
                    f"no RV blood pool on slice {b + 1} or beyond it, although the LV is still counted there (the "
                    "basal end): the basal RV slices are probably missing from the RV segmentation, so RV volumes "
                    "are underestimated"
                )
    return out
