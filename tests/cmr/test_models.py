"""Loading user weights: state dict, MONAI bundle folder and zip, TorchScript;
refusals with clear reasons."""

import json
import zipfile

import pytest
import torch

from experts.cmr.models import BUNDLE_ARCH, build_unet, load_user_weights
from experts.core.errors import ToolUnavailable


@pytest.fixture(scope="module")
def bundle_net():
    torch.manual_seed(0)
    return build_unet(BUNDLE_ARCH).eval()


def _bundle(folder, net):
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    config = {
        "network_def": {
            "_target_": "UNet",
            "spatial_dims": 2,
            "in_channels": 1,
            "out_channels": 4,
            "channels": [16, 32, 64, 128, 256],
            "strides": [2, 2, 2, 2],
            "num_res_units": 2,
        }
    }
    (folder / "configs" / "inference.json").write_text(json.dumps(config))
    (folder / "configs" / "metadata.json").write_text(json.dumps({"name": "ventricular_short_axis_3label", "version": "0.3.3"}))
    torch.save(net.state_dict(), folder / "models" / "model.pt")
    return folder


def _same_output(seg, net):
    x = torch.rand(2, 1, 64, 64)
    with torch.inference_mode():
        ref = torch.softmax(net(x), 1)
    assert torch.allclose(seg.predict(x), ref, atol=1e-5)


def test_plain_state_dict_of_the_bundle_architecture(tmp_path, bundle_net):
    p = tmp_path / "model.pt"
    torch.save({"model": bundle_net.state_dict()}, p)
    seg = load_user_weights(p)
    assert seg.convention.pixel_spacing_mm is None and seg.convention.size == 256
    assert seg.weights_sha256 and "state dict" in seg.name
    _same_output(seg, bundle_net)


def test_monai_bundle_folder_and_zip(tmp_path, bundle_net):
    root = _bundle(tmp_path / "ventricular_short_axis_3label", bundle_net)
    seg = load_user_weights(root)
    assert "ventricular_short_axis_3label" in seg.name
    _same_output(seg, bundle_net)
    z = tmp_path / "bundle.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in root.rglob("*"):
            zf.write(f, f.relative_to(tmp_path))
    _same_output(load_user_weights(z), bundle_net)


def test_torchscript_and_acdc_channel_order(tmp_path):
    net = build_unet({"channels": (4, 8), "strides": (2,), "num_res_units": 0}).eval()
    p = tmp_path / "model.ts"
    torch.jit.script(net).save(str(p))
    seg = load_user_weights(p, label_convention="acdc")
    x = torch.rand(1, 1, 32, 32)
    with torch.inference_mode():
        ref = torch.softmax(net(x), 1)
    out = seg.predict(x)
    assert torch.allclose(out[:, 1], ref[:, 3], atol=1e-5)  # canonical LV = ACDC channel 3
    assert torch.allclose(out[:, 3], ref[:, 1], atol=1e-5)


def test_refusals_name_the_problem(tmp_path):
    with pytest.raises(ToolUnavailable, match="does not exist"):
        load_user_weights(tmp_path / "nope.pt")
    small = build_unet({"channels": (8, 16, 32), "strides": (2, 2), "num_res_units": 1})
    torch.save(small.state_dict(), tmp_path / "other.pt")
    with pytest.raises(ToolUnavailable, match="does not fit the UNet layout"):
        load_user_weights(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ToolUnavailable, match="cannot read weights"):
        load_user_weights(tmp_path / "junk.pt")
    # a different layout loads when the user says which
    seg = load_user_weights(tmp_path / "other.pt", arch={"channels": (8, 16, 32), "strides": (2, 2), "num_res_units": 1})
    assert seg.net is not None


def test_embedded_torchscript_copy_matches_the_checkpoint_and_is_refused_when_stale(tmp_path):
    """The TorchScript copy is only a faster way to the same network: same
    outputs as the MONAI build, ignored once the checkpoint changes."""
    from experts.cmr.models import DEFAULT_WEIGHTS, load_checkpoint
    from experts.cmr.torchscript import companion_path, export, load_matching

    ckpt = tmp_path / "w.pt"
    ckpt.write_bytes(DEFAULT_WEIGHTS.read_bytes())
    export(ckpt)
    fast = load_checkpoint(ckpt)
    slow = load_checkpoint(ckpt, use_torchscript=False)
    assert isinstance(fast.net, torch.jit.ScriptModule) and not isinstance(slow.net, torch.jit.ScriptModule)
    assert fast.weights_sha256 == slow.weights_sha256
    x = torch.rand(2, 1, 128, 128)
    assert torch.allclose(fast.predict(x), slow.predict(x), atol=1e-5)
    assert load_matching(ckpt, "0" * 64) is None  # made from other weights
    companion_path(ckpt).write_bytes(b"not a torchscript archive")
    assert not isinstance(load_checkpoint(ckpt).net, torch.jit.ScriptModule)
