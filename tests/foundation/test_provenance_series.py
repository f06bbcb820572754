"""A measurement over a whole DICOM series names the series, and a long file
list is summarised (count, first–last in natural order, full list folded).

QA: every Sunnybrook CMR value's evidence began '1.dcm; short-axis cine: …'
although computed over ~12 slices × 20 phases, and the header listed all 240
file names in lexicographic order ('1.dcm, 10.dcm, 100.dcm, …').
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.render.provenance import evidence_text, files_view, measurement_row, section_source, series_source
from agent.report import ModalitySection
from experts.core.types import Evidence, Measurement, Modality, Quality, Source

REPO = Path(__file__).resolve().parents[2]
SUNNYBROOK = Path("/work/shared/data/cmr/sunnybrook")


def _m(name: str, **ev) -> Measurement:
    return Measurement(id=f"cmr-1.{name}", name=name, label=name, value=1.0, unit="mL", method="test",
                       source=Source(tool="cmr_analyze", version="0.1.0"), evidence=Evidence(**ev))  # fmt: skip


def _cmr_section(n_files: int = 240) -> ModalitySection:
    files = sorted(f"{i}.dcm" for i in range(1, n_files + 1))  # lexicographic, as QA saw it
    ms = [
        _m("lv_edv", file="1.dcm", location="short-axis cine: LV pool at phase 19/20 (708 ms); slices 2-11 of 12 (1-based)",
           slices=list(range(2, 12)), phases=[19]),
        _m("lv_sv", file="1.dcm", location="short-axis cine: LV pool at phase 19/20 (708 ms), phase 6/20 (211 ms); slices 2-11 of 12",
           slices=list(range(2, 12)), phases=[19, 6]),
        _m("heart_rate", file="1.dcm", location="short-axis cine: DICOM header"),
    ]  # fmt: skip
    return ModalitySection(study_id="cmr-1", modality=Modality.CMR, tool="cmr_analyze", tool_version="0.1.0", files=files,
                           quality=Quality(verdict="usable"), measurements=ms)  # fmt: skip


def test_files_are_summarised_in_natural_order():
    fv = files_view(sorted(f"{i}.dcm" for i in range(1, 241)))
    assert fv.folded and fv.summary == "240 files, 1.dcm – 240.dcm"
    assert fv.files[:3] == ("1.dcm", "2.dcm", "3.dcm") and len(fv.files) == 240
    small = files_view(["1.hea", "1.dat"])
    assert not small.folded and small.summary == "1.hea, 1.dat"


def test_a_series_measurement_names_the_series_and_a_header_value_its_file():
    sec = _cmr_section()
    series = series_source(sec)
    assert series == "DICOM series (240 files, 12 slices × 20 phases)"
    by = {m.name: m for m in sec.measurements}
    assert evidence_text(by["lv_edv"], series).startswith("DICOM series (240 files, 12 slices × 20 phases); short-axis cine")
    assert measurement_row(by["lv_sv"], series).evidence.startswith("DICOM series (240 files")
    assert evidence_text(by["heart_rate"], series).startswith("1.dcm; ")  # one file's header: stays per file
    src = section_source(sec)
    assert src.text == "Files: DICOM series (240 files, 12 slices × 20 phases), 1.dcm – 240.dcm"


def test_one_record_or_volume_keeps_its_file():
    ecg = ModalitySection(study_id="ecg-1", modality=Modality.ECG, tool="ecg_analyze", tool_version="0.1.0",
                          files=["1.hea", "1.dat", "1.atr"], quality=Quality(verdict="usable"))  # fmt: skip
    assert series_source(ecg) == ""
    nii = ModalitySection(study_id="cmr-1", modality=Modality.CMR, tool="cmr_analyze", tool_version="0.1.0",
                          files=["patient001_4d.nii.gz", "patient001_frame01.nii.gz"], quality=Quality(verdict="usable"))  # fmt: skip
    assert series_source(nii) == ""
    m = _m("lv_edv", file="patient001_frame01.nii.gz", slices=[1, 2, 3], phases=[1])
    assert evidence_text(m, series_source(nii)).startswith("patient001_frame01.nii.gz")


def test_ui_panel_shows_the_series_and_the_summary():
    """The UI panel uses the same rows as md/html/pdf (provenance.py)."""
    sec = _cmr_section()
    src = section_source(sec)
    from ui.report_view import measurement_table

    html = measurement_table(sec.measurements, series=src.series)
    assert "DICOM series (240 files, 12 slices × 20 phases); short-axis" in html
    assert "1.dcm, 10.dcm, 100.dcm" not in src.text


@pytest.mark.skipif(not SUNNYBROOK.is_dir(), reason="shared data absent: /work/shared/data/cmr/sunnybrook")
def test_sunnybrook_series_report_names_the_series_in_md_html_and_json(tmp_path):
    series = sorted(p / "dicom" for p in SUNNYBROOK.iterdir() if (p / "dicom").is_dir())
    if not series:
        pytest.skip(f"no series folder in {SUNNYBROOK}")
    out = tmp_path / "o2"
    env = {**os.environ, "CARDIO_HOME": os.environ.get("CARDIO_HOME", str(tmp_path / "home"))}
    cmd = [sys.executable, "-m", "agent.cli", "analyze", str(series[0]), "--height", "178", "--weight", "85", "--out", str(out),
           "--formats", "md,html,json", "--quiet"]  # fmt: skip
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True, timeout=900)
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "1.dcm, 10.dcm, 100.dcm" not in md and "1.dcm, 10.dcm, 100.dcm" not in html
    # Sunnybrook carries SeriesNumber 300 (no description): the series is named by it
    assert "Files: DICOM series 300 (" in md and ", 1.dcm – " in md
    assert "| 1.dcm; short-axis cine: LV pool" not in md
    assert "DICOM series 300 (" in html and "<details class='files'>" in html
    import json

    r = json.loads((out / "report.json").read_text())
    assert len(r["sections"][0]["files"]) > 6  # the JSON keeps every file
