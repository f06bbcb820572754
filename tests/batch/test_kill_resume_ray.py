"""Crash safety on the Ray engine: `kill -9` of the driver once a case is
done, then `--resume` (also on Ray). Tasks in flight at the kill may go on as
orphans; the resumed run must wait for them (agent/batch/running.py) rather
than clear and rerun a case under their feet. Every case ends done exactly
once, with valid outputs and no partial file. (On a local Ray instance the
orphans were seen to end within ~3 s of the kill, so whether the resume had
to wait varies from run to run; test_running_marker.py tests the wait.)

Every process the two runs start carries a unique environment tag
(CARDIO_TEST_RAY_TAG, inherited by Ray's raylet, GCS, agents and workers);
the test finds its leftovers by that tag in /proc/<pid>/environ and kills
them by pid, never by name."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from agent.batch.markers import DONE_MARKER, read_record
from agent.batch.running import RUNNING_MARKER
from tests.batch.test_kill_resume import REPO, _assert_complete_and_sound, _env, _events, _wait_for_done
from tests.batch.make_cases import add_good_case

pytest.importorskip("ray", reason="Ray is not installed (pip install 'cardioagent[ray]'); the local engine's kill -9 test covers the rest")

N_CASES = 4
TAG = "CARDIO_TEST_RAY_TAG"


def _tagged_pids(tag: str) -> list[int]:
    """Processes of this user whose environment holds our tag (not this one)."""
    needle = f"{TAG}={tag}".encode()
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            if needle in (p / "environ").read_bytes().split(b"\0"):
                pids.append(int(p.name))
        except OSError:
            continue
    return pids


def _kill_tagged(tag: str) -> list[int]:
    killed = _tagged_pids(tag)
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return killed


def _batch_inputs(tmp_path: Path, prefix: str) -> tuple[Path, Path, list[str], str, dict[str, str]]:
    """N_CASES quick cases (DICOM and WFDB ECGs in turn), the output folder, and
    an environment tagged so every process the run starts can be found by PID."""
    src, out = tmp_path / "in", tmp_path / "out"
    ids = [f"{prefix}{i:02d}" for i in range(N_CASES)]
    for i, case_id in enumerate(ids):
        add_good_case(src, case_id, ("dicom-ecg", "macecgdb-test01_00s")[i % 2])
    tag = uuid.uuid4().hex
    return src, out, ids, tag, {**_env(tmp_path), TAG: tag, "RAY_USAGE_STATS_ENABLED": "0"}


def _cmd(src: Path, out: Path, *extra: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "agent.cli", "batch", str(src), "--out", str(out), "--engine", "ray", "--workers", "2",
            "--formats", "json,html,fhir", "--no-retrieval", "--no-threads", "--quiet", "--timeout", "300", *extra]  # fmt: skip


@pytest.mark.slow
def test_ray_driver_kill_9_then_resume_runs_every_case_exactly_once(tmp_path):
    src, out, ids, tag, env = _batch_inputs(tmp_path, "r")
    try:
        with open(tmp_path / "first.err", "w") as err:
            proc = subprocess.Popen(_cmd(src, out), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
            _wait_for_done(out, proc, at_least=1)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        done_before = {d.parent.name: read_record(d).finished_at for d in out.glob(f"cases/*/{DONE_MARKER}")}
        assert 1 <= len(done_before) < N_CASES
        n_events = len(_events(out))

        resume_started = time.time()
        r = subprocess.run(_cmd(src, out, "--resume"), cwd=REPO, env={**env, "PYTHONUNBUFFERED": "1"}, capture_output=True, text=True,
                           timeout=900)  # fmt: skip
        assert r.returncode == 0, r.stderr[-3000:]

        resumed = _events(out)[n_events:]
        rerun = [e["case_id"] for e in resumed]
        assert len(rerun) == len(set(rerun))  # nothing twice
        assert set(rerun).isdisjoint(done_before)  # nothing finished before the kill was redone
        for case_id, finished in done_before.items():
            assert read_record(out / "cases" / case_id / DONE_MARKER).finished_at == finished
        resume_workers = {e["worker"] for e in resumed}
        for case_id in ids:
            done = read_record(out / "cases" / case_id / DONE_MARKER)
            if case_id in rerun:
                # the resumed run's marker is the last word: no orphan wrote over it afterwards
                event = next(e for e in resumed if e["case_id"] == case_id)
                assert done.worker == event["worker"] and done.finished_at.timestamp() >= resume_started
            else:
                assert done.worker not in resume_workers  # finished by the first run or its orphan, not redone
        _assert_complete_and_sound(out, ids)
        assert not list(out.glob(f"cases/*/{RUNNING_MARKER}")), "an in-progress marker survived a finished case"
    finally:
        _kill_tagged(tag)  # the killed driver's Ray processes (raylet, GCS, agents, idle workers), by pid
        deadline = time.monotonic() + 30
        while _tagged_pids(tag) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert not _tagged_pids(tag), "a Ray process of this test outlived its cleanup"


@pytest.mark.slow
def test_ray_driver_sigterm_cancels_shuts_ray_down_and_resume_finishes(tmp_path):
    """SIGTERM (what a job scheduler sends) can be caught: the driver cancels
    the tasks in flight and shuts its local Ray instance down, so nothing of
    it outlives the driver; `--resume` finishes the batch."""
    src, out, ids, tag, env = _batch_inputs(tmp_path, "t")
    try:
        with open(tmp_path / "first.err", "w") as err:
            proc = subprocess.Popen(_cmd(src, out), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
            _wait_for_done(out, proc, at_least=1)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=300) == 130, (tmp_path / "first.err").read_text()[-3000:]
        deadline = time.monotonic() + 60
        while _tagged_pids(tag) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _tagged_pids(tag), "a Ray process outlived the driver's shutdown on SIGTERM"

        r = subprocess.run(_cmd(src, out, "--resume"), cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        _assert_complete_and_sound(out, ids)
        assert not list(out.glob(f"cases/*/{RUNNING_MARKER}"))
    finally:
        _kill_tagged(tag)
