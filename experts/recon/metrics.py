"""Image-quality metrics as the fastMRI challenge defines them.

Computed over a whole reconstructed volume (all frames and slices) against
the fully sampled reference, on magnitude images:
- NMSE = ‖ref − rec‖² / ‖ref‖²;
- PSNR = 10 log10(max(ref)² / MSE) in dB;
- SSIM = mean over 2-D images of the structural similarity with a 7×7
  uniform window, K1 = 0.01, K2 = 0.03, sample covariance and data range
  max(ref) — the settings of `skimage.metrics.structural_similarity` that
  fastMRI's evaluation calls (scikit-image is not a dependency here, so the
  formula is written out and cross-checked against MONAI's SSIM in tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter


@dataclass
class QualityMetrics:
    psnr_db: float
    ssim: float
    nmse: float


def nmse(reference: np.ndarray, recon: np.ndarray) -> float:
    ref = reference.astype(np.float64)
    return float(np.sum((ref - recon) ** 2) / np.sum(ref**2))


def psnr(reference: np.ndarray, recon: np.ndarray, data_range: float | None = None) -> float:
    ref = reference.astype(np.float64)
    peak = float(ref.max()) if data_range is None else data_range
    mse = float(np.mean((ref - recon) ** 2))
    return float(10 * np.log10(peak**2 / mse)) if mse > 0 else float("inf")


def ssim_2d(reference: np.ndarray, recon: np.ndarray, data_range: float, win: int = 7, k1: float = 0.01, k2: float = 0.03) -> float:
    x = reference.astype(np.float64)
    y = recon.astype(np.float64)
    n = win * win
    cov_norm = n / (n - 1)
    ux, uy = uniform_filter(x, win), uniform_filter(y, win)
    uxx, uyy, uxy = uniform_filter(x * x, win), uniform_filter(y * y, win), uniform_filter(x * y, win)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return float(s[pad:-pad, pad:-pad].mean())


def ssim(reference: np.ndarray, recon: np.ndarray) -> float:
    """Mean SSIM over the 2-D images of (…, rows, cols) volumes."""
    peak = float(reference.max())
    ref2 = reference.reshape(-1, *reference.shape[-2:])
    rec2 = recon.reshape(-1, *recon.shape[-2:])
    return float(np.mean([ssim_2d(a, b, peak) for a, b in zip(ref2, rec2)]))


def compare(reference: np.ndarray, recon: np.ndarray) -> QualityMetrics:
    if reference.shape != recon.shape:
        raise ValueError(f"shape mismatch: reference {reference.shape} vs reconstruction {recon.shape}")
    return QualityMetrics(psnr_db=psnr(reference, recon), ssim=ssim(reference, recon), nmse=nmse(reference, recon))


def centre_crop(images: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Crop the last two axes to `shape` around the centre (fastMRI's crop)."""
    h, w = images.shape[-2:]
    ch, cw = shape
    if ch > h or cw > w:
        raise ValueError(f"cannot crop {h}×{w} to {ch}×{cw}")
    top, left = (h - ch) // 2, (w - cw) // 2
    return images[..., top : top + ch, left : left + cw]
