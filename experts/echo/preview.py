"""Clip preview: a montage of a few frames of the clip as decoded, with the
scan sector the tool found and the LV trace it drew, plus the traced-area
curve, captioned with the quality verdict and why.

Why it exists for every decoded clip, including non-diagnostic ones: a
clinician told "this clip is unusable" must be able to see the clip and
what the tool did with it (a sector found in the wrong place, a trace that
runs into the atrium, a round short-axis cavity) to accept or overrule the
rating. The ED/ES figure and volume curve in `plots.py` need beats, so they
do not exist exactly when the explanation matters most.

The preview carries no measured numbers: the caption is built from
number-free headlines (`caption.py`) and the area curve is shown relative
to its own maximum (its shape - cycling or not - is the point, not its
size). Panel labels give frame indices, which are locations in the file.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from experts.echo.analysis import EchoAnalysis

N_PREVIEW_FRAMES = 4
CAPTION_CHARS_PER_INCH = 14  # at 8 pt


def preview_frames(n_frames: int, k: int = N_PREVIEW_FRAMES) -> list[int]:
    """First, 1/4, 1/2, 3/4 of the clip (fewer for very short clips)."""
    return sorted({int(n_frames * i / k) for i in range(k)} & set(range(n_frames)))


def _view_box(an: EchoAnalysis, margin: float = 0.08) -> tuple[int, int, int, int]:
    """The found sector's bounding box plus a margin (row0, col0, row1, col1
    exclusive), so a small fan on a large screen is not a speck, while the
    margin still shows what lies just outside the sector."""
    fr0, fc0, fr1, fc1 = an.pre.fan.bbox
    pad = int(round(margin * max(fr1 - fr0, fc1 - fc0)))
    return max(fr0 - pad, 0), max(fc0 - pad, 0), min(fr1 + 1 + pad, an.clip.height), min(fc1 + 1 + pad, an.clip.width)


def _original_traces(an: EchoAnalysis, frames: list[int]) -> np.ndarray:
    """The analysed LV masks (model grid, thresholded as the analysis did)
    at the clip's own resolution for the chosen frames."""
    return an.pre.crop.to_original(an.masks[frames].astype(np.float32))


def write_preview(an: EchoAnalysis, path: str | Path, title: str, caption: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = preview_frames(an.clip.n_frames)
    traced = _original_traces(an, frames) if an.masks.size else None
    has_curve = int(np.isfinite(an.areas).sum()) >= 2
    r0, c0, r1, c1 = _view_box(an)
    H, W = r1 - r0, c1 - c0
    panel_w = 3.0
    n_lines = len(textwrap.wrap(caption, width=CAPTION_CHARS_PER_INCH * int(panel_w * len(frames))))
    img_h, curve_h, caption_h, title_h = panel_w * H / W, (1.9 if has_curve else 0.0), 0.2 + 0.16 * n_lines, 0.55
    fig_h = title_h + img_h + 0.3 + curve_h + caption_h
    fig = plt.figure(figsize=(panel_w * len(frames), fig_h))
    rows = 2 if has_curve else 1
    grid = fig.add_gridspec(
        rows, len(frames), height_ratios=[img_h, curve_h - 0.4][:rows], hspace=0.25, wspace=0.04,
        left=0.06, right=0.99, top=1 - title_h / fig_h, bottom=(caption_h + (0.45 if has_curve else 0.0)) / fig_h,
    )
    for j, f in enumerate(frames):
        ax = fig.add_subplot(grid[0, j])
        ax.imshow(an.clip.frames[f, r0:r1, c0:c1], extent=(c0 - 0.5, c1 - 0.5, r1 - 0.5, r0 - 0.5))
        ax.contour(an.pre.fan.mask.astype(np.float32), levels=[0.5], colors=["#40d040"], linewidths=0.8)
        if traced is not None and traced[j].any():
            ax.contour(traced[j].astype(np.float32), levels=[0.5], colors=["#ff4040"], linewidths=1.2)
        ax.set_xlim(c0 - 0.5, c1 - 0.5)
        ax.set_ylim(r1 - 0.5, r0 - 0.5)
        ax.set_title(f"frame {f}" + ("" if traced is None or traced[j].any() else " (no trace)"), fontsize=8)
        ax.axis("off")
    if has_curve:
        ax = fig.add_subplot(grid[1, :])
        rel = an.areas / np.nanmax(an.areas)
        ax.plot(np.arange(len(rel)), rel, color="#333333", lw=1.0)
        for f in frames:
            ax.axvline(f, color="#999999", lw=0.6, ls=":")
        ax.set_xlabel("frame", fontsize=8)
        ax.set_ylabel("traced LV area\n(relative to its max)", fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.tick_params(labelsize=7)
    handles = [
        plt.Line2D([], [], color="#40d040", lw=1, label="scan sector found"),
        plt.Line2D([], [], color="#ff4040", lw=1.2, label="LV trace"),
    ]
    fig.legend(handles=handles, loc="upper right", fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9, x=0.01, ha="left")
    fig.text(0.01, 0.1 / fig_h, textwrap.fill(caption, width=CAPTION_CHARS_PER_INCH * int(panel_w * len(frames))), fontsize=8, va="bottom")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)
