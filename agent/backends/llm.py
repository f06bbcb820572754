"""The part every LLM backend shares: tool-calling turns, JSON drafts with
bounded repair, usage accounting.

Why split client and backend: what differs between vLLM over HTTP, a local
transformers model and a scripted test model is only how one chat
completion is produced (`ChatClient.complete`). Planning turns, the draft
schema, validation, repair and token accounting are the same code for all
of them, so they are tested once with a scripted client.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from agent.backends.base import AgentTurn, Backend, ComposeInput, PlannedCall, ToolCallRequest
from agent.backends.prompts import DraftOut, compose_messages, draft_schema, planning_messages
from agent.case import ClinicalContext
from agent.compose import Draft
from agent.report import ImpressionItem
from experts.core.tool import ExpertTool
from experts.core.types import Modality, StudyInput

T = TypeVar("T", bound=BaseModel)


class LLMError(RuntimeError):
    """An LLM backend could not deliver; the graph falls back to rules."""


class LLMUnavailable(LLMError):
    """The model cannot be reached or loaded (the message names where)."""


class LLMOutputError(LLMError):
    """The model's output failed its schema even after repair."""


@dataclass
class Completion:
    content: str
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    token_counter: str = "approximate"
    finish_reason: str | None = None
    structured: bool = False  # the server enforced the JSON schema


class ChatClient(Protocol):
    """One chat completion from some model. Messages are OpenAI chat format."""

    model: str | None
    endpoint: str

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "output",
    ) -> Completion: ...


_THINK = re.compile(r"<think>.*?</think>\s*", re.S)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.S)


def strip_reasoning(text: str) -> str:
    """Drop a reasoning model's <think> block (Qwen3 without a reasoning parser)."""
    text = _THINK.sub("", text or "")
    if "<think>" in text:  # unterminated: the model ran out of tokens while thinking
        text = text.split("<think>")[0]
    return text.strip()


def extract_json(text: str) -> Any:
    """The first JSON object in a reply, tolerating a code fence or a
    sentence around it (local models often add one)."""
    t = _FENCE.sub("", strip_reasoning(text)).strip()
    try:
        return json.loads(t)
    except json.JSONDecodeError:
        pass
    start = t.find("{")
    if start < 0:
        raise ValueError("no JSON object in the reply")
    obj, _ = json.JSONDecoder().raw_decode(t[start:])
    return obj


def _first_error(exc: ValidationError) -> str:
    errs = exc.errors()
    e = errs[0]
    where = ".".join(str(x) for x in e["loc"]) or "(root)"
    more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
    return f"{where}: {e['msg']}{more}"


class LLMBackend(Backend):
    """An agentic backend over any `ChatClient`."""

    agentic = True

    def __init__(self, client: ChatClient, *, name: str, max_plan_steps: int = 4, max_json_repairs: int = 1):
        super().__init__()
        self.client = client
        self.name = name
        self.max_plan_steps = max_plan_steps
        self.max_json_repairs = max_json_repairs

    @property  # type: ignore[override]
    def model(self) -> str | None:
        return self.client.model

    def _complete(self, messages: list[dict[str, Any]], **kwargs: Any) -> Completion:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            c = self.client.complete(messages, **kwargs)
        finally:
            self.usage.seconds += time.perf_counter() - t0
            self.usage.cpu_seconds += time.thread_time() - c0
        self.usage.calls += 1
        self.usage.prompt_tokens += c.prompt_tokens
        self.usage.completion_tokens += c.completion_tokens
        self.usage.tokens += c.prompt_tokens + c.completion_tokens
        if self.usage.token_counter in ("none", c.token_counter):
            self.usage.token_counter = c.token_counter
        else:
            self.usage.token_counter = "mixed"
        return c

    # -- planning ----------------------------------------------------------
    def plan_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> AgentTurn:
        c = self._complete(messages, tools=tools or None)
        text = strip_reasoning(c.content)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if c.tool_calls:
            message["tool_calls"] = [
                {"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}} for t in c.tool_calls
            ]
        return AgentTurn(message=message, tool_calls=list(c.tool_calls), text=text)

    def plan(self, studies: list[StudyInput], tools: dict[Modality, ExpertTool], context: ClinicalContext) -> list[PlannedCall]:
        """One planning turn, for callers outside the graph's loop."""
        from agent.backends.toolcalls import RejectedCall, parse_call, tool_specs

        specs = tool_specs(tools, studies)
        turn = self.plan_turn(planning_messages(studies, [], [], context), specs)
        calls = []
        for req in turn.tool_calls:
            try:
                calls.append(parse_call(req, tools, studies, specs))
            except RejectedCall:
                continue
        return calls

    # -- structured output -------------------------------------------------
    def complete_json(self, messages: list[dict[str, Any]], schema: dict[str, Any], model_cls: type[T], schema_name: str) -> T:
        """Ask for JSON matching `schema`; validate with `model_cls`; on
        failure show the model its error and ask again, at most
        `max_json_repairs` times. Raises `LLMOutputError`."""
        convo = list(messages)
        problem = ""
        for _attempt in range(self.max_json_repairs + 1):
            c = self._complete(convo, json_schema=schema, schema_name=schema_name)
            try:
                return model_cls.model_validate(extract_json(c.content))
            except (ValueError, ValidationError) as exc:
                problem = _first_error(exc) if isinstance(exc, ValidationError) else str(exc)
                if c.finish_reason == "length":
                    problem += " (the reply was cut off at the token limit: be shorter)"
            convo = convo + [
                {"role": "assistant", "content": (c.content or "")[:4000]},
                {"role": "user", "content": f"That reply is not valid: {problem}. Reply again with only the corrected JSON object."},
            ]
        raise LLMOutputError(f"{self.name} ({self.model}): JSON output failed the schema after {self.max_json_repairs} repair(s): {problem}")

    # -- composition -------------------------------------------------------
    def compose(self, inp: ComposeInput) -> Draft:
        schema = draft_schema(inp)
        out = self.complete_json(compose_messages(inp, schema), schema, DraftOut, "report_draft")
        return Draft(
            narrative=[p.strip() for p in out.narrative if p.strip()],
            impression=[ImpressionItem(**i.model_dump()) for i in out.impression],
        )
