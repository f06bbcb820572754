from __future__ import annotations

import shutil

import pytest

from experts import registry
from tests import fixtures
from tests.toy_tools import TOY_LLM_PATHS


@pytest.fixture()
def toy_registry(monkeypatch, tmp_path):
    """Test-double experts; a private CARDIO_HOME (threads, config)."""
    monkeypatch.setattr(registry, "TOOL_PATHS", dict(TOY_LLM_PATHS))
    registry.load_tool.cache_clear()
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path / "home"))
    for var in ("CARDIO_LLM", "CARDIO_LLM_BASE_URL", "CARDIO_LLM_MODEL", "CARDIO_LLM_CONFIG", "CARDIO_LLM_MODEL_DIR"):
        monkeypatch.delenv(var, raising=False)
    yield
    registry.load_tool.cache_clear()


@pytest.fixture(scope="session")
def _ecg_record(tmp_path_factory):
    return fixtures.make_wfdb(tmp_path_factory.mktemp("ecg") / "in", name="rec", seconds=20.0).parent


@pytest.fixture()
def ecg_case(_ecg_record, tmp_path):
    """A 20-s WFDB record (toy tools read its length), private to the test."""
    dst = tmp_path / "in"
    shutil.copytree(_ecg_record, dst)
    return dst
