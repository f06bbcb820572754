"""EchoNet-Dynamic architectures: our modules must have torchvision's exact
state-dict keys and shapes, so published checkpoints load."""

from __future__ import annotations

import json
from collections import OrderedDict

import pytest
import torch

from experts.core.errors import ToolUnavailable
from experts.echo.models import layout_spec
from experts.echo.models.checkpoints import load_into, read_state_dict, strip_prefix
from experts.echo.models.torchvision_layouts import deeplabv3_resnet50, r2plus1d_18


def _layout(model) -> list[list]:
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(layout_spec.MANIFEST.read_text())


def test_committed_manifest_is_what_the_spec_writes(manifest):
    assert manifest == json.loads(json.dumps(layout_spec.build_manifest()))


def test_spec_matches_torchvision_published_parameter_counts():
    # torchvision's weight metadata: deeplabv3_resnet50 (COCO, 21 classes, aux) and r2plus1d_18 (Kinetics-400).
    assert layout_spec.parameter_count(layout_spec.deeplabv3_resnet50_keys(21, aux=True)) == 42_004_074
    assert layout_spec.parameter_count(layout_spec.r2plus1d_18_keys(400)) == 31_505_325


def _on_meta(build, *args, **kw):
    """Build on the meta device: shapes without allocating or initialising weights."""
    with torch.device("meta"):
        return build(*args, **kw)


def test_deeplabv3_echonet_layout(manifest):
    model = _on_meta(deeplabv3_resnet50, num_classes=1)
    entry = manifest["deeplabv3_resnet50_echonet"]
    assert _layout(model) == entry["keys"]
    assert sum(p.numel() for p in model.parameters()) == entry["num_parameters"] == 39_633_729
    assert "classifier.4.weight" in model.state_dict() and model.state_dict()["classifier.4.weight"].shape == (1, 256, 1, 1)
    # torchvision's COCO variant too (aux classifier, 21 classes): same recipe, published count.
    coco = _on_meta(deeplabv3_resnet50, num_classes=21, aux_loss=True)
    assert sum(p.numel() for p in coco.parameters()) == 42_004_074
    assert _layout(coco) == [[k, s] for k, s in layout_spec.deeplabv3_resnet50_keys(21, aux=True)]


def test_r2plus1d_echonet_layout(manifest):
    model = _on_meta(r2plus1d_18, num_classes=1)
    entry = manifest["r2plus1d_18_echonet"]
    assert _layout(model) == entry["keys"]
    assert sum(p.numel() for p in model.parameters()) == entry["num_parameters"] == 31_300_638
    assert sum(p.numel() for p in _on_meta(r2plus1d_18, num_classes=400).parameters()) == 31_505_325
    # midplanes of the first (2+1)D block: (64*64*27)//(64*9+3*64) = 144
    assert model.state_dict()["layer1.0.conv1.0.0.weight"].shape == (144, 64, 1, 3, 3)


@pytest.fixture(scope="module")
def seg_model():
    torch.manual_seed(0)
    return deeplabv3_resnet50().eval()


@pytest.fixture(scope="module")
def reg_model():
    return r2plus1d_18().eval()


def test_forward_shapes(seg_model, reg_model):
    with torch.no_grad():
        out = seg_model(torch.zeros(1, 3, 64, 64))  # EchoNet uses 112x112; smaller here for speed
        y = reg_model(torch.zeros(1, 3, 8, 32, 32))  # EchoNet uses 32x112x112
    assert list(out) == ["out"] and out["out"].shape == (1, 1, 64, 64)
    assert y.shape == (1, 1)


def test_echonet_style_checkpoint_round_trip(seg_model, tmp_path):
    """EchoNet saves {'state_dict': DataParallel state ('module.' keys), 'opt_dict', ...}."""
    state = OrderedDict(("module." + k, v.clone()) for k, v in seg_model.state_dict().items())
    ckpt = {"epoch": 3, "state_dict": state, "best_loss": 0.1, "loss": 0.1, "opt_dict": {"state": {}, "param_groups": []}}
    path = tmp_path / "best.pt"
    torch.save(ckpt, path)
    dst = _on_meta(deeplabv3_resnet50).to_empty(device="cpu")  # allocated, not initialised
    sha = load_into(dst, path, "DeepLabV3")
    assert len(sha) == 64
    for k, v in seg_model.state_dict().items():
        assert torch.equal(v, dst.state_dict()[k]), k
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(seg_model(x)["out"], dst(x)["out"])


def test_bare_state_dict_and_aux_keys_are_accepted(seg_model, reg_model, tmp_path):
    torch.save(reg_model.state_dict(), tmp_path / "r.pt")
    before = reg_model.fc.weight.clone()
    load_into(reg_model, tmp_path / "r.pt", "R(2+1)D")
    assert torch.equal(before, reg_model.fc.weight)
    # a DeepLab trained with aux_loss=True carries aux_classifier.* keys: dropped for inference
    state = dict(seg_model.state_dict())
    for name, shape in layout_spec.deeplabv3_resnet50_keys(1, aux=True):
        if name.startswith("aux_classifier."):
            state[name] = torch.zeros(shape)
    torch.save({"state_dict": state}, tmp_path / "aux.pt")
    load_into(seg_model, tmp_path / "aux.pt", "DeepLabV3")
    assert "aux_classifier.0.weight" not in seg_model.state_dict()


def test_prefix_stripping_only_when_all_keys_have_it():
    assert list(strip_prefix({"module.a": 1, "module.b": 2})) == ["a", "b"]
    assert list(strip_prefix({"module.a": 1, "b": 2})) == ["module.a", "b"]


def test_wrong_checkpoint_fails_loudly(seg_model, reg_model, tmp_path):
    torch.save(reg_model.state_dict(), tmp_path / "video.pt")
    with pytest.raises(ToolUnavailable, match="missing"):
        load_into(seg_model, tmp_path / "video.pt", "DeepLabV3")
    kinetics = dict(reg_model.state_dict())
    kinetics["fc.weight"], kinetics["fc.bias"] = torch.zeros(400, 512), torch.zeros(400)
    torch.save(kinetics, tmp_path / "kinetics.pt")
    with pytest.raises(ToolUnavailable, match="other shapes"):
        load_into(reg_model, tmp_path / "kinetics.pt", "R(2+1)D")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ToolUnavailable, match="cannot be read"):
        read_state_dict(tmp_path / "junk.pt")
    with pytest.raises(ToolUnavailable, match="does not exist"):
        read_state_dict(tmp_path / "missing.pt")
