"""CARDIO_CHROMA_URL: the same index on a real Chroma server (`chroma run`).

Slow (starts a server process), so outside the default run:
    .venv/bin/python -m pytest tests/retrieval/test_chroma_server.py -m slow
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def chroma_server(tmp_path):
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(exe).exists():
        pytest.skip("the `chroma` server command is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "run", "--path", str(tmp_path / "server"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://localhost:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail("chroma server did not start")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_index_on_a_chroma_server(chroma_server, sample_corpus, tmp_path, monkeypatch, retrieval_home):
    from retrieval.search import Retriever, clear_retrievers
    from retrieval.store import chroma_location

    home = tmp_path / "home"
    monkeypatch.setenv("CARDIO_HOME", str(home))
    monkeypatch.setenv("CARDIO_CHROMA_URL", chroma_server)
    try:
        assert chroma_location() == chroma_server
        first = Retriever(sample_corpus, progress=False)
        assert first.dense_error is None and first.build_report.rebuilt
        assert [p.id for p in first.search("QTc 510 ms", k=1, mode="dense")] == ["t-va-qtc-500-risk"]
        assert Retriever(sample_corpus, progress=False).build_report.reason == "up to date"
        assert not (home / "chroma").exists()  # nothing stored locally
    finally:
        clear_retrievers()
