"""CLI answers to bad input that used to slip through: truncated files,
out-of-range demographics, unsafe case ids, an SR request without DICOM,
a case in which every study fails — and help texts that say what they do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.case import case_id_problem, context_error_lines, load_context
from agent.cli import EXIT_BAD_INPUT, EXIT_OK

REPO = Path(__file__).resolve().parents[2]
MITDB = REPO / "examples" / "ecg" / "mitdb-100"


def run_cli(tmp_path, *args):
    env = {"CARDIO_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "CARDIO_LLM": "rules"}
    return subprocess.run([sys.executable, "-m", "agent.cli", *map(str, args)], capture_output=True, text=True, cwd=REPO, env=env)


def test_truncated_wfdb_exits_2_naming_the_file_and_writes_nothing(tmp_path):
    text = (MITDB / "100.hea").read_text().replace("100 2 360", "trunc 2 360").replace("100.dat", "trunc.dat")
    (tmp_path / "trunc.hea").write_text(text)
    (tmp_path / "trunc.dat").write_bytes((MITDB / "100.dat").read_bytes()[:1000])
    out = tmp_path / "out"
    r = run_cli(tmp_path, "analyze", tmp_path / "trunc.hea", tmp_path / "trunc.dat", "--out", out, "--quiet")
    assert r.returncode == EXIT_BAD_INPUT
    assert "error: trunc.dat: 1000 bytes, but trunc.hea declares 650000 samples × 2 signals in format 212 (1950000 bytes): file truncated" in r.stderr
    assert "broadcast" not in r.stderr and not (out / "report.json").exists()


def _ctx_error(**kw) -> list[str]:
    context = kw.pop("context", None)
    with pytest.raises(ValueError) as err:
        load_context(context, **kw)
    return context_error_lines(err.value, context=context, **{k: v for k, v in kw.items() if k != "sex"})


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({"height_cm": 1.75, "weight_kg": 80}, "--height 1.75: height is in cm (30–260); did you mean 175?"),
        ({"age": 300}, "--age 300: age is in years (0–130); if that is months, 25 years"),
        ({"age": -5}, "--age -5: age cannot be negative; give it in years (0–130)"),
        ({"weight_kg": 0}, "--weight 0: weight is in kg (1–400)"),
        ({"weight_kg": 80000}, "--weight 80000: weight is in kg (1–400); did you mean 80 (grams given)?"),
    ],
)
def test_out_of_range_flags_get_one_teaching_line(kw, expected):
    assert _ctx_error(**kw) == [expected]


def test_out_of_range_context_file_fields_name_the_file(tmp_path):
    ctx = tmp_path / "ctx.json"
    ctx.write_text(json.dumps({"age": 300, "height_cm": 1.75, "weight_kg": 0}))
    lines = _ctx_error(context=str(ctx))
    assert lines == [
        "ctx.json age: 300: age is in years (0–130); if that is months, 25 years",
        "ctx.json height_cm: 1.75: height is in cm (30–260); did you mean 175?",
        "ctx.json weight_kg: 0: weight is in kg (1–400)",
    ]


def test_cli_prints_the_lines_without_pydantic_dump(tmp_path):
    r = run_cli(tmp_path, "analyze", MITDB, "--height", "1.75", "--weight", "80", "--out", tmp_path / "o", "--quiet")
    assert r.returncode == EXIT_BAD_INPUT
    assert r.stderr.strip() == "cardioagent: bad clinical context: --height 1.75: height is in cm (30–260); did you mean 175?"
    assert "pydantic" not in r.stderr and "validation error" not in r.stderr


@pytest.mark.parametrize("bad", ["../../../tmp/evil", "a/b", "a\\b", "..", "x\x1b[2J", "", "-rf"])
def test_unsafe_case_ids_are_refused(bad):
    assert case_id_problem(bad)


@pytest.mark.parametrize("good", ["case-007", "MRN 12345", "pt_1.v2", "2024-05-01T10:00"])
def test_ordinary_case_ids_pass(good):
    assert case_id_problem(good) is None


def test_cli_refuses_path_like_case_id(tmp_path):
    r = run_cli(tmp_path, "analyze", MITDB, "--case-id", "../../../tmp/evil", "--out", tmp_path / "o", "--quiet")
    assert r.returncode == EXIT_BAD_INPUT and "--case-id '../../../tmp/evil': case id contains a path separator" in r.stderr
    assert not (tmp_path / "o").exists()


def test_every_study_failing_in_its_tool_is_not_exit_0(tmp_path):
    from tests.fixtures import make_wfdb

    make_wfdb(tmp_path / "short", "short", seconds=1.0)  # passes intake; the ECG tool needs ≥ 2 s
    r = run_cli(tmp_path, "analyze", tmp_path / "short", "--out", tmp_path / "o", "--quiet")
    assert r.returncode == EXIT_BAD_INPUT, r.stderr
    assert "error: short.hea: the signal lasts 1.00 s" in r.stderr
    assert "no supplied study could be analysed" in r.stderr
    assert (tmp_path / "o" / "report.json").exists()  # the report, listing why, is kept


@pytest.mark.slow  # a full analyze subprocess with a fresh index (~40 s on 2 cores)
def test_sr_without_dicom_input_notes_it_on_stderr(tmp_path):
    r = run_cli(tmp_path, "analyze", REPO / "examples" / "ecg" / "ludb-1", "--formats", "json,sr", "--out", tmp_path / "o", "--quiet")
    assert r.returncode == EXIT_OK, r.stderr
    assert "note: --formats sr: No DICOM SR" in r.stderr


def test_help_texts(tmp_path):
    from agent.cli import build_parser

    parser = build_parser()
    top = parser.format_help()
    assert "check | ask" in top and "config" in top
    sub = next(a for a in parser._actions if a.dest == "command").choices
    assert "default: docs/schemas" in sub["schema"].format_help()
    kb = next(a for a in sub["kb"]._actions if getattr(a, "dest", "") == "kb_command").choices
    add = kb["add"].format_help()
    for word in (".pdf", "$CARDIO_HOME/chroma", "quoted data", "example:"):
        assert word in add
    assert "example:" in kb["build"].format_help() and "example:" in kb["stats"].format_help()
    assert "default: hybrid" in kb["search"].format_help()
    analyze = sub["analyze"].format_help()
    assert "every study failed" in analyze


def test_case_input_model_refuses_unsafe_ids_for_every_caller():
    """UI, batch and evals build CaseInput too: the model itself refuses path-like ids."""
    from pydantic import ValidationError

    from agent.case import CaseInput

    assert CaseInput(case_id="case-20261126-101500-abc123", paths=[]).case_id.startswith("case-")
    with pytest.raises(ValidationError, match="path separator"):
        CaseInput(case_id="../../../tmp/evil", paths=[])
