"""PNG figures a reader checks the numbers against: a montage of the ED and
ES slices with the contours that produced the volumes, and the volume-time
curves with the ED/ES phases marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experts.cmr.cine import CineStack
from experts.cmr.labels import LV, MYO, RV
from experts.cmr.quantify import Function

_COLOURS = {MYO: "#34c759", RV: "#0a84ff", LV: "#ff3b30"}  # drawing order: the pool border on top


def _crop_box(labels: np.ndarray, shape: tuple[int, int], spacing: tuple[float, float], margin_mm: float = 25.0):
    heart = labels.any(axis=(0, 1)) if labels.ndim == 4 else labels.any(axis=0)
    H, W = shape
    if not heart.any():
        return 0, H, 0, W
    rr, cc = np.nonzero(heart)
    mr, mc = int(margin_mm / spacing[0]), int(margin_mm / spacing[1])
    r0, r1 = max(0, rr.min() - mr), min(H, rr.max() + mr + 1)
    c0, c1 = max(0, cc.min() - mc), min(W, cc.max() + mc + 1)
    side = max(r1 - r0, c1 - c0)
    rc, cc_ = (r0 + r1) // 2, (c0 + c1) // 2
    r0, c0 = max(0, rc - side // 2), max(0, cc_ - side // 2)
    return r0, min(H, r0 + side), c0, min(W, c0 + side)


def montage(stack: CineStack, labels: np.ndarray, fn: Function, path: Path, max_slices: int = 10) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    Z = stack.n_slices
    heart_slices = [z for z in range(Z) if labels[:, z].any()]
    if not heart_slices:
        heart_slices = list(range(Z))
    if len(heart_slices) > max_slices:
        idx = np.linspace(0, len(heart_slices) - 1, max_slices).round().astype(int)
        heart_slices = [heart_slices[i] for i in idx]
    phases = [("ED", fn.ed), ("ES", fn.es)]
    r0, r1, c0, c1 = _crop_box(labels[[fn.ed, fn.es]], labels.shape[2:], stack.pixel_spacing_mm)
    n = len(heart_slices)
    fig, axes = plt.subplots(2, n, figsize=(1.7 * n, 4.3), squeeze=False)
    for row, (name, t) in enumerate(phases):
        for col, z in enumerate(heart_slices):
            ax = axes[row, col]
            img = stack.images[t, z, r0:r1, c0:c1]
            lo, hi = np.percentile(img, [1, 99.5]) if img.size else (0, 1)
            ax.imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
            lab = labels[t, z, r0:r1, c0:c1]
            for value, colour in _COLOURS.items():
                if (lab == value).any():
                    ax.contour(lab == value, levels=[0.5], colors=[colour], linewidths=0.8)
            counted = fn.curves.lv_included[t, z]
            ax.set_title(f"{name} s{z + 1}" + ("" if counted or not (lab == LV).any() else " (excl.)"), fontsize=7)
            ax.axis("off")
    fig.suptitle("Red: LV pool, green: LV myocardium, blue: RV pool (slices 1-based)", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.93), h_pad=1.2)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def volume_curve(stack: CineStack, fn: Function, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = stack.n_phases
    if stack.trigger_times_ms is not None and len(stack.trigger_times_ms) == T:
        x, xlabel = np.asarray(stack.trigger_times_ms), "trigger time (ms)"
    else:
        x, xlabel = np.arange(1, T + 1), "phase"
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    ax.plot(x, fn.curves.lv_ml, "-o", color=_COLOURS[LV], ms=3, label="LV")
    if fn.curves.rv_ml.max() > 0:
        ax.plot(x, fn.curves.rv_ml, "-o", color=_COLOURS[RV], ms=3, label="RV")
    ax.axvline(x[fn.ed], color="k", ls="--", lw=0.8)
    ax.axvline(x[fn.es], color="k", ls=":", lw=0.8)
    ax.annotate(f"ED (phase {fn.ed + 1})", (x[fn.ed], ax.get_ylim()[1]), fontsize=7, va="top", ha="left")
    ax.annotate(f"ES (phase {fn.es + 1})", (x[fn.es], ax.get_ylim()[0]), fontsize=7, va="bottom", ha="left")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("volume (mL)")
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
