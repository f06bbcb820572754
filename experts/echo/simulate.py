"""Simulated apical four-chamber echo clips with a known LV volume curve.

Why simulate: we may not redistribute EchoNet's videos or weights, yet the
embedded default network needs training data and every metric we report
(Dice, EF error, ED/ES frame error) needs ground truth. A simulator gives
both, with the truth defined analytically rather than by a human tracer.

The model, deliberately simple but with the physics that makes echo hard:

* Anatomy (apical 4-chamber orientation, apex at the top of the sector, LV
  on the image right): the LV cavity is a *truncated prolate ellipsoid of
  revolution* around its long axis, so the imaging plane through the axis
  shows the classic bullet shape and the true volume has a closed form,
  V = pi B^2 A (tau - tau^3/3 + 2/3). Around it: a myocardial wall that
  thickens in systole, an RV, both atria (filling in systole), mitral
  leaflets that open in diastole, optionally a papillary muscle (inside the
  cavity, as ASE tracing conventions count it) and a bright pericardium.
* Motion: a physiological volume curve per beat (ejection, rapid filling,
  diastasis, atrial kick) with beat-to-beat jitter of RR and EF; the apex
  stays put and the base descends (long-axis shortening).
* Imaging: echogenicity sampled on a polar (beam) grid, multiplied by
  complex Gaussian scatterers and blurred by a depth-dependent point-spread
  function, so the envelope has Rayleigh speckle; temporal speckle
  correlation; depth attenuation with partial TGC; thermal noise; lateral
  wall / septal dropout and rib shadows; near-field clutter over the apex;
  log compression with random gain and dynamic range; scan conversion to a
  Cartesian frame with the fan outside masked to black.

`sample_params` draws a clip's parameters from `SimRanges`; `TRAIN_RANGES`
and `HELDOUT_RANGES` differ on purpose (wider EF, heart-rate, depth and
noise ranges for held-out evaluation).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np
from scipy import ndimage

View = Literal["a4c", "psax"]


# --------------------------------------------------------------------------
# Parameters


@dataclass(frozen=True)
class SimRanges:
    """Uniform sampling ranges for one population of simulated clips."""

    n_frames: tuple[int, int] = (48, 96)
    fps: tuple[float, float] = (30.0, 60.0)
    heart_rate_bpm: tuple[float, float] = (50.0, 110.0)
    edv_ml: tuple[float, float] = (70.0, 220.0)
    ef_pct: tuple[float, float] = (15.0, 75.0)
    beat_jitter: tuple[float, float] = (0.0, 0.04)
    depth_mm: tuple[float, float] = (140.0, 190.0)
    sector_half_angle_deg: tuple[float, float] = (36.0, 45.0)
    width_px: tuple[int, int] = (112, 176)
    aspect_ab: tuple[float, float] = (1.7, 2.5)
    rv_length_fraction: tuple[float, float] = (0.65, 0.95)
    rv_width_fraction: tuple[float, float] = (0.55, 1.05)
    la_length_fraction: tuple[float, float] = (0.6, 1.3)
    la_width_fraction: tuple[float, float] = (0.6, 1.05)
    truncation: tuple[float, float] = (0.45, 0.8)
    wall_mm: tuple[float, float] = (7.0, 12.0)
    tilt_deg: tuple[float, float] = (0.0, 15.0)
    apex_depth_mm: tuple[float, float] = (6.0, 28.0)
    apex_offset_mm: tuple[float, float] = (0.0, 12.0)
    long_axis_exponent: tuple[float, float] = (0.12, 0.3)
    myocardium: tuple[float, float] = (0.6, 1.2)
    blood: tuple[float, float] = (0.003, 0.02)
    tissue: tuple[float, float] = (0.15, 0.4)
    noise: tuple[float, float] = (0.02, 0.12)
    attenuation_db_per_cm: tuple[float, float] = (0.0, 0.25)
    dynamic_range_db: tuple[float, float] = (40.0, 60.0)
    gain_db: tuple[float, float] = (-6.0, 6.0)
    speckle_correlation: tuple[float, float] = (0.4, 0.9)
    dropout_probability: float = 0.5
    dropout_strength: tuple[float, float] = (0.05, 0.5)
    rib_shadow_probability: float = 0.2
    haze_probability: float = 0.4
    haze_level: tuple[float, float] = (0.1, 0.6)
    papillary_probability: float = 0.5


TRAIN_RANGES = SimRanges()

# Held-out: wider physiology and acquisition ranges than training, so the
# reported metrics include some extrapolation (and different seeds).
HELDOUT_RANGES = SimRanges(
    n_frames=(64, 128),
    fps=(25.0, 70.0),
    heart_rate_bpm=(45.0, 130.0),
    edv_ml=(60.0, 260.0),
    ef_pct=(10.0, 80.0),
    beat_jitter=(0.0, 0.06),
    depth_mm=(130.0, 200.0),
    sector_half_angle_deg=(34.0, 46.0),
    width_px=(112, 240),
    aspect_ab=(1.5, 2.7),
    rv_length_fraction=(0.6, 1.0),
    rv_width_fraction=(0.5, 1.15),
    la_length_fraction=(0.5, 1.4),
    la_width_fraction=(0.55, 1.1),
    noise=(0.005, 0.16),
    gain_db=(-8.0, 8.0),
    dynamic_range_db=(35.0, 65.0),
)


@dataclass(frozen=True)
class SimParams:
    """Everything that defines one simulated clip (reproducible from seed)."""

    seed: int
    view: View
    n_frames: int
    fps: float
    heart_rate_bpm: float
    edv_ml: float
    ef_pct: float
    beat_jitter: float
    start_phase: float
    depth_mm: float
    sector_half_angle_deg: float
    width_px: int
    height_px: int
    aspect_ab: float
    rv_length_fraction: float
    rv_width_fraction: float
    la_length_fraction: float
    la_width_fraction: float
    truncation: float
    wall_mm: float
    tilt_deg: float
    apex_depth_mm: float
    apex_offset_mm: float
    long_axis_exponent: float
    myocardium: float
    blood: float
    tissue: float
    noise: float
    attenuation_db_per_cm: float
    dynamic_range_db: float
    gain_db: float
    speckle_correlation: float
    dropout_zones: tuple[tuple[str, float], ...]
    rib_shadow: tuple[float, float, float] | None  # centre angle (deg), half width (deg), factor
    haze_level: float
    papillary: bool

    def to_dict(self) -> dict:
        return asdict(self)


def _u(rng: np.random.Generator, r: tuple[float, float]) -> float:
    return float(rng.uniform(r[0], r[1]))


def sample_params(seed: int, ranges: SimRanges = TRAIN_RANGES, view: View = "a4c", **overrides) -> SimParams:
    """Draw one clip's parameters. Geometry is redrawn until the LV fits the
    sector with a margin (a cut-off LV would make the truth ambiguous)."""
    rng = np.random.default_rng(seed)
    for _ in range(200):
        width = int(rng.integers(ranges.width_px[0], ranges.width_px[1] + 1))
        height = int(round(width * rng.uniform(0.75, 1.0)))
        zones: list[tuple[str, float]] = []
        if rng.random() < ranges.dropout_probability:
            for _ in range(int(rng.integers(1, 3))):
                zones.append((str(rng.choice(["lateral", "septal", "apex"])), _u(rng, ranges.dropout_strength)))
        half_angle = _u(rng, ranges.sector_half_angle_deg)
        rib = None
        if rng.random() < ranges.rib_shadow_probability:
            rib = (float(rng.uniform(-half_angle * 0.8, half_angle * 0.8)), float(rng.uniform(2.0, 6.0)), float(rng.uniform(0.15, 0.5)))
        p = SimParams(
            seed=seed,
            view=view,
            n_frames=int(rng.integers(ranges.n_frames[0], ranges.n_frames[1] + 1)),
            fps=_u(rng, ranges.fps),
            heart_rate_bpm=_u(rng, ranges.heart_rate_bpm),
            edv_ml=_u(rng, ranges.edv_ml),
            ef_pct=_u(rng, ranges.ef_pct),
            beat_jitter=_u(rng, ranges.beat_jitter),
            start_phase=float(rng.uniform(0, 1)),
            depth_mm=_u(rng, ranges.depth_mm),
            sector_half_angle_deg=half_angle,
            width_px=width,
            height_px=height,
            aspect_ab=_u(rng, ranges.aspect_ab),
            rv_length_fraction=_u(rng, ranges.rv_length_fraction),
            rv_width_fraction=_u(rng, ranges.rv_width_fraction),
            la_length_fraction=_u(rng, ranges.la_length_fraction),
            la_width_fraction=_u(rng, ranges.la_width_fraction),
            truncation=_u(rng, ranges.truncation),
            wall_mm=_u(rng, ranges.wall_mm),
            tilt_deg=_u(rng, ranges.tilt_deg),
            apex_depth_mm=_u(rng, ranges.apex_depth_mm),
            apex_offset_mm=_u(rng, ranges.apex_offset_mm),
            long_axis_exponent=_u(rng, ranges.long_axis_exponent),
            myocardium=_u(rng, ranges.myocardium),
            blood=_u(rng, ranges.blood),
            tissue=_u(rng, ranges.tissue),
            noise=_u(rng, ranges.noise),
            attenuation_db_per_cm=_u(rng, ranges.attenuation_db_per_cm),
            dynamic_range_db=_u(rng, ranges.dynamic_range_db),
            gain_db=_u(rng, ranges.gain_db),
            speckle_correlation=_u(rng, ranges.speckle_correlation),
            dropout_zones=tuple(zones),
            rib_shadow=rib,
            haze_level=_u(rng, ranges.haze_level) if rng.random() < ranges.haze_probability else 0.0,
            papillary=bool(rng.random() < ranges.papillary_probability),
        )
        p = replace(p, **overrides)
        if view != "a4c" or _fits_sector(p):
            return p
    raise RuntimeError(f"seed {seed}: could not place the LV inside the sector")


# --------------------------------------------------------------------------
# Physiology: volume curve


def _cycle_fraction(phase: np.ndarray, period_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised LV volume over one cycle (1 = end-diastole, 0 = end-systole)
    and mitral opening (0 closed, 1 open), for phase in [0, 1) from ED."""
    systole_s = float(np.clip(0.413 - 0.0017 * 60.0 / period_s, 0.2, 0.36))
    ps = min(0.55, systole_s / period_s)
    pr = 0.16 / period_s
    pa = 0.12 / period_s
    room = 1.0 - ps - 0.02
    if pr + pa > room:  # E/A fusion at fast heart rates
        scale = room / (pr + pa)
        pr, pa = pr * scale, pa * scale
    e_level, d_level = 0.78, 0.84
    f = np.empty_like(phase)
    valve = np.zeros_like(phase)
    sys = phase < ps
    f[sys] = 0.5 * (1 + np.cos(np.pi * phase[sys] / ps))
    rf = (phase >= ps) & (phase < ps + pr)
    f[rf] = e_level * 0.5 * (1 - np.cos(np.pi * (phase[rf] - ps) / pr))
    valve[rf] = np.sin(np.pi * np.clip((phase[rf] - ps) / pr * 0.8 + 0.1, 0, 1)) ** 0.5
    a_start = 1.0 - pa
    ds = (phase >= ps + pr) & (phase < a_start)
    span = max(a_start - ps - pr, 1e-6)
    f[ds] = e_level + (d_level - e_level) * (phase[ds] - ps - pr) / span
    valve[ds] = 0.35
    at = phase >= max(a_start, ps + pr)
    f[at] = d_level + (1 - d_level) * 0.5 * (1 - np.cos(np.pi * (phase[at] - a_start) / pa))
    xa = np.clip((phase[at] - a_start) / pa, 0, 1)
    valve[at] = 0.35 * (1 - xa) + 0.5 * np.sin(np.pi * xa)  # atrial kick re-opens, closes at ED
    return f, valve


@dataclass
class VolumeCurve:
    volumes_ml: np.ndarray  # per frame
    fraction: np.ndarray  # 1 at ED, 0 at ES (per beat)
    mitral_open: np.ndarray
    beat_starts_s: np.ndarray  # ED instants
    beat_ef_pct: np.ndarray


def volume_curve(p: SimParams) -> VolumeCurve:
    rng = np.random.default_rng(p.seed + 7919)
    period = 60.0 / p.heart_rate_bpm
    duration = p.n_frames / p.fps
    t = np.arange(p.n_frames) / p.fps
    n_beats = int(math.ceil(duration / period)) + 3
    periods = period * (1 + p.beat_jitter * rng.standard_normal(n_beats))
    periods = np.clip(periods, 0.7 * period, 1.3 * period)
    starts = np.concatenate([[0.0], np.cumsum(periods)]) - p.start_phase * periods[0]
    efs = np.clip(p.ef_pct * (1 + 0.5 * p.beat_jitter * rng.standard_normal(n_beats + 1)), 3, 90)
    edvs = p.edv_ml * (1 + 0.5 * p.beat_jitter * rng.standard_normal(n_beats + 1))
    k = np.searchsorted(starts, t, side="right") - 1
    phase = (t - starts[k]) / periods[k]
    f, valve = np.empty_like(t), np.empty_like(t)
    for kk in np.unique(k):
        sel = k == kk
        f[sel], valve[sel] = _cycle_fraction(phase[sel], periods[kk])
    esv = edvs[k] * (1 - efs[k] / 100.0)
    systole = valve == 0
    # Diastole fills toward the next beat's EDV, so the curve is continuous.
    target_edv = np.where(systole & (phase < 0.6), edvs[k], edvs[k + 1])
    volumes = esv + (target_edv - esv) * f
    return VolumeCurve(volumes, f, valve, starts[: n_beats + 1], efs)


# --------------------------------------------------------------------------
# Anatomy


def _shape_constant(tau: float) -> float:
    return tau - tau**3 / 3 + 2.0 / 3.0


def lv_axes_for_volume(volume_ml: float, p: SimParams, edv_ml: float | None = None) -> tuple[float, float]:
    """Semi-long axis A and radius B (mm) of the truncated ellipsoid holding
    `volume_ml`; A shortens with volume by the long-axis exponent."""
    c = _shape_constant(p.truncation)
    edv = edv_ml or p.edv_ml
    a_ed = (edv * 1000.0 * p.aspect_ab**2 / (math.pi * c)) ** (1 / 3)
    a = a_ed * (volume_ml / edv) ** p.long_axis_exponent
    b = math.sqrt(volume_ml * 1000.0 / (math.pi * a * c))
    return a, b


def truncated_ellipsoid_volume_ml(a: float, b: float, tau: float) -> float:
    return math.pi * b * b * a * _shape_constant(tau) / 1000.0


@dataclass
class FrameAnatomy:
    a: float
    b: float
    tau: float
    wall: float
    wall_apex: float
    fraction: float
    mitral_open: float


def _frame_anatomy(p: SimParams, volume_ml: float, fraction: float, mitral_open: float) -> FrameAnatomy:
    a, b = lv_axes_for_volume(volume_ml, p)
    thickening = 1.0 + 0.6 * (1.0 - fraction) * p.ef_pct / 60.0
    return FrameAnatomy(a, b, p.truncation, p.wall_mm * thickening, 0.8 * p.wall_mm * thickening, fraction, mitral_open)


def _lv_frame(p: SimParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apex position and unit vectors (long axis u toward the base, normal n
    toward the lateral wall) in (x, z) millimetres."""
    tilt = math.radians(p.tilt_deg)
    u = np.array([math.sin(tilt), math.cos(tilt)])
    n = np.array([math.cos(tilt), -math.sin(tilt)])
    apex = np.array([p.apex_offset_mm, p.apex_depth_mm])
    return apex, u, n


def _fits_sector(p: SimParams) -> bool:
    apex, u, n = _lv_frame(p)
    a, b = lv_axes_for_volume(p.edv_ml * 1.1, p)
    # The cavity (the truth) plus a thin rim must be in view; the outer wall
    # may leave the sector near the apex, as it often does in real clips.
    rim = 2.0
    length = a * (1 + p.truncation)
    s = np.linspace(-rim, length, 60)
    r = (b + rim) * np.sqrt(np.clip(1 - ((s - a) / (a + rim)) ** 2, 0, None))
    half = math.radians(p.sector_half_angle_deg) - math.radians(1.5)
    for sign in (-1, 1):
        pts = apex[None, :] + s[:, None] * u[None, :] + sign * r[:, None] * n[None, :]
        rad = np.hypot(pts[:, 0], pts[:, 1])
        ang = np.arctan2(pts[:, 0], pts[:, 1])
        if np.any(rad > 0.92 * p.depth_mm) or np.any(np.abs(ang) > half):
            return False
    return True


def _segment_distance(px, pz, x0, z0, x1, z1):
    dx, dz = x1 - x0, z1 - z0
    L2 = dx * dx + dz * dz + 1e-9
    t = np.clip(((px - x0) * dx + (pz - z0) * dz) / L2, 0, 1)
    return np.hypot(px - (x0 + t * dx), pz - (z0 + t * dz))


def echogenicity_a4c(x: np.ndarray, z: np.ndarray, p: SimParams, fa: FrameAnatomy, texture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Backscatter amplitude (myocardium ~ 1) and LV cavity indicator at
    points (x, z) mm for one frame of the apical four-chamber model."""
    apex, u, n = _lv_frame(p)
    dx, dz = x - apex[0], z - apex[1]
    s = dx * u[0] + dz * u[1]
    q = dx * n[0] + dz * n[1]
    A, B, tau, w, wa = fa.a, fa.b, fa.tau, fa.wall, fa.wall_apex
    L = A * (1 + tau)
    r_base = B * math.sqrt(max(1 - tau * tau, 0.0))

    cav = (s >= 0) & (s <= L) & (q * q <= B * B * (1 - ((s - A) / A) ** 2))
    outer = (s >= -wa) & (s <= L + 1.0) & (q * q <= (B + w) ** 2 * (1 - ((s - A) / (A + wa)) ** 2))
    myo = outer & ~cav

    # RV to the left (q < 0), usually shorter than the LV, base at the same
    # level; it can be as wide as the LV, so position (not size) tells them apart.
    rv_scale = 0.9 + 0.1 * fa.fraction
    a_rv, b_rv = 0.5 * p.rv_length_fraction * L * rv_scale, p.rv_width_fraction * B * rv_scale + 2
    s_rv, q_rv = L - 0.8 * a_rv, -(B + w + 0.75 * b_rv)
    e_rv = ((s - s_rv) / a_rv) ** 2 + ((q - q_rv) / b_rv) ** 2
    e_rv_out = ((s - s_rv) / (a_rv + 4)) ** 2 + ((q - q_rv) / (b_rv + 4)) ** 2
    rv = (e_rv <= 1) & (s <= L) & ~outer
    rv_wall = (e_rv_out <= 1) & (s <= L + 1) & ~outer & ~rv

    # Atria below the annuli; they fill while the ventricles empty. Each
    # AV orifice is open blood between the annulus hinge points, so the LV
    # and LA pools join whenever the leaflets open (as on real clips): the
    # LV ends at the annulus line, not at a wall.
    atrial_scale = 1.0 + 0.18 * (1 - fa.fraction)
    # The LA can be as wide as the annulus and as long as the LV is wide:
    # with the valve open, LV and LA then look like one long chamber and
    # only the annulus (hinge points, leaflets) marks where the LV ends.
    a_la = p.la_length_fraction * B * atrial_scale + 6
    b_la = max(1.05 * r_base, p.la_width_fraction * B) * atrial_scale
    s_la, q_la = L + 0.85 * a_la, 0.1 * B
    e_la = ((s - s_la) / a_la) ** 2 + ((q - q_la) / b_la) ** 2
    e_la_out = ((s - s_la) / (a_la + 3)) ** 2 + ((q - q_la) / (b_la + 3)) ** 2
    a_ra, b_ra = 0.45 * B * atrial_scale + 7, 0.7 * B * atrial_scale
    s_ra, q_ra = L + 0.85 * a_ra, q_rv - 0.1 * b_rv
    e_ra = ((s - s_ra) / a_ra) ** 2 + ((q - q_ra) / b_ra) ** 2
    e_ra_out = ((s - s_ra) / (a_ra + 3)) ** 2 + ((q - q_ra) / (b_ra + 3)) ** 2
    mitral = (s > L - 0.5) & (s < L + 0.3 * a_la) & (np.abs(q) < r_base)
    tricuspid = (s > L - 0.5) & (s < L + 0.3 * a_ra) & (np.abs(q - q_rv) < 0.7 * b_rv) & ~mitral
    la = ((e_la <= 1) & (s > L)) | mitral
    ra = (((e_ra <= 1) & (s > L)) | tricuspid) & ~la
    atrial_walls = ((e_la_out <= 1) | (e_ra_out <= 1)) & ~la & ~ra & (s > L)
    myo = myo & ~mitral
    rv_wall = rv_wall & ~tricuspid

    # Pericardium: a bright rim around the lateral wall and apex.
    peri_out = (s >= -wa - 3) & (s <= L + 2) & (q * q <= (B + w + 3) ** 2 * (1 - ((s - A) / (A + wa + 3)) ** 2))
    peri = peri_out & ~outer & (q > -0.3 * B)

    amp = p.tissue * (0.7 + 0.6 * texture)
    amp = np.where(peri, 3.5 * p.myocardium, amp)
    amp = np.where(rv_wall | atrial_walls, 0.75 * p.myocardium, amp)
    amp = np.where(rv | la | ra, p.blood, amp)
    septal = q < 0
    amp = np.where(myo, p.myocardium * np.where(septal, 1.15, 1.0), amp)
    for zone, factor in p.dropout_zones:
        if zone == "lateral":
            sel = myo & (q > 0) & (s > 0.25 * L) & (s < 0.75 * L)
        elif zone == "septal":
            sel = myo & (q < 0) & (s > 0.35 * L) & (s < 0.8 * L)
        else:
            sel = myo & (s < 0.22 * L)
        amp = np.where(sel, amp * factor, amp)
    amp = np.where(cav, p.blood, amp)

    if p.papillary:
        s_pm, q_pm = 0.58 * L, 0.72 * B * math.sqrt(max(1 - ((0.58 * L - A) / A) ** 2, 0))
        pm = (((s - s_pm) / 7.0) ** 2 + ((q - q_pm) / 3.2) ** 2 <= 1) & cav
        amp = np.where(pm, 0.8 * p.myocardium, amp)

    # Bright fibrous annulus at the hinge points.
    for side in (-1, 1):
        amp = np.where(np.hypot(s - L, q - side * r_base) < 2.0, 1.5 * p.myocardium, amp)
    # Mitral leaflets: hinged at the annulus, coapt when closed, swing toward
    # the apex when open.
    for side, length in ((-1, 1.1), (1, 0.95)):
        hx, hq = L, side * r_base
        closed = np.array([-0.15, -side * 1.0])
        opened = np.array([-1.0, -side * 0.12])
        d = (1 - fa.mitral_open) * closed + fa.mitral_open * opened
        d = d / np.linalg.norm(d) * length * r_base
        dist = _segment_distance(s, q, hx, hq, hx + d[0], hq + d[1])
        amp = np.where(dist < 1.1, 1.3 * p.myocardium, amp)
    return amp, cav


def echogenicity_psax(x: np.ndarray, z: np.ndarray, p: SimParams, fa: FrameAnatomy, texture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A parasternal short-axis-like view (round LV ring, RV crescent): used
    only to test that non-apical clips are flagged."""
    cx, cz = 5.0, 0.5 * p.depth_mm
    r_cav = fa.b
    r_out = r_cav + fa.wall
    d = np.hypot(x - cx, z - cz)
    cav = d <= r_cav
    myo = (d <= r_out) & ~cav
    d_rv = np.hypot(x - (cx - 0.9 * r_out), z - (cz - 0.4 * r_out))
    rv = (d_rv <= 1.2 * r_out) & (d > r_out + 2)
    amp = p.tissue * (0.7 + 0.6 * texture)
    amp = np.where(rv, p.blood, amp)
    amp = np.where(myo, p.myocardium, amp)
    amp = np.where(cav, p.blood, amp)
    for ang in (0.6, 2.2):
        pm = np.hypot(x - (cx + 0.6 * r_cav * math.cos(ang)), z - (cz + 0.6 * r_cav * math.sin(ang))) < 4
        amp = np.where(pm & cav, 0.8 * p.myocardium, amp)
    return amp, cav


# --------------------------------------------------------------------------
# Imaging


@dataclass
class SectorGeometry:
    """Where the fan sits in the output frame (pixels) and its size (mm)."""

    apex_row: float
    apex_col: float
    radius_px: float
    half_angle_deg: float
    spacing_mm: float

    def pixel_to_mm(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (cols - self.apex_col) * self.spacing_mm, (rows - self.apex_row) * self.spacing_mm


def sector_geometry(p: SimParams) -> SectorGeometry:
    half = math.radians(p.sector_half_angle_deg)
    spacing = max(2 * p.depth_mm * math.sin(half) / (p.width_px - 2), p.depth_mm / (p.height_px - 2))
    return SectorGeometry(apex_row=0.5, apex_col=p.width_px / 2.0, radius_px=p.depth_mm / spacing, half_angle_deg=p.sector_half_angle_deg, spacing_mm=spacing)


def _smooth_texture(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    t = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    t -= t.min()
    return t / max(t.max(), 1e-9)


@dataclass
class SimulatedClip:
    """A rendered clip with its truth. Frames are greyscale uint8 (T, H, W)."""

    params: SimParams
    frames: np.ndarray
    lv_mask: np.ndarray  # (T, H, W) bool, LV cavity at pixel resolution
    fan_mask: np.ndarray  # (H, W) bool
    volumes_ml: np.ndarray  # true LV volume per frame
    sector: SectorGeometry
    ed_frames: list[int] = field(default_factory=list)
    es_frames: list[int] = field(default_factory=list)
    beat_starts_s: np.ndarray | None = None  # ED instants of the volume curve

    @property
    def heart_rate_in_clip(self) -> float:
        """Heart rate over the beats that start inside the clip (beat-to-beat
        jitter makes it differ from the nominal parameter)."""
        dur = self.params.n_frames / self.params.fps
        b = self.beat_starts_s
        if b is None:
            return self.params.heart_rate_bpm
        inside = np.where((b[:-1] >= 0) & (b[:-1] < dur))[0]
        if inside.size == 0:
            return self.params.heart_rate_bpm
        return float(60.0 / np.mean(np.diff(b)[inside]))

    @property
    def fps(self) -> float:
        return self.params.fps

    @property
    def spacing_mm(self) -> float:
        return self.sector.spacing_mm

    def beats(self) -> list[tuple[int, int]]:
        """(ED, ES) frame pairs of complete ejections in the clip."""
        pairs = []
        for es in self.es_frames:
            prior = [ed for ed in self.ed_frames if ed < es]
            if prior:
                pairs.append((prior[-1], es))
        return pairs

    def ef_per_beat(self) -> list[float]:
        v = self.volumes_ml
        return [100.0 * (v[ed] - v[es]) / v[ed] for ed, es in self.beats()]

    @property
    def ef_true(self) -> float | None:
        """Beat-averaged truth EF, sampled at the clip's frames exactly as a
        reader would measure it; None when no complete ejection is in view."""
        efs = self.ef_per_beat()
        return float(np.mean(efs)) if efs else None


def _true_ed_es(vc: VolumeCurve, p: SimParams) -> tuple[list[int], list[int]]:
    """Truth ED (largest volume) and ES (smallest) frame of each beat, from
    the sampled volumes. The volume is unimodal within a beat, so an
    interior local extremum inside a beat's window is that beat's extremum;
    one on the clip's first or last frame is not counted (the true extreme
    may lie outside the clip)."""
    v = vc.volumes_ml
    n = p.n_frames
    t = np.arange(n) / p.fps
    eds, ess = [], []
    for k in range(len(vc.beat_starts_s) - 1):
        b0, b1 = vc.beat_starts_s[k], vc.beat_starts_s[k + 1]
        period = b1 - b0
        for window, pick, out in (
            ((t >= b0 - 0.25 * period) & (t < b0 + 0.25 * period), np.argmax, eds),
            ((t >= b0) & (t < b1), np.argmin, ess),
        ):
            sel = np.where(window)[0]
            if sel.size < 2:
                continue
            i = int(sel[pick(v[sel])])
            if 0 < i < n - 1 and (v[i] - v[i - 1]) * (v[i + 1] - v[i]) <= 0:
                out.append(i)
    return sorted(set(eds)), sorted(set(ess))


def lv_cavity(x: np.ndarray, z: np.ndarray, p: SimParams, fa: FrameAnatomy) -> np.ndarray:
    """The truth: is (x, z) mm inside the LV cavity in this frame?"""
    if p.view == "psax":
        return np.hypot(x - 5.0, z - 0.5 * p.depth_mm) <= fa.b
    apex, u, n = _lv_frame(p)
    dx, dz = x - apex[0], z - apex[1]
    s = dx * u[0] + dz * u[1]
    q = dx * n[0] + dz * n[1]
    A, B = fa.a, fa.b
    return (s >= 0) & (s <= A * (1 + fa.tau)) & (q * q <= B * B * (1 - ((s - A) / A) ** 2))


# Display mapping: log compression that puts myocardium (amplitude ~1, at
# 0 dB gain) at MYOCARDIUM_GREY of the grey scale whatever the dynamic range,
# so the pericardium shows bright, tissue dark grey and blood near black, as
# on a scanner; gain and dynamic range then vary around it.
MYOCARDIUM_GREY = 0.5


def simulate_clip(p: SimParams, frame_indices: list[int] | None = None) -> SimulatedClip:
    """Render one clip (see module docstring for the model).

    `frame_indices` renders only those frames (others stay black with empty
    masks); training uses it to draw many hearts cheaply. Volumes and truth
    ED/ES frames always cover the whole clip.
    """
    rng = np.random.default_rng(p.seed + 104729)
    geo = sector_geometry(p)
    H, W = p.height_px, p.width_px
    half = math.radians(p.sector_half_angle_deg)

    # Beam (polar) grid: ~1.5 samples per output pixel axially, ~1.2 laterally.
    n_r = int(1.5 * geo.radius_px)
    n_th = int(1.2 * 2 * half * geo.radius_px)
    r = (np.arange(n_r) + 0.5) / n_r * p.depth_mm
    th = (np.arange(n_th) + 0.5) / n_th * 2 * half - half
    R, TH = np.meshgrid(r, th, indexing="ij")
    px, pz = R * np.sin(TH), R * np.cos(TH)

    # Output Cartesian grid and its map into the beam grid.
    rows, cols = np.mgrid[0:H, 0:W].astype(float) + 0.5
    cx, cz = geo.pixel_to_mm(rows, cols)
    cr, cth = np.hypot(cx, cz), np.arctan2(cx, cz)
    fan = (cr <= p.depth_mm) & (np.abs(cth) <= half) & (cz > 0)
    coords = np.stack([(cr / p.depth_mm * n_r - 0.5).ravel(), ((cth + half) / (2 * half) * n_th - 0.5).ravel()])

    # Truth masks on a 2x supersampled grid (partial-volume aware).
    ss = 2
    srows, scols = np.mgrid[0 : H * ss, 0 : W * ss].astype(float)
    sx, sz = geo.pixel_to_mm((srows + 0.5) / ss, (scols + 0.5) / ss)

    texture = _smooth_texture(rng, (n_r, n_th), sigma=6)
    vc = volume_curve(p)
    render = echogenicity_a4c if p.view == "a4c" else echogenicity_psax

    # Point-spread function in beam samples (axial x lateral); the filtered
    # complex field is rescaled to unit variance so amplitudes keep meaning.
    sig = (0.8, 1.1)
    psf_gain = math.sqrt(4 * math.pi * sig[0] * sig[1])
    att = 10 ** (-(p.attenuation_db_per_cm * 2 * r / 10.0) / 20.0)[:, None]
    haze = p.haze_level * np.exp(-R / 18.0)
    rib = np.ones_like(R)
    if p.rib_shadow is not None:
        c, hw, fac = p.rib_shadow
        rib = np.where(np.abs(np.degrees(TH) - c) < hw, fac, 1.0)

    def complex_noise() -> np.ndarray:
        return (rng.standard_normal((n_r, n_th)) + 1j * rng.standard_normal((n_r, n_th))) / math.sqrt(2)

    def psf(f: np.ndarray) -> np.ndarray:
        return (ndimage.gaussian_filter(f.real, sig) + 1j * ndimage.gaussian_filter(f.imag, sig)) * psf_gain

    wanted = range(p.n_frames) if frame_indices is None else sorted(set(frame_indices))
    scat = complex_noise()
    haze_scat = complex_noise()
    rho = p.speckle_correlation
    frames = np.zeros((p.n_frames, H, W), np.uint8)
    masks = np.zeros((p.n_frames, H, W), bool)
    for i in wanted:
        fa = _frame_anatomy(p, float(vc.volumes_ml[i]), float(vc.fraction[i]), float(vc.mitral_open[i]))
        amp, _ = render(px, pz, p, fa, texture)
        masks[i] = lv_cavity(sx, sz, p, fa).reshape(H, ss, W, ss).mean(axis=(1, 3)) >= 0.5
        scat = rho * scat + math.sqrt(1 - rho * rho) * complex_noise()
        field_ = scat * amp * rib
        if p.haze_level > 0:
            haze_scat = 0.95 * haze_scat + math.sqrt(1 - 0.95**2) * complex_noise()
            field_ = field_ + haze_scat * haze
        env = np.abs(psf(field_) * att + p.noise * complex_noise())
        db = 20 * np.log10(env + 1e-6) + p.gain_db
        img = np.clip(MYOCARDIUM_GREY + db / p.dynamic_range_db, 0, 1)
        cart = ndimage.map_coordinates(img, coords, order=1, mode="nearest").reshape(H, W)
        frames[i] = np.where(fan, np.round(cart * 255), 0).astype(np.uint8)
    masks &= fan[None]
    ed, es = _true_ed_es(vc, p)
    return SimulatedClip(p, frames, masks, fan, vc.volumes_ml.astype(float), geo, ed, es, vc.beat_starts_s)


# --------------------------------------------------------------------------
# Display embedding and colour overlays (to test cropping and bad input)


def embed_in_display(
    clip: SimulatedClip,
    canvas_hw: tuple[int, int] = (480, 640),
    offset_rc: tuple[int, int] | None = None,
    with_text: bool = True,
    with_ecg: bool = True,
) -> tuple[np.ndarray, tuple[int, int]]:
    """Place the fan on a scanner-like RGB screen with burnt-in text, a
    coloured depth marker and a green ECG sweep (what real DICOM clips look
    like). Returns (frames RGB uint8 (T, H, W, 3), (row, col) offset)."""
    from PIL import Image, ImageDraw

    T, h, w = clip.frames.shape
    H, W = canvas_hw
    if offset_rc is None:
        offset_rc = (int(0.06 * H), (W - w) // 2)
    r0, c0 = offset_rc
    if r0 + h > H or c0 + w > W:
        raise ValueError("clip does not fit the display canvas")
    out = np.zeros((T, H, W, 3), np.uint8)
    out[:, r0 : r0 + h, c0 : c0 + w, :] = clip.frames[..., None]
    ecg_t = np.linspace(0, 1, W // 2)
    for i in range(T):
        img = Image.fromarray(out[i])
        d = ImageDraw.Draw(img)
        if with_text:
            d.text((8, 6), "CardioAgent SIM  A4C", fill=(220, 220, 220))
            d.text((8, 20), f"{clip.params.fps:.0f} Hz  {clip.params.depth_mm:.0f} mm", fill=(200, 200, 200))
            d.text((W - 60, H // 3), "MI 0.9", fill=(200, 200, 200))
            d.ellipse((c0 + w // 2 + 12, r0 + 2, c0 + w // 2 + 20, r0 + 10), fill=(60, 180, 120))
        if with_ecg:
            base = H - 30
            phase = (ecg_t * 4 + i / max(clip.params.fps, 1)) % 1.0
            yv = base - 18 * np.exp(-((phase - 0.3) / 0.02) ** 2)
            pts = [(int(W // 4 + k), int(yv[k])) for k in range(len(ecg_t))]
            d.line(pts, fill=(40, 220, 60), width=2)
        out[i] = np.asarray(img)
    return out, offset_rc


def add_colour_doppler(frames_rgb: np.ndarray, lv_mask: np.ndarray, offset_rc: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Paint red/blue colour-flow over the LV inflow region (a colour Doppler
    clip, which the B-mode expert must refuse to measure)."""
    out = frames_rgb.copy()
    T, h, w = lv_mask.shape
    r0, c0 = offset_rc
    rows = np.arange(h)[:, None]
    for i in range(T):
        m = lv_mask[i]
        if not m.any():
            continue
        rr = np.where(m.any(axis=1))[0]
        lower = m & (rows > rr.min() + 0.4 * (rr.max() - rr.min()))
        upper = m & ~lower
        region = out[i, r0 : r0 + h, c0 : c0 + w]
        region[lower] = (200, 40, 30) if i % 2 == 0 else (230, 140, 40)
        region[upper] = (30, 60, 210)
    return out
