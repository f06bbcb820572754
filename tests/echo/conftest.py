"""Shared fixtures for the echo expert tests: small simulated clips written
to real files (DICOM with spacing, AVI, MP4), rendered once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sim_clip():
    """A 64-frame, 120x128 simulated apical clip with two or more beats."""
    from experts.echo.simulate import TRAIN_RANGES, sample_params, simulate_clip

    p = sample_params(
        5_000_001, TRAIN_RANGES, n_frames=64, fps=40.0, heart_rate_bpm=80.0, width_px=128, height_px=120,
        ef_pct=45.0, noise=0.03, dropout_zones=(), haze_level=0.0, rib_shadow=None,
    )
    return simulate_clip(p)


@pytest.fixture(scope="session")
def sim_files(sim_clip, tmp_path_factory) -> dict[str, Path]:
    from experts.echo.simulate import embed_in_display
    from experts.echo.writers import write_us_dicom, write_video

    d = tmp_path_factory.mktemp("echo_sim")
    rgb, (r0, c0) = embed_in_display(sim_clip, canvas_hw=(200, 240), offset_rc=(30, 56))
    h, w = sim_clip.frames.shape[1:]
    files = {
        "dicom": write_us_dicom(rgb, sim_clip.fps, d / "sim_a4c.dcm", spacing_mm=sim_clip.spacing_mm, region_bbox=(c0, r0, c0 + w - 1, r0 + h - 1), photometric="RGB"),
        "avi": write_video(rgb, sim_clip.fps, d / "sim_a4c.avi"),
        "mp4": write_video(rgb, sim_clip.fps, d / "sim_a4c.mp4"),
    }
    files["offset"] = (r0, c0)  # type: ignore[assignment]
    files["rgb"] = rgb  # type: ignore[assignment]
    return files


def pydicom_data_file(name: str) -> str:
    """A file from the pydicom-data wheel, never downloaded (skip if absent)."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom-data file {name} is not installed")
    return str(path)


def run_tool(path: Path | str, fmt: str, out: Path, display: str | None = None, patient: dict | None = None, **options):
    from experts.core.tool import ToolRequest
    from experts.core.types import Modality, PatientContext, StudyInput
    from experts.echo.tool import EchoTool

    study = StudyInput(study_id="echo-1", modality=Modality.ECHO, files=[str(path)], display_names=[display or Path(path).name], meta={"format": fmt})
    return EchoTool().run(ToolRequest(study=study, patient=PatientContext(**(patient or {})), output_dir=str(out), options=options))
