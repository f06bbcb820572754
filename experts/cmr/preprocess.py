"""Bring native cine slices onto a network's input grid and back.

Why a module: the embedded model and a user-supplied MONAI bundle expect
different inputs (ours: 1.5 mm pixels, 128x128 around the heart, percentile
scaling; the `ventricular_short_axis_3label` bundle: native pixels, 256x256,
min-max scaling). Training uses the very same functions as inference, so
the model never sees a preprocessing it was not trained with. Resampling
is one bilinear `grid_sample` each way; probabilities, not labels, are
resampled back, so the native-resolution boundary is smooth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class InputConvention:
    """How a network wants its 2-D input."""

    size: int = 128
    pixel_spacing_mm: float | None = 1.5  # None: native pixels (no resampling)
    intensity: Literal["percentile_slice", "minmax_volume"] = "percentile_slice"

    def to_dict(self) -> dict:
        return {"size": self.size, "pixel_spacing_mm": self.pixel_spacing_mm, "intensity": self.intensity}


BUNDLE_CONVENTION = InputConvention(size=256, pixel_spacing_mm=None, intensity="minmax_volume")


def heart_centre(images: np.ndarray, spacing_mm: tuple[float, float]) -> tuple[float, float]:
    """(row, col) of the heart in native pixels, from where the cine moves.

    The ventricles are the only large structures whose intensity changes
    over the cycle, so the temporal standard deviation of the middle slices,
    smoothed over ~15 mm, peaks over them. With a single phase there is no
    motion and the image centre is returned."""
    from scipy.ndimage import gaussian_filter

    T, Z, H, W = images.shape
    if T < 2:
        return (H - 1) / 2.0, (W - 1) / 2.0
    mid = images[:, Z // 4 : max(Z // 4 + 1, (3 * Z + 3) // 4)]
    scale = np.percentile(mid, 99) + 1e-6
    motion = (mid / scale).std(axis=0).mean(axis=0)
    sigma = (15.0 / spacing_mm[0], 15.0 / spacing_mm[1])
    motion = gaussian_filter(motion, sigma)
    # stay away from the FOV edges, where wrap-around and flow can flicker
    rr, cc = np.mgrid[0:H, 0:W]
    dist = np.hypot((rr - (H - 1) / 2) / H, (cc - (W - 1) / 2) / W)
    motion = motion * np.clip(1.2 - 1.2 * dist, 0, 1)
    thr = motion.max() * 0.7
    w = np.where(motion >= thr, motion, 0)
    if w.sum() <= 0:
        return (H - 1) / 2.0, (W - 1) / 2.0
    return float((rr * w).sum() / w.sum()), float((cc * w).sum() / w.sum())


@dataclass
class GridMap:
    """Native (H, W) <-> model (S, S) mapping for one stack."""

    native_shape: tuple[int, int]
    centre: tuple[float, float]  # native pixel (row, col) mapped to the model grid centre
    step: tuple[float, float]  # native pixels per model pixel (rows, cols)
    size: int
    angle: float = 0.0  # rotation of the model grid (radians); training augmentation only
    flip: bool = False  # mirror the model grid's columns; training augmentation only

    @classmethod
    def for_stack(cls, shape: tuple[int, int], spacing_mm: tuple[float, float], centre: tuple[float, float], conv: InputConvention) -> "GridMap":
        if conv.pixel_spacing_mm is None:
            step = (1.0, 1.0)
        else:
            step = (conv.pixel_spacing_mm / spacing_mm[0], conv.pixel_spacing_mm / spacing_mm[1])
        return cls(native_shape=(int(shape[0]), int(shape[1])), centre=centre, step=step, size=conv.size)

    def _forward_grid(self):
        """grid_sample grid (1, S, S, 2) in the native image's [-1, 1] coords."""
        import torch

        S = self.size
        H, W = self.native_shape
        u = np.arange(S) - (S - 1) / 2.0
        uu, vv = np.meshgrid(u, -u if self.flip else u, indexing="ij")
        ca, sa = np.cos(self.angle), np.sin(self.angle)
        rows = self.centre[0] + (ca * uu - sa * vv) * self.step[0]
        cols = self.centre[1] + (sa * uu + ca * vv) * self.step[1]
        gy = (2 * rows + 1) / H - 1  # align_corners=False
        gx = (2 * cols + 1) / W - 1
        return torch.from_numpy(np.stack([gx, gy], axis=-1)[None].astype(np.float32))

    def _backward_grid(self):
        import torch

        S = self.size
        H, W = self.native_shape
        rows = (np.arange(H) - self.centre[0]) / self.step[0] + (S - 1) / 2.0
        cols = (np.arange(W) - self.centre[1]) / self.step[1] + (S - 1) / 2.0
        gy = (2 * rows + 1) / S - 1
        gx = (2 * cols + 1) / S - 1
        yy, xx = np.meshgrid(gy, gx, indexing="ij")
        return torch.from_numpy(np.stack([xx, yy], axis=-1)[None].astype(np.float32))

    def to_model(self, images: np.ndarray, mode: str = "bilinear"):
        """(N, H, W) native -> (N, 1, S, S) float tensor (zeros outside)."""
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))[:, None]
        grid = self._forward_grid().expand(x.shape[0], -1, -1, -1)
        return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)

    def to_native(self, probs):
        """(N, C, S, S) probabilities -> (N, C, H, W); outside the model's
        field of view everything is background (class 0)."""
        import torch
        import torch.nn.functional as F

        grid = self._backward_grid().expand(probs.shape[0], -1, -1, -1)
        out = F.grid_sample(probs, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        covered = F.grid_sample(torch.ones_like(probs[:, :1]), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        out[:, :1] += 1.0 - covered
        return out


def normalise(x, conv: InputConvention, volume_groups: list[slice] | None = None):
    """Scale intensities the way the network was trained.

    percentile_slice: each slice (on the model grid) to its 1st-99.5th
    percentile range, so bias and vendor scale do not matter.
    minmax_volume: each group of slices (one phase of the stack) to [0, 1]
    by min and max, as MONAI's ScaleIntensity in the bundle does."""
    import torch

    if conv.intensity == "percentile_slice":
        flat = x.reshape(x.shape[0], -1)
        lo = torch.quantile(flat, 0.01, dim=1)
        hi = torch.quantile(flat, 0.995, dim=1)
        span = (hi - lo).clamp_min(1e-6)
        return ((x - lo[:, None, None, None]) / span[:, None, None, None]).clamp(-0.5, 2.0)
    out = x.clone()
    for g in volume_groups or [slice(0, x.shape[0])]:
        v = x[g]
        lo, hi = v.min(), v.max()
        out[g] = (v - lo) / (hi - lo).clamp_min(1e-6)
    return out
