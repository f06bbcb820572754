"""Network definition and weight loading for short-axis segmentation.

Why one architecture: the embedded default is the same MONAI 2-D residual
U-Net as the model-zoo bundle `ventricular_short_axis_3label`
(`UNet(spatial_dims=2, in_channels=1, out_channels=4,
channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2)`),
so that public checkpoint, our weights and any state dict trained with that
layout load through one path. What differs between checkpoints is the input
convention (pixel size, crop, intensity scaling) and the label order; both
travel with our checkpoint and are options for user weights.

Accepted user weights (`weights_path`):
- a MONAI bundle folder (or its .zip): `configs/inference.json|yaml` gives
  `network_def`, `models/model.pt` the state dict (or `models/model.ts`);
- a plain state dict `.pt/.pth` for the architecture above (or another
  UNet layout given by the arch options), optionally wrapped as
  {"model": ...} or {"state_dict": ...};
- a TorchScript file `.ts`.
Nothing is downloaded; a missing or mismatched file raises `ToolUnavailable`.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experts.cmr.preprocess import BUNDLE_CONVENTION, InputConvention
from experts.core.errors import ToolUnavailable
from experts.core.tool import sha256_file

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "cmr_unet2d.pt"
CHECKPOINT_FORMAT = "cardioagent-cmr-unet/1"
BUNDLE_ARCH: dict[str, Any] = {
    "spatial_dims": 2,
    "in_channels": 1,
    "out_channels": 4,
    "channels": (16, 32, 64, 128, 256),
    "strides": (2, 2, 2, 2),
    "num_res_units": 2,
}
# output channel order of a convention, as canonical indices (bg, LV, MYO, RV)
_CHANNEL_ORDER = {"canonical": [0, 1, 2, 3], "acdc": [0, 3, 2, 1]}


def build_unet(arch: dict[str, Any] | None = None):
    from monai.networks.nets import UNet

    a = dict(BUNDLE_ARCH)
    a.update(arch or {})
    return UNet(
        spatial_dims=a["spatial_dims"],
        in_channels=a["in_channels"],
        out_channels=a["out_channels"],
        channels=tuple(a["channels"]),
        strides=tuple(a["strides"]),
        num_res_units=a["num_res_units"],
    )


@dataclass
class Segmenter:
    """A loaded network with everything needed to feed it."""

    net: Any
    convention: InputConvention
    name: str
    weights_sha256: str | None
    label_convention: str = "canonical"
    coarse: InputConvention | None = None  # a second, wide-field pass that finds the heart
    info: dict = field(default_factory=dict)

    def predict(self, x):
        """(N, 1, S, S) normalised input -> (N, 4, S, S) softmax in canonical order."""
        import torch

        with torch.inference_mode():
            out = self.net(x)
            if isinstance(out, (list, tuple)):
                out = out[0]
            if out.shape[1] != 4:
                raise ToolUnavailable(f"{self.name}: the network has {out.shape[1]} output channels; 4 are needed (bg, LV, MYO, RV)")
            probs = torch.softmax(out.float(), dim=1)
            return probs[:, _CHANNEL_ORDER[self.label_convention]]


def _unwrap_state_dict(obj: Any) -> dict:
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "network", "net"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
        if all(hasattr(v, "shape") for v in obj.values()):
            return obj
    raise ToolUnavailable("the weights file holds no state dict (expected a dict of tensors)")


def _load_torch(path: Path) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors come in many types
        raise ToolUnavailable(f"cannot read weights {path.name}: {type(exc).__name__}: {exc}") from exc


def load_default() -> Segmenter:
    """The embedded model trained by `experts/cmr/train.py`."""
    if not DEFAULT_WEIGHTS.is_file():
        raise ToolUnavailable(f"embedded CMR weights missing ({DEFAULT_WEIGHTS.name}); run experts/cmr/train.py")
    return load_checkpoint(DEFAULT_WEIGHTS)


def load_checkpoint(path: Path, use_torchscript: bool = True) -> Segmenter:
    """Our own checkpoint format (architecture and conventions inside).

    When a TorchScript copy made from exactly this checkpoint lies next to
    it (`torchscript.py`), that copy is used: same weights, without the
    seconds `import monai` costs."""
    path = Path(path)
    ckpt = _load_torch(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ToolUnavailable(f"{path.name} is not a {CHECKPOINT_FORMAT} checkpoint")
    digest = sha256_file(path)
    net = None
    if use_torchscript:
        from experts.cmr.torchscript import load_matching

        net = load_matching(path, digest)
    if net is None:
        net = build_unet(ckpt["arch"])
        state = {k: v.float() for k, v in ckpt["state_dict"].items()}
        net.load_state_dict(state)
        net.eval()
    coarse = ckpt.get("coarse_convention")
    return Segmenter(
        net=net,
        convention=InputConvention(**ckpt["convention"]),
        coarse=InputConvention(**coarse) if coarse else None,
        name=ckpt.get("name", path.stem),
        weights_sha256=digest,
        label_convention=ckpt.get("labels", "canonical"),
        info=ckpt.get("training", {}),
    )


def load_user_weights(
    path: str | Path,
    label_convention: str = "canonical",
    convention: InputConvention = BUNDLE_CONVENTION,
    arch: dict[str, Any] | None = None,
) -> Segmenter:
    """Weights the user supplies: bundle folder/zip, state dict or TorchScript."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ToolUnavailable(f"weights path {p} does not exist")
    if p.is_file() and p.suffix == ".zip":
        tmp = tempfile.mkdtemp(prefix="cmr-bundle-")
        try:
            with zipfile.ZipFile(p) as zf:
                zf.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise ToolUnavailable(f"{p.name} is not a valid zip bundle ({exc})") from exc
        roots = [c.parent for c in Path(tmp).rglob("configs") if c.is_dir()]
        if not roots:
            raise ToolUnavailable(f"{p.name}: no configs/ folder inside the bundle zip")
        return _load_bundle_dir(roots[0], label_convention, convention, digest=sha256_file(p))
    if p.is_dir():
        return _load_bundle_dir(p, label_convention, convention, digest=None)
    if p.suffix == ".ts":
        return _load_torchscript(p, label_convention, convention)
    obj = _load_torch(p)
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        return load_checkpoint(p)
    net = build_unet(arch)
    try:
        net.load_state_dict(_unwrap_state_dict(obj))
    except RuntimeError as exc:
        raise ToolUnavailable(
            f"{p.name} does not fit the UNet layout {dict(BUNDLE_ARCH, **(arch or {}))}: {str(exc)[:300]}"
        ) from exc
    net.eval()
    return Segmenter(net=net, convention=convention, name=f"user state dict {p.name}", weights_sha256=sha256_file(p), label_convention=label_convention)


def _load_torchscript(p: Path, label_convention: str, convention: InputConvention) -> Segmenter:
    import torch

    try:
        net = torch.jit.load(str(p), map_location="cpu")
    except Exception as exc:
        raise ToolUnavailable(f"cannot load TorchScript {p.name}: {exc}") from exc
    net.eval()
    return Segmenter(net=net, convention=convention, name=f"user TorchScript {p.name}", weights_sha256=sha256_file(p), label_convention=label_convention)


def _load_bundle_dir(root: Path, label_convention: str, convention: InputConvention, digest: str | None) -> Segmenter:
    """A MONAI bundle: network from configs/inference.*, weights from models/."""
    from monai.bundle import ConfigParser

    config = next((root / "configs" / n for n in ("inference.json", "inference.yaml", "inference.yml") if (root / "configs" / n).is_file()), None)
    ts = root / "models" / "model.ts"
    pt = root / "models" / "model.pt"
    if config is None:
        if ts.is_file():
            return _load_torchscript(ts, label_convention, convention)
        raise ToolUnavailable(f"bundle {root.name}: no configs/inference.json")
    if not pt.is_file():
        if ts.is_file():
            return _load_torchscript(ts, label_convention, convention)
        raise ToolUnavailable(f"bundle {root.name}: no models/model.pt")
    parser = ConfigParser()
    parser.read_config(str(config))
    try:
        net = parser.get_parsed_content("network_def", instantiate=True)
    except Exception as exc:
        raise ToolUnavailable(f"bundle {root.name}: cannot build network_def ({exc})") from exc
    try:
        net.load_state_dict(_unwrap_state_dict(_load_torch(pt)))
    except RuntimeError as exc:
        raise ToolUnavailable(f"bundle {root.name}: weights do not fit network_def ({str(exc)[:300]})") from exc
    net.eval()
    name = root.name
    meta = root / "configs" / "metadata.json"
    if meta.is_file():
        try:
            m = json.loads(meta.read_text())
            name = f"{m.get('name', root.name)} {m.get('version', '')}".strip()
        except (OSError, ValueError):
            pass
    return Segmenter(
        net=net,
        convention=convention,
        name=f"MONAI bundle {name}",
        weights_sha256=digest or sha256_file(pt),
        label_convention=label_convention,
    )
