"""Crash safety: `kill -9` of the batch mid-run, then `--resume`: every case
is reported exactly once, nothing finished is redone, no file is corrupt,
and no worker outlives the killed batch. Ctrl-C stops cleanly (exit 130)
and a resumed run finishes the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.batch.markers import DONE_MARKER, read_record
from agent.report import Report
from tests.batch.make_cases import add_good_case

REPO = Path(__file__).resolve().parents[2]
N_CASES = 6


def _inputs(root: Path) -> list[str]:
    ids = []
    for i in range(N_CASES):
        record = ("macecgdb-test01_00s", "dicom-ecg")[i % 2]
        ids.append(f"k{i:02d}")
        add_good_case(root, ids[-1], record)
    return ids


def _cmd(src: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli", "batch", str(src), "--out", str(out), "--workers", "2", "--formats", "json,html,fhir",
            "--no-retrieval", "--no-threads", "--quiet", *extra]  # fmt: skip


def _env(tmp_path: Path) -> dict[str, str]:
    return {"CARDIO_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "HOME": str(tmp_path)}


def _wait_for_done(out: Path, proc: subprocess.Popen, at_least: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list(out.glob(f"cases/*/{DONE_MARKER}"))) >= at_least:
            return
        if proc.poll() is not None:
            pytest.fail(f"the batch ended (exit {proc.returncode}) before it could be interrupted: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no case finished in time")


def _worker_pids(out: Path) -> list[int]:
    return [int(p.stem.rsplit("-", 1)[1]) for p in (out / ".batch" / "logs").glob("worker-*.log")]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state  # a zombie is dead, only not yet reaped


def _events(out: Path) -> list[dict]:
    path = out / ".batch" / "events.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []


def _assert_complete_and_sound(out: Path, ids: list[str]) -> None:
    for case_id in ids:
        case_dir = out / "cases" / case_id
        done = read_record(case_dir / DONE_MARKER)
        assert done is not None and done.status == "ok", case_id
        Report.model_validate_json((case_dir / "report.json").read_text())  # parses and validates
        json.loads((case_dir / "report.fhir.json").read_text())
        assert (case_dir / "report.html").read_text().rstrip().endswith("</html>")
    assert not list((out / "cases").rglob("*.tmp")), "a temp file of an interrupted write survived the rerun"
    cohort = (out / "cohort.csv").read_text().splitlines()
    assert len(cohort) == len(ids) + 1 and all(",ok," in row for row in cohort[1:])


def test_kill_9_mid_batch_then_resume_runs_every_case_exactly_once(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    ids = _inputs(src)
    proc = subprocess.Popen(_cmd(src, out), cwd=REPO, env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_done(out, proc, at_least=2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in _worker_pids(out)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in _worker_pids(out) if _alive(p)], "a worker outlived the killed batch"
    done_before = {d.parent.name: read_record(d).finished_at for d in out.glob(f"cases/*/{DONE_MARKER}")}
    assert 2 <= len(done_before) < N_CASES
    n_events = len(_events(out))

    r = subprocess.run(_cmd(src, out, "--resume"), cwd=REPO, env=_env(tmp_path), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rerun = [e["case_id"] for e in _events(out)[n_events:]]
    assert len(rerun) == len(set(rerun))  # nothing twice
    assert set(rerun).isdisjoint(done_before)  # nothing finished before the kill was redone
    assert set(rerun) | set(done_before) == set(ids)  # every case, exactly once
    for case_id, finished in done_before.items():
        assert read_record(out / "cases" / case_id / DONE_MARKER).finished_at == finished
    _assert_complete_and_sound(out, ids)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    ids = _inputs(src)
    proc = subprocess.Popen(_cmd(src, out), cwd=REPO, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_done(out, proc, at_least=1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 130 and "--resume" in stderr
    done = {d.parent.name for d in out.glob(f"cases/*/{DONE_MARKER}")}
    assert 1 <= len(done) < N_CASES
    assert (out / "summary.html").is_file()  # tables and summary are written for what was done
    r = subprocess.run(_cmd(src, out, "--resume"), cwd=REPO, env=_env(tmp_path), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    _assert_complete_and_sound(out, ids)
