"""Side-by-side figure: reference vs zero-filled vs other reconstructions,
with absolute error maps (PNG, matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def comparison_figure(
    panels: dict[str, np.ndarray],
    path: str | Path,
    reference: np.ndarray | None = None,
    title: str = "",
    error_gain: float = 5.0,
) -> Path:
    """`panels` maps a label to a 2-D magnitude image; with a reference, a
    second row shows |reconstruction − reference| × `error_gain`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experts.recon.metrics import nmse, psnr, ssim_2d

    items = ([("reference", reference)] if reference is not None else []) + list(panels.items())
    rows = 2 if reference is not None else 1
    fig, axes = plt.subplots(rows, len(items), figsize=(2.6 * len(items), 2.8 * rows), squeeze=False)
    vmax = float(np.percentile(reference if reference is not None else items[0][1], 99.5)) or 1.0
    for col, (label, img) in enumerate(items):
        ax = axes[0, col]
        ax.imshow(img.T, cmap="gray", vmin=0, vmax=vmax, origin="lower")
        caption = label
        if reference is not None and label != "reference":
            peak = float(reference.max())
            caption += f"\nPSNR {psnr(reference, img, peak):.1f} dB, SSIM {ssim_2d(reference, img, peak):.3f}"
        ax.set_title(caption, fontsize=8)
        ax.axis("off")
        if rows == 2:
            ax2 = axes[1, col]
            if label == "reference":
                ax2.axis("off")
                ax2.text(0.5, 0.5, f"error maps\n×{error_gain:g}", ha="center", va="center", fontsize=9)
                continue
            ax2.imshow(np.abs(img - reference).T * error_gain, cmap="magma", vmin=0, vmax=vmax, origin="lower")
            ax2.set_title(f"NMSE {nmse(reference, img):.4f}", fontsize=8)
            ax2.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
