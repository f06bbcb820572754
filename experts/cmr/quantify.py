"""Ventricular volumes, EF and LV mass from a label stack.

Rules (stated in every measurement's method):
- Disc summation: volume = sum over slices of (pool area x the slice's
  share of the stack), the share being the centre-to-centre spacing
  (half the distance to each neighbour where a slice is missing).
- Basal slice rule: a slice counts for the LV at a phase only if its pool
  is surrounded by LV myocardium over at least 50 % of its border (the SCMR
  post-processing convention); otherwise it is atrium/outflow tract and both
  its pool and myocardium are left out at that phase. Apical slices count
  as long as a pool is segmented; a myocardium-only slice (the apical cap)
  counts only next to a counted slice with a cavity: the apical wall is
  thinner than one slice spacing, so "myocardium" further out is not LV
  (in practice diaphragm, liver or partial volume labelled as wall).
- Papillary muscles and trabeculae are part of the blood pool (holes in the
  pool are filled), as in the Sunnybrook and ACDC expert contours.
- ED / ES: the phases of maximal / minimal LV volume, unless the input
  names them (ACDC label files); RV ED / ES from the RV curve.
- LV mass: ED myocardial volume x 1.05 g/mL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from experts.cmr.cine import CineStack
from experts.cmr.labels import LV, MYO, RV

MYOCARDIAL_DENSITY_G_PER_ML = 1.05
BASAL_RING_FRACTION = 0.5


@dataclass
class VolumeCurves:
    lv_ml: np.ndarray  # (T,)
    myo_ml: np.ndarray
    rv_ml: np.ndarray
    lv_included: np.ndarray  # (T, Z) bool: slice counted for the LV at that phase
    rv_present: np.ndarray  # (T, Z)
    excluded_basal: list[tuple[int, int]] = field(default_factory=list)  # (phase, slice)


@dataclass
class Function:
    curves: VolumeCurves
    ed: int
    es: int
    rv_ed: int | None
    rv_es: int | None
    values: dict[str, float]
    problems: list[str]  # reasons volumes are withheld (non-diagnostic)
    caveats: list[str]  # reasons to read them with care (limited)
    ed_source: str


def ring_fraction(pool: np.ndarray, myo: np.ndarray) -> float:
    """Share of the pool's border pixels that touch myocardium."""
    from scipy import ndimage as ndi

    if not pool.any():
        return 0.0
    border = pool & ~ndi.binary_erosion(pool)
    if not border.any():
        return 0.0
    near_myo = ndi.binary_dilation(myo, iterations=1)
    return float((border & near_myo).sum()) / float(border.sum())


def volume_curves(labels: np.ndarray, stack: CineStack) -> VolumeCurves:
    T, Z = labels.shape[:2]
    px_ml = stack.pixel_spacing_mm[0] * stack.pixel_spacing_mm[1] / 1000.0
    weights = stack.slice_weights_mm()
    lv = np.zeros(T)
    myo = np.zeros(T)
    rv = np.zeros(T)
    included = np.zeros((T, Z), bool)
    rv_present = np.zeros((T, Z), bool)
    wall_only = np.zeros((T, Z), bool)
    excluded = []
    for t in range(T):
        for z in range(Z):
            img = labels[t, z]
            pool = img == LV
            wall = img == MYO
            n_pool, n_wall, n_rv = int(pool.sum()), int(wall.sum()), int((img == RV).sum())
            if n_rv:
                rv[t] += n_rv * px_ml * weights[z]
                rv_present[t, z] = True
            if n_pool == 0 and n_wall == 0:
                continue
            if n_pool and ring_fraction(pool, wall) < BASAL_RING_FRACTION:
                excluded.append((t, z))
                continue
            if n_pool == 0:
                wall_only[t, z] = True
                continue
            included[t, z] = True
            lv[t] += n_pool * px_ml * weights[z]
            myo[t] += n_wall * px_ml * weights[z]
        # apical cap: a myocardium-only slice next to a counted slice with a cavity
        with_cavity = included[t].copy()
        for z in np.nonzero(wall_only[t])[0]:
            if (z > 0 and with_cavity[z - 1]) or (z + 1 < Z and with_cavity[z + 1]):
                included[t, z] = True
                myo[t] += int((labels[t, z] == MYO).sum()) * px_ml * weights[z]
            else:
                excluded.append((t, int(z)))
    return VolumeCurves(lv, myo, rv, included, rv_present, excluded)


def _aspect_ratio(mask: np.ndarray) -> float:
    pts = np.argwhere(mask)
    if len(pts) < 10:
        return 1.0
    ev = np.linalg.eigvalsh(np.cov(pts.T.astype(float)))
    return float(np.sqrt(max(ev[-1], 1e-6) / max(ev[0], 1e-6)))


def quantify(labels: np.ndarray, stack: CineStack) -> Function:
    T, Z = labels.shape[:2]
    curves = volume_curves(labels, stack)
    problems: list[str] = []
    caveats: list[str] = []
    ed_source = "maximal LV volume"
    if stack.ed_phase_hint is not None and stack.es_phase_hint is not None:
        ed, es = stack.ed_phase_hint, stack.es_phase_hint
        ed_source = "phases named by the input"
    else:
        ed, es = int(np.argmax(curves.lv_ml)), int(np.argmin(curves.lv_ml))

    lv_slices_ed = np.nonzero(curves.lv_included[ed] & (labels[ed] == LV).any(axis=(1, 2)))[0]
    if T < 2:
        problems.append("only one cardiac phase: end-diastole and end-systole cannot both be identified, so no volumes or EF")
    if Z < 2:
        problems.append("single slice: ventricular volumes need a short-axis stack covering the ventricles")
    elif len(lv_slices_ed) < 3:
        problems.append(
            f"the LV blood pool was found on {len(lv_slices_ed)} slice(s) at end-diastole; a short-axis stack "
            "covering the LV shows it on at least 3"
        )
    if not problems:
        ratios = [_aspect_ratio(labels[ed, z] == LV) for z in lv_slices_ed]
        if ratios and float(np.median(ratios)) > 2.5:
            problems.append(
                f"the LV cavity is elongated in-plane (median aspect ratio {np.median(ratios):.1f}): these look like "
                "long-axis images, not a short-axis stack"
            )
    values: dict[str, float] = {}
    rv_ed = rv_es = None
    if not problems:
        areas = (labels[ed] == LV).sum(axis=(1, 2))
        for end in (0, Z - 1):
            if curves.lv_included[ed, end] and areas[end] > 0.5 * areas.max():
                caveats.append(
                    f"the LV still fills slice {end + 1} at the end of the stack: the stack may not cover the whole "
                    "ventricle, so volumes may be underestimated"
                )
        edv, esv = float(curves.lv_ml[ed]), float(curves.lv_ml[es])
        values.update(lv_edv=edv, lv_esv=esv, lv_sv=edv - esv)
        if edv > 0:
            values["lvef"] = 100.0 * (edv - esv) / edv
        if curves.myo_ml[ed] > 0:
            values["lv_mass"] = MYOCARDIAL_DENSITY_G_PER_ML * float(curves.myo_ml[ed])
        if curves.rv_ml.max() > 0 and curves.rv_present.any(axis=0).sum() >= 2:
            rv_ed, rv_es = int(np.argmax(curves.rv_ml)), int(np.argmin(curves.rv_ml))
            redv, resv = float(curves.rv_ml[rv_ed]), float(curves.rv_ml[rv_es])
            values.update(rv_edv=redv, rv_esv=resv, rv_sv=redv - resv)
            if redv > 0:
                values["rvef"] = 100.0 * (redv - resv) / redv
        else:
            caveats.append("no RV blood pool on two or more slices: RV volumes not reported")
        if "lvef" in values and not (5.0 <= values["lvef"] <= 90.0):
            caveats.append(f"LVEF {values['lvef']:.0f}% is outside 5-90%: check the segmentation montage")
        if edv < 20 or edv > 600:
            caveats.append(f"LV EDV {edv:.0f} mL is implausible for an adult: check the segmentation montage")
    return Function(curves, ed, es, rv_ed, rv_es, values, problems, caveats, ed_source)
