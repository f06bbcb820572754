"""Any LangChain chat model as a `ChatClient` (ChatOllama, ChatOpenAI,
test fakes).

Why: LangChain is how many sites already wire their model (proxies,
callbacks, tracing). The adapter converts our OpenAI-format messages to
LangChain messages, binds the experts' tool schemas with `bind_tools`, and
converts the reply back, so planning, drafting and chat work unchanged.
Structured output is asked for in the prompt (the schema is always there)
and validated by the backend like every other reply.
"""

from __future__ import annotations

import json
from typing import Any

from agent.backends.base import ToolCallRequest
from agent.backends.llm import Completion
from agent.tokens import ApproximateCounter


def to_langchain(messages: list[dict[str, Any]]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    out: list[Any] = []
    for m in messages:
        role, content = m["role"], m.get("content") or ""
        if role == "system":
            out.append(SystemMessage(content))
        elif role == "user":
            out.append(HumanMessage(content))
        elif role == "tool":
            out.append(ToolMessage(content, tool_call_id=m["tool_call_id"]))
        elif role == "assistant":
            calls = []
            for c in m.get("tool_calls") or []:
                try:
                    args = json.loads(c["function"]["arguments"] or "{}")
                except json.JSONDecodeError:
                    args = {}
                calls.append({"id": c["id"], "name": c["function"]["name"], "args": args if isinstance(args, dict) else {}})
            out.append(AIMessage(content, tool_calls=calls))
        else:
            raise ValueError(f"unknown message role {role!r}")
    return out


class LangChainChatClient:
    def __init__(self, chat_model: Any, model_name: str | None = None):
        self.chat_model = chat_model
        self.model = model_name or getattr(chat_model, "model_name", None) or getattr(chat_model, "model", None) or type(chat_model).__name__
        self.endpoint = f"langchain:{type(chat_model).__name__}"
        self.counter = ApproximateCounter()

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "output",
    ) -> Completion:
        runnable = self.chat_model.bind_tools(tools) if tools else self.chat_model
        reply = runnable.invoke(to_langchain(messages))
        content = reply.content if isinstance(reply.content, str) else "".join(
            p.get("text", "") for p in reply.content if isinstance(p, dict)
        )
        calls = [
            ToolCallRequest(id=c.get("id") or f"call_{i}", name=c["name"], arguments=json.dumps(c.get("args") or {}))
            for i, c in enumerate(getattr(reply, "tool_calls", None) or [])
        ]
        meta = getattr(reply, "usage_metadata", None)
        if meta:
            prompt, completion, kind = meta["input_tokens"], meta["output_tokens"], "server"
        else:
            prompt = self.counter.count_messages(messages, tools)
            completion = self.counter.count_text(content + "".join(c.arguments for c in calls))
            kind = self.counter.kind
        return Completion(content=content, tool_calls=calls, prompt_tokens=prompt, completion_tokens=completion, token_counter=kind)
