"""Unrolled end-to-end VarNet (fastMRI layout) applied frame by frame.

Weights: a user-given fastMRI state dict (e.g. the published brain or knee
leaderboard VarNet, `VarNet(num_cascades=12, pools=4, chans=18,
sens_pools=4, sens_chans=8)`) or the small embedded default trained by
`experts/recon/train.py` on simulated cine k-space. The architecture is read
off the state dict, so either loads without configuration.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from experts.core.errors import InputError, ToolUnavailable
from experts.core.tool import sha256_file
from experts.recon.kspace import KSpaceStudy, time_averaged_kspace, view_shared_kspace
from experts.recon.methods.common import ReconOutput, ReconParams

EMBEDDED_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "varnet_cine_small.pt"
MIN_ACS = 8
# Measured in session 2 (experts/recon/README.md, "Where the LVEF went"): borrowed
# lines carry the heart's position from other phases, so end-systole is blurred
# towards diastole and the CMR expert finds a larger ESV.
VIEW_SHARING_NOTE = (
    "VarNet started from view-shared k-space (unsampled lines copied from the nearest frame that sampled them): "
    "this blurs motion across frames and, on held-out simulated cine, lowered LVEF by 7-16 points at R=8 (2-9 at R=4) against the fully "
    "sampled reference; use method 'sense' when volumes/EF matter"
)


def weights_config(path: Path) -> dict:
    """Sidecar `<weights>.json` written by train.py (initialisation, data seen).
    Published fastMRI weights have none: they start from zero-filled k-space."""
    side = path.with_suffix(".json")
    if side.is_file():
        try:
            return json.loads(side.read_text())
        except (OSError, ValueError):
            return {}
    return {}


@lru_cache(maxsize=4)
def _load(path: str):
    from experts.recon.models.varnet import load_varnet

    return load_varnet(path)


def load_model(weights: str | None):
    path = Path(weights) if weights else EMBEDDED_WEIGHTS
    if not path.is_file():
        raise ToolUnavailable(f"VarNet weights not found at {path}")
    try:
        model = _load(str(path.resolve()))
    except (KeyError, RuntimeError, OSError, ValueError) as exc:  # wrong file, wrong layout
        raise ToolUnavailable(f"cannot load VarNet weights {path.name}: {exc}") from exc
    return model, path


def run(study: KSpaceStudy, params: ReconParams, display_name: str = "k-space") -> ReconOutput:
    import torch

    if study.coils < 2:
        raise InputError(display_name, "single-coil k-space: the multi-coil VarNet needs at least 2 coils (use 'cs')")
    acs = study.acs_lines()
    if acs < MIN_ACS:
        raise InputError(display_name, f"only {acs} ACS lines; the VarNet sensitivity network needs at least {MIN_ACS}")
    model, path = load_model(params.weights)
    init_kind = weights_config(path).get("init") if study.frames > 1 else None
    if init_kind == "view_sharing_nearest":
        shared_all = view_shared_kspace(study.kspace, study.mask)
    elif init_kind == "view_sharing":  # whole-cycle average (first embedded model)
        averaged = time_averaged_kspace(study.kspace, study.mask)
        shared_all = np.where(study.mask[:, :, None], study.kspace, averaged[None]).astype(np.complex64)
    else:
        shared_all = None
    view_sharing = shared_all is not None
    out = np.empty((study.frames, study.slices, *study.matrix), dtype=np.float32)
    batch = max(1, params.frame_batch)
    with torch.inference_mode():
        for z in range(study.slices):
            for t0 in range(0, study.frames, batch):
                ksp = np.ascontiguousarray(study.kspace[t0 : t0 + batch, z])  # (b, coils, rows, cols)
                msk = np.ascontiguousarray(study.mask[t0 : t0 + batch, z])  # (b, rows, cols)
                k = torch.view_as_real(torch.from_numpy(ksp))
                m = torch.from_numpy(msk)[:, None, :, :, None]
                init = None
                if shared_all is not None:
                    init = torch.view_as_real(torch.from_numpy(np.ascontiguousarray(shared_all[t0 : t0 + batch, z])))
                out[t0 : t0 + batch, z] = model(k, m, acs, init).numpy()
    n_casc = len(model.cascades)
    notes = []
    if view_sharing:
        notes.append(VIEW_SHARING_NOTE)
    return ReconOutput(
        notes=notes,
        images=out,
        method="varnet",
        description=f"end-to-end VarNet ({n_casc} cascades, fastMRI layout{', view-sharing start' if view_sharing else ''}), weights {path.name}",
        model=f"VarNet[{path.name}]",
        weights_sha256=sha256_file(path),
    )
