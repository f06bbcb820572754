"""Token counting that never downloads anything.

Why not tiktoken: its encodings are fetched from the internet on first use,
and they are OpenAI's tokenizers, not the served model's. The honest count
is the served model's own: an OpenAI-compatible server reports `usage` with
each completion, and vLLM also offers `POST /tokenize`. A local model counts
with its own tokenizer. Only when none of these is available do we fall
back to an approximate counter, and every count says which one produced it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Protocol

# Per-message overhead of chat templates (role markers, separators): a few
# special tokens per message in the Qwen/Llama/ChatML templates.
MESSAGE_OVERHEAD = 4
_PIECE = re.compile(r"[A-Za-z]+|\d|[^\sA-Za-z\d]")


class TokenCounter(Protocol):
    kind: str  # 'server' | 'tokenizer' | 'approximate'

    def count_text(self, text: str) -> int: ...

    def count_messages(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int: ...


def _message_text(message: dict[str, Any]) -> str:
    parts = [str(message.get("role", ""))]
    content = message.get("content")
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):  # OpenAI content parts
        parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    for call in message.get("tool_calls") or []:
        fn = call.get("function", {})
        parts.append(str(fn.get("name", "")))
        parts.append(str(fn.get("arguments", "")))
    return "\n".join(parts)


class ApproximateCounter:
    """BPE-like estimate: letters runs split every 4 characters, each digit
    and each punctuation mark one token (Qwen/Llama tokenizers split digits
    singly). Within about ±20% of real BPE counts on English and JSON; good
    enough for budgets and benchmarks, labelled 'approximate' everywhere."""

    kind = "approximate"

    def count_text(self, text: str) -> int:
        n = 0
        for piece in _PIECE.findall(text or ""):
            n += math.ceil(len(piece) / 4) if piece[0].isalpha() else 1
        return n

    def count_messages(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
        total = sum(self.count_text(_message_text(m)) + MESSAGE_OVERHEAD for m in messages)
        if tools:
            total += self.count_text(json.dumps(tools, separators=(",", ":")))
        return total + 2  # generation prompt


class ServerTokenizeCounter:
    """The served model's tokenizer through vLLM's `POST /tokenize` (at the
    server root, beside `/v1`). Falls back to `fallback` for good as soon as
    the endpoint is missing (Ollama, llama.cpp and hosted APIs lack it)."""

    kind = "server"

    def __init__(self, root_url: str, model: str | None, timeout_s: float = 10.0, fallback: TokenCounter | None = None):
        self.root_url = root_url.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s
        self.fallback = fallback or ApproximateCounter()
        self.available: bool | None = None  # unknown until first use

    def _post(self, payload: dict[str, Any]) -> int | None:
        if self.available is False:
            return None
        import httpx

        try:
            r = httpx.post(f"{self.root_url}/tokenize", json=payload, timeout=self.timeout_s)
        except httpx.HTTPError:
            self.available = False
            return None
        if r.status_code != 200:
            self.available = False
            return None
        try:
            data = r.json()
            count = int(data["count"]) if "count" in data else len(data["tokens"])
        except (ValueError, KeyError, TypeError):
            self.available = False
            return None
        self.available = True
        return count

    @property
    def effective_kind(self) -> str:
        return "server" if self.available else self.fallback.kind

    def count_text(self, text: str) -> int:
        payload: dict[str, Any] = {"prompt": text, "add_special_tokens": False}
        if self.model:
            payload["model"] = self.model
        n = self._post(payload)
        return n if n is not None else self.fallback.count_text(text)

    def count_messages(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
        payload: dict[str, Any] = {"messages": messages, "add_generation_prompt": True}
        if self.model:
            payload["model"] = self.model
        if tools:
            payload["tools"] = tools
        n = self._post(payload)
        return n if n is not None else self.fallback.count_messages(messages, tools)


class HFTokenizerCounter:
    """A local model's own tokenizer, with its chat template when it has one."""

    kind = "tokenizer"

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def count_text(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_messages(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=True)
            return self.count_text(text)
        return ApproximateCounter().count_messages(messages, tools)
