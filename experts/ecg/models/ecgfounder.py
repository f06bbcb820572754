"""ECGFounder: preprocessing, label list, checkpoint loading and inference.

Why here and optional: ECGFounder (Li et al., NEJM AI 2025) is a published
foundation model whose weights are distributed separately under their own
terms; the tool never downloads them. When the user configures a weights
file, its 150 label probabilities are added as extra measurements (research
output, not a diagnosis); otherwise the tool says the classifier is
unavailable and the rule engine stands alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import signal as sps

from experts.core.errors import ToolUnavailable
from experts.ecg.record import STANDARD_12, ECGRecord

FS = 500
N_SAMPLES = 5000  # 10 s
LEAD_ORDER = list(STANDARD_12)  # I, II, III, aVR, aVL, aVF, V1–V6
SINGLE_LEAD = "I"  # the single-lead model reads lead I (wearable lead)
BASELINE_WINDOW_S = 0.4  # median-filter window for baseline removal
LABELS_FILE = Path(__file__).with_name("ecgfounder_labels.json")


@lru_cache(maxsize=1)
def labels() -> list[str]:
    return list(json.loads(LABELS_FILE.read_text())["labels"])


def preprocess(x: np.ndarray, fs: float) -> np.ndarray:
    """(leads, samples) in mV at any rate → (leads, 5000) float32.

    ECGFounder's pipeline: resample to 500 Hz, 10 s (centre crop or zero
    pad), 50 Hz notch, 0.67–40 Hz 4th-order Butterworth band-pass (both
    zero-phase), median-filter baseline removal, then z-score over the
    whole array (as its released data loader does)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if fs != FS:
        from fractions import Fraction

        frac = Fraction(FS / fs).limit_denominator(1000)
        x = sps.resample_poly(x, frac.numerator, frac.denominator, axis=-1)
    n = x.shape[-1]
    if n >= N_SAMPLES:
        start = (n - N_SAMPLES) // 2
        x = x[:, start : start + N_SAMPLES]
    else:
        pad = N_SAMPLES - n
        x = np.pad(x, ((0, 0), (pad // 2, pad - pad // 2)))
    b, a = sps.iirnotch(50.0, 30.0, FS)
    x = sps.filtfilt(b, a, x, axis=-1)
    b, a = sps.butter(4, [0.67, 40.0], btype="bandpass", fs=FS)
    x = sps.filtfilt(b, a, x, axis=-1)
    k = int(BASELINE_WINDOW_S * FS) | 1
    x = x - np.vstack([sps.medfilt(row, k) for row in x])
    x = (x - x.mean()) / (x.std() + 1e-8)
    return x.astype(np.float32)


def model_input(record: ECGRecord, single_lead: bool) -> np.ndarray:
    """Select and order the leads the model expects, then preprocess."""
    if single_lead:
        lead = SINGLE_LEAD if record.has(SINGLE_LEAD) else next((n for n in ("II", "MLII") if record.has(n)), None)
        if lead is None:
            raise ToolUnavailable("the single-lead ECGFounder model needs lead I (or II)")
        return preprocess(record.lead(lead)[None, :], record.fs)
    missing = [n for n in LEAD_ORDER if not record.has(n)]
    if missing:
        raise ToolUnavailable(f"the 12-lead ECGFounder model needs all 12 standard leads; missing {', '.join(missing)}")
    return preprocess(np.vstack([record.lead(n) for n in LEAD_ORDER]), record.fs)


@dataclass
class LoadedModel:
    net: object
    in_channels: int
    sha256: str
    path: str


def load(path: str | Path) -> LoadedModel:
    """Load a `.pth` with a 'state_dict' (or a bare state dict) strictly.
    The number of input channels (12 or 1) is read from the first conv."""
    import torch

    from experts.core.tool import sha256_file
    from experts.ecg.models.net1d import ecgfounder_net

    p = Path(path)
    if not p.is_file():
        raise ToolUnavailable(f"ECGFounder weights not found at {p}")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ToolUnavailable(f"cannot read ECGFounder weights {p.name} ({type(exc).__name__}: {exc})") from exc
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or "first_conv.conv.weight" not in state:
        raise ToolUnavailable(f"{p.name} is not an ECGFounder Net1D checkpoint (no 'state_dict' with first_conv)")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    in_ch = int(state["first_conv.conv.weight"].shape[1])
    n_cls = int(state["dense.weight"].shape[0])
    if n_cls != len(labels()):
        raise ToolUnavailable(f"{p.name} has {n_cls} outputs; the ECGFounder label list has {len(labels())}")
    net = ecgfounder_net(in_channels=in_ch, n_classes=n_cls)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ToolUnavailable(f"{p.name} does not match the ECGFounder architecture ({exc})") from exc
    net.eval()
    return LoadedModel(net=net, in_channels=in_ch, sha256=sha256_file(p), path=str(p))


def predict(model: LoadedModel, record: ECGRecord) -> dict[str, float]:
    """Sigmoid probability per label."""
    import torch

    x = model_input(record, single_lead=model.in_channels == 1)
    with torch.no_grad():
        logits = model.net(torch.from_numpy(x)[None])
    probs = torch.sigmoid(logits)[0].numpy()
    return dict(zip(labels(), (float(v) for v in probs)))
