"""EchoNet-Dynamic's video EF regressor (R(2+1)D-18, fc -> 1), run beat by
beat as in the paper.

Input as EchoNet trained it: 32 frames taken every 2nd frame (a ~1.3 s
window at 50 frames/s), 3 identical grey channels at 112x112 on the 0-255
scale, normalised by per-channel mean/std (user-supplied, else this clip's
own statistics). One clip is centred on each end-systole the segmentation
found; the prediction is averaged over beats (EchoNet's beat-to-beat
averaging). Frames beyond the clip are zero after normalisation, as
EchoNet pads short videos.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experts.echo.sector import Preprocessed


@dataclass
class RegressorResult:
    per_beat: list[float]
    clip_frames: list[list[int]]
    weights_sha256: str

    @property
    def mean(self) -> float:
        return float(np.mean(self.per_beat))


class EchoNetEFRegressor:
    def __init__(self, weights: str | Path, mean: list[float] | None = None, std: list[float] | None = None, frames: int = 32, period: int = 2):
        from experts.echo.models.checkpoints import load_into
        from experts.echo.models.torchvision_layouts import r2plus1d_18

        self.model = r2plus1d_18(num_classes=1)
        self.sha256 = load_into(self.model, weights, "R(2+1)D-18 EF regressor")
        self.mean, self.std, self.frames, self.period = mean, std, frames, period

    def clip_indices(self, centre: int, n_total: int) -> list[int]:
        span = self.frames * self.period
        start = min(max(centre - span // 2, 0), max(n_total - span, 0))
        return [start + k * self.period for k in range(self.frames)]

    def __call__(self, pre: Preprocessed, es_frames: list[int]) -> RegressorResult:
        import torch

        grey = pre.grey  # (T, S, S) 0..255
        x3 = np.repeat(grey[None], 3, axis=0)  # (3, T, S, S)
        mean = np.asarray(self.mean if self.mean is not None else [grey.mean()] * 3, np.float32).reshape(3, 1, 1, 1)
        std = np.asarray(self.std if self.std is not None else [max(float(grey.std()), 1e-3)] * 3, np.float32).reshape(3, 1, 1, 1)
        x3 = (x3 - mean) / std
        T = grey.shape[0]
        clips, used = [], []
        for es in es_frames:
            idx = self.clip_indices(es, T)
            clip = np.zeros((3, self.frames) + grey.shape[1:], np.float32)
            valid = [k for k, i in enumerate(idx) if i < T]
            clip[:, valid] = x3[:, [idx[k] for k in valid]]
            clips.append(clip)
            used.append([i for i in idx if i < T])
        preds: list[float] = []
        with torch.inference_mode():
            for clip in clips:
                preds.append(float(self.model(torch.from_numpy(clip)[None])[0, 0]))
        return RegressorResult(preds, used, self.sha256)
