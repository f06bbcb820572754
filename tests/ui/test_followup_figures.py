"""Figures of follow-up re-runs: a question that re-runs a tool with other
options (agent.chat) returns what the tool drew, and the UI bridge shows it
in the chat below the answer, captioned with the tool, study and options."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.backends import get_backend
from agent.chat import answer
from agent.runner import analyze
from experts import registry
from tests import fixtures
from tests.toy_tools import TOY_LLM_PATHS
from ui import followup


@pytest.fixture()
def toy_case(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "TOOL_PATHS", dict(TOY_LLM_PATHS))
    registry.load_tool.cache_clear()
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path / "home"))
    hea = fixtures.make_wfdb(tmp_path / "in", name="rec", seconds=20.0)
    out = analyze([hea.parent], out_dir=tmp_path / "out", retrieval=False)
    assert out.ok
    yield out
    registry.load_tool.cache_clear()


def test_rerun_answer_carries_the_rerun_figure(toy_case, tmp_path):
    a = answer(toy_case.thread_id, "Re-run the QTc with Bazett", "rules", out_root=tmp_path / "chat")
    assert a.intent == "rerun" and a.answered and a.tool_calls[0].options == {"qtc_formula": "bazett"}
    (fig,) = a.artifacts
    assert fig.title == "Toy QT plot (Bazett)" and fig.media_type == "image/png"
    assert Path(fig.path).is_file() and Path(fig.path).is_relative_to(tmp_path / "chat")
    assert Path(fig.path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ui_shows_the_rerun_figure_below_the_answer(toy_case, tmp_path):
    msgs = followup.ask(toy_case.thread_id, "Re-run the QTc with Fridericia", backend=get_backend("rules"), retrieval=False,
                        out_root=tmp_path / "chat")  # fmt: skip
    assert len(msgs) == 2 and "QTc (Fridericia) was" in msgs[0]["content"]
    caption, media = msgs[1]["content"]
    assert caption.startswith("**Toy QT plot (Fridericia)** — re-run of toy_ecg_qt on ecg-1 with qtc_formula=fridericia")
    assert Path(media["path"]).is_file() and media["alt_text"] == "Toy QT plot (Fridericia)"


def test_a_lookup_shows_no_figure(toy_case, tmp_path):
    msgs = followup.ask(toy_case.thread_id, "What was the heart rate?", backend=get_backend("rules"), retrieval=False, out_root=tmp_path / "chat")
    assert len(msgs) == 1 and "Heart rate was" in msgs[0]["content"]
