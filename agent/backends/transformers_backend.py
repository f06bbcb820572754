"""`transformers` backend: a local model directory on CPU or GPU.

Why: a site without a serving stack (or without network) can still run the
orchestrator from a folder of weights — e.g. Qwen2.5-7B-Instruct copied to
the machine. The model's own chat template renders the conversation and the
experts' tool schemas; tool calls are read back in the Hermes/Qwen format
(`<tool_call>{"name": …, "arguments": …}</tool_call>`) or as a bare JSON
call; drafts are JSON validated against the schema with bounded repair
(`LLMBackend.complete_json`), since local generation is not constrained.
Weights load only from the given path (`local_files_only`); nothing is
downloaded. Tokens are counted with the model's tokenizer.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from agent.backends.base import ToolCallRequest
from agent.backends.config import LLMConfig, load_config
from agent.backends.llm import Completion, LLMBackend, LLMUnavailable

_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.S)


def to_hf_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-format messages → the shape HF chat templates expect
    (tool-call arguments as objects, not JSON strings)."""
    out = []
    for m in messages:
        m2 = {k: v for k, v in m.items() if v is not None}
        if m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                try:
                    args = json.loads(c["function"]["arguments"] or "{}")
                except json.JSONDecodeError:
                    args = {}
                calls.append({"id": c.get("id"), "type": "function", "function": {"name": c["function"]["name"], "arguments": args}})
            m2["tool_calls"] = calls
            m2.setdefault("content", "")
        out.append(m2)
    return out


def parse_tool_calls(text: str) -> tuple[str, list[ToolCallRequest]]:
    """Split generated text into prose and tool calls (Hermes/Qwen tags, or
    a reply that is exactly one JSON call {"name", "arguments"|"parameters"})."""
    calls: list[ToolCallRequest] = []
    for i, block in enumerate(_TOOL_CALL.findall(text)):
        try:
            obj = json.loads(block.strip())
        except json.JSONDecodeError:
            continue  # a malformed call is dropped; the model sees no result and may retry
        if isinstance(obj, dict) and isinstance(obj.get("name"), str):
            args = obj.get("arguments", obj.get("parameters", {}))
            calls.append(ToolCallRequest(id=f"call_{i}", name=obj["name"], arguments=json.dumps(args) if not isinstance(args, str) else args))
    prose = _TOOL_CALL.sub("", text).strip()
    if not calls and prose.startswith("{"):
        try:
            obj = json.loads(prose)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("name"), str) and ("arguments" in obj or "parameters" in obj):
            args = obj.get("arguments", obj.get("parameters"))
            calls.append(ToolCallRequest(id="call_0", name=obj["name"], arguments=json.dumps(args) if not isinstance(args, str) else args))
            prose = ""
    return prose, calls


def _plain_template(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    """For a tokenizer without a chat template (base models): a readable
    transcript. Instruction-tuned models all ship a template."""
    parts = []
    if tools:
        parts.append("Tools (reply <tool_call>{\"name\": ..., \"arguments\": {...}}</tool_call> to call one):\n"
                     + "\n".join(json.dumps(t["function"]) for t in tools))  # fmt: skip
    for m in messages:
        body = m.get("content") or ""
        for c in m.get("tool_calls") or []:
            body += "<tool_call>" + json.dumps({"name": c["function"]["name"], "arguments": c["function"]["arguments"]}) + "</tool_call>"
        parts.append(f"{m['role'].upper()}: {body}")
    parts.append("ASSISTANT:")
    return "\n\n".join(parts)


class TransformersChatClient:
    def __init__(self, model_dir: str | Path, device: str = "auto", dtype: str = "auto", max_new_tokens: int = 1024,
                 temperature: float = 0.0):  # fmt: skip
        self.model_dir = Path(model_dir)
        self.endpoint = f"local model {self.model_dir}"
        self.model = self.model_dir.name
        self.device_pref = device
        self.dtype_pref = dtype
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self._tok: Any = None
        self._model: Any = None
        self._lock = threading.Lock()  # generate is not re-entrant on one model

    def load(self) -> None:
        if self._model is not None:
            return
        if not (self.model_dir / "config.json").is_file():
            raise LLMUnavailable(f"{self.model_dir} is not a model directory (no config.json)")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = self.device_pref
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = {"auto": torch.bfloat16 if device.startswith("cuda") else torch.float32, "float32": torch.float32,
                 "bfloat16": torch.bfloat16, "float16": torch.float16}.get(self.dtype_pref)  # fmt: skip
        if dtype is None:
            raise ValueError(f"dtype must be auto, float32, bfloat16 or float16, not {self.dtype_pref!r}")
        try:
            tok = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(self.model_dir, local_files_only=True, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise LLMUnavailable(f"cannot load the model in {self.model_dir}: {exc}") from exc
        self._tok, self._model, self.device = tok, model.to(device).eval(), device

    @property
    def tokenizer(self) -> Any:
        self.load()
        return self._tok

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        hf = to_hf_messages(messages)
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(hf, tools=tools, tokenize=False, add_generation_prompt=True)
        return _plain_template(messages, tools)

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "output",
    ) -> Completion:
        import torch

        self.load()
        prompt = self.render(messages, tools)
        enc = self._tok(prompt, return_tensors="pt", add_special_tokens=False).to(self.device)
        n_prompt = int(enc["input_ids"].shape[1])
        gen: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.temperature > 0}
        if self.temperature > 0:
            gen["temperature"] = self.temperature
        if self._tok.pad_token_id is not None:
            gen["pad_token_id"] = self._tok.pad_token_id
        elif self._tok.eos_token_id is not None:
            gen["pad_token_id"] = self._tok.eos_token_id
        with self._lock, torch.inference_mode():
            out = self._model.generate(**enc, **gen)
        new = out[0, n_prompt:]
        text = self._tok.decode(new, skip_special_tokens=False)
        for special in self._tok.all_special_tokens:
            text = text.replace(special, "")
        content, calls = parse_tool_calls(text) if tools else (text.strip(), [])
        n_new = int(new.shape[0])
        return Completion(content=content, tool_calls=calls, prompt_tokens=n_prompt, completion_tokens=n_new, token_counter="tokenizer",
                          finish_reason="length" if n_new >= self.max_new_tokens else "stop")  # fmt: skip


class TransformersBackend(LLMBackend):
    def __init__(self, config: LLMConfig, client: TransformersChatClient | None = None):
        if client is None:
            if not config.model_dir:
                raise ValueError("the transformers backend needs a local model directory: set CARDIO_LLM_MODEL_DIR "
                                 "(or model_dir in llm.toml)")  # fmt: skip
            if not Path(config.model_dir).is_dir():
                raise ValueError(f"CARDIO_LLM_MODEL_DIR {config.model_dir} is not a directory")
            client = TransformersChatClient(config.model_dir, config.device, config.dtype, config.max_tokens, config.temperature)
        super().__init__(client, name="transformers", max_plan_steps=config.max_plan_steps, max_json_repairs=config.max_json_repairs)
        self.config = config

    @classmethod
    def from_env(cls, **overrides: Any) -> "TransformersBackend":
        return cls(load_config(**overrides))
