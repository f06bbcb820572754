"""Shared test fixtures.

`shared_data` points at ../shared/data (real PhysioNet and Sunnybrook
records). On a fresh clone without it, tests that need it skip with a clear
reason; CI has it, so they run there. Bundled examples live in examples/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def shared_data_dir() -> Path | None:
    env = os.environ.get("CARDIO_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is absent (set CARDIO_SHARED_DATA); real-record tests run in CI where it exists")
    return d


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture()
def artifact_dir(request, tmp_path) -> Path:
    """A folder for a test's human-inspectable outputs (plots, screenshots).
    Under $CARDIO_TEST_OUTPUT when set (kept after the run), else tmp."""
    base = os.environ.get("CARDIO_TEST_OUTPUT")
    if not base:
        return tmp_path
    d = Path(base) / request.node.nodeid.replace("/", "_").replace("::", "__").replace("[", "_").replace("]", "")
    d.mkdir(parents=True, exist_ok=True)
    return d
