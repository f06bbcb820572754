"""Scripted models for tests: a chat client that plays a list of turns, and
the 'cooperative' model logic (calls every study, drafts a grounded report
from the data block) shared with the fake OpenAI server.

A step is either a callable `(messages, tools, json_schema) -> Reply` or a
`Reply`. `Reply.calls` are `(tool name, arguments dict)` pairs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from agent.backends.base import ToolCallRequest
from agent.backends.llm import Completion, LLMBackend
from agent.tokens import ApproximateCounter


@dataclass
class Reply:
    content: str = ""
    calls: list[tuple[str, dict]] = field(default_factory=list)


Step = Callable[[list, list | None, dict | None], Reply] | Reply

_DATA = re.compile(r"```json\n(.*?)\n```", re.S)


def case_data_from(messages: list[dict]) -> dict:
    for m in messages:
        if m["role"] == "user" and "DATA" in (m.get("content") or ""):
            return json.loads(_DATA.search(m["content"]).group(1))
    raise AssertionError("no DATA block in the conversation")


def grounded_draft(data: dict) -> dict:
    """What a well-behaved model writes: values copied with units and ids."""
    narrative, impression = [], []
    for s in data["sections"]:
        parts = [f"{s['modality']} ({s['study_id']}): quality {s['quality'].replace('_', '-')}."]
        for m in s["measurements"][:3]:
            parts.append(f"{m['label']} was {m['value']} [M:{m['id']}].")
        narrative.append(" ".join(parts))
        for st in s["statements"]:
            if st["status"] == "present":
                impression.append({"text": f"{st['label']}.", "kind": "finding", "statement_ids": [st["id"]],
                                   "measurement_ids": [], "passage_ids": []})  # fmt: skip
    return {"narrative": narrative, "impression": impression}


def called_studies(messages: list[dict]) -> set[str]:
    out = set()
    for m in messages:
        for c in m.get("tool_calls") or []:
            out.add(json.loads(c["function"]["arguments"]).get("study_id"))
    return out


def cooperative(messages: list[dict], tools: list | None, json_schema: dict | None) -> Reply:
    """Plan: call every study's tool once; compose: a grounded draft."""
    last = messages[-1].get("content") or ""
    if json_schema is not None or "JSON schema" in last:
        return Reply(json.dumps(grounded_draft(case_data_from(messages))))
    if tools:
        done = called_studies(messages)
        calls = [(t["function"]["name"], {"study_id": sid}) for t in tools
                 for sid in t["function"]["parameters"]["properties"].get("study_id", {}).get("enum", []) if sid not in done]  # fmt: skip
        return Reply("", calls) if calls else Reply("Every supplied study was analysed.")
    return Reply("No question to answer.")


class ScriptedClient:
    """A ChatClient playing `steps` in order; after the script ends it
    behaves like `then` (default: the cooperative model)."""

    def __init__(self, steps: list[Step] | None = None, then: Step | None = cooperative, model: str = "scripted-1"):
        self.steps = list(steps or [])
        self.then = then
        self.model = model
        self.endpoint = "scripted://test"
        self.requests: list[dict[str, Any]] = []
        self.counter = ApproximateCounter()

    def complete(self, messages, *, tools=None, json_schema=None, schema_name="output") -> Completion:
        self.requests.append({"messages": json.loads(json.dumps(messages)), "tools": tools, "json_schema": json_schema})
        step = self.steps.pop(0) if self.steps else self.then
        if step is None:
            raise AssertionError("the script ran out of steps")
        reply = step(messages, tools, json_schema) if callable(step) else step
        calls = [ToolCallRequest(id=f"call_{len(self.requests)}_{i}", name=n, arguments=json.dumps(a)) for i, (n, a) in enumerate(reply.calls)]
        return Completion(content=reply.content, tool_calls=calls, prompt_tokens=self.counter.count_messages(messages, tools),
                          completion_tokens=self.counter.count_text(reply.content), token_counter="approximate")  # fmt: skip


def scripted_backend(steps: list[Step] | None = None, then: Step | None = cooperative, **kw) -> LLMBackend:
    return LLMBackend(ScriptedClient(steps, then), name="scripted", **kw)
