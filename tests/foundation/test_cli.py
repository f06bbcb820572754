"""The command line: help that teaches, version, exit codes that separate
bad input (2, one line per file, nothing written) from internal errors (3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent import __version__
from agent.cli import EXIT_BAD_INPUT, main

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "agent.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd or REPO, env=env)


def test_version_and_help():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"cardioagent {__version__}"
    h = run_cli("analyze", "--help")
    assert h.returncode == 0
    for word in ("--context", "--sex", "--allow-partial", "exit codes", "examples:"):
        assert word in h.stdout


def test_bad_inputs_exit_2_with_one_line_each_and_no_report(tmp_path, monkeypatch):
    (tmp_path / "corrupt.hea").write_text("this is not a WFDB header\n")
    (tmp_path / "empty.dat").write_bytes(b"")
    (tmp_path / "scan.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    out = tmp_path / "out"
    r = run_cli("analyze", tmp_path / "corrupt.hea", tmp_path / "empty.dat", tmp_path / "scan.jpg", "--out", out, "--quiet",
                env={"CARDIO_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert r.returncode == EXIT_BAD_INPUT
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == [
        "error: corrupt.hea: corrupt WFDB header: the first line is not a record line 'NAME NSIG [FS [NSAMP]]'",
        "error: empty.dat: empty file (0 bytes)",
        "error: scan.jpg: JPEG image: still pictures are not analysed (supply the ECG record, DICOM or video itself)",
    ]
    assert not out.exists()


def test_unknown_format_and_bad_sex_are_usage_errors(tmp_path, capsys):
    assert main(["analyze", str(tmp_path), "--formats", "docx"]) == EXIT_BAD_INPUT
    assert main(["analyze", str(tmp_path), "--sex", "x"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "unknown format(s): docx" in err and "sex must be female/male" in err


def test_schema_export_matches_committed_schemas(tmp_path):
    from agent.schemas import contract_models, schema_text

    for name, model in contract_models().items():
        committed = REPO / "docs" / "schemas" / f"{name}.schema.json"
        assert committed.read_text() == schema_text(model), f"{committed} is stale: run `cardioagent schema`"
    assert json.loads((REPO / "docs" / "schemas" / "report.schema.json").read_text())["title"] == "Report"


def test_cli_starts_without_heavy_imports():
    code = "import sys, agent.cli; agent.cli.build_parser(); print(','.join(m for m in ('torch','monai','neurokit2','chromadb','langgraph','gradio') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"heavy modules imported at CLI start: {r.stdout}"


def test_analyze_writes_dicom_sr_that_references_the_dicom_input(tmp_path):
    """`analyze --formats sr` outside a batch: the graph's render node tells
    the SR writer which DICOM files the case read, so the SR can cite them."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    ecg = get_testdata_file("waveform_ecg.dcm")
    out = tmp_path / "out"
    r = run_cli("analyze", ecg, "--formats", "json,sr", "--out", out, "--quiet",
                env={"CARDIO_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert r.returncode == 0, r.stderr
    sr = pydicom.dcmread(out / "report.sr.dcm")
    source = pydicom.dcmread(ecg, stop_before_pixels=True)
    referenced = {item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
                  for item in getattr(sr, "CurrentRequestedProcedureEvidenceSequence", [])
                  for item in item.ReferencedSeriesSequence}  # fmt: skip
    assert source.SOPInstanceUID in referenced
    assert sr.Modality == "SR" and (out / "report.json").exists()
