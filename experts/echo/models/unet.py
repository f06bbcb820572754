"""The embedded default LV segmenter: a small MONAI U-Net trained on the
project's simulated apical clips (see `experts/echo/train.py` and
`experts/echo/weights/MODEL_CARD.md`).

Why MONAI's UNet: it is the field's standard building block, its layout is
fixed by a handful of constructor arguments (stored beside the weights), and
at 0.17 M parameters it segments 128 frames of 112x112 in well under a second
on one CPU thread. Batch norm + ReLU without residual units: on one CPU
thread this trains ~2.5x more steps per minute than MONAI's default
(instance norm, PReLU, residual units), and within a 10-minute budget the
number of steps decides whether the boundary converges (an undertrained
net draws the LV ~1 pixel too large, which lowers EF).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "echo_unet_sim.pt"

UNET_CONFIG: dict[str, Any] = {
    "spatial_dims": 2,
    "in_channels": 1,
    "out_channels": 1,
    "channels": [8, 16, 32, 64, 128],
    "strides": [2, 2, 2, 2],
    "num_res_units": 0,
    "norm": "batch",
    "act": "relu",
}
INPUT_SIZE = 112


def build_unet(config: dict[str, Any] | None = None):
    from monai.networks.nets import UNet

    cfg = dict(UNET_CONFIG if config is None else config)
    return UNet(
        spatial_dims=cfg["spatial_dims"],
        in_channels=cfg["in_channels"],
        out_channels=cfg["out_channels"],
        channels=tuple(cfg["channels"]),
        strides=tuple(cfg["strides"]),
        num_res_units=cfg["num_res_units"],
        norm=cfg.get("norm", "instance"),
        act=cfg.get("act", "prelu"),
    )


def normalise_clip(grey: np.ndarray, fan: np.ndarray) -> np.ndarray:
    """Z-score the whole clip with the statistics of its fan pixels, and set
    the outside of the fan to 0. Per-clip (not per-frame) so the blood pool
    keeps its brightness relative to the wall across the cycle, and gain
    differences between scanners cancel."""
    vals = grey[:, fan]
    mu = float(vals.mean()) if vals.size else 0.0
    sd = float(vals.std()) if vals.size else 1.0
    out = (grey - mu) / max(sd, 1e-3)
    out[:, ~fan] = 0.0
    return out.astype(np.float32)


def save_weights(model, path: str | Path, config: dict[str, Any], meta: dict[str, Any]) -> None:
    """Store fp16 weights (half the size; the U-Net is insensitive to it)
    with the constructor config and training metadata, all plain data so
    the file loads with weights_only=True."""
    import torch

    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "config": config, "meta": meta}, str(path))


def load_default(path: str | Path = DEFAULT_WEIGHTS):
    """Return (model in eval mode, config, meta)."""
    import torch

    blob = torch.load(str(path), map_location="cpu", weights_only=True)
    model = build_unet(blob["config"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    model.eval()
    return model, blob["config"], blob.get("meta", {})
