"""LLM backend settings: defaults < config file < environment < CLI flags.

Why one typed object: the same settings drive `analyze --backend openai`,
`cardioagent llm check`, the UI and the batch runner, and a wrong value
(a typo in a URL, a timeout of zero) fails here with a message naming the
setting rather than deep inside an HTTP client.

Config file: `$CARDIO_LLM_CONFIG`, else `$CARDIO_HOME/llm.toml` (default
`~/.cardioagent/llm.toml`), a flat TOML table whose keys are the field names
below, e.g.

    base_url = "http://gpu-box:8000/v1"
    model = "Qwen/Qwen3-8B"
    timeout_s = 120
    extra_body = { chat_template_kwargs = { enable_thinking = false } }

Environment: `CARDIO_LLM_<FIELD>` in upper case (`CARDIO_LLM_BASE_URL`,
`CARDIO_LLM_MODEL`, `CARDIO_LLM_API_KEY`, `CARDIO_LLM_TIMEOUT_S`,
`CARDIO_LLM_MODEL_DIR`, ...); `extra_body` from the environment is JSON.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"  # `vllm serve` listens on port 8000


class LLMConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(DEFAULT_BASE_URL, description="OpenAI-compatible endpoint, including /v1")
    model: str | None = Field(None, description="Served model name; None = the first model the endpoint lists")
    api_key: str = Field("EMPTY", description="vLLM accepts any key unless started with --api-key")
    timeout_s: float = Field(120.0, gt=0, description="Per-request read timeout")
    connect_timeout_s: float = Field(5.0, gt=0, description="How long to wait for the server to accept a connection")
    max_retries: int = Field(2, ge=0, le=10, description="Retries of a failed request (connection errors, timeouts, 429, 5xx)")
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles on each retry")
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(2048, gt=0, description="Completion budget per request")
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra request fields for the server, e.g. {'chat_template_kwargs': {'enable_thinking': false}} for Qwen3 on vLLM",
    )
    structured_output: bool = Field(True, description="Send response_format json_schema (vLLM >= 0.12, OpenAI, Ollama)")
    max_plan_steps: int = Field(4, ge=1, le=12, description="Tool-calling turns the planner may take per case")
    max_json_repairs: int = Field(1, ge=0, le=5, description="Repair rounds when a JSON answer fails the schema")
    # transformers backend
    model_dir: str | None = Field(None, description="Local model directory for the transformers backend")
    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N' (transformers backend)")
    dtype: str = Field("auto", description="'auto', 'float32', 'bfloat16', 'float16' (transformers backend)")

    @property
    def root_url(self) -> str:
        """The server root (vLLM's /tokenize lives beside /v1, not under it)."""
        url = self.base_url.rstrip("/")
        return url[: -len("/v1")] if url.endswith("/v1") else url


def config_path() -> Path:
    explicit = os.environ.get("CARDIO_LLM_CONFIG")
    if explicit:
        return Path(explicit)
    home = Path(os.environ.get("CARDIO_HOME") or Path.home() / ".cardioagent")
    return home / "llm.toml"


def _env_values() -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in LLMConfig.model_fields:
        raw = os.environ.get(f"CARDIO_LLM_{name.upper()}")
        if raw is None or raw == "":
            continue
        if name == "extra_body":
            try:
                values[name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"CARDIO_LLM_EXTRA_BODY is not valid JSON: {exc}") from exc
        elif name == "structured_output":
            values[name] = raw.strip().lower() not in ("0", "false", "no", "off")
        else:
            values[name] = raw
    return values


def load_config(**overrides: Any) -> LLMConfig:
    """Merge file, environment and explicit overrides (None means 'not given')."""
    values: dict[str, Any] = {}
    path = config_path()
    if path.is_file():
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    values.update(_env_values())
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return LLMConfig.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ValueError(f"LLM setting {where!r}: {first['msg']} (from {path} or CARDIO_LLM_{where.upper()})") from exc
