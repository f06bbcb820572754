"""The VarNet must keep fastMRI's state-dict layout so published weights load.

The expected keys are re-derived here from fastMRI's architecture rules
(U-Net channel doubling, ConvBlock = conv/IN/LReLU/dropout ×2, transposed
conv blocks, final 1×1 conv with bias), independently of the model code, and
checked against both the model and the committed manifest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from experts.recon.models.varnet import (
    VarNet,
    architecture_from_state_dict,
    clean_state_dict,
    load_varnet,
    manifest,
)

MANIFEST = Path(__file__).resolve().parents[2] / "experts" / "recon" / "models" / "fastmri_varnet_manifest.json"


def fastmri_unet_keys(prefix: str, chans: int, pools: int, in_ch: int = 2, out_ch: int = 2) -> dict[str, list[int]]:
    keys: dict[str, list[int]] = {}
    ch = chans
    keys[f"{prefix}.down_sample_layers.0.layers.0.weight"] = [ch, in_ch, 3, 3]
    keys[f"{prefix}.down_sample_layers.0.layers.4.weight"] = [ch, ch, 3, 3]
    for i in range(1, pools):
        keys[f"{prefix}.down_sample_layers.{i}.layers.0.weight"] = [ch * 2, ch, 3, 3]
        keys[f"{prefix}.down_sample_layers.{i}.layers.4.weight"] = [ch * 2, ch * 2, 3, 3]
        ch *= 2
    keys[f"{prefix}.conv.layers.0.weight"] = [ch * 2, ch, 3, 3]
    keys[f"{prefix}.conv.layers.4.weight"] = [ch * 2, ch * 2, 3, 3]
    for i in range(pools - 1):
        keys[f"{prefix}.up_transpose_conv.{i}.layers.0.weight"] = [ch * 2, ch, 2, 2]
        keys[f"{prefix}.up_conv.{i}.layers.0.weight"] = [ch, ch * 2, 3, 3]
        keys[f"{prefix}.up_conv.{i}.layers.4.weight"] = [ch, ch, 3, 3]
        ch //= 2
    last = pools - 1
    keys[f"{prefix}.up_transpose_conv.{last}.layers.0.weight"] = [ch * 2, ch, 2, 2]
    keys[f"{prefix}.up_conv.{last}.0.layers.0.weight"] = [ch, ch * 2, 3, 3]
    keys[f"{prefix}.up_conv.{last}.0.layers.4.weight"] = [ch, ch, 3, 3]
    keys[f"{prefix}.up_conv.{last}.1.weight"] = [out_ch, ch, 1, 1]
    keys[f"{prefix}.up_conv.{last}.1.bias"] = [out_ch]
    return keys


def fastmri_varnet_keys(num_cascades=12, sens_chans=8, sens_pools=4, chans=18, pools=4) -> dict[str, list[int]]:
    keys = fastmri_unet_keys("sens_net.norm_unet.unet", sens_chans, sens_pools)
    for c in range(num_cascades):
        keys[f"cascades.{c}.dc_weight"] = [1]
        keys.update(fastmri_unet_keys(f"cascades.{c}.model.unet", chans, pools))
    return keys


def test_published_layout_matches_exactly():
    model = VarNet(num_cascades=12, pools=4, chans=18, sens_pools=4, sens_chans=8)
    assert manifest(model) == fastmri_varnet_keys()


def test_committed_manifest_matches_model():
    doc = json.loads(MANIFEST.read_text())
    model = VarNet(**doc["architecture"])
    assert manifest(model) == doc["tensors"]
    assert sum(p.numel() for p in model.parameters()) == doc["num_parameters"]
    assert doc["num_tensors"] == len(doc["tensors"]) == 324


def test_loads_fastmri_style_checkpoints(tmp_path):
    """Plain, Lightning (`varnet.` in `state_dict`) and DataParallel
    (`module.`) forms load strictly; legacy `zero` buffers are dropped."""
    arch = dict(num_cascades=2, sens_chans=4, sens_pools=2, chans=6, pools=2)
    source = VarNet(**arch)
    state = {k: torch.randn_like(v) for k, v in source.state_dict().items()}
    forms = {
        "plain.pt": state,
        "lightning.ckpt": {"state_dict": {f"varnet.{k}": v for k, v in state.items()}, "epoch": 3},
        "dataparallel.pt": {f"module.{k}": v for k, v in state.items()},
        "legacy.pt": {**state, "cascades.0.zero": torch.zeros(1, 1, 1, 1, 1)},
    }
    for name, obj in forms.items():
        torch.save(obj, tmp_path / name)
        model = load_varnet(str(tmp_path / name))
        assert architecture_from_state_dict(clean_state_dict(obj)) == arch
        for k, v in model.state_dict().items():
            assert torch.equal(v, state[k]), (name, k)


def test_rejects_foreign_state_dict(tmp_path):
    torch.save({"conv.weight": torch.zeros(3, 3)}, tmp_path / "other.pt")
    with pytest.raises(KeyError):
        load_varnet(str(tmp_path / "other.pt"))


def test_forward_is_data_consistent_shape():
    torch.manual_seed(0)
    model = VarNet(num_cascades=2, sens_chans=4, sens_pools=2, chans=6, pools=2).eval()
    k = torch.randn(3, 4, 40, 36, 2)
    mask = torch.zeros(1, 1, 1, 36, 1, dtype=torch.bool)
    mask[..., 14:22, :] = True
    mask[..., ::4, :] = True
    with torch.no_grad():
        out = model(k * mask, mask, num_low_frequencies=8)
    assert out.shape == (3, 40, 36)
    assert torch.isfinite(out).all() and (out >= 0).all()
