"""The configuration hash follows what a report depends on that lives outside
the code: user-supplied weights (by content, not path or time) and the
question memory's source files. Temp files only; the real question files
are never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.batch import weights as weights_mod
from agent.batch.hashing import configuration, configuration_hash
from agent.batch.run import BatchUsageError, run_batch
from agent.batch.settings import BatchSettings
from agent.batch.weights import WeightsError, parse_weight_args, sha256_cached
from tests.batch.make_cases import add_good_case

REPO = Path(__file__).resolve().parents[2]
KEY = "ecg_analyze.classifier_weights"


def _hash(weights=None, retrieval=False) -> str:
    return configuration_hash(configuration(("json",), "rules", False, retrieval, weights))


def test_weights_enter_the_hash_by_content_not_path_or_mtime(tmp_path):
    w = tmp_path / "ecgfounder.pth"
    w.write_bytes(b"weights v1" * 1000)
    base = _hash({KEY: str(w)})
    assert base != _hash()  # weights in effect are part of the configuration

    st = w.stat()
    os.utime(w, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched, same bytes
    assert _hash({KEY: str(w)}) == base
    copy = tmp_path / "elsewhere" / "copy.pth"
    copy.parent.mkdir()
    shutil.copy(w, copy)
    assert _hash({KEY: str(copy)}) == base  # moved, same bytes

    w.write_bytes(b"weights v2" * 1000)  # swapped at the same path
    assert _hash({KEY: str(w)}) != base


def test_weights_are_hashed_once_per_path_size_and_mtime(tmp_path, monkeypatch):
    w = tmp_path / "big.pt"
    w.write_bytes(os.urandom(3 * weights_mod.CHUNK + 17))  # several chunks
    weights_mod.clear_cache()
    opened = []
    real_open = open

    def counting_open(path, *a, **kw):
        if Path(path) == w:
            opened.append(path)
        return real_open(path, *a, **kw)

    monkeypatch.setattr("builtins.open", counting_open)
    first = sha256_cached(w)
    for _ in range(5):
        assert sha256_cached(w) == first
    assert len(opened) == 1
    import hashlib

    assert first == hashlib.sha256(w.read_bytes()).hexdigest()  # streamed digest equals the whole-file digest


def test_missing_or_misnamed_weights_fail_before_any_case_runs(tmp_path, batch_home):
    add_good_case(tmp_path / "in", "a", "dicom-ecg")
    missing = tmp_path / "nowhere" / "ecgfounder.pth"
    settings = BatchSettings(out_dir=str(tmp_path / "out"), formats=("json",), retrieval=False, weights={KEY: str(missing)})
    with pytest.raises(BatchUsageError, match=r"weights file not found: .*nowhere/ecgfounder\.pth"):
        run_batch(tmp_path / "in", settings, quiet=True)
    assert not (tmp_path / "out").exists()  # nothing was written, no case ran

    real = tmp_path / "w.pth"
    real.write_bytes(b"x")
    with pytest.raises(WeightsError, match="has no weights option 'qtc_formula'"):
        configuration(("json",), "rules", False, False, {"ecg_analyze.qtc_formula": str(real)})
    with pytest.raises(WeightsError, match="no expert tool"):
        configuration(("json",), "rules", False, False, {"nope_tool.weights": str(real)})
    with pytest.raises(WeightsError, match="TOOL.OPTION=PATH"):
        parse_weight_args(["classifier_weights"])


def test_cli_reports_a_missing_weights_file_by_name(tmp_path):
    add_good_case(tmp_path / "in", "a", "dicom-ecg")
    r = subprocess.run([sys.executable, "-m", "agent.cli", "batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--no-retrieval",
                        "--weights", f"{KEY}={tmp_path / 'gone.pth'}"], capture_output=True, text=True, cwd=REPO,
                       env={"CARDIO_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert r.returncode == 2 and "gone.pth" in r.stderr and "not found" in r.stderr


def test_memory_source_files_enter_the_hash_when_retrieval_is_on(tmp_path, monkeypatch):
    from retrieval import question_memory as qm

    questions = tmp_path / "questions"
    questions.mkdir()
    for name, _ in qm.MEMORY_SOURCES:
        src = qm.QUESTIONS_DIR / name
        (questions / name).write_bytes(src.read_bytes() if src.is_file() else b"")
    monkeypatch.setattr(qm, "QUESTIONS_DIR", questions)
    on = configuration(("json",), "rules", False, True)
    assert on["memory_sha256"]
    assert "memory_sha256" not in configuration(("json",), "rules", False, False)  # retrieval off: the memory is not used

    first = questions / qm.MEMORY_SOURCES[0][0]
    first.write_bytes(first.read_bytes() + b'{"id": "x", "query": "edited", "relevant": [], "split": "tune"}\n')
    edited = configuration(("json",), "rules", False, True)
    assert edited["memory_sha256"] != on["memory_sha256"]
    assert configuration_hash(edited) != configuration_hash(on)
    assert edited["corpus_sha256"] == on["corpus_sha256"]  # only the memory changed


def test_worker_applies_batch_weights_as_defaults_calls_can_override(tmp_path):
    from experts.core.tool import ToolRequest
    from experts.core.types import Modality, StudyInput
    from experts.registry import tool_for_name

    tool = tool_for_name("ecg_analyze")
    seen = []
    tool.run = lambda request: seen.append(dict(request.options))  # stands in for the real analysis
    try:
        weights_mod.apply_to_tools({KEY: "/models/a.pth"})
        weights_mod.apply_to_tools({KEY: "/models/a.pth"})  # idempotent: once per case is fine
        study = StudyInput(study_id="s", modality=Modality.ECG, files=[str(tmp_path / "x.hea")])
        tool.run(ToolRequest(study=study, output_dir=str(tmp_path), options={}))
        tool.run(ToolRequest(study=study, output_dir=str(tmp_path), options={KEY.split(".")[1]: "/models/b.pth", "qtc_formula": "bazett"}))
    finally:  # the tool instance is cached per process: leave it as it was
        vars(tool).pop("run", None)
        vars(tool).pop("_batch_base_run", None)
    assert seen == [{"classifier_weights": "/models/a.pth"}, {"classifier_weights": "/models/b.pth", "qtc_formula": "bazett"}]


def test_resume_reruns_cases_when_the_weights_at_the_same_path_change(tmp_path, batch_home):
    """End to end through plan(): same bytes (even touched) -> skipped; new bytes -> rerun."""
    add_good_case(tmp_path / "in", "a", "macecgdb-test01_00s")
    w = tmp_path / "ecgfounder.pth"
    w.write_bytes(b"weights v1")  # not a real checkpoint: the classifier says so, the case is still reported

    def run(resume: bool):
        settings = BatchSettings(out_dir=str(tmp_path / "out"), formats=("json",), retrieval=False, timeout_s=300, weights={KEY: str(w)})
        return run_batch(tmp_path / "in", settings, resume=resume, quiet=True)

    first = run(False)
    assert first.ran == 1 and first.ok == 1
    report = (tmp_path / "out" / "cases" / "a" / "report.json").read_text()
    assert "ecgfounder.pth" in report  # the worker really passed the file to the ECG expert
    st = w.stat()
    os.utime(w, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    touched = run(True)
    assert touched.skipped == 1 and touched.ran == 0 and touched.settings.config_hash == first.settings.config_hash
    w.write_bytes(b"weights v2")
    swapped = run(True)
    assert swapped.ran == 1 and swapped.skipped == 0 and swapped.settings.config_hash != first.settings.config_hash
