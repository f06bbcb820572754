"""A simple numerical short-axis cine phantom with known LV volumes.

Why our own: reconstruction needs image sources with exactly known truth
(volumes, EF) to check that a reconstruction preserves phenotypes, and
training data that the project can regenerate anywhere. The phantom is a
torso ellipse with subcutaneous fat, lungs, a liver, a spine, an LV blood
pool inside a myocardial ring and an RV crescent; the LV contracts with a
smooth systolic/diastolic profile, the myocardial area per slice stays
constant (incompressible wall), and basal-to-apical slices shrink. Tissue
intensities are bSSFP-like (blood bright, myocardium dark grey).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass
class CinePhantom:
    images: np.ndarray  # float32 (x, y, z, t), ACDC/NIfTI order
    lv_blood: np.ndarray  # float32 fraction (x, y, z, t): partial-volume LV blood pool
    spacing_mm: tuple[float, float, float]
    frame_interval_ms: float
    ed_frame: int
    es_frame: int

    def lv_volume_ml(self, frame: int) -> float:
        voxel_ml = float(np.prod(self.spacing_mm)) / 1000.0
        return float(self.lv_blood[..., frame].sum() * voxel_ml)

    @property
    def edv_ml(self) -> float:
        return self.lv_volume_ml(self.ed_frame)

    @property
    def esv_ml(self) -> float:
        return self.lv_volume_ml(self.es_frame)

    @property
    def ef_percent(self) -> float:
        return 100.0 * (self.edv_ml - self.esv_ml) / self.edv_ml


def contraction_profile(frames: int, es_fraction: float = 0.35) -> np.ndarray:
    """0 at end-diastole (frame 0), 1 at end-systole, smooth in between."""
    t_es = max(1, int(round(es_fraction * frames)))
    t = np.arange(frames, dtype=float)
    prof = np.where(
        t <= t_es,
        0.5 * (1 - np.cos(np.pi * t / t_es)),
        0.5 * (1 + np.cos(np.pi * (t - t_es) / max(frames - t_es, 1))),
    )
    return prof


def make_cine_phantom(
    matrix: int = 192,
    frames: int = 20,
    slices: int = 1,
    seed: int = 0,
    ef: float | None = None,
    pixel_mm: float = 1.8,
    slice_mm: float = 8.0,
    rr_ms: float = 900.0,
    supersample: int = 2,
) -> CinePhantom:
    rng = np.random.default_rng(seed)
    ef = float(rng.uniform(0.30, 0.70)) if ef is None else float(ef)
    n = matrix * supersample
    px = pixel_mm / supersample
    coords = (np.arange(n) - n / 2 + 0.5) * px
    X, Y = np.meshgrid(coords, coords, indexing="ij")  # x = rows, y = cols
    fov = matrix * pixel_mm

    def ellipse(cx, cy, ax, ay, angle=0.0):
        c, s = np.cos(angle), np.sin(angle)
        u = (X - cx) * c + (Y - cy) * s
        v = -(X - cx) * s + (Y - cy) * c
        return (u / ax) ** 2 + (v / ay) ** 2 <= 1.0

    body_ax, body_ay = fov * rng.uniform(0.36, 0.42), fov * rng.uniform(0.27, 0.33)
    body_angle = rng.uniform(-0.15, 0.15)
    body = ellipse(0, 0, body_ax, body_ay, body_angle)
    inner = ellipse(0, 0, body_ax - 9, body_ay - 9, body_angle)
    lung_l = ellipse(-0.1 * fov, -0.2 * fov, 0.09 * fov, 0.16 * fov, 0.3)
    lung_r = ellipse(-0.05 * fov, 0.2 * fov, 0.10 * fov, 0.17 * fov, -0.3)
    liver = ellipse(0.22 * fov, 0.12 * fov, 0.12 * fov, 0.2 * fov, 0.4) & inner
    spine = ellipse(-0.25 * fov, 0.0, 0.035 * fov, 0.035 * fov)
    static = np.zeros((n, n), dtype=np.float32)
    static[body] = 0.7  # subcutaneous fat
    static[inner] = 0.22  # muscle / soft tissue
    static[liver] = 0.32
    static[lung_l | lung_r] = 0.03
    static[spine] = 0.45

    # Heart geometry (mm): LV centre, end-diastolic endocardial radius at the base.
    lv_cx, lv_cy = rng.uniform(-8, 8), rng.uniform(-6, 10)
    r_endo_base = rng.uniform(20.0, 27.0)
    wall_mm = rng.uniform(7.0, 11.0)
    rv_offset = r_endo_base + wall_mm + rng.uniform(4, 10)
    rv_angle = rng.uniform(-0.5, 0.5) - np.pi / 2  # RV to one side of the LV
    profile = contraction_profile(frames)
    ed_frame, es_frame = 0, int(np.argmax(profile))
    # Per slice: basal (k=0) to apical; radius shrinks towards the apex.
    slice_scale = [np.sqrt(max(1.0 - (k / max(slices, 1)) ** 2 * 0.85, 0.12)) for k in range(slices)]
    texture = ndimage.gaussian_filter(rng.standard_normal((n, n)), 6 * supersample)
    texture = 1.0 + 0.12 * texture / (np.abs(texture).max() + 1e-9)

    images = np.zeros((matrix, matrix, slices, frames), dtype=np.float32)
    blood = np.zeros_like(images)
    for k, scale in enumerate(slice_scale):
        r_ed = r_endo_base * scale
        wall_area = np.pi * ((r_ed + wall_mm) ** 2 - r_ed**2)
        for t in range(frames):
            # Area fraction at ES equals 1 - EF (same in every slice → exact EF).
            area_frac = 1.0 - ef * profile[t]
            r_endo = r_ed * np.sqrt(area_frac)
            r_epi = np.sqrt(r_endo**2 + wall_area / np.pi)
            d = np.hypot(X - lv_cx, Y - lv_cy)
            lv_pool = d <= r_endo
            myo = (d > r_endo) & (d <= r_epi)
            rv_r = (r_ed + wall_mm) * 1.05 * np.sqrt(1.0 - 0.45 * profile[t])
            rvx, rvy = lv_cx + rv_offset * np.cos(rv_angle), lv_cy + rv_offset * np.sin(rv_angle)
            rv_pool = (np.hypot(X - rvx, Y - rvy) <= rv_r) & ~(d <= r_epi + 2.5)
            rv_wall = (np.hypot(X - rvx, Y - rvy) <= rv_r + 3.0) & ~rv_pool & ~(d <= r_epi)
            frame = static.copy()
            frame[rv_wall] = 0.28
            frame[myo] = 0.28
            frame[rv_pool] = 0.85
            frame[lv_pool] = 0.95
            frame = frame * texture
            images[:, :, k, t] = _downsample(frame, supersample)
            blood[:, :, k, t] = _downsample(lv_pool.astype(np.float32), supersample)
    return CinePhantom(
        images=images,
        lv_blood=blood,
        spacing_mm=(pixel_mm, pixel_mm, slice_mm),
        frame_interval_ms=rr_ms / frames,
        ed_frame=ed_frame,
        es_frame=es_frame,
    )


def _downsample(img: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return img.astype(np.float32)
    n = img.shape[0] // factor
    return img.reshape(n, factor, n, factor).mean(axis=(1, 3)).astype(np.float32)
