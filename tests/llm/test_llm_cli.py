"""`cardioagent llm check|ask|config` against the fake OpenAI server, a
tiny local model and a case thread."""

from __future__ import annotations

import json
import socket

from agent.cli import main
from agent.runner import analyze
from tests.llm.fake_server import FakeOpenAIServer
from tests.llm.scripted import Reply
from tests.llm.tiny_model import build_wired_model


def probe_model(messages, tools, schema):
    if tools:
        return Reply("", [(tools[0]["function"]["name"], {"value_bpm": 72})])
    if schema is not None or "schema" in messages[-1]["content"]:
        return Reply(json.dumps({"rhythm": "sinus rhythm", "rate_bpm": 64}))
    return Reply("<think>short</think>OK")


def test_check_reports_model_tool_calls_and_json_schema(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path))
    with FakeOpenAIServer(model_fn=probe_model) as server:
        code = main(["llm", "check", "--base-url", server.base_url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"LLM openai backend: {server.base_url} — model fake/Qwen3-8B" in out
    assert "ok    models" in out and "ok    chat            replied 'OK'" in out
    assert 'ok    tool calls      record_heart_rate({"value_bpm": 72})' in out
    assert "ok    json schema     response_format json_schema honoured" in out
    assert "info  token counting  server /tokenize" in out and "Ready: tool calling works and JSON-schema output works." in out


def test_check_names_what_is_missing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path))
    with FakeOpenAIServer(model_fn=probe_model, tools=False, structured=False, tokenize=False) as server:
        code = main(["llm", "check", "--base-url", server.base_url, "--json"])
    report = json.loads(capsys.readouterr().out)
    checks = {c["name"]: c for c in report["checks"]}
    assert code == 1 and report["ok"] is False
    assert checks["tool calls"]["status"] == "fail" and "--enable-auto-tool-choice" in checks["tool calls"]["detail"]
    assert checks["json schema"]["status"] == "warn" and "prompted JSON validated" in checks["json schema"]["detail"]
    assert checks["token counting"]["detail"].startswith("approximate")


def test_check_with_endpoint_down_and_unknown_model(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path))
    monkeypatch.setenv("CARDIO_LLM_MAX_RETRIES", "0")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["llm", "check", "--base-url", f"http://127.0.0.1:{port}/v1"]) == 1
    out = capsys.readouterr().out
    assert f"fail  models          LLM endpoint http://127.0.0.1:{port}/v1 is unreachable" in out and "Not ready" in out
    with FakeOpenAIServer(model_fn=probe_model) as server:
        assert main(["llm", "check", "--base-url", server.base_url, "--model", "Qwen/Qwen3-8B"]) == 1
    assert "'Qwen/Qwen3-8B' is not served; served: fake/Qwen3-8B" in capsys.readouterr().out


def test_check_local_model(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path))
    chain = ["<tool_call>", '{"name":', '"record_heart_rate",', '"arguments":', '{"value_bpm":', "72}}", "</tool_call>"]
    model = build_wired_model(tmp_path / "m", chain)
    code = main(["llm", "check", "--backend", "transformers", "--model-dir", str(model)])
    out = capsys.readouterr().out
    assert "ok    model           loaded on cpu" in out and "ok    chat template   present" in out
    assert 'ok    tool calls      record_heart_rate({"value_bpm": 72})' in out
    assert "fail  json schema" in out and code == 1  # this model can only ever emit its one tool call


def test_bad_setting_is_a_usage_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path))
    monkeypatch.setenv("CARDIO_LLM_TIMEOUT_S", "zero")
    assert main(["llm", "check"]) == 2
    assert "LLM setting 'timeout_s'" in capsys.readouterr().err
    monkeypatch.delenv("CARDIO_LLM_TIMEOUT_S")
    (tmp_path / "llm.toml").write_text('base_url = "http://gpu-box:8000/v1"\nmodel = "Qwen/Qwen3-8B"\napi_key = "secret"\n')
    assert main(["llm", "config"]) == 0
    out = capsys.readouterr().out
    assert '"base_url": "http://gpu-box:8000/v1"' in out and "secret" not in out and '"api_key": "set"' in out


def test_ask_prints_a_grounded_answer(toy_registry, ecg_case, tmp_path, capsys):
    db = tmp_path / "threads.sqlite"
    out = analyze([ecg_case], None, tmp_path / "out", checkpoint_db=db, retrieval=False)
    assert main(["llm", "ask", out.thread_id, "why do you call this LBBB?", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert "Complete left bundle branch block: reported as present" in text and "threshold source: AHA/ACCF/HRS" in text
    assert main(["llm", "ask", "nope", "hi", "--db", str(db)]) == 2
    assert "unknown case thread 'nope'" in capsys.readouterr().err
    assert main(["llm", "ask", str(tmp_path / "out" / "report.json"), "heart rate?", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cited_ids"] == ["ecg-1.heart_rate"]
