"""Turn magnitude cine images into simulated multi-coil k-space acquisitions.

Why this way: real raw cine data are scarce and heavy, but reconstruction
quality and phenotype preservation can be measured exactly when we know the
truth. A magnitude cine (x, y, z, t) — our phantom or the real Sunnybrook
series — gets a smooth synthetic phase, birdcage coil sensitivities
(sigpy.mri.birdcage_maps), complex Gaussian noise, and is Fourier
transformed per coil. The fully sampled root-sum-of-squares image is the
reference (fastMRI's convention, noise included, as with real data).
Undersampling then zeroes skipped phase-encode lines.
"""

from __future__ import annotations

import numpy as np

from experts.recon import masks as masklib
from experts.recon.fourier import fft2c, ifft2c, rss
from experts.recon.kspace import KSpaceStudy


def smooth_phase(rows: int, cols: int, rng: np.random.Generator, strength: float = np.pi) -> np.ndarray:
    """A random low-order polynomial phase map in radians (B0/receiver-like)."""
    x = np.linspace(-1, 1, rows)[:, None]
    y = np.linspace(-1, 1, cols)[None, :]
    terms = [np.ones_like(x * y), x + 0 * y, y + 0 * x, x * x + 0 * y, x * y, y * y + 0 * x]
    coef = rng.uniform(-1, 1, len(terms))
    phase = sum(c * t for c, t in zip(coef, terms))
    phase = phase / (np.abs(phase).max() + 1e-9) * strength
    return phase.astype(np.float32)


def coil_maps(coils: int, rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Birdcage sensitivities (coils, rows, cols), varied in coil-ring radius,
    position and phase, scaled so the RSS of the maps peaks at 1.

    The position shift crops a window out of maps computed on a larger grid:
    rolling the maps instead would wrap them around the field of view and
    put a seam into every sensitivity. The ring radius (in units of the
    larger grid's half-width, where the window's corners reach at most
    ≈ 1.41) keeps every coil outside the field of view: sigpy's 1/r
    birdcage maps are singular at the coil itself."""
    import sigpy.mri as mr

    if coils == 1:
        return np.ones((1, rows, cols), dtype=np.complex64)
    pr, pc = rows // 8, cols // 8
    big = mr.birdcage_maps((coils, rows + 2 * pr, cols + 2 * pc), r=float(rng.uniform(1.55, 2.0)), nzz=coils)
    r0, c0 = int(rng.integers(0, 2 * pr + 1)), int(rng.integers(0, 2 * pc + 1))
    maps = big[:, r0 : r0 + rows, c0 : c0 + cols].astype(np.complex64)
    maps *= np.exp(1j * rng.uniform(0, 2 * np.pi, (coils, 1, 1))).astype(np.complex64)
    return maps / rss(maps, 0).max()


def fully_sampled_study(
    images_xyzt: np.ndarray,
    coils: int = 8,
    seed: int = 0,
    noise_level: float = 0.01,
    spacing_mm: tuple[float, float, float] | None = None,
    frame_interval_ms: float | None = None,
) -> KSpaceStudy:
    """Magnitude cine (x, y, z, t) → fully sampled multi-coil KSpaceStudy with
    its RSS reference. `noise_level` is the per-sample noise standard
    deviation relative to the image's 99th percentile."""
    rng = np.random.default_rng(seed)
    img = np.asarray(images_xyzt, dtype=np.float32)
    if img.ndim != 4:
        raise ValueError("images must be (x, y, z, t)")
    img = img / (np.percentile(img, 99.5) + 1e-9)
    mag = np.transpose(img, (3, 2, 0, 1))  # (t, z, rows, cols)
    frames, slices, rows, cols = mag.shape
    ksp = np.empty((frames, slices, coils, rows, cols), dtype=np.complex64)
    for z in range(slices):
        maps = coil_maps(coils, rows, cols, rng)
        phase = smooth_phase(rows, cols, rng)
        for t in range(frames):
            drift = 0.2 * np.sin(2 * np.pi * t / max(frames, 1))  # slow physiological phase drift
            complex_img = mag[t, z] * np.exp(1j * (phase + drift))
            ksp[t, z] = fft2c(maps * complex_img[None])
    sigma = noise_level * float(np.percentile(mag, 99))
    noise = (rng.standard_normal(ksp.shape) + 1j * rng.standard_normal(ksp.shape)) * (sigma / np.sqrt(2))
    ksp = (ksp + noise).astype(np.complex64)
    reference = rss(ifft2c(ksp), coil_axis=2).astype(np.float32)
    return KSpaceStudy(
        kspace=ksp,
        mask=np.ones((frames, slices, rows, cols), dtype=bool),
        source_format="npz",
        reference=reference,
        reference_origin="fully sampled simulated acquisition",
        spacing_mm=spacing_mm,
        frame_interval_ms=frame_interval_ms,
        notes=["simulated"],
    )


def undersample(
    study: KSpaceStudy,
    acceleration: float,
    pattern: str = "equispaced",
    acs: int = 24,
    interleave: bool = True,
    seed: int = 0,
) -> KSpaceStudy:
    """Retrospectively undersample along the phase-encode (column) axis.
    'equispaced' is CMRxRecon's pattern (nominal R, ACS not counted);
    'random' is variable-density with R counting all lines."""
    frames, slices, _, rows, cols = study.kspace.shape
    acs = min(acs, cols)
    if pattern == "equispaced":
        lines = masklib.equispaced_acs(cols, int(round(acceleration)), frames, acs=acs, interleave=interleave)
    elif pattern == "random":
        lines = masklib.variable_density(cols, acceleration, frames, acs=acs, seed=seed)
    else:
        raise ValueError(f"unknown pattern {pattern!r}")
    mask = masklib.expand_line_mask(lines, slices, rows)
    ksp = (study.kspace * mask[:, :, None]).astype(np.complex64)
    return KSpaceStudy(
        kspace=ksp,
        mask=mask,
        source_format=study.source_format,
        reference=study.reference,
        reference_origin=study.reference_origin,
        spacing_mm=study.spacing_mm,
        frame_interval_ms=study.frame_interval_ms,
        output_shape=study.output_shape,
        nominal_acceleration=float(acceleration),
        notes=[*study.notes, f"retrospectively undersampled ({pattern}, R={acceleration:g}, {acs} ACS lines)"],
    )
