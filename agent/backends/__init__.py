"""Backend selection: `CARDIO_LLM=rules|openai|transformers` or `--backend`."""

from __future__ import annotations

import os

from agent.backends.base import Backend

BACKENDS = ("rules", "openai", "transformers")


def get_backend(name: str | None = None) -> Backend:
    name = (name or os.environ.get("CARDIO_LLM") or "rules").lower()
    if name == "rules":
        from agent.backends.rules import RulesBackend

        return RulesBackend()
    if name == "openai":
        from agent.backends.openai_backend import OpenAIBackend  # added by the LLM issue

        return OpenAIBackend.from_env()
    if name == "transformers":
        from agent.backends.transformers_backend import TransformersBackend  # added by the LLM issue

        return TransformersBackend.from_env()
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
