"""The harness tests run with CARDIO_HOME in a temporary folder: case
threads, chat turns and (in the slow smoke run) the guideline index never
touch the user's ~/.cardioagent."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="package", autouse=True)
def eval_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("cardio_home_evals")
    old = {k: os.environ.get(k) for k in ("CARDIO_HOME", "CARDIO_LLM", "CARDIO_CHROMA_URL")}
    os.environ["CARDIO_HOME"] = str(home)
    for k in ("CARDIO_LLM", "CARDIO_CHROMA_URL"):
        os.environ.pop(k, None)
    yield home
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
