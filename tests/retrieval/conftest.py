"""Fixtures for the retrieval tests.

Every test that touches the index runs with CARDIO_HOME in a temporary
folder (never the user's ~/.cardioagent) and without CARDIO_CHROMA_URL.
The sample corpus is written per session; the embedding model loads once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.retrieval.sample_corpus import write_sample_corpus


@pytest.fixture(scope="package")
def retrieval_home(tmp_path_factory) -> Path:
    """A CARDIO_HOME for this test package so the sample index is built once."""
    home = tmp_path_factory.mktemp("cardio_home")
    old = {k: os.environ.get(k) for k in ("CARDIO_HOME", "CARDIO_CHROMA_URL")}
    os.environ["CARDIO_HOME"] = str(home)
    os.environ.pop("CARDIO_CHROMA_URL", None)
    yield home
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="package")
def sample_corpus(tmp_path_factory) -> Path:
    return write_sample_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="package")
def sample_retriever(retrieval_home, sample_corpus):
    from retrieval.search import Retriever

    retriever = Retriever(sample_corpus, progress=False)
    assert retriever.dense_error is None, retriever.dense_error
    return retriever


@pytest.fixture()
def fresh_home(tmp_path, monkeypatch, retrieval_home) -> Path:
    """A CARDIO_HOME of the test's own (for rebuild and user-document tests)."""
    home = tmp_path / "home"
    monkeypatch.setenv("CARDIO_HOME", str(home))
    yield home
    from retrieval.search import clear_retrievers

    clear_retrievers()
