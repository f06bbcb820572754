"""Does the configured model do what the orchestrator needs?

Why a probe rather than trusting the docs: vLLM only returns `tool_calls`
when started with `--enable-auto-tool-choice --tool-call-parser ...`, older
vLLM versions and some servers reject `response_format` json_schema, and a
reasoning model may spend its whole budget thinking. `cardioagent llm
check` asks three small questions and says which capability works, before a
case depends on it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.backends.llm import LLMError, extract_json, strip_reasoning

PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "record_heart_rate",
        "description": "Record a heart rate value in beats per minute.",
        "parameters": {
            "type": "object",
            "properties": {"value_bpm": {"type": "number", "description": "Heart rate in beats per minute"}},
            "required": ["value_bpm"],
            "additionalProperties": False,
        },
    },
}
PROBE_SCHEMA = {
    "type": "object",
    "properties": {"rhythm": {"type": "string", "enum": ["sinus rhythm", "atrial fibrillation"]}, "rate_bpm": {"type": "integer"}},
    "required": ["rhythm", "rate_bpm"],
    "additionalProperties": False,
}


class _ProbeAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rhythm: Literal["sinus rhythm", "atrial fibrillation"]
    rate_bpm: int


@dataclass
class CheckItem:
    name: str
    status: Literal["ok", "fail", "warn", "info"]
    detail: str
    seconds: float = 0.0


@dataclass
class CheckReport:
    backend: str
    endpoint: str
    model: str | None = None
    items: list[CheckItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(i.status != "fail" for i in self.items) and any(i.name == "tool calls" and i.status == "ok" for i in self.items)

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "endpoint": self.endpoint, "model": self.model, "ok": self.ok,
                "checks": [i.__dict__ for i in self.items]}  # fmt: skip

    def lines(self) -> list[str]:
        out = [f"LLM {self.backend} backend: {self.endpoint}" + (f" — model {self.model}" if self.model else "")]
        out += [f"  {i.status:4s}  {i.name:15s} {i.detail}" + (f" ({i.seconds:.2f} s)" if i.seconds else "") for i in self.items]
        if self.ok:
            out.append("Ready: tool calling works" + ("" if any(i.name == "json schema" and i.status == "warn" for i in self.items)
                                                     else " and JSON-schema output works") + ".")  # fmt: skip
        else:
            out.append("Not ready: see the failed checks above (docs/LLM.md, 'Troubleshooting').")
        return out


def _timed(fn):
    t0 = time.perf_counter()
    try:
        return fn(), None, time.perf_counter() - t0
    except Exception as exc:  # each probe reports its own failure
        return None, exc, time.perf_counter() - t0


def _probe_calls(client: Any, report: CheckReport) -> None:
    """Chat, tool call and JSON schema, on any ChatClient."""
    chat, err, dt = _timed(lambda: client.complete([{"role": "user", "content": "Reply with the single word OK."}]))
    if err is not None:
        report.items.append(CheckItem("chat", "fail", str(err), dt))
        return
    text = strip_reasoning(chat.content)
    report.items.append(CheckItem("chat", "ok" if text else "warn", f"replied {text[:40]!r}" if text else
                                  "empty reply (a reasoning model out of tokens? raise max_tokens or disable thinking)", dt))  # fmt: skip

    msgs = [{"role": "system", "content": "You record measurements by calling tools."},
            {"role": "user", "content": "The measured heart rate is 72 beats per minute. Record it with the tool."}]  # fmt: skip
    res, err, dt = _timed(lambda: client.complete(msgs, tools=[PROBE_TOOL]))
    if err is not None:
        report.items.append(CheckItem("tool calls", "fail", str(err), dt))
    elif not res.tool_calls:
        report.items.append(CheckItem("tool calls", "fail", "the model answered in text instead of calling the tool "
                                      f"({strip_reasoning(res.content)[:80]!r}); for vLLM start with --enable-auto-tool-choice "
                                      "--tool-call-parser hermes", dt))  # fmt: skip
    else:
        call = res.tool_calls[0]
        try:
            args = json.loads(call.arguments)
        except json.JSONDecodeError:
            args = None
        good = call.name == "record_heart_rate" and isinstance(args, dict) and args.get("value_bpm") in (72, 72.0)
        report.items.append(CheckItem("tool calls", "ok" if good else "warn", f"{call.name}({call.arguments})"
                                      + ("" if good else " — unexpected name or arguments"), dt))  # fmt: skip

    msgs = [{"role": "user", "content": "An ECG shows regular P waves before each QRS at 64 beats per minute. Reply with JSON "
             "matching this schema: " + json.dumps(PROBE_SCHEMA)}]  # fmt: skip
    res, err, dt = _timed(lambda: client.complete(msgs, json_schema=PROBE_SCHEMA, schema_name="rhythm_probe"))
    if err is not None:
        report.items.append(CheckItem("json schema", "fail", str(err), dt))
        return
    try:
        _ProbeAnswer.model_validate(extract_json(res.content))
        valid = True
    except (ValueError, ValidationError):
        valid = False
    if res.structured and valid:
        report.items.append(CheckItem("json schema", "ok", "response_format json_schema honoured", dt))
    elif valid:
        report.items.append(CheckItem("json schema", "warn", "server lacks response_format json_schema; prompted JSON validated "
                                      "(drafts rely on validation and repair)", dt))  # fmt: skip
    else:
        report.items.append(CheckItem("json schema", "fail", f"reply does not match the schema: {res.content[:120]!r}", dt))


def check_openai(config: Any) -> CheckReport:
    from agent.backends.openai_backend import OpenAIChatClient

    client = OpenAIChatClient(config)
    report = CheckReport(backend="openai", endpoint=client.endpoint, model=config.model)
    models, err, dt = _timed(client.list_models)
    if err is not None:
        report.items.append(CheckItem("models", "fail", str(err), dt))
        return report
    if not models:
        report.items.append(CheckItem("models", "fail", "the endpoint lists no models", dt))
        return report
    if config.model and config.model not in models:
        report.items.append(CheckItem("models", "fail", f"{config.model!r} is not served; served: {', '.join(models)}", dt))
        return report
    report.model = client.resolve_model()
    report.items.append(CheckItem("models", "ok", f"{report.model} ({len(models)} served: {', '.join(models[:4])})", dt))
    count = client.counter.count_text("QTc by Fridericia")
    kind = "server /tokenize (the served model's tokenizer)" if client.counter.available else "approximate (no /tokenize endpoint)"
    report.items.append(CheckItem("token counting", "info", f"{kind}; 'QTc by Fridericia' = {count} tokens"))
    try:
        _probe_calls(client, report)
    except LLMError as exc:
        report.items.append(CheckItem("probe", "fail", str(exc)))
    return report


def check_transformers(config: Any) -> CheckReport:
    from agent.backends.transformers_backend import TransformersChatClient

    if not config.model_dir:
        return CheckReport(backend="transformers", endpoint="(no model directory)",
                           items=[CheckItem("model", "fail", "set CARDIO_LLM_MODEL_DIR or model_dir in llm.toml")])  # fmt: skip
    client = TransformersChatClient(config.model_dir, config.device, config.dtype, min(config.max_tokens, 256), config.temperature)
    report = CheckReport(backend="transformers", endpoint=client.endpoint, model=client.model)
    _, err, dt = _timed(client.load)
    if err is not None:
        report.items.append(CheckItem("model", "fail", str(err), dt))
        return report
    template = bool(getattr(client.tokenizer, "chat_template", None))
    report.items.append(CheckItem("model", "ok", f"loaded on {client.device}", dt))
    report.items.append(CheckItem("chat template", "ok" if template else "warn",
                                  "present" if template else "missing: a plain transcript is used (instruction-tuned models ship one)"))  # fmt: skip
    report.items.append(CheckItem("token counting", "info", "the model's own tokenizer"))
    _probe_calls(client, report)
    return report
