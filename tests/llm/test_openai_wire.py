"""The `openai` backend against a real HTTP server on 127.0.0.1 speaking
the OpenAI/vLLM wire format: tool calls, response_format json_schema,
errors, retries, timeouts, token counting."""

from __future__ import annotations

import json
import socket

import pytest

from agent.backends.config import LLMConfig
from agent.backends.llm import LLMError, LLMUnavailable
from agent.backends.openai_backend import OpenAIBackend, OpenAIChatClient
from agent.runner import analyze
from tests.llm.fake_server import Delay, FakeOpenAIServer, HTTPError
from tests.llm.scripted import Reply


def backend_for(server: FakeOpenAIServer, sleeps: list | None = None, **cfg) -> OpenAIBackend:
    config = LLMConfig(base_url=server.base_url, backoff_s=0.5, **cfg)
    sleeps = sleeps if sleeps is not None else []
    return OpenAIBackend(config, OpenAIChatClient(config, sleep=sleeps.append))


def test_full_case_over_the_wire(toy_registry, ecg_case, tmp_path):
    with FakeOpenAIServer() as server:
        backend = backend_for(server)
        out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    assert r.provenance.backend == "openai" and r.provenance.llm_model == "fake/Qwen3-8B"  # resolved from /v1/models
    assert r.grounding.composer == "openai" and r.grounding.sentences_removed == 0
    assert [c.requested_by for c in r.provenance.tool_calls] == ["llm"]
    chats = server.chat_requests()
    assert len(chats) == 3 and r.provenance.llm_calls == 3
    plan = chats[0]
    assert plan["model"] == "fake/Qwen3-8B" and plan["tool_choice"] == "auto" and plan["temperature"] == 0.0
    fn = plan["tools"][0]["function"]
    assert fn["name"] == "toy_ecg_qt" and fn["parameters"]["required"] == ["study_id"]
    assert "response_format" not in plan
    # turn 2 answers the model's call by id
    call_id = chats[1]["messages"][2]["tool_calls"][0]["id"]
    tool_msg = chats[1]["messages"][3]
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == call_id and json.loads(tool_msg["content"])["study_id"] == "ecg-1"
    draft = chats[2]
    rf = draft["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["name"] == "report_draft" and rf["json_schema"]["strict"] is True
    ids = rf["json_schema"]["schema"]["properties"]["impression"]["items"]["properties"]["statement_ids"]["items"]["enum"]
    assert ids == ["ecg-1.atrial_fibrillation", "ecg-1.lbbb"]
    assert "tools" not in draft
    # tokens: the server's own usage counts
    assert backend.usage.token_counter == "server" and r.provenance.llm_tokens == backend.usage.tokens > 0


def test_server_without_json_schema_output_falls_back_to_prompted_json(toy_registry, ecg_case, tmp_path):
    with FakeOpenAIServer(structured=False) as server:
        backend = backend_for(server, model="fake/Qwen3-8B")
        out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    assert out.report.grounding.composer == "openai"
    assert backend.client.structured_supported is False
    chats = server.chat_requests()
    assert "response_format" in chats[-2] and "response_format" not in chats[-1]
    assert "JSON schema" in chats[-1]["messages"][-1]["content"]  # the schema is in the prompt too


def test_invalid_json_is_repaired_once(toy_registry, ecg_case, tmp_path):
    with FakeOpenAIServer() as server:
        backend = backend_for(server, model="m")
        server.script = [Reply("", [("toy_ecg_qt", {"study_id": "ecg-1"})]), Reply("done"), Reply('{"narrative": "not a list"}')]
        out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    chats = server.chat_requests()
    assert len(chats) == 4
    repair = chats[3]["messages"][-1]["content"]
    assert repair.startswith("That reply is not valid: narrative: Input should be a valid list")
    assert out.report.grounding.composer == "openai" and not out.report.grounding.fell_back


def test_json_that_stays_invalid_falls_back_to_rules(toy_registry, ecg_case, tmp_path):
    with FakeOpenAIServer(model_fn=lambda m, t, s: Reply("I think the ECG is fine.") if s else Reply("done")) as server:
        backend = backend_for(server, model="m", max_json_repairs=1)
        out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    assert r.grounding.composer == "rules" and r.grounding.fell_back
    assert any("could not draft" in lim and "failed the schema after 1 repair" in lim for lim in r.limitations)
    assert len(server.chat_requests()) == 1 + 2  # one planning turn, two draft attempts


def test_retries_503_with_backoff_then_succeeds():
    with FakeOpenAIServer() as server:
        sleeps: list[float] = []
        client = OpenAIChatClient(LLMConfig(base_url=server.base_url, model="m", max_retries=3, backoff_s=0.5), sleep=sleeps.append)
        server.script = [HTTPError(503, "loading"), HTTPError(429, "busy")]
        c = client.complete([{"role": "user", "content": "hi"}])
    assert c.content == "No question to answer." and sleeps == [0.5, 1.0]
    assert len(server.chat_requests()) == 3


def test_bad_request_is_not_retried_and_names_the_endpoint():
    with FakeOpenAIServer() as server:
        client = OpenAIChatClient(LLMConfig(base_url=server.base_url, model="m", max_retries=3), sleep=lambda s: None)
        server.script = [HTTPError(400, "maximum context length is 32768 tokens")]
        with pytest.raises(LLMError) as err:
            client.complete([{"role": "user", "content": "hi"}])
    assert f"LLM endpoint {server.base_url} answered HTTP 400" in str(err.value) and "maximum context length" in str(err.value)
    assert len(server.chat_requests()) == 1


def test_timeout_gives_up_after_the_retries_with_a_clear_error():
    with FakeOpenAIServer() as server:
        client = OpenAIChatClient(LLMConfig(base_url=server.base_url, model="m", timeout_s=0.2, max_retries=1), sleep=lambda s: None)
        server.script = [Delay(0.6), Delay(0.6)]
        with pytest.raises(LLMUnavailable) as err:
            client.complete([{"role": "user", "content": "hi"}])
    msg = str(err.value)
    assert msg.startswith(f"LLM endpoint {server.base_url} timed out (read timeout 0.2 s)") and "gave up after 2 attempts" in msg


def test_server_down_is_named():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = OpenAIChatClient(LLMConfig(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1), sleep=lambda s: None)
    with pytest.raises(LLMUnavailable) as err:
        client.complete([{"role": "user", "content": "hi"}])
    assert f"LLM endpoint http://127.0.0.1:{port}/v1 is unreachable" in str(err.value) and "is the server running?" in str(err.value)


def test_tokens_from_tokenize_endpoint_when_usage_is_missing_else_approximate():
    msgs = [{"role": "user", "content": "What was the QTc by Fridericia?"}]
    with FakeOpenAIServer(usage=False) as server:
        c = OpenAIChatClient(LLMConfig(base_url=server.base_url, model="m")).complete(msgs)
        assert c.token_counter == "server" and c.prompt_tokens > 0
        tok = [r for p, r in server.requests if p == "/tokenize"]
        assert tok[0]["messages"] == msgs and tok[0]["model"] == "m" and tok[0]["add_generation_prompt"] is True
    with FakeOpenAIServer(usage=False, tokenize=False) as server:
        c = OpenAIChatClient(LLMConfig(base_url=server.base_url, model="m")).complete(msgs)
        assert c.token_counter == "approximate" and c.prompt_tokens > 0


def test_extra_body_reaches_the_server():
    with FakeOpenAIServer() as server:
        cfg = LLMConfig(base_url=server.base_url, model="m", extra_body={"chat_template_kwargs": {"enable_thinking": False}})
        OpenAIChatClient(cfg).complete([{"role": "user", "content": "hi"}])
    assert server.chat_requests()[0]["chat_template_kwargs"] == {"enable_thinking": False}
