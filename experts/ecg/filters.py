"""Zero-phase filters shared by the median beat, delineation and plots.

Why zero-phase (forward-backward): a causal filter delays each frequency
differently and moves fiducial points; the AHA/ACCF/HRS 2007 Part I
recommendations allow a 0.67 Hz high-pass only when it is bidirectional
(or 0.05 Hz otherwise) so that the ST segment is not distorted.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps


def _sos(fs: float, kind: str, cutoff, order: int = 2):
    nyq = fs / 2.0
    wn = np.clip(np.asarray(cutoff, dtype=float) / nyq, 1e-5, 0.99)
    return sps.butter(order, wn, btype=kind, output="sos")


def highpass(x: np.ndarray, fs: float, cutoff: float = 0.67) -> np.ndarray:
    return sps.sosfiltfilt(_sos(fs, "highpass", cutoff), x, axis=-1)


def lowpass(x: np.ndarray, fs: float, cutoff: float) -> np.ndarray:
    if cutoff >= 0.45 * fs:
        return np.asarray(x, dtype=float)
    return sps.sosfiltfilt(_sos(fs, "lowpass", cutoff, order=4), x, axis=-1)


def powerline_present(x: np.ndarray, fs: float, f0: float) -> bool:
    """True when the spectrum has a peak at f0 at least 10× the median
    power of its 10 Hz neighbourhood (a notch on a clean signal only adds
    ringing after every QRS)."""
    if f0 >= 0.45 * fs:
        return False
    xx = np.atleast_2d(x)
    f, pxx = sps.welch(xx, fs=fs, nperseg=int(min(xx.shape[-1], 4 * fs)), axis=-1)
    pxx = pxx.mean(axis=0)
    at = (f >= f0 - 1.0) & (f <= f0 + 1.0)
    near = (f >= f0 - 10.0) & (f <= f0 + 10.0) & ~((f >= f0 - 2.0) & (f <= f0 + 2.0))
    if not at.any() or not near.any():
        return False
    return float(pxx[at].max()) > 10.0 * float(np.median(pxx[near]))


def notch_powerline(x: np.ndarray, fs: float) -> np.ndarray:
    """Remove 50 or 60 Hz hum when present (Q = 30, zero-phase)."""
    y = np.asarray(x, dtype=float)
    for f0 in (50.0, 60.0):
        if powerline_present(y, fs, f0):
            b, a = sps.iirnotch(f0, 30.0, fs)
            y = sps.filtfilt(b, a, y, axis=-1)
    return y


def diagnostic_band(x: np.ndarray, fs: float) -> np.ndarray:
    """0.67 Hz zero-phase high-pass, powerline notch, 100 Hz low-pass: the
    band the intervals and amplitudes are measured in."""
    return lowpass(notch_powerline(highpass(x, fs, 0.67), fs), fs, 100.0)
