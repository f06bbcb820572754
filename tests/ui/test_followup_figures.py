"""Figures of follow-up re-runs: a question that re-runs a tool with other
options (agent.chat) returns what the tool drew, and the UI bridge shows it
in the chat below the answer, captioned with the tool, study and options."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.backends import get_backend
from agent.chat import answer
from tests.toy_tools import TOY_LLM_PATHS
from tests.ui.conftest import toy_case
from ui import followup


@pytest.fixture()
def case(monkeypatch, tmp_path):
    with toy_case(monkeypatch, tmp_path, TOY_LLM_PATHS) as out:
        yield out


def test_rerun_answer_carries_the_rerun_figure(case, tmp_path):
    a = answer(case.thread_id, "Re-run the QTc with Bazett", "rules", out_root=tmp_path / "chat")
    assert a.intent == "rerun" and a.answered and a.tool_calls[0].options == {"qtc_formula": "bazett"}
    (fig,) = a.artifacts
    assert fig.title == "Toy QT plot (Bazett)" and fig.media_type == "image/png"
    assert Path(fig.path).is_file() and Path(fig.path).is_relative_to(tmp_path / "chat")
    assert Path(fig.path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ui_shows_the_rerun_figure_below_the_answer(case, tmp_path):
    msgs = followup.ask(case.thread_id, "Re-run the QTc with Fridericia", backend=get_backend("rules"), retrieval=False,
                        out_root=tmp_path / "chat")  # fmt: skip
    assert len(msgs) == 2 and "QTc (Fridericia) was" in msgs[0]["content"]
    caption, media = msgs[1]["content"]
    assert caption.startswith("**Toy QT plot (Fridericia)** — re-run of toy_ecg_qt on ecg-1 with qtc_formula=fridericia")
    assert Path(media["path"]).is_file() and media["alt_text"] == "Toy QT plot (Fridericia)"


def test_a_lookup_shows_no_figure(case, tmp_path):
    msgs = followup.ask(case.thread_id, "What was the heart rate?", backend=get_backend("rules"), retrieval=False, out_root=tmp_path / "chat")
    assert len(msgs) == 1 and "Heart rate was" in msgs[0]["content"]
