"""Shared batch fixtures: one small real batch, run once per session.

Why one shared run: spawning workers and warming the experts costs seconds,
so the engine, table, summary and renderer tests all read the outputs of
the same run (2 workers, every output format, retrieval off) on case
folders built from the bundled real records plus deliberately bad ones.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.batch.make_cases import add_bad_case, add_good_case

SMALL_GOOD = {"ecg-dicom": "dicom-ecg", "ecg-mac": "macecgdb-test01_00s"}
SMALL_BAD = {"bad-empty": "empty", "bad-partial": "partial", "bad-truncated": "truncated-signal"}


@pytest.fixture(scope="session")
def batch_home(tmp_path_factory) -> Path:
    """A private CARDIO_HOME for every batch test (spawned workers inherit it)."""
    home = tmp_path_factory.mktemp("cardio_home")
    old = os.environ.get("CARDIO_HOME")
    os.environ["CARDIO_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("CARDIO_HOME", None)
    else:
        os.environ["CARDIO_HOME"] = old


def build_small_input(root: Path) -> Path:
    add_good_case(root, "ecg-dicom", "dicom-ecg", context={"age": 51, "sex": "F", "indication": "palpitations"})
    add_good_case(root, "ecg-mac", "macecgdb-test01_00s")
    for case_id, kind in SMALL_BAD.items():
        add_bad_case(root, case_id, kind)
    return root


@pytest.fixture(scope="session")
def small_batch(tmp_path_factory, batch_home):
    """(input folder, settings, outcome) of one finished 2-worker batch."""
    from agent.batch.run import run_batch
    from agent.batch.settings import BatchSettings

    root = tmp_path_factory.mktemp("batch")
    source = build_small_input(root / "in")
    settings = BatchSettings(out_dir=str(root / "out"), formats=("json", "html", "pdf", "fhir", "sr"), retrieval=False, timeout_s=300)
    outcome = run_batch(source, settings, workers=2, quiet=True)
    return source, outcome.settings, outcome
