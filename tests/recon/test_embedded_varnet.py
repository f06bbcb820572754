"""The committed VarNet weights: they load into the fastMRI layout, match
their sidecar, and reconstruct cine better than zero-filling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from experts.core.errors import ToolUnavailable
from experts.recon.methods import reconstruct
from experts.recon.methods.common import ReconParams
from experts.recon.methods.varnet import EMBEDDED_WEIGHTS, weights_config
from experts.recon.metrics import psnr
from experts.recon.models.varnet import VarNet, architecture_from_state_dict


def test_weights_are_small_and_described():
    assert EMBEDDED_WEIGHTS.is_file() and EMBEDDED_WEIGHTS.stat().st_size < 8 * 2**20
    config = weights_config(EMBEDDED_WEIGHTS)
    state = torch.load(EMBEDDED_WEIGHTS, map_location="cpu", weights_only=True)
    assert architecture_from_state_dict(state) == config["architecture"]
    assert config["init"] in ("view_sharing", "view_sharing_nearest") and config["steps"] > 0 and config["data_seen"]
    assert (EMBEDDED_WEIGHTS.parent.parent / "MODEL_CARD.md").is_file()


def test_embedded_network_beats_zero_filling(r4_study):
    ref = r4_study.reference
    zf = reconstruct(r4_study, "zero_filled").images
    out = reconstruct(r4_study, "varnet")
    assert out.images.shape == ref.shape and np.isfinite(out.images).all()
    assert psnr(ref, out.images) > psnr(ref, zf) + 2.0
    assert out.weights_sha256 and len(out.weights_sha256) == 64
    assert "view-sharing" in out.description
    assert any("lowered LVEF" in n for n in out.notes)  # the measured trade-off travels with the result


def test_user_weights_without_sidecar_use_fastmri_start(tmp_path, r4_study):
    model = VarNet(num_cascades=1, sens_chans=2, sens_pools=2, chans=4, pools=2)
    path = tmp_path / "user_varnet.pt"
    torch.save(model.state_dict(), path)
    out = reconstruct(r4_study, "varnet", ReconParams(weights=str(path)))
    assert "view-sharing" not in out.description and out.images.shape == r4_study.reference.shape


def test_missing_or_foreign_weights_are_tool_unavailable(tmp_path, r4_study):
    with pytest.raises(ToolUnavailable):
        reconstruct(r4_study, "varnet", ReconParams(weights=str(tmp_path / "absent.pt")))
    bad = tmp_path / "bad.pt"
    torch.save({"w": torch.zeros(1)}, bad)
    with pytest.raises(ToolUnavailable, match="cannot load"):
        reconstruct(r4_study, "varnet", ReconParams(weights=str(bad)))
