"""`openai` backend: any OpenAI-compatible server (vLLM, Ollama, llama.cpp,
hosted APIs) through the `openai` client.

Why the plain client rather than a framework wrapper: the wire format is
the contract with vLLM — `tools` with the experts' JSON schemas, `tool_calls`
back, `response_format={"type": "json_schema", ...}` for drafts (vLLM >= 0.12;
its old `guided_json` field is gone) — and we want to see and test exactly
what goes over it. Retries with exponential backoff are ours (the client's
are switched off) so a down endpoint fails after a known time with an error
that names the URL. Tokens are the server's own count (`usage`), else its
`/tokenize` endpoint, else an approximate counter; nothing is downloaded.
"""

from __future__ import annotations

import json
import time
from typing import Any

from agent.backends.base import ToolCallRequest
from agent.backends.config import LLMConfig, load_config
from agent.backends.llm import Completion, LLMBackend, LLMError, LLMUnavailable
from agent.tokens import ApproximateCounter, ServerTokenizeCounter

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIChatClient:
    """One chat completion over the OpenAI wire format."""

    def __init__(self, config: LLMConfig, sleep=time.sleep):
        import httpx
        import openai

        self.config = config
        self.endpoint = config.base_url.rstrip("/")
        self._sleep = sleep
        self._openai = openai
        timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        self.client = openai.OpenAI(base_url=self.endpoint, api_key=config.api_key or "EMPTY", timeout=timeout, max_retries=0)
        self._model = config.model
        self.counter = ServerTokenizeCounter(config.root_url, config.model, timeout_s=min(10.0, config.timeout_s),
                                             fallback=ApproximateCounter())  # fmt: skip
        self.structured_supported: bool | None = None if config.structured_output else False

    # -- endpoint ----------------------------------------------------------
    def _describe(self, exc: Exception) -> str:
        o = self._openai
        if isinstance(exc, o.APITimeoutError):
            return f"LLM endpoint {self.endpoint} timed out (read timeout {self.config.timeout_s:g} s)"
        if isinstance(exc, o.APIConnectionError):
            cause = exc.__cause__ or exc
            return f"LLM endpoint {self.endpoint} is unreachable ({type(cause).__name__}: {cause}); is the server running?"
        if isinstance(exc, o.APIStatusError):
            body = exc.response.text[:300] if exc.response is not None else ""
            return f"LLM endpoint {self.endpoint} answered HTTP {exc.status_code}: {body}"
        return f"LLM endpoint {self.endpoint}: {type(exc).__name__}: {exc}"

    def _with_retries(self, fn):
        """Call `fn`, retrying connection errors, timeouts, 408/409/429/5xx
        with exponential backoff; then raise LLMUnavailable naming the URL."""
        o = self._openai
        delay = self.config.backoff_s
        last: Exception | None = None
        for attempt in range(self.config.max_retries + 1):
            try:
                return fn()
            except (o.APITimeoutError, o.APIConnectionError) as exc:
                last = exc
            except o.APIStatusError as exc:
                if exc.status_code not in RETRY_STATUS:
                    raise
                last = exc
            if attempt < self.config.max_retries:
                self._sleep(delay)
                delay *= 2
        assert last is not None
        tries = self.config.max_retries + 1
        raise LLMUnavailable(f"{self._describe(last)} — gave up after {tries} attempt{'s' if tries > 1 else ''}") from last

    def list_models(self) -> list[str]:
        page = self._with_retries(lambda: self.client.models.list())
        return [m.id for m in page.data]

    @property
    def model(self) -> str | None:
        return self._model

    def resolve_model(self) -> str:
        """The configured model, else the first the server lists (vLLM serves one)."""
        if self._model is None:
            models = self.list_models()
            if not models:
                raise LLMUnavailable(f"LLM endpoint {self.endpoint} lists no models")
            self._model = models[0]
            self.counter.model = self._model
        return self._model

    # -- completion --------------------------------------------------------
    def _request(self, messages, tools, json_schema, schema_name, structured: bool) -> Any:
        kwargs: dict[str, Any] = {
            "model": self.resolve_model(),
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = "auto"
        if json_schema is not None and structured:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {"name": schema_name, "schema": json_schema, "strict": True}}
        if self.config.extra_body:
            kwargs["extra_body"] = self.config.extra_body
        return self._with_retries(lambda: self.client.chat.completions.create(**kwargs))

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "output",
    ) -> Completion:
        o = self._openai
        structured = json_schema is not None and self.structured_supported is not False
        try:
            resp = self._request(messages, tools, json_schema, schema_name, structured)
        except o.BadRequestError as exc:
            # A server without JSON-schema output rejects response_format;
            # the schema is in the prompt too, so retry without it, and
            # remember (the repair loop still validates the reply).
            said = str(exc).lower()
            if structured and ("response_format" in said or "json_schema" in said):
                self.structured_supported = False
                structured = False
                resp = self._request(messages, tools, json_schema, schema_name, False)
            else:
                raise LLMError(self._describe(exc)) from exc
        except o.APIStatusError as exc:
            raise LLMError(self._describe(exc)) from exc
        if structured:
            self.structured_supported = True
        if not resp.choices:
            raise LLMError(f"LLM endpoint {self.endpoint} returned no choices")
        choice = resp.choices[0]
        msg = choice.message
        calls = [
            ToolCallRequest(id=tc.id or f"call_{i}", name=tc.function.name, arguments=tc.function.arguments or "{}")
            for i, tc in enumerate(msg.tool_calls or [])
            if getattr(tc, "function", None) is not None
        ]
        content = msg.content or ""
        usage = getattr(resp, "usage", None)
        if usage is not None and usage.prompt_tokens is not None:
            prompt, completion, kind = usage.prompt_tokens, usage.completion_tokens or 0, "server"
        else:
            prompt = self.counter.count_messages(messages, tools)
            completion = self.counter.count_text(content + "".join(c.arguments for c in calls))
            kind = self.counter.effective_kind
        return Completion(content=content, tool_calls=calls, prompt_tokens=prompt, completion_tokens=completion,
                          token_counter=kind, finish_reason=choice.finish_reason, structured=structured)  # fmt: skip


class OpenAIBackend(LLMBackend):
    """The orchestrator on an OpenAI-compatible endpoint."""

    def __init__(self, config: LLMConfig, client: OpenAIChatClient | None = None):
        super().__init__(client or OpenAIChatClient(config), name="openai", max_plan_steps=config.max_plan_steps,
                         max_json_repairs=config.max_json_repairs)  # fmt: skip
        self.config = config

    @classmethod
    def from_env(cls, **overrides: Any) -> "OpenAIBackend":
        return cls(load_config(**overrides))


def describe_config(config: LLMConfig) -> str:
    shown = config.model_dump(exclude={"api_key", "model_dir", "device", "dtype"})
    shown["api_key"] = "set" if config.api_key and config.api_key != "EMPTY" else "EMPTY"
    return json.dumps(shown)
