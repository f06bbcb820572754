"""The in-progress marker decides whether a resumed batch may touch a case:
only when no live process (an orphaned Ray task) is still running it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agent.batch import running
from agent.batch.markers import DONE_MARKER
from agent.batch.run import run_batch
from agent.batch.running import RUNNING_MARKER, RunningMarker, RunningOwner, owner_alive, read_owner, wait_for_orphans
from agent.batch.settings import BatchSettings
from tests.batch.make_cases import add_good_case


def _mark(case_dir, owner: RunningOwner):
    case_dir.mkdir(parents=True, exist_ok=True)
    (case_dir / RUNNING_MARKER).write_text(owner.model_dump_json())


def test_marker_names_this_process_while_the_case_runs_and_goes_after(tmp_path):
    with RunningMarker(tmp_path):
        owner = read_owner(tmp_path)
        assert owner is not None and owner.pid == os.getpid() and owner.start_ticks
        assert owner_alive(tmp_path)
    assert not (tmp_path / RUNNING_MARKER).exists() and not owner_alive(tmp_path)


def test_dead_or_reused_pids_and_stale_remote_markers_do_not_hold_a_case(tmp_path):
    here = running.this_process()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # exited and reaped: its pid names no process
    _mark(tmp_path / "dead", here.model_copy(update={"pid": child.pid, "start_ticks": None}))
    assert not owner_alive(tmp_path / "dead")
    _mark(tmp_path / "reused", here.model_copy(update={"start_ticks": here.start_ticks + 1}))  # same pid, another process
    assert not owner_alive(tmp_path / "reused")

    remote = tmp_path / "remote"
    _mark(remote, RunningOwner(host="another-node", pid=1234))
    mtime = (remote / RUNNING_MARKER).stat().st_mtime
    assert owner_alive(remote, now=mtime + 1)  # heartbeat fresh: a live task on another node
    assert not owner_alive(remote, now=mtime + running.STALE_AFTER_S + 1)  # heartbeat stopped


def test_wait_for_orphans_returns_once_the_owner_ends_and_reports_those_still_held(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        _mark(tmp_path / "c1", RunningOwner(host=running.this_process().host, pid=child.pid, start_ticks=running._start_ticks(child.pid)))
        (tmp_path / "c2").mkdir()
        messages = []
        assert wait_for_orphans([tmp_path / "c1", tmp_path / "c2"], max_wait_s=0, on_message=messages.append) == {"c1"}
        assert "c1" in messages[0]
    finally:
        child.kill()
        child.wait()
    assert wait_for_orphans([tmp_path / "c1", tmp_path / "c2"], max_wait_s=None) == set()


def test_resume_leaves_a_case_held_by_a_live_process_untouched(tmp_path, batch_home, monkeypatch):
    add_good_case(tmp_path / "in", "held", "dicom-ecg")
    out = tmp_path / "out"
    (out / ".batch").mkdir(parents=True)
    case_dir = out / "cases" / "held"
    case_dir.mkdir(parents=True)
    with RunningMarker(case_dir):  # this process plays the orphan
        (case_dir / "partial.tmp").write_text("an orphan is writing this")
        monkeypatch.setattr(running, "STALE_AFTER_S", 0.0)  # wait no longer than the case timeout below
        settings = BatchSettings(out_dir=str(out), formats=("json",), retrieval=False, timeout_s=0.5)
        outcome = run_batch(tmp_path / "in", settings, resume=True, quiet=True)
        assert outcome.ran == 0 and not outcome.completed  # not run, and the batch says it is not finished
        assert (case_dir / "partial.tmp").exists() and not (case_dir / DONE_MARKER).exists()


@pytest.mark.parametrize("garbage", ["", "{not json", '{"host": "x"}'])
def test_an_unreadable_marker_holds_nothing(tmp_path, garbage):
    (tmp_path / RUNNING_MARKER).write_text(garbage)
    assert read_owner(tmp_path) is None and not owner_alive(tmp_path)
