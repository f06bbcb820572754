"""The expert on real apical four-chamber echo clips shipped with pydicom
(30-frame 320x240 example) and pydicom-data (the full 120-frame 640x480
clip). No ground truth exists for them; we check that the expert handles
them honestly: correct spacing, frames as evidence, a quality verdict with
reasons, and only plausible numbers."""

from __future__ import annotations

import pytest

from tests.echo.conftest import pydicom_data_file, run_tool


def _check_honest(result, display):
    assert result.inputs == [display]
    assert result.quality.verdict in ("usable", "limited", "non_diagnostic")
    if result.quality.verdict != "usable":
        assert result.quality.reasons
    for m in result.measurements:
        assert m.evidence.file == display and m.evidence.frames
        if m.unit == "%":
            assert 0 < m.value < 100
        if m.name == "heart_rate":
            assert 25 <= m.value <= 250


def test_small_real_clip(tmp_path):
    from pydicom import examples

    result = run_tool(str(examples.get_path("ybr_color")), "dicom", tmp_path, display="examples_ybr_color.dcm")
    _check_honest(result, "examples_ybr_color.dcm")
    # the downsampled clip's spacing is rescaled, and the tool says so
    assert any("rescaled from 0.5105 to 1.0210 mm/pixel" in w for w in result.warnings)


@pytest.mark.slow
def test_full_real_clip(tmp_path):
    result = run_tool(pydicom_data_file("color3d_jpeg_baseline.dcm"), "dicom", tmp_path, display="color3d_jpeg_baseline.dcm")
    _check_honest(result, "color3d_jpeg_baseline.dcm")
    names = {m.name for m in result.measurements}
    if result.quality.verdict != "non_diagnostic":
        assert {"lvef", "lv_edv", "lv_esv"} <= names  # spacing is known for the full-size clip
