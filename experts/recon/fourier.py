"""Centred, orthonormal 2-D Fourier transforms on the last two axes.

Why one module: every method, the simulator and the VarNet must agree on the
same convention (centred k-space, `norm="ortho"`, as fastMRI and sigpy use),
otherwise images come out shifted or scaled between methods.
"""

from __future__ import annotations

import numpy as np

AXES = (-2, -1)


def fft2c(image: np.ndarray) -> np.ndarray:
    """Image (…, rows, cols) → centred k-space."""
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(image, axes=AXES), axes=AXES, norm="ortho"), axes=AXES)


def ifft2c(kspace: np.ndarray) -> np.ndarray:
    """Centred k-space (…, rows, cols) → image."""
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace, axes=AXES), axes=AXES, norm="ortho"), axes=AXES)


def rss(coil_images: np.ndarray, coil_axis: int) -> np.ndarray:
    """Root-sum-of-squares coil combination (the fastMRI reference image)."""
    return np.sqrt(np.sum(np.abs(coil_images) ** 2, axis=coil_axis))
