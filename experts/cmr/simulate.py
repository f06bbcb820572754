"""Simulated short-axis bSSFP cine stacks with exact labels.

Why a simulator: the embedded model must be trainable on data the project
may redistribute, the RV has no real labels here (Sunnybrook contours only
the LV), and tests need stacks with known volumes on a fresh clone.

The phantom, in a heart frame whose axis w runs from the LV base (w=0)
to the apex:
- LV cavity and epicardium are truncated prolate half-ellipsoids with a
  few angular Fourier modes, so cross-sections shrink and deform from base
  to apex; the cavity contracts with a chosen EF along a physiological
  volume curve (ejection, rapid filling, diastasis, atrial kick) while the
  base descends (long-axis shortening); the myocardium keeps its volume, so
  the wall thickens in systole;
- papillary muscles sit inside the cavity (labelled as blood pool, as the
  Sunnybrook and ACDC experts do); above the base the slice cuts the left
  atrium (blood, but not LV);
- the RV is a crescent wrapped around the septum, shorter than the LV,
  with its own EF and a thin free wall;
- around it: body fat and muscle, lungs, liver towards the apex, the
  descending aorta and the spine.

Image formation: bSSFP-like intensities (bright blood and fat, dark
myocardium and lung) with random per-case contrast, in-plane partial volume
(2x supersampling), through-plane partial volume (sub-planes across the
slice thickness), a smooth multiplicative bias field, Rician noise and
per-slice in-plane shifts (breath-hold misregistration). Labels are sampled
at pixel centres on the slice's central plane, the way a human contours it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from experts.cmr.cine import CineStack
from experts.cmr.labels import LV, MYO, RV


@dataclass
class HeartParams:
    lv_radius_mm: float = 26.0  # ED endocardial radius at the base
    lv_length_mm: float = 80.0  # ED base-to-endocardial-apex length
    wall_mm: float = 9.0
    apex_wall_mm: float = 7.0
    profile_power: float = 2.5  # 2: ellipsoid; larger: more cylindrical
    lv_ef: float = 0.6
    rv_ef: float = 0.55
    rv_width_mm: float = 42.0  # semi-axis along the septum
    rv_depth_mm: float = 20.0  # semi-axis away from the septum
    rv_angle: float = math.pi + 1.1  # in-plane direction LV -> RV (radians): image left, anterior
    rv_length_frac: float = 0.8
    long_axis_shortening: float = 0.12
    tau_es: float = 0.36  # end-systole as a fraction of the cycle
    shape_modes: np.ndarray = field(default_factory=lambda: np.zeros((3, 2)))  # (k, [amplitude, phase])
    papillary: bool = True
    trabeculae: int = 6


@dataclass
class Acquisition:
    pixel_mm: float = 1.4
    rows: int = 192
    cols: int = 192
    thickness_mm: float = 8.0
    gap_mm: float = 2.0
    n_phases: int = 25
    first_w_mm: float = -12.0  # w of the first slice (negative: above the LV base)
    n_slices: int = 10
    heart_offset_mm: tuple[float, float] = (0.0, 0.0)  # heart centre relative to image centre (row, col)
    rotation: float = 0.0  # in-plane rotation of the anatomy (radians)
    flip: bool = False
    slice_shift_mm: np.ndarray | None = None  # (n_slices, 2) breath-hold misregistration
    noise: float = 0.04  # Rician sigma relative to blood signal
    bias: float = 0.3  # amplitude of the log bias field
    scale: float = 1000.0  # stored intensity of blood
    heart_rate_bpm: float = 70.0
    supersample: int = 2
    subplanes: int = 3


@dataclass
class Tissue:
    blood: float = 1.0
    myo: float = 0.28
    fat: float = 0.9
    muscle: float = 0.3
    liver: float = 0.38
    lung: float = 0.06
    bone: float = 0.45


@dataclass
class SimulatedStudy:
    stack: CineStack
    labels: np.ndarray  # (T, Z, H, W) canonical uint8
    heart: HeartParams
    acq: Acquisition


def contraction(tau: np.ndarray | float, tau_es: float) -> np.ndarray:
    """Fraction of the stroke volume ejected at cycle fraction `tau` (0 at
    ED, 1 at ES): cosine ejection, rapid early filling to 25 %, slow
    diastasis to 15 %, atrial contraction back to 0."""
    tau = np.mod(np.asarray(tau, dtype=float), 1.0)
    out = np.empty_like(tau)
    fill_end = tau_es + 0.22
    atrial = 0.86
    a = tau <= tau_es
    out[a] = 0.5 * (1 - np.cos(np.pi * tau[a] / tau_es))
    b = (tau > tau_es) & (tau <= fill_end)
    x = (tau[b] - tau_es) / (fill_end - tau_es)
    out[b] = 1 - 0.75 * 0.5 * (1 - np.cos(np.pi * x))
    c = (tau > fill_end) & (tau <= atrial)
    x = (tau[c] - fill_end) / (atrial - fill_end)
    out[c] = 0.25 - 0.10 * x
    d = tau > atrial
    x = (tau[d] - atrial) / (1 - atrial)
    out[d] = 0.15 * 0.5 * (1 + np.cos(np.pi * x))
    return out


def random_heart(rng: np.random.Generator) -> HeartParams:
    """A plausible adult heart, from small to dilated, EF from severely
    reduced to hyperdynamic."""
    dilated = rng.random() < 0.35
    radius = rng.uniform(29, 40) if dilated else rng.uniform(20, 30)
    length = rng.uniform(82, 105) if dilated else rng.uniform(65, 92)
    ef = rng.uniform(0.12, 0.45) if (dilated and rng.random() < 0.7) else rng.uniform(0.3, 0.75)
    modes = np.column_stack([rng.uniform(0, 0.07, 3), rng.uniform(0, 2 * np.pi, 3)])
    return HeartParams(
        lv_radius_mm=radius,
        lv_length_mm=length,
        wall_mm=rng.uniform(6, 14),
        apex_wall_mm=rng.uniform(4, 9),
        profile_power=rng.uniform(2.0, 3.5),
        lv_ef=ef,
        rv_ef=float(np.clip(rng.normal(0.55, 0.1), 0.2, 0.75)),
        rv_width_mm=radius * rng.uniform(1.5, 2.1),
        rv_depth_mm=radius * rng.uniform(0.6, 1.0),
        rv_angle=math.pi + 1.1 + rng.normal(0, 0.25),
        rv_length_frac=rng.uniform(0.65, 0.9),
        long_axis_shortening=rng.uniform(0.04, 0.18) * (ef / 0.6) ** 0.5,
        tau_es=rng.uniform(0.3, 0.42),
        shape_modes=modes,
        papillary=rng.random() < 0.85,
        trabeculae=int(rng.integers(0, 10)),
    )


def random_acquisition(rng: np.random.Generator, heart: HeartParams, n_phases: int | None = None) -> Acquisition:
    pixel = rng.uniform(1.1, 2.0)
    fov = rng.uniform(300, 400)
    rows = int(round(fov / pixel / 2) * 2)
    cols = int(round(rows * rng.uniform(0.8, 1.0) / 2) * 2) if rng.random() < 0.3 else rows
    thickness = rng.uniform(6, 10)
    gap = rng.choice([0.0, rng.uniform(0, 4)])
    spacing = thickness + gap
    first = -rng.uniform(4, 22)
    last = heart.lv_length_mm + heart.apex_wall_mm + rng.uniform(-4, 10)
    n_slices = max(3, int(math.ceil((last - first) / spacing)) + 1)
    shift_sd = rng.uniform(0, 2.5)
    return Acquisition(
        pixel_mm=pixel,
        rows=rows,
        cols=cols,
        thickness_mm=thickness,
        gap_mm=float(gap),
        n_phases=int(n_phases or rng.integers(18, 31)),
        first_w_mm=first,
        n_slices=n_slices,
        heart_offset_mm=(float(rng.normal(0, 15)), float(rng.normal(0, 15))),
        rotation=float(rng.uniform(-0.6, 0.6)),
        flip=bool(rng.random() < 0.25),
        slice_shift_mm=rng.normal(0, shift_sd, (n_slices, 2)),
        noise=float(rng.uniform(0.01, 0.06)),
        bias=float(rng.uniform(0.05, 0.6)),
        scale=float(rng.uniform(200, 3000)),
        heart_rate_bpm=float(rng.uniform(50, 100)),
    )


def random_tissue(rng: np.random.Generator) -> Tissue:
    def j(v: float, sd: float = 0.15) -> float:
        return float(v * np.exp(rng.normal(0, sd)))

    return Tissue(
        blood=j(1.0, 0.08),
        myo=j(0.28, 0.2),
        fat=j(0.85, 0.15),
        muscle=j(0.3, 0.2),
        liver=j(0.38, 0.2),
        lung=j(0.06, 0.4),
        bone=j(0.45, 0.25),
    )


class _Renderer:
    """Evaluates the phantom on in-plane points of one slice position.

    The body around the heart is static, so it is drawn once per slice;
    the heart is redrawn per phase, only inside a disc that holds it."""

    def __init__(self, heart: HeartParams, acq: Acquisition, tissue: Tissue, rng: np.random.Generator):
        self.h, self.a, self.t = heart, acq, tissue
        self.body_axes = (rng.uniform(95, 130), rng.uniform(140, 180))  # (anterior-posterior, left-right)
        self.body_centre = (rng.uniform(10, 40), rng.uniform(-10, 30))
        self.fat_rim = rng.uniform(6, 22)
        # lungs: the left one hugs the LV lateral wall, the right one lies beyond the RV
        lv_out = heart.lv_radius_mm + heart.wall_mm
        side = -math.copysign(1.0, math.sin(heart.rv_angle))  # image side of the LV lateral wall
        self.lungs = [
            (np.array([rng.uniform(-15, 15), side * (lv_out + rng.uniform(30, 50))]), np.array([rng.uniform(55, 80), rng.uniform(30, 45)])),
            (np.array([rng.uniform(-15, 15), -side * (lv_out + 2 * heart.rv_depth_mm + rng.uniform(35, 55))]), np.array([rng.uniform(55, 80), rng.uniform(30, 45)])),
        ]
        self.aorta = (np.array([rng.uniform(55, 80), rng.uniform(5, 35)]), rng.uniform(9, 14))
        self.spine = (np.array([rng.uniform(85, 105), rng.uniform(-15, 15)]), rng.uniform(14, 20))
        self.liver_start = rng.uniform(0.45, 0.9) * heart.lv_length_mm
        self.liver_centre = np.array([rng.uniform(20, 60), rng.uniform(-100, -50)])
        self.pericardial_fat = [
            (rng.uniform(0, 2 * np.pi), rng.uniform(3, 12), rng.uniform(0.2, 0.9)) for _ in range(int(rng.integers(1, 5)))
        ]
        self.trab = [(rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 0.8), rng.uniform(1.0, 2.2)) for _ in range(heart.trabeculae)]
        # trabecular zone: dark strands in a band inside the endocardial border (labelled pool)
        self.trab_band = rng.uniform(0.5, 4.5)
        self.trab_modes = [(int(k), rng.uniform(0.3, 1.0), rng.uniform(0, 2 * np.pi)) for k in rng.integers(7, 30, 6)]
        self.trab_thr = rng.uniform(0.0, 0.7)
        # epicardial fat over part of the circumference, sometimes with the dark
        # chemical-shift edge bSSFP draws at fat-water interfaces
        self.epi_fat_width = rng.uniform(0.0, 7.0)
        self.epi_fat_modes = [(int(k), rng.uniform(0.3, 1.0), rng.uniform(0, 2 * np.pi)) for k in rng.integers(1, 5, 3)]
        self.epi_fat_thr = rng.uniform(-0.6, 0.5)
        self.shift_line = bool(rng.random() < 0.5)
        # mediastinal tissue next to the heart: its contrast with myocardium varies
        self.surround = float(rng.uniform(0.1, 0.6))
        self.pap_angles = (heart.rv_angle + np.pi + rng.normal(0.7, 0.2), heart.rv_angle + np.pi - rng.normal(0.8, 0.2))
        self.box_radius = heart.lv_radius_mm + heart.wall_mm + 2 * heart.rv_depth_mm + 18.0
        # clutter: vessels, fat planes, bowel, chest-wall muscle -- bright round things that are not the LV
        self.clutter = []
        for _ in range(int(rng.integers(8, 26))):
            ang, dist = rng.uniform(0, 2 * np.pi), rng.uniform(self.box_radius * 0.8, 170)
            centre = dist * np.array([math.cos(ang), math.sin(ang)])
            axes = rng.uniform(3, 30, 2)
            level = rng.choice([tissue.fat, tissue.blood, tissue.muscle, tissue.liver, rng.uniform(0.05, 1.0)])
            self.clutter.append((centre, axes, rng.uniform(0, np.pi), float(level)))
        self.aortic_root = (
            (heart.lv_radius_mm * 0.6) * np.array([math.cos(heart.rv_angle - 0.9), math.sin(heart.rv_angle - 0.9)]),
            rng.uniform(11, 17),
        )

    # --- geometry -----------------------------------------------------
    def lv_radii(self, w: float, tau: float) -> tuple[float, float, float, float]:
        """(endo radius, epi radius, normalised level s, base plane w) at
        level w and cycle fraction tau; radii 0 where absent."""
        h = self.h
        c = float(contraction(tau, h.tau_es))
        length = h.lv_length_mm * (1 - h.long_axis_shortening * c)
        w_base = h.lv_length_mm - length
        s = (w - w_base) / length
        # cavity volume ~ R^2 L: scale R so that V(tau)/EDV = 1 - EF * c
        k = math.sqrt(max(1 - h.lv_ef * c, 0.02) / (1 - h.long_axis_shortening * c))
        if s < 0:
            return 0.0, 0.0, s, w_base
        p = h.profile_power
        r_endo0 = h.lv_radius_mm * max(0.0, 1 - s**p) ** 0.5 if s < 1 else 0.0
        l_epi = (h.lv_length_mm + h.apex_wall_mm) / h.lv_length_mm
        se = s / l_epi
        r_epi0 = (h.lv_radius_mm + h.wall_mm) * max(0.0, 1 - se**p) ** 0.5 if se < 1 else 0.0
        area = max(r_epi0**2 - r_endo0**2, 0.0) * h.lv_length_mm / length  # myocardium keeps its volume
        r_endo = r_endo0 * k
        return r_endo, math.sqrt(r_endo**2 + area), s, w_base

    def rv_geometry(self, w: float, tau: float, r_epi: float) -> tuple[np.ndarray, float, float] | None:
        h = self.h
        rv_len = h.rv_length_frac * h.lv_length_mm
        top = -12.0
        s = (w - top) / (rv_len - top)
        if s < 0 or s >= 1:
            return None
        prof = math.sqrt(1 - s * s) if s > 0.15 else math.sqrt(1 - 0.15**2)
        c = float(contraction(tau - 0.02, h.tau_es))
        k = math.sqrt(max(1 - h.rv_ef * c, 0.05))
        a = h.rv_width_mm * prof * (0.35 + 0.65 * k)
        b = h.rv_depth_mm * prof * k
        ref_epi = max(r_epi, (h.lv_radius_mm + h.wall_mm) * 0.4 * prof)
        d = ref_epi + b * 0.25
        centre = d * np.array([math.cos(h.rv_angle), math.sin(h.rv_angle)])
        return centre, a, b

    def body_static(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The part of the anatomy that is the same at every level: body
        wall, fat, lungs and clutter (drawn once per stack)."""
        t = self.t
        img = np.zeros(x.shape, np.float32)
        bx, by = x - self.body_centre[0], y - self.body_centre[1]
        e = (bx / self.body_axes[0]) ** 2 + (by / self.body_axes[1]) ** 2
        inner = (bx / max(self.body_axes[0] - self.fat_rim, 10)) ** 2 + (by / max(self.body_axes[1] - self.fat_rim, 10)) ** 2
        img[e <= 1] = t.fat
        img[inner <= 1] = t.muscle
        for c, ax in self.lungs:
            img[((x - c[0]) / ax[0]) ** 2 + ((y - c[1]) / ax[1]) ** 2 <= 1] = t.lung
        inside = e <= 1
        for c, ax, rot, level in self.clutter:
            cr, sr = math.cos(rot), math.sin(rot)
            u, v = (x - c[0]) * cr + (y - c[1]) * sr, -(x - c[0]) * sr + (y - c[1]) * cr
            img[((u / ax[0]) ** 2 + (v / ax[1]) ** 2 <= 1) & inside] = level
        return img

    def body(self, static: np.ndarray, x: np.ndarray, y: np.ndarray, w: float) -> np.ndarray:
        """Anatomy around the heart at level w: the static part plus the
        liver (towards the apex), descending aorta and spine."""
        t = self.t
        img = static.copy()
        if w > self.liver_start:
            grow = min(1.0, (w - self.liver_start) / 30.0)
            lc = self.liver_centre
            img[((x - lc[0]) / (70 * grow + 5)) ** 2 + ((y - lc[1]) / (80 * grow + 5)) ** 2 <= 1] = t.liver
        ac, ar = self.aorta
        img[np.hypot(x - ac[0], y - ac[1]) <= ar] = t.blood * 0.95
        sc, sr = self.spine
        d_sp = np.hypot(x - sc[0], y - sc[1])
        img[d_sp <= sr] = t.bone
        img[d_sp <= sr * 0.7] = t.bone * 1.3
        return img

    def heart(self, x, y, r, th, rn, fat_sectors, trab_f, epi_f, w: float, tau: float, base: np.ndarray | None):
        """Labels, and (if `base` is given) intensities drawn over `base`,
        at heart-frame points; r, th, rn are precomputed polar coordinates
        (rn: radius divided by the angular shape modulation)."""
        h, t = self.h, self.t
        labels = np.zeros(x.shape, np.uint8)
        img = None if base is None else base.copy()
        r_endo, r_epi, s, w_base = self.lv_radii(w, tau)
        if img is not None:
            peri_r = max(r_epi, h.lv_radius_mm * 0.7) + 3
            for (_ang, width, _depth), sector in zip(self.pericardial_fat, fat_sectors):
                img[sector & (r > peri_r) & (r < peri_r + width) & (img > t.lung * 2)] = t.fat
        if s < 0 and w > w_base - 30 and img is not None:  # left atrium: blood, not LV
            ra = h.lv_radius_mm * 0.85 * math.sqrt(max(0.0, 1 - ((w_base - w) / 35.0) ** 2))
            img[rn <= ra + 2.5] = t.myo * 1.1
            img[rn <= ra] = t.blood
        if s < 0.08 and img is not None:  # aortic root / LVOT beside the base: blood, not LV
            ac, ar = self.aortic_root
            d = np.hypot(x - ac[0], y - ac[1])
            img[(d <= ar + 2) & (rn > r_epi)] = t.myo
            img[(d <= ar) & (rn > r_epi)] = t.blood
        rv = self.rv_geometry(w, tau, r_epi)
        if rv is not None:  # drawn first: the LV epicardium overrides it at the septum
            centre, a, b = rv
            ca, sa = math.cos(h.rv_angle), math.sin(h.rv_angle)
            u = (x - centre[0]) * ca + (y - centre[1]) * sa
            v = -(x - centre[0]) * sa + (y - centre[1]) * ca
            # the crescent stays on the RV side of the septum
            q = np.where((x * ca + y * sa) > 0, (u / b) ** 2 + (v / a) ** 2, 2.0)
            if img is not None:
                img[(u / (b + 3.0)) ** 2 + (v / (a + 3.0)) ** 2 <= 1] = t.myo * 1.05
                img[q <= 1] = t.blood
            labels[q <= 1] = RV
        if r_epi > 0:
            epi = rn <= r_epi
            endo = rn <= r_endo
            labels[epi] = MYO
            labels[endo] = LV
            if img is not None:
                near = (rn > r_epi) & (rn < r_epi + 25) & (img == t.muscle) & (labels == 0)
                img[near] = self.surround
                if self.epi_fat_width > 0.5:
                    fat = (rn > r_epi) & (rn <= r_epi + self.epi_fat_width) & (epi_f > self.epi_fat_thr) & (labels == 0)
                    img[fat] = t.fat
                    if self.shift_line:
                        img[fat & (rn <= r_epi + 1.2)] = t.lung
                img[epi] = t.myo
                img[endo] = t.blood
                img[endo & (rn > r_endo - self.trab_band) & (trab_f > self.trab_thr)] = t.myo * 1.15
                if r_endo > 4:  # papillary muscles and trabeculae: dark, inside the pool label
                    c = float(contraction(tau, h.tau_es))
                    if h.papillary and 0.2 < s < 0.8:
                        pr = r_endo * (0.16 + 0.08 * c)
                        for pa in self.pap_angles:
                            pc = (r_endo - pr * 1.1) * np.array([math.cos(pa), math.sin(pa)])
                            img[(np.hypot(x - pc[0], y - pc[1]) <= pr) & endo] = t.myo * 1.1
                    for ta, ts, tr in self.trab:
                        if abs(s - ts) < 0.25:
                            tc = (r_endo - tr * 0.6) * np.array([math.cos(ta), math.sin(ta)])
                            img[(np.hypot(x - tc[0], y - tc[1]) <= tr) & endo] = t.myo * 1.2
        return labels, img

    def polar(self, x: np.ndarray, y: np.ndarray):
        r = np.hypot(x, y)
        th = np.arctan2(y, x)
        mod = np.ones_like(r)
        for k, (amp, ph) in enumerate(self.h.shape_modes, start=2):
            mod = mod + amp * np.cos(k * th + ph)
        sectors = [np.abs(np.angle(np.exp(1j * (th - ang)))) < depth for ang, _w, depth in self.pericardial_fat]

        def pattern(modes):
            f = sum(a * np.cos(k * th + ph) for k, a, ph in modes)
            return f / (sum(a for _, a, _ in modes) + 1e-6)

        return r, th, r / mod, sectors, pattern(self.trab_modes), pattern(self.epi_fat_modes)


def _bias_field(rows: int, cols: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[-1 : 1 : rows * 1j, -1 : 1 : cols * 1j]
    field = np.zeros((rows, cols))
    for _ in range(3):
        cx, cy, sx = rng.uniform(-1.2, 1.2), rng.uniform(-1.2, 1.2), rng.uniform(0.5, 1.5)
        field += rng.normal(0, 1) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sx**2))
    field += rng.normal(0, 0.5) * xx + rng.normal(0, 0.5) * yy
    field = field / (np.abs(field).max() + 1e-6)
    return np.exp(strength * field).astype(np.float32)


def simulate_study(
    seed: int,
    heart: HeartParams | None = None,
    acq: Acquisition | None = None,
    tissue: Tissue | None = None,
    n_phases: int | None = None,
    phases: list[int] | None = None,
) -> SimulatedStudy:
    """Render one cine stack (all phases, or only `phases`) with labels."""
    rng = np.random.default_rng(seed)
    heart = heart or random_heart(rng)
    acq = acq or random_acquisition(rng, heart, n_phases)
    tissue = tissue or random_tissue(rng)
    ren = _Renderer(heart, acq, tissue, rng)
    phase_idx = list(range(acq.n_phases)) if phases is None else list(phases)
    T, Z, H, W = len(phase_idx), acq.n_slices, acq.rows, acq.cols
    ss = max(1, acq.supersample)
    spacing = acq.thickness_mm + acq.gap_mm
    shifts = acq.slice_shift_mm if acq.slice_shift_mm is not None else np.zeros((Z, 2))

    def grid(factor: int) -> tuple[np.ndarray, np.ndarray]:
        # pixel-centre coordinates in mm, image centre at 0, then into the heart frame
        r = (np.arange(H * factor) + 0.5) / factor - 0.5 - (H - 1) / 2
        c = (np.arange(W * factor) + 0.5) / factor - 0.5 - (W - 1) / 2
        rr, cc = np.meshgrid(r * acq.pixel_mm, c * acq.pixel_mm, indexing="ij")
        rr = rr - acq.heart_offset_mm[0]
        cc = cc - acq.heart_offset_mm[1]
        if acq.flip:
            cc = -cc
        ca, sa = math.cos(acq.rotation), math.sin(acq.rotation)
        return ca * rr - sa * cc, sa * rr + ca * cc

    fine = grid(ss)
    coarse = grid(1)
    offsets = np.linspace(-0.5, 0.5, acq.subplanes + 2)[1:-1] * acq.thickness_mm if acq.subplanes > 1 else np.array([0.0])
    images = np.zeros((T, Z, H, W), np.float32)
    labels = np.zeros((T, Z, H, W), np.uint8)
    bias = _bias_field(H, W, acq.bias, rng)
    box = ren.box_radius
    xf0, yf0 = fine
    static_body = ren.body_static(xf0, yf0)  # the chest wall does not follow the heart's breath-hold shifts
    for z in range(Z):
        w = acq.first_w_mm + z * spacing
        dx, dy = shifts[z]
        xf, yf = fine[0] - dx, fine[1] - dy
        xc, yc = coarse[0] - dx, coarse[1] - dy
        inf = np.hypot(xf, yf) < box  # the heart lives inside this disc
        inc = np.hypot(xc, yc) < box
        pf = ren.polar(xf[inf], yf[inf])
        pc = ren.polar(xc[inc], yc[inc])
        bodies = [ren.body(static_body, xf0, yf0, w + off) for off in offsets]
        static = np.mean(bodies, axis=0)  # outside the heart disc nothing moves
        boxed = [b[inf] for b in bodies]
        xi, yi = xf[inf], yf[inf]
        for ti, tp in enumerate(phase_idx):
            tau = tp / acq.n_phases
            frame = static.copy()
            frame[inf] = np.mean([ren.heart(xi, yi, *pf, w + off, tau, b)[1] for off, b in zip(offsets, boxed)], axis=0)
            images[ti, z] = frame.reshape(H, ss, W, ss).mean(axis=(1, 3))
            lab, _ = ren.heart(xc[inc], yc[inc], *pc, w, tau, None)
            labels[ti, z][inc] = lab
    # texture: smooth multiplicative variation so tissues are not flat
    from scipy.ndimage import gaussian_filter

    tex = gaussian_filter(rng.normal(0, 1, (Z, H, W)).astype(np.float32), sigma=(0, 2.5, 2.5))
    tex /= tex.std() + 1e-6
    images *= (1 + rng.uniform(0.02, 0.08) * tex)[None]
    # blur a little (k-space truncation), bias, Rician noise, scale
    images = gaussian_filter(images, sigma=(0, 0, 0.5, 0.5))
    images *= bias[None, None]
    sigma = acq.noise * tissue.blood
    n1 = rng.normal(0, sigma, images.shape).astype(np.float32)
    n2 = rng.normal(0, sigma, images.shape).astype(np.float32)
    images = np.sqrt((images + n1) ** 2 + n2**2) * acq.scale
    images = np.clip(np.round(images), 0, 65535).astype(np.float32)

    positions = np.arange(Z) * spacing
    affine = np.eye(4)
    affine[0, 0] = acq.pixel_mm
    affine[1, 1] = acq.pixel_mm
    affine[2, 2] = spacing
    rr_ms = 60000.0 / acq.heart_rate_bpm
    stack = CineStack(
        images=images,
        pixel_spacing_mm=(acq.pixel_mm, acq.pixel_mm),
        slice_positions_mm=positions,
        affine_ras=affine,
        source_format="synthetic",
        files=[f"simulated-{seed}"],
        slice_thickness_mm=acq.thickness_mm,
        trigger_times_ms=np.array([tp / acq.n_phases * rr_ms for tp in phase_idx]),
        heart_rate_bpm=acq.heart_rate_bpm,
    )
    return SimulatedStudy(stack=stack, labels=labels, heart=heart, acq=acq)


def label_volumes(labels: np.ndarray, stack: CineStack) -> dict[str, np.ndarray]:
    """Per-phase volumes (mL) of each structure by disc summation."""
    px = stack.pixel_spacing_mm[0] * stack.pixel_spacing_mm[1]
    w = stack.slice_weights_mm()[None, :]
    out = {}
    for name, lab in (("lv", LV), ("myo", MYO), ("rv", RV)):
        areas = (labels == lab).sum(axis=(2, 3)) * px  # (T, Z) mm^2
        out[name] = (areas * w).sum(axis=1) / 1000.0
    return out
