"""ECGFounder Net1D with random weights: architecture, preprocessing, lead
order, labels, checkpoint round trip and the tool's optional path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experts.core.errors import ToolUnavailable
from experts.ecg.models import ecgfounder
from experts.ecg.models.net1d import ecgfounder_net
from experts.ecg.record import STANDARD_12, ECGRecord


@pytest.fixture(scope="module")
def single_lead_net():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    return ecgfounder_net(in_channels=1).eval()


def test_label_list():
    labels = ecgfounder.labels()
    assert len(labels) == 150 and len(set(labels)) == 150
    # indices cross-checked against an independent mapping of the checkpoint outputs
    assert labels[2] == "NORMAL ECG" and labels[5] == "ATRIAL FIBRILLATION" and labels[9] == "PREMATURE VENTRICULAR COMPLEXES"
    assert labels[20] == "LEFT BUNDLE BRANCH BLOCK" and labels[98] == "VENTRICULAR TACHYCARDIA" and labels[142] == "WITH SINUS PAUSE"


def test_preprocessing_shape_rate_and_normalisation():
    fs = 250.0
    t = np.arange(int(12 * fs)) / fs
    x = np.vstack([np.sin(2 * np.pi * (1 + k) * t) + 0.5 for k in range(12)])
    y = ecgfounder.preprocess(x, fs)
    assert y.shape == (12, 5000) and y.dtype == np.float32
    assert abs(float(y.mean())) < 1e-4 and abs(float(y.std()) - 1) < 1e-3
    # a 50 Hz hum is removed by the notch
    hum = ecgfounder.preprocess(np.sin(2 * np.pi * 50 * np.arange(5000) / 500.0)[None, :] + np.sin(2 * np.pi * 5 * np.arange(5000) / 500.0), 500.0)
    spec = np.abs(np.fft.rfft(hum[0]))
    assert spec[500] < 0.05 * spec[50]  # bin 500 = 50 Hz, bin 50 = 5 Hz at 0.1 Hz resolution


def test_lead_order_is_standard():
    t = np.arange(5000) / 500.0
    # each lead carries its own frequency; the model input must follow I, II, III, aVR, aVL, aVF, V1–V6
    freqs = {n: 2.0 + i for i, n in enumerate(STANDARD_12)}
    shuffled = list(reversed(STANDARD_12))
    rec = ECGRecord(signals=np.vstack([np.sin(2 * np.pi * freqs[n] * t) for n in shuffled]), lead_names=shuffled, fs=500.0, source_file="x")
    x = ecgfounder.model_input(rec, single_lead=False)
    for i, n in enumerate(STANDARD_12):
        spec = np.abs(np.fft.rfft(x[i]))
        assert abs(np.argmax(spec) / 10.0 - freqs[n]) < 0.2
    with pytest.raises(ToolUnavailable, match="missing"):
        ecgfounder.model_input(rec.subset(["I", "II", "V1"]), single_lead=False)


def test_architecture_shapes(single_lead_net):
    net12 = ecgfounder_net(in_channels=12)
    assert sum(p.numel() for p in net12.parameters()) > 30_000_000
    with torch.no_grad():
        assert single_lead_net(torch.randn(2, 1, 5000)).shape == (2, 150)
    keys = set(net12.state_dict())
    assert {"first_conv.conv.weight", "stage_list.6.block_list.3.se_fc2.weight", "dense.weight"} <= keys


def test_save_load_round_trip_strict(single_lead_net, tmp_path):
    path = tmp_path / "ecgfounder_1lead.pth"
    torch.save({"state_dict": single_lead_net.state_dict(), "step": 1}, path)
    loaded = ecgfounder.load(path)
    assert loaded.in_channels == 1 and len(loaded.sha256) == 64
    x = torch.randn(1, 1, 5000)
    with torch.no_grad():
        assert torch.allclose(single_lead_net(x), loaded.net(x), atol=1e-6)
    # a checkpoint with a missing layer is refused (strict=True)
    bad = dict(single_lead_net.state_dict())
    bad.pop("stage_list.0.block_list.0.se_fc1.weight")
    torch.save({"state_dict": bad}, tmp_path / "bad.pth")
    with pytest.raises(ToolUnavailable, match="does not match"):
        ecgfounder.load(tmp_path / "bad.pth")


def test_tool_reports_classifier_output_with_weights_hash(single_lead_net, tmp_path, examples_dir):
    from experts.core.tool import ToolRequest
    from experts.ecg.tool import ECGTool
    from tests.ecg.helpers import wfdb_study

    path = tmp_path / "w.pth"
    torch.save({"state_dict": single_lead_net.state_dict()}, path)
    res = ECGTool().run(ToolRequest(study=wfdb_study(examples_dir / "ecg" / "ptb-s0010_re", "s0010_re"), output_dir=str(tmp_path),
                                    options={"classifier_weights": str(path), "make_plot": False}))
    found = [m for m in res.measurements if m.name.startswith("ecgfounder_")]
    assert len(found) >= 3 and all(m.source.weights_sha256 and 0 <= m.value <= 100 for m in found)
    assert not any(s.id.split(".", 1)[1].startswith("ecgfounder") for s in res.statements)
    missing = ECGTool().run(ToolRequest(study=wfdb_study(examples_dir / "ecg" / "ptb-s0010_re", "s0010_re"), output_dir=str(tmp_path),
                                        options={"classifier_weights": str(tmp_path / "nope.pth"), "make_plot": False}))
    assert any("unavailable" in w and "not found" in w for w in missing.warnings)
