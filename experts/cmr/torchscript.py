"""A TorchScript copy of the embedded network, so inference starts fast.

Why: `import monai` pulls in most of MONAI (and, through its transformer
networks, the `transformers` package): several seconds of CPU before the
first slice is segmented, more than the segmentation of a whole cine. The
network itself is plain torch, so `train.py` (or this module's command
line) saves it once as TorchScript next to the checkpoint. The checkpoint
stays the source of truth: the copy records the SHA-256 of the checkpoint
it was made from and is used only while that hash matches; otherwise the
MONAI network is built from the checkpoint as before.

    .venv/bin/python -m experts.cmr.torchscript [experts/cmr/weights/cmr_unet2d.pt]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

SOURCE_KEY = "source_sha256"


def companion_path(checkpoint: Path) -> Path:
    return Path(checkpoint).with_suffix(".ts")


def export(checkpoint: Path) -> Path:
    """Script the checkpoint's MONAI UNet (float16 weights, as stored) and
    save it next to the checkpoint with the checkpoint's hash inside."""
    import torch

    from experts.cmr.models import load_checkpoint

    checkpoint = Path(checkpoint)
    seg = load_checkpoint(checkpoint, use_torchscript=False)
    scripted = torch.jit.script(seg.net.half().eval())
    out = companion_path(checkpoint)
    torch.jit.save(scripted, str(out), _extra_files={SOURCE_KEY: seg.weights_sha256 or ""})
    return out


def load_matching(checkpoint: Path, checkpoint_sha256: str) -> Any | None:
    """The scripted network for `checkpoint`, or None when there is no copy
    or it was made from other weights (or cannot be read)."""
    path = companion_path(checkpoint)
    if not path.is_file():
        return None
    import torch

    extra = {SOURCE_KEY: ""}
    try:
        net = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception:  # a stale or damaged copy: the checkpoint still works
        return None
    recorded = extra[SOURCE_KEY]
    recorded = recorded.decode() if isinstance(recorded, bytes) else str(recorded)
    if recorded != checkpoint_sha256:
        return None
    return net.float().eval()


def main(argv: list[str] | None = None) -> int:
    from experts.cmr.models import DEFAULT_WEIGHTS

    args = sys.argv[1:] if argv is None else argv
    out = export(Path(args[0]) if args else DEFAULT_WEIGHTS)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
