"""Per-frame LV blood-pool probability from a preprocessed clip.

Three interchangeable segmenters, all returning (T, 112, 112) probabilities
on the model grid of `Preprocessed`:

* `EmbeddedUNet` - the default: our MONAI U-Net trained on simulated clips
  (weights committed in experts/echo/weights).
* `EchoNetDeepLab` - EchoNet-Dynamic's DeepLabV3-ResNet50 from a user-given
  checkpoint. Input as EchoNet trained it: the grey frame in 3 identical
  channels on the 0-255 scale, normalised by per-channel mean/std. EchoNet
  computes those on its training set and does not ship them; supply them if
  you have them, otherwise we use this clip's own statistics (a close proxy:
  EchoNet's are averages over whole 112x112 frames like ours).
* `ClassicalSegmenter` - threshold + active contour baseline (classical.py).

Why light temporal smoothing of probabilities (1-2-1 over frames): single
frames with dropout flicker, and the ED/ES picker is sensitive to jitter;
a three-frame kernel barely moves the extremes at >= 25 frames/s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experts.core.tool import sha256_file
from experts.echo.sector import Preprocessed


@dataclass
class Segmentation:
    prob: np.ndarray  # (T, S, S) float32 in [0, 1]
    model: str
    weights_sha256: str | None
    method: str


def temporal_smooth(prob: np.ndarray) -> np.ndarray:
    if prob.shape[0] < 3:
        return prob
    padded = np.concatenate([prob[:1], prob, prob[-1:]])
    return (0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]).astype(np.float32)


class EmbeddedUNet:
    name = "embedded U-Net (MONAI, simulated training data)"

    def __init__(self, weights: str | Path | None = None):
        from experts.echo.models.unet import DEFAULT_WEIGHTS, load_default

        path = Path(weights) if weights else DEFAULT_WEIGHTS
        if not path.is_file():
            from experts.core.errors import ToolUnavailable

            raise ToolUnavailable(f"embedded echo U-Net weights are missing ({path.name}); run python -m experts.echo.train")
        self.model, self.config, self.meta = load_default(path)
        self.sha256 = sha256_file(path)

    def __call__(self, pre: Preprocessed, batch: int = 64) -> Segmentation:
        import torch

        from experts.echo.models.unet import normalise_clip

        x = normalise_clip(pre.grey, pre.fan_small)
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), batch):
                out.append(torch.sigmoid(self.model(torch.from_numpy(x[i : i + batch])[:, None]))[:, 0].numpy())
        prob = np.concatenate(out) * pre.fan_small[None]
        return Segmentation(prob.astype(np.float32), "MONAI UNet " + "-".join(map(str, self.config["channels"])), self.sha256, "U-Net segmentation of each frame")


class EchoNetDeepLab:
    name = "EchoNet-Dynamic DeepLabV3-ResNet50"

    def __init__(self, weights: str | Path, mean: list[float] | None = None, std: list[float] | None = None):
        from experts.echo.models.checkpoints import load_into
        from experts.echo.models.torchvision_layouts import deeplabv3_resnet50

        self.model = deeplabv3_resnet50(num_classes=1)
        self.sha256 = load_into(self.model, weights, "DeepLabV3-ResNet50 segmentation")
        self.mean, self.std = mean, std

    def __call__(self, pre: Preprocessed, batch: int = 16) -> Segmentation:
        import torch

        x = np.repeat(pre.grey[:, None], 3, axis=1)  # (T, 3, S, S) on 0..255
        mean = np.asarray(self.mean if self.mean is not None else [x.mean()] * 3, np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(self.std if self.std is not None else [max(float(x.std()), 1e-3)] * 3, np.float32).reshape(1, 3, 1, 1)
        x = ((x - mean) / std).astype(np.float32)
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), batch):
                out.append(torch.sigmoid(self.model(torch.from_numpy(x[i : i + batch]))["out"])[:, 0].numpy())
        return Segmentation(np.concatenate(out).astype(np.float32), "EchoNet-Dynamic deeplabv3_resnet50", self.sha256, "DeepLabV3 segmentation of each frame (logit > 0)")


class ClassicalSegmenter:
    name = "classical threshold + active contour"

    def __call__(self, pre: Preprocessed) -> Segmentation:
        from experts.echo.classical import segment_clip

        prob = segment_clip(pre.grey, pre.fan_small)
        return Segmentation(prob, "Otsu threshold + morphological Chan-Vese", None, "classical threshold + active contour")
