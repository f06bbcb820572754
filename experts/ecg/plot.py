"""The standard 12-lead printout as a PNG.

Why this layout: clinicians read ECGs on the 3×4 grid with a lead II
rhythm strip at 25 mm/s and 10 mm/mV on 1 mm / 5 mm paper; anything else
changes how amplitudes and intervals look. A right-hand panel shows the
median beat of every lead with the global fiducial points the intervals
were measured from, so a reader can check them by eye.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experts.ecg.delineate import Fiducials
from experts.ecg.filters import highpass, lowpass
from experts.ecg.median_beat import MedianBeat
from experts.ecg.record import STANDARD_12, ECGRecord

MM_PER_S = 25.0
MM_PER_MV = 10.0
ROW_MM = 30.0  # 3 mV per row
GRID_MINOR = "#f6c9c9"
GRID_MAJOR = "#e58f8f"
LAYOUT = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]


def _grid(ax, width_mm: float, height_mm: float) -> None:
    for x in np.arange(0, width_mm + 0.01, 1.0):
        ax.axvline(x, color=GRID_MAJOR if round(x) % 5 == 0 else GRID_MINOR, lw=0.6 if round(x) % 5 == 0 else 0.3, zorder=0)
    for y in np.arange(0, height_mm + 0.01, 1.0):
        ax.axhline(y, color=GRID_MAJOR if round(y) % 5 == 0 else GRID_MINOR, lw=0.6 if round(y) % 5 == 0 else 0.3, zorder=0)


def _display(x: np.ndarray, fs: float) -> np.ndarray:
    """What an electrocardiograph prints: 0.67 Hz zero-phase high-pass, 40 Hz low-pass."""
    return lowpass(highpass(x, fs, 0.67), fs, 40.0)


def _calibration(ax, x0: float, y0: float) -> None:
    ax.plot([x0, x0 + 1, x0 + 1, x0 + 4, x0 + 4, x0 + 5], [y0, y0, y0 + 10, y0 + 10, y0, y0], color="k", lw=0.9)


def render_printout(
    record: ECGRecord,
    out_path: Path,
    median: MedianBeat | None = None,
    fid: Fiducials | None = None,
    title: str = "",
    start_s: float = 0.0,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fs = record.fs
    n10 = int(min(10.0, record.duration_s - start_s) * fs)
    s0 = int(start_s * fs)
    seg = {n: _display(record.lead(n), fs)[s0 : s0 + n10] for n in record.lead_names}
    twelve = all(record.has(n) for n in STANDARD_12)
    strip_mm = 10.0 * MM_PER_S
    if twelve:
        rows = LAYOUT + [["II"]]
    else:
        rows = [[n] for n in record.lead_names[:12]]
    height_mm = ROW_MM * len(rows) + 10
    median_mm = 60.0 if median is not None else 0.0
    width_mm = strip_mm + 10 + (median_mm + 10 if median is not None else 0)
    fig = plt.figure(figsize=(width_mm / 25.4 * 1.6, height_mm / 25.4 * 1.6), dpi=110)
    ax = fig.add_axes([0.0, 0.0, 1.0, 1.0])
    ax.set_xlim(0, width_mm)
    ax.set_ylim(0, height_mm)
    ax.set_axis_off()
    _grid(ax, width_mm, height_mm)
    x_left = 8.0
    for r, leads in enumerate(rows):
        y0 = height_mm - ROW_MM * (r + 0.5) - 5
        _calibration(ax, 1.5, y0)
        width = strip_mm / len(leads)
        for c, lead in enumerate(leads):
            x = seg[lead]
            per = int(len(x) / len(leads)) if len(leads) > 1 else len(x)
            part = x[c * per : (c + 1) * per] if len(leads) > 1 else x
            t_mm = x_left + c * width + np.arange(part.size) / fs * MM_PER_S
            ax.plot(t_mm, y0 + part * MM_PER_MV, color="k", lw=0.7)
            ax.text(x_left + c * width + 1, y0 + 8, lead + (" (derived)" if lead in record.derived_leads else ""), fontsize=7)
            if c > 0:
                ax.plot([x_left + c * width] * 2, [y0 - 3, y0 + 3], color="k", lw=0.8)
    if median is not None:
        xm = x_left + strip_mm + 10
        lead_rows = [n for n in STANDARD_12 if n in median.lead_names] or median.lead_names
        step = (height_mm - 10) / max(len(lead_rows), 1)
        t = (np.arange(median.waves.shape[1]) - median.r_index) / median.fs * MM_PER_S + median_mm / 2 * 0.6
        for k, lead in enumerate(lead_rows):
            y0 = height_mm - 5 - step * (k + 0.5)
            ax.plot(xm + t, y0 + median.lead(lead) * MM_PER_MV * 0.5, color="k", lw=0.6)
            ax.text(xm - 6, y0, lead, fontsize=5)
        if fid is not None:
            for name, color in (("p_on", "tab:blue"), ("qrs_on", "tab:green"), ("qrs_off", "tab:green"), ("t_end", "tab:red")):
                v = getattr(fid, name)
                if v is not None:
                    xv = xm + (v - median.r_index) / median.fs * MM_PER_S + median_mm / 2 * 0.6
                    ax.axvline(xv, ymin=0.02, ymax=0.98, color=color, lw=0.8, ls="--")
        ax.text(xm, 2, f"median beat ({median.n_beats} beats), ½ gain; dashed: P on, QRS on/off, T end", fontsize=5)
    ax.text(x_left, height_mm - 3.5, f"{title}   25 mm/s, 10 mm/mV, 0.67–40 Hz display", fontsize=7)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path
