"""Load a published checkpoint from a user-given path into our modules.

Why the unwrapping: EchoNet-Dynamic saves `{"epoch", "state_dict",
"best_loss", "loss", "opt_dict", "scheduler_dict"}` from a model wrapped in
`torch.nn.DataParallel`, so every key starts with `module.`. Other training
scripts save a bare state dict or nest it under "model". We accept all of
these, strip the prefix, drop an auxiliary classifier the inference model
does not have, and then load *strictly*, so a wrong file fails loudly with
the names that do not match instead of silently running random weights.

`torch.load(weights_only=True)` refuses pickled code: a checkpoint is data,
and a user-supplied path must not be able to run anything.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from experts.core.errors import ToolUnavailable
from experts.core.tool import sha256_file

NESTED_KEYS = ("state_dict", "model_state_dict", "model", "net")


def read_state_dict(path: str | Path) -> "OrderedDict":
    import torch

    p = Path(path)
    if not p.is_file():
        raise ToolUnavailable(f"weights file {p} does not exist")
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors come in many types
        raise ToolUnavailable(
            f"weights file {p.name} cannot be read as a PyTorch checkpoint with weights_only=True ({type(exc).__name__}: {exc}); "
            "re-save it as a plain state dict (torch.save(model.state_dict(), path))"
        ) from exc
    for key in NESTED_KEYS:
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) for k in obj):
        raise ToolUnavailable(f"weights file {p.name} does not contain a state dict")
    return OrderedDict(obj)


def strip_prefix(state: dict, prefix: str = "module.") -> "OrderedDict":
    """Remove a DataParallel/DistributedDataParallel prefix when every key has it."""
    if state and all(k.startswith(prefix) for k in state):
        return OrderedDict((k[len(prefix) :], v) for k, v in state.items())
    return OrderedDict(state)


def load_into(model, path: str | Path, what: str) -> str:
    """Load weights into `model` strictly; return the file's SHA-256."""
    state = strip_prefix(read_state_dict(path))
    own = model.state_dict()
    dropped = [k for k in state if k.startswith("aux_classifier.") and k not in own]
    for k in dropped:
        del state[k]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}" for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if wrong:
            parts.append(f"{len(wrong)} with other shapes (e.g. {'; '.join(wrong[:2])})")
        raise ToolUnavailable(f"{what} weights {Path(path).name} do not fit the {what} architecture: " + ", ".join(parts))
    model.load_state_dict(state, strict=True)
    model.eval()
    return sha256_file(path)
