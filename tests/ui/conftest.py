"""Fixtures for UI tests: the real app launched on 127.0.0.1 with a tmp
CARDIO_HOME, and case files made from the bundled LUDB record.

Guideline retrieval is off by default (building the index takes a minute);
tests about citations switch it on.
"""

from __future__ import annotations

import os
import re
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

LUDB = EXAMPLES / "ecg" / "ludb-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    home: Path
    share: Path
    demo: object
    auth: list[tuple[str, str]]


def start_server(base: Path, *, auth: list[tuple[str, str]] | None = None, **settings) -> Server:
    from ui.app import AppConfig, launch_app
    from ui.settings import UISettings, save_settings

    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    save_settings(home, UISettings(**{"retrieval": False, **settings}))
    config = AppConfig(home=home, share_dir=base / "cases", auth=auth or [])
    demo, url = launch_app(config, host="127.0.0.1", port=free_port(), block=False, quiet=True)
    return Server(url=url, home=home, share=base / "cases", demo=demo, auth=auth or [])


@pytest.fixture(scope="module")
def ui_env(tmp_path_factory):
    """CARDIO_HOME and Gradio's temp folder under a module tmp dir (the
    graph's checkpointer reads CARDIO_HOME at run time)."""
    base = tmp_path_factory.mktemp("ui")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARDIO_HOME", str(base / "home"))
        mp.setenv("GRADIO_TEMP_DIR", str(base / "gradio-tmp"))
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        yield base


@pytest.fixture(scope="module")
def ui_server(ui_env):
    server = start_server(ui_env)
    yield server
    server.demo.close()


def ludb_record_named(folder: Path, record: str) -> list[Path]:
    """The bundled LUDB record 1 under another record name (header and
    signal file renamed consistently), e.g. a name that looks like PHI."""
    folder.mkdir(parents=True, exist_ok=True)
    header = (LUDB / "1.hea").read_text()
    lines = header.splitlines()
    lines[0] = re.sub(r"^1\b", record, lines[0])
    lines = [lines[0]] + [re.sub(r"^1\.dat\b", f"{record}.dat", ln) for ln in lines[1:]]
    hea = folder / f"{record}.hea"
    hea.write_text("\n".join(lines) + "\n")
    dat = folder / f"{record}.dat"
    dat.write_bytes((LUDB / "1.dat").read_bytes())
    return [hea, dat]


def corrupt_file(folder: Path, name: str = "scan.dcm") -> Path:
    """Bytes of no known format under a DICOM-looking name (deterministic)."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_bytes(bytes((i * 73 + 19) % 256 for i in range(4096)))
    return p


def chromium_path() -> str | None:
    for p in (os.environ.get("CARDIO_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if p and Path(p).is_file():
            return p
    return None


@contextmanager
def toy_case(monkeypatch, tmp_path: Path, tool_paths: dict):
    """A case analysed by the graph with the toy experts (fast, real
    interface) in a private CARDIO_HOME; yields the CaseOutcome."""
    from agent.runner import analyze
    from experts import registry
    from tests import fixtures

    monkeypatch.setattr(registry, "TOOL_PATHS", dict(tool_paths))
    registry.load_tool.cache_clear()
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path / "home"))
    try:
        hea = fixtures.make_wfdb(tmp_path / "in", name="rec", seconds=20.0)
        out = analyze([hea.parent], out_dir=tmp_path / "out", retrieval=False)
        assert out.ok and out.report.status == "preliminary"
        yield out
    finally:
        registry.load_tool.cache_clear()
