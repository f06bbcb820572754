"""EchoTool end to end on simulated clips written to real files: contract
(ids, units, evidence, provenance), numbers against the simulator's truth,
spacing rules and artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experts.core.types import Modality
from experts.echo.tool import EchoOptions, EchoTool
from tests.echo.conftest import run_tool


@pytest.fixture(scope="module")
def dicom_result(sim_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("echo_tool")
    return run_tool(sim_files["dicom"], "dicom", out, display="upload_a4c.dcm", patient={"sex": "female", "height_cm": 165, "weight_kg": 60}, make_video=True), out


def _m(result, name):
    return next(m for m in result.measurements if m.name == name)


def test_registry_routes_echo_to_this_tool():
    from experts.registry import load_tool

    tool = load_tool(Modality.ECHO)
    assert isinstance(tool, EchoTool) and tool.name == "echo_analyze"
    schema = EchoTool.function_schema()["function"]
    assert schema["name"] == "echo_analyze" and "ejection fraction" in schema["description"]
    assert set(schema["parameters"]["properties"]) >= {"segmentation_weights", "ef_weights", "normalisation_mean", "normalisation_std", "make_plot", "make_video"}
    assert EchoOptions().segmenter == "auto"  # every option has a default


def test_contract_ids_units_evidence_and_provenance(dicom_result):
    result, _ = dicom_result
    assert result.tool == "echo_analyze" and result.modality == Modality.ECHO and result.inputs == ["upload_a4c.dcm"]
    assert result.quality.verdict in ("usable", "limited")
    units = {"lvef": "%", "lv_edv": "mL", "lv_esv": "mL", "lv_sv": "mL", "heart_rate": "/min", "lv_edv_index": "mL/m2", "lv_ed_length": "mm"}
    for name, unit in units.items():
        m = _m(result, name)
        assert m.id == f"echo-1.{name}" and m.unit == unit
    for m in result.measurements:
        assert m.evidence.file == "upload_a4c.dcm" and m.evidence.frames, m.name
        assert m.source.tool == "echo_analyze" and m.source.version
        assert m.method and np.isfinite(m.value)
    lvef = _m(result, "lvef")
    assert lvef.source.weights_sha256 and len(lvef.source.weights_sha256) == 64
    assert lvef.reference_range is not None and lvef.reference_range.low == 54.0  # ASE 2015, women
    assert "frame" in lvef.evidence.location and lvef.evidence.time_span_s is not None


def test_numbers_match_the_simulator_truth(dicom_result, sim_clip):
    result, _ = dicom_result
    assert _m(result, "lvef").value == pytest.approx(sim_clip.ef_true, abs=8)
    assert _m(result, "heart_rate").value == pytest.approx(sim_clip.params.heart_rate_bpm, abs=6)
    ed_true = sim_clip.volumes_ml[sim_clip.ed_frames].mean()
    assert _m(result, "lv_edv").value == pytest.approx(ed_true, rel=0.2)
    # the ED/ES frames reported are the simulator's (within 2 frames)
    lvef = _m(result, "lvef")
    truth = sim_clip.ed_frames + sim_clip.es_frames
    assert all(min(abs(f - t) for t in truth) <= 2 for f in lvef.evidence.frames)


def test_statements_follow_the_displayed_value(dicom_result):
    result, _ = dicom_result
    lvef = _m(result, "lvef")
    by_id = {s.id.split(".", 1)[1]: s for s in result.statements}
    present = [s for s in by_id.values() if s.status == "present" and s.id.split(".", 1)[1].startswith("lvef_")]
    assert len(present) == 1  # exactly one ESC category applies
    expected = "lvef_reduced" if lvef.value <= 40 else ("lvef_mildly_reduced" if lvef.value < 50 else "lvef_preserved")
    assert present[0].id == f"echo-1.{expected}"
    for s in result.statements:
        for c in s.criteria:
            assert c.guideline is not None and c.guideline.year in (2015, 2021)
    esc = by_id["lvef_reduced"].criteria[0]
    assert esc.threshold == 40 and esc.operator == "<=" and esc.guideline.year == 2021
    assert by_id["lv_systolic_dysfunction"].criteria[0].threshold == 54  # women


def test_artifacts_are_written(dicom_result):
    result, out = dicom_result
    kinds = {a.kind for a in result.artifacts}
    assert kinds == {"plot", "video", "image"}  # image = the clip preview, present for every verdict
    for a in result.artifacts:
        p = Path(a.path)
        assert p.is_file() and p.stat().st_size > 1000 and p.parent == out
    import av

    video = next(a for a in result.artifacts if a.kind == "video")
    with av.open(video.path) as c:
        assert c.streams.video[0].frames > 10


def test_video_without_spacing_reports_ef_but_no_ml(sim_files, sim_clip, tmp_path):
    result = run_tool(sim_files["avi"], "video", tmp_path, make_plot=False)
    names = {m.name for m in result.measurements}
    assert "lvef" in names and "heart_rate" in names
    assert not names & {"lv_edv", "lv_esv", "lv_sv", "lv_ed_length"}
    assert any("not reported" in w and "spacing" in w for w in result.warnings)
    assert _m(result, "lvef").value == pytest.approx(sim_clip.ef_true, abs=8)
    # ...and with a user-supplied spacing the volumes come back
    with_sp = run_tool(sim_files["avi"], "video", tmp_path / "sp", make_plot=False, pixel_spacing_mm=sim_clip.spacing_mm)
    assert "lv_edv" in {m.name for m in with_sp.measurements}


def test_classical_baseline_runs_through_the_tool(sim_files, tmp_path):
    result = run_tool(sim_files["dicom"], "dicom", tmp_path, make_plot=False, segmenter="classical")
    assert result.quality.verdict in ("usable", "limited", "non_diagnostic")
    for m in result.measurements:
        assert m.source.model.startswith("Otsu") and m.source.weights_sha256 is None


def test_result_serialises(dicom_result):
    result, _ = dicom_result
    data = json.loads(result.model_dump_json())
    assert data["study_id"] == "echo-1" and data["runtime_s"] > 0
