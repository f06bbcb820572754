"""Figures a reader checks before trusting the numbers: the ED and ES frames
with the traced LV contour and long axis, and the LV area/volume curve with
the chosen ED/ES frames marked. Optionally an MP4 with the contour burnt in
for the UI. matplotlib with the Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experts.echo.analysis import EchoAnalysis


def _contour_original(an: EchoAnalysis, frame: int) -> np.ndarray | None:
    g = an.geometry[frame]
    if g is None:
        return None
    r, c = an.pre.crop.model_to_original(g.contour_rc[:, 0], g.contour_rc[:, 1])
    return np.column_stack([r, c])


def _axis_original(an: EchoAnalysis, frame: int) -> np.ndarray | None:
    g = an.geometry[frame]
    if g is None:
        return None
    pts = np.array([g.apex_rc, g.base_rc])
    r, c = an.pre.crop.model_to_original(pts[:, 0], pts[:, 1])
    return np.column_stack([r, c])


def plot_ed_es(an: EchoAnalysis, path: str | Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    beats = an.beats[:3]
    r0, c0, r1, c1 = an.pre.fan.bbox
    fig, axes = plt.subplots(len(beats), 2, figsize=(7.0, 3.4 * len(beats)), squeeze=False)
    for i, b in enumerate(beats):
        for j, (frame, phase, vol) in enumerate(((b.ed, "ED", b.edv), (b.es, "ES", b.esv))):
            ax = axes[i, j]
            ax.imshow(an.clip.frames[frame, r0 : r1 + 1, c0 : c1 + 1], cmap="gray" if an.clip.frames.ndim == 3 else None)
            cont = _contour_original(an, frame)
            if cont is not None:
                ax.plot(cont[:, 1] - c0, cont[:, 0] - r0, color="#ff4040", lw=1.3)
            axis = _axis_original(an, frame)
            if axis is not None:
                ax.plot(axis[:, 1] - c0, axis[:, 0] - r0, color="#40c0ff", lw=1.0, ls="--")
            vol_txt = f", {vol:.0f} mL" if an.has_mm else ""
            ax.set_title(f"beat {i + 1} {phase}: frame {frame}{vol_txt}", fontsize=9)
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_curve(an: EchoAnalysis, path: str | Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = len(an.areas)
    x = np.arange(T) / an.clip.fps if an.clip.fps else np.arange(T)
    xlabel = "time (s)" if an.clip.fps else "frame"
    fig, ax = plt.subplots(figsize=(8, 3.2))
    if an.has_mm:
        y, ylabel = an.volumes, "LV volume, discs (mL)"
    else:
        y, ylabel = an.areas, "LV area (pixels$^2$, model grid)"
    ax.plot(x, y, color="#333333", lw=1.2, label=ylabel)
    if an.cycles is not None and not an.has_mm:
        ax.plot(x, an.cycles.smoothed, color="#999999", lw=0.8, ls=":", label="smoothed")
    for k, b in enumerate(an.beats):
        ax.axvline(x[b.ed], color="#2a9d2a", lw=1, ls="--", label="ED" if k == 0 else None)
        ax.axvline(x[b.es], color="#d03030", lw=1, ls="--", label="ES" if k == 0 else None)
        ax.annotate(f"EF {b.ef:.0f}%", (x[b.es], np.nanmin(y)), fontsize=8, color="#d03030", ha="center", va="bottom")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def overlay_video(an: EchoAnalysis, path: str | Path) -> Path:
    """MP4 of the fan region with the LV mask tinted red: the mask as the
    analysis thresholded it, so the video shows the trace that was measured."""
    from scipy import ndimage

    from experts.echo.writers import write_video

    r0, c0, r1, c1 = an.pre.fan.bbox
    masks = an.pre.crop.to_original(an.masks.astype(np.float32))[:, r0 : r1 + 1, c0 : c1 + 1]
    frames = an.clip.frames[:, r0 : r1 + 1, c0 : c1 + 1].astype(np.float32)
    edge = masks & ~np.stack([ndimage.binary_erosion(m, iterations=2) for m in masks])
    frames[masks, 0] = 0.6 * frames[masks, 0] + 0.4 * 255
    frames[edge] = (255, 64, 64)
    return write_video(np.clip(frames, 0, 255).astype(np.uint8), an.clip.fps or 30.0, path)
