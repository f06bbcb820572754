"""The `transformers` backend with tiny models built in the test (no
downloads): chat template, generate, Hermes tool-call parsing, JSON
validated with bounded repair, tokenizer token counts."""

from __future__ import annotations

import pytest

from agent.backends import get_backend
from agent.backends.base import ComposeInput
from agent.backends.config import LLMConfig
from agent.backends.llm import LLMOutputError, LLMUnavailable
from agent.backends.transformers_backend import TransformersBackend, TransformersChatClient, parse_tool_calls
from agent.case import ClinicalContext
from agent.runner import analyze
from tests.llm.tiny_model import build_random_model, build_wired_model

CALL_CHAIN = ["<tool_call>", '{"name":', '"toy_ecg_qt",', '"arguments":', '{"study_id":', '"ecg-1",', '"qtc_formula":',
              '"fridericia"}}', "</tool_call>"]  # fmt: skip
DRAFT_CHAIN = ['{"narrative":', "[],", '"impression":', "[]}"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "call": build_wired_model(root / "call", CALL_CHAIN),
        "draft": build_wired_model(root / "draft", DRAFT_CHAIN),
        "random": build_random_model(root / "random"),
    }


def _empty_input() -> ComposeInput:
    return ComposeInput(sections=[], passages_for={}, supplied=set(), problems=[], failed_calls=[], unavailable=[],
                        context=ClinicalContext())  # fmt: skip


def test_local_model_plans_with_its_chat_template_and_falls_back_when_its_json_is_wrong(models, toy_registry, ecg_case, tmp_path):
    backend = TransformersBackend(LLMConfig(model_dir=str(models["call"]), max_plan_steps=2, max_tokens=32))
    out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    call = r.provenance.tool_calls[0]
    assert call.requested_by == "llm" and call.options == {"qtc_formula": "fridericia"} and call.ok
    assert any("already analysed with these options" in line for line in r.provenance.plan)  # turn 2 repeats itself
    # the model answers the draft request with a tool call: not the schema, repaired once, then rules
    assert r.grounding.composer == "rules" and r.grounding.fell_back
    assert any("failed the schema after 1 repair" in lim for lim in r.limitations)
    assert r.provenance.backend == "transformers" and r.provenance.llm_model == "call"
    assert backend.usage.calls == 2 + 2 and backend.usage.token_counter == "tokenizer" and backend.usage.prompt_tokens > 0


def test_local_model_json_draft_is_parsed_and_validated(models):
    backend = TransformersBackend(LLMConfig(model_dir=str(models["draft"]), max_tokens=16))
    draft = backend.compose(_empty_input())
    assert draft.narrative == [] and draft.impression == [] and backend.usage.calls == 1


def test_random_model_output_is_caught_after_bounded_repair(models):
    backend = TransformersBackend(LLMConfig(model_dir=str(models["random"]), max_tokens=12, max_json_repairs=2))
    with pytest.raises(LLMOutputError, match="after 2 repair"):
        backend.compose(_empty_input())
    assert backend.usage.calls == 3


def test_chat_template_renders_tools_and_tool_results(models):
    client = TransformersChatClient(models["call"])
    messages = [{"role": "user", "content": "analyse"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
                 "function": {"name": "toy_ecg_qt", "arguments": '{"study_id": "ecg-1"}'}}]},
                {"role": "tool", "tool_call_id": "c1", "content": '{"study_id": "ecg-1"}'}]  # fmt: skip
    text = client.render(messages, [{"type": "function", "function": {"name": "toy_ecg_qt", "parameters": {}}}])
    assert '"name": "toy_ecg_qt"' in text and '<tool_call>\n{"name": "toy_ecg_qt", "arguments": {"study_id": "ecg-1"}}' in text
    assert text.endswith("<|im_start|>assistant\n")


def test_tool_call_formats():
    prose, calls = parse_tool_calls('Sure.<tool_call>\n{"name": "ecg_analyze", "arguments": {"study_id": "ecg-1"}}\n</tool_call>')
    assert prose == "Sure." and calls[0].name == "ecg_analyze" and calls[0].arguments == '{"study_id": "ecg-1"}'
    _, calls = parse_tool_calls('{"name": "ecg_analyze", "parameters": {"study_id": "ecg-2"}}')  # Llama 3 style
    assert calls[0].arguments == '{"study_id": "ecg-2"}'
    prose, calls = parse_tool_calls("<tool_call>{not json}</tool_call>")
    assert calls == [] and prose == ""


def test_configuration_errors_name_the_problem(tmp_path, monkeypatch):
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path))
    monkeypatch.delenv("CARDIO_LLM_MODEL_DIR", raising=False)
    with pytest.raises(ValueError, match="needs a local model directory"):
        get_backend("transformers")
    monkeypatch.setenv("CARDIO_LLM_MODEL_DIR", str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="is not a directory"):
        get_backend("transformers")
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("CARDIO_LLM_MODEL_DIR", str(tmp_path / "empty"))
    backend = get_backend("transformers")
    with pytest.raises(LLMUnavailable, match="not a model directory"):
        backend.compose(_empty_input())
