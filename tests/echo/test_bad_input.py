"""Bad input: a clear InputError naming the file, or a limited /
non-diagnostic result with reasons, never a made-up number."""

from __future__ import annotations

import numpy as np
import pytest

from experts.core.errors import InputError
from experts.echo.simulate import add_colour_doppler, embed_in_display, sample_params, simulate_clip
from experts.echo.writers import write_us_dicom
from tests.echo.conftest import pydicom_data_file, run_tool


def _no_numbers(result):
    assert result.measurements == []
    assert not any(s.status == "present" for s in result.statements)


def test_three_frame_clip_is_non_diagnostic(sim_clip, tmp_path):
    path = write_us_dicom(sim_clip.frames[:3], sim_clip.fps, tmp_path / "three.dcm", spacing_mm=sim_clip.spacing_mm)
    result = run_tool(path, "dicom", tmp_path)
    assert result.quality.verdict == "non_diagnostic"
    assert any("only 3 frames" in r for r in result.quality.reasons)
    _no_numbers(result)


def test_still_images_are_refused(sim_clip, tmp_path):
    path = write_us_dicom(sim_clip.frames[:1], sim_clip.fps, tmp_path / "still.dcm")
    with pytest.raises(InputError, match="still") as exc:
        run_tool(path, "dicom", tmp_path)
    assert exc.value.file == "still.dcm"
    with pytest.raises(InputError, match="still"):
        run_tool(pydicom_data_file("US1_UNCR.dcm"), "dicom", tmp_path)  # real non-cardiac US still


def test_colour_doppler_clip_is_non_diagnostic(sim_clip, tmp_path):
    rgb, offset = embed_in_display(sim_clip, canvas_hw=(200, 240), offset_rc=(30, 56))
    colour = add_colour_doppler(rgb, sim_clip.lv_mask, offset)
    path = write_us_dicom(colour, sim_clip.fps, tmp_path / "doppler.dcm", spacing_mm=sim_clip.spacing_mm, photometric="RGB")
    result = run_tool(path, "dicom", tmp_path)
    assert result.quality.verdict == "non_diagnostic"
    assert any("colour Doppler" in r for r in result.quality.reasons)
    _no_numbers(result)


def test_short_axis_clip_gets_no_ef(tmp_path):
    """A short-axis clip must not yield an EF: the view check (round cavity
    on the image, whatever shape the network drew) makes it non-diagnostic."""
    p = sample_params(5_000_002, view="psax", n_frames=48, fps=40.0, heart_rate_bpm=75.0, width_px=128, height_px=120, noise=0.03)
    clip = simulate_clip(p)
    path = write_us_dicom(clip.frames, clip.fps, tmp_path / "psax.dcm", spacing_mm=clip.spacing_mm)
    result = run_tool(path, "dicom", tmp_path, make_plot=False)
    assert result.quality.verdict == "non_diagnostic"
    assert any("non-apical view" in r for r in result.quality.reasons)
    _no_numbers(result)


def test_motionless_clip_has_no_cycle(sim_clip, tmp_path):
    frozen = np.repeat(sim_clip.frames[10:11], 40, axis=0)
    path = write_us_dicom(frozen, sim_clip.fps, tmp_path / "frozen.dcm", spacing_mm=sim_clip.spacing_mm)
    result = run_tool(path, "dicom", tmp_path)
    assert result.quality.verdict == "non_diagnostic"
    assert any("cycle" in r or "contraction" in r for r in result.quality.reasons)
    _no_numbers(result)


def test_corrupt_and_truncated_containers(sim_files, tmp_path):
    data = sim_files["mp4"].read_bytes()
    head_only = tmp_path / "head.mp4"
    head_only.write_bytes(data[:200])
    with pytest.raises(InputError) as exc:
        run_tool(head_only, "video", tmp_path)
    assert exc.value.file == "head.mp4"
    avi = sim_files["avi"].read_bytes()
    half = tmp_path / "half.avi"
    half.write_bytes(avi[: int(len(avi) * 0.5)])
    try:
        result = run_tool(half, "video", tmp_path, make_plot=False)
    except InputError as err:
        assert err.file == "half.avi"
    else:  # frames before the damage are usable, with the damage reported
        assert result.quality.verdict != "usable"
        assert any("damaged" in r or "truncated" in r for r in result.quality.reasons + result.warnings)


def test_empty_study_and_empty_file(tmp_path):
    from experts.core.tool import ToolRequest
    from experts.core.types import Modality, StudyInput
    from experts.echo.tool import EchoTool

    with pytest.raises(InputError, match="no file"):
        EchoTool().run(ToolRequest(study=StudyInput(study_id="echo-9", modality=Modality.ECHO, files=[]), output_dir=str(tmp_path)))
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        run_tool(empty, "video", tmp_path)


def test_huge_clip_is_refused_before_decoding(sim_clip, tmp_path, monkeypatch):
    import experts.echo.io_dicom as io_dicom

    path = write_us_dicom(sim_clip.frames, sim_clip.fps, tmp_path / "big.dcm")
    monkeypatch.setattr(io_dicom, "MAX_DECODED_BYTES", 10_000)
    with pytest.raises(InputError, match="shorter loop"):
        run_tool(path, "dicom", tmp_path)
