"""The published-model path: EchoNet-Dynamic checkpoints given by path are
loaded into our torchvision-layout modules and used by the tool. We cannot
ship EchoNet's weights, so these tests use randomly initialised networks
saved the way EchoNet saves them: they check the plumbing (loading,
preprocessing, clip sampling, provenance), not the accuracy."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

from experts.core.tool import sha256_file
from experts.echo.ef_regressor import EchoNetEFRegressor
from experts.echo.models.torchvision_layouts import deeplabv3_resnet50, r2plus1d_18
from tests.echo.conftest import run_tool


def _save_echonet_style(model, path):
    state = OrderedDict(("module." + k, v) for k, v in model.state_dict().items())
    torch.save({"epoch": 0, "state_dict": state, "best_loss": 1.0}, path)
    return path


@pytest.fixture(scope="module")
def r2p1_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return _save_echonet_style(r2plus1d_18(), tmp_path_factory.mktemp("echonet") / "r2plus1d_18_32_2_pretrained.pt")


def test_regressor_clip_sampling(r2p1_checkpoint):
    reg = EchoNetEFRegressor(r2p1_checkpoint)
    idx = reg.clip_indices(centre=50, n_total=200)
    assert len(idx) == 32 and np.all(np.diff(idx) == 2) and idx[0] == 18  # 64-frame window centred on ES
    assert reg.clip_indices(centre=5, n_total=200)[0] == 0
    assert reg.clip_indices(centre=195, n_total=200)[-1] == 198


def test_regressor_normalises_and_averages_beats(r2p1_checkpoint):
    """Small frames keep this fast; the network is fully convolutional."""
    from experts.echo.sector import CropGeometry, FanDetection, Preprocessed

    path = r2p1_checkpoint
    grey = np.random.default_rng(0).uniform(0, 255, (40, 32, 32)).astype(np.float32)
    fan = FanDetection(np.ones((32, 32), bool), "test", (0, 0, 31, 31), 0.0, [])
    pre = Preprocessed(grey, np.ones((32, 32), bool), fan, CropGeometry(0, 0, 32, 32, (32, 32)))
    reg = EchoNetEFRegressor(path, mean=[100.0] * 3, std=[50.0] * 3, frames=8, period=2)
    res = reg(pre, es_frames=[10, 30])
    assert len(res.per_beat) == 2 and all(np.isfinite(res.per_beat))
    assert res.mean == pytest.approx(np.mean(res.per_beat))
    assert res.clip_frames[0] == list(range(2, 18, 2)) and res.weights_sha256 == sha256_file(path)


@pytest.mark.slow
def test_tool_runs_echonet_ef_regressor_with_provenance(sim_files, r2p1_checkpoint, tmp_path):
    path = r2p1_checkpoint
    result = run_tool(sim_files["dicom"], "dicom", tmp_path, make_plot=False, ef_weights=str(path), ef_clip_frames=8, normalisation_mean=[30.0], normalisation_std=[40.0])
    m = next(m for m in result.measurements if m.name == "lvef_echonet")
    assert m.unit == "%" and np.isfinite(m.value) and m.evidence.frames
    assert m.source.model == "EchoNet-Dynamic r2plus1d_18" and m.source.weights_sha256 == sha256_file(path)
    lvef = next(m for m in result.measurements if m.name == "lvef")
    assert lvef.source.model.startswith("MONAI UNet")  # segmentation stays the embedded model


@pytest.mark.slow
def test_tool_runs_echonet_deeplab_segmenter(sim_clip, tmp_path):
    from experts.echo.writers import write_us_dicom

    torch.manual_seed(0)
    path = _save_echonet_style(deeplabv3_resnet50(), tmp_path / "deeplabv3_resnet50_random.pt")
    dcm = write_us_dicom(sim_clip.frames[:20], sim_clip.fps, tmp_path / "short.dcm", spacing_mm=sim_clip.spacing_mm)
    result = run_tool(dcm, "dicom", tmp_path, segmentation_weights=str(path))
    # random weights segment nothing sensible: the tool must say so, not invent an EF
    assert result.quality.verdict in ("usable", "limited", "non_diagnostic")
    for m in result.measurements:
        assert m.source.model == "EchoNet-Dynamic deeplabv3_resnet50" and m.source.weights_sha256 == sha256_file(path)
