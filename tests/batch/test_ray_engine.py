"""The Ray engine on a local Ray instance with 2 CPUs: the same per-case
function as the local engine, so the same folders, markers and tables."""

from __future__ import annotations

import os
import socket

import pytest

from agent.batch.markers import DONE_MARKER, FAILURE_RECORD, read_record
from agent.batch.run import run_batch
from agent.batch.settings import BatchSettings
from tests.batch.make_cases import add_bad_case, add_good_case

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'cardioagent[ray]'); the local engine covers the same per-case function")


def test_ray_engine_on_a_local_2_cpu_instance(tmp_path, batch_home):
    src = tmp_path / "in"
    add_good_case(src, "r-dicom", "dicom-ecg")
    add_good_case(src, "r-mac", "macecgdb-test01_00s")
    add_bad_case(src, "r-bad", "empty")
    settings = BatchSettings(out_dir=str(tmp_path / "out"), formats=("json", "fhir", "sr"), retrieval=False, timeout_s=600)
    outcome = run_batch(src, settings, engine="ray", workers=2, quiet=True)
    assert not ray.is_initialized()  # the engine shuts down the instance it started
    assert outcome.completed and outcome.ran == 3 and outcome.ok == 2 and outcome.failed == 1
    out = tmp_path / "out" / "cases"
    for case_id in ("r-dicom", "r-mac"):
        done = read_record(out / case_id / DONE_MARKER)
        assert done is not None and done.config_hash == outcome.settings.config_hash
        assert (out / case_id / "report.fhir.json").is_file()
    assert (out / "r-dicom" / "report.sr.dcm").is_file()
    bad = read_record(out / "r-bad" / FAILURE_RECORD)
    assert bad.problems[0].kind == "input" and bad.problems[0].file == "signal.dat"
    workers = {read_record(out / c / DONE_MARKER).worker for c in ("r-dicom", "r-mac")}
    assert f"{socket.gethostname()}:{os.getpid()}" not in workers  # ran in Ray worker processes, not in the driver
