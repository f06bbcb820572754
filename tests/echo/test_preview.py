"""The clip preview: every decoded clip, whatever its verdict, gets a PNG
showing a few frames with the sector found and the LV trace, captioned
(without numbers) with why it was rated so - so a clinician can see the
clip they are told is unusable. Non-diagnostic clips still get no numbers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from experts.echo.caption import preview_caption, reason_headline
from experts.echo.preview import preview_frames
from tests.echo.conftest import run_tool


def _preview(result):
    previews = [a for a in result.artifacts if a.kind == "image" and a.title.startswith("Clip preview")]
    assert len(previews) == 1, [a.title for a in result.artifacts]
    return previews[0]


def _check_png(path: str, out: Path) -> np.ndarray:
    import matplotlib.image as mpimg

    p = Path(path)
    assert p.is_file() and p.parent == out
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(p)  # decodes the PNG
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 400
    assert float(img[..., :3].std()) > 0.05  # not a blank canvas
    return img


def _red_trace_pixels(img: np.ndarray) -> int:
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return int(((r > 0.9) & (g < 0.4) & (b < 0.4)).sum())


def _no_numbers(result):
    assert result.measurements == []
    assert not any(s.status == "present" for s in result.statements)


def test_non_diagnostic_real_clip_has_a_preview(tmp_path):
    """pydicom's real apical 4-chamber clip (30 frames): non-diagnostic (no
    complete cycle), yet the clinician sees it, with the trace and why."""
    import av
    from pydicom import examples

    result = run_tool(str(examples.get_path("ybr_color")), "dicom", tmp_path, display="examples_ybr_color.dcm", make_video=True)
    assert result.quality.verdict == "non_diagnostic"
    _no_numbers(result)
    preview = _preview(result)
    assert preview.media_type == "image/png"
    assert "non-diagnostic" in preview.title and "cardiac cycle" in preview.title
    assert not re.search(r"\d", preview.title)  # the caption carries no numbers
    img = _check_png(preview.path, tmp_path)
    assert _red_trace_pixels(img) > 50  # the segmenter ran: its trace is drawn
    # No ED/ES figure or volume curve for a clip without beats...
    assert not any(a.kind == "plot" for a in result.artifacts)
    # ...but the overlay video of the whole decoded clip is there on request.
    video = next(a for a in result.artifacts if a.kind == "video")
    assert "non-diagnostic" in video.title
    with av.open(video.path) as c:
        assert sum(1 for _ in c.decode(video=0)) == 30


def test_simulated_short_axis_clip_has_a_preview(tmp_path):
    from experts.echo.simulate import sample_params, simulate_clip
    from experts.echo.writers import write_us_dicom

    p = sample_params(5_000_002, view="psax", n_frames=48, fps=40.0, heart_rate_bpm=75.0, width_px=128, height_px=120, noise=0.03)
    clip = simulate_clip(p)
    path = write_us_dicom(clip.frames, clip.fps, tmp_path / "psax.dcm", spacing_mm=clip.spacing_mm)
    result = run_tool(path, "dicom", tmp_path, make_plot=False)
    assert result.quality.verdict == "non_diagnostic"
    _no_numbers(result)
    preview = _preview(result)
    assert "non-diagnostic" in preview.title and "non-apical view" in preview.title
    assert not re.search(r"\d", preview.title)
    img = _check_png(preview.path, tmp_path)
    assert _red_trace_pixels(img) > 20


def test_usable_clip_also_has_a_preview(sim_files, tmp_path):
    result = run_tool(sim_files["dicom"], "dicom", tmp_path)
    assert result.quality.verdict in ("usable", "limited")
    preview = _preview(result)
    assert not re.search(r"\d", preview.title)
    _check_png(preview.path, tmp_path)


def test_too_short_clip_has_a_preview_and_can_opt_out(sim_clip, tmp_path):
    from experts.echo.writers import write_us_dicom

    path = write_us_dicom(sim_clip.frames[:3], sim_clip.fps, tmp_path / "three.dcm", spacing_mm=sim_clip.spacing_mm)
    result = run_tool(path, "dicom", tmp_path)
    _no_numbers(result)
    preview = _preview(result)
    assert "too few frames" in preview.title
    _check_png(preview.path, tmp_path)
    off = run_tool(path, "dicom", tmp_path / "off", make_preview=False)
    assert off.artifacts == []


@pytest.mark.parametrize(
    "reason, headline",
    [
        ("only 3 frames: at least 16 are needed to capture a heart cycle", "too few frames"),
        ("colour Doppler clip: 34% of the sector is colour-coded flow, which hides the blood-tissue border", "colour Doppler"),
        ("the LV cavity on the image is nearly round (length/width 1.04 < 1.2): this looks like a short-axis view", "nearly round"),
        ("the long axis of the cavity runs 62 degrees off the ultrasound beam (an apical view looks along it, < 35 degrees)", "across the ultrasound beam"),
        ("2 of 3 candidate beat(s) discarded: EF outside 0-95% (found 70%, 12%) - a dip in the area curve", "discarded"),
        ("in 40% of frames the traced cavity narrows at the base and widens again: the atrium was traced", "atrium"),
        ("no LV cavity was found in 12 of 40 frames", "not found"),
        ("EF differs widely between beats (31% to 62%): the LV border is not traced consistently", "beats disagree"),
        ("a new rule fired 3 times", "see the quality reasons"),
        ("a new rule (value 3.2) fired", "a new rule fired"),
        ("a new rule without numbers: detail 5", "a new rule without numbers"),
    ],
)
def test_reason_headlines_carry_no_numbers(reason, headline):
    h = reason_headline(reason)
    assert headline in h and not re.search(r"\d", h)


def test_caption_lists_the_verdict_once_per_headline():
    c = preview_caption("non_diagnostic", ["the LV area curve is jittery (5.3% of the mean area)", "the LV area curve is jittery (6.1%)"])
    assert c == "Rated non-diagnostic: the LV area curve is jittery"
    assert preview_caption("usable", []) == "Rated usable: no quality rule fired"


def test_preview_frames_spread_over_the_clip():
    assert preview_frames(30) == [0, 7, 15, 22]
    assert preview_frames(3) == [0, 1, 2]
    assert preview_frames(1) == [0]
