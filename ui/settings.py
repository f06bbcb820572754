"""UI settings: which orchestrator backend, which experts, what limits.

Why a file under $CARDIO_HOME/ui/ and not only flags: a clinician changes
the LLM endpoint or switches an expert off from the Settings tab, and the
choice must survive a restart. Launch-time flags (host, port, auth, the
share folder) stay flags; they are security decisions of whoever starts
the server, not of whoever uses it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.atomic import atomic_write_text
from experts.core.types import Modality

BackendName = Literal["rules", "openai", "transformers"]
ALL_EXPERTS = [m.value for m in Modality]
EXPERT_LABELS = {
    "ecg": "ECG (12-lead, Holter strips, WFDB/DICOM/CSV)",
    "echo": "Echocardiography (DICOM US, AVI/MP4)",
    "cmr": "Cardiac MRI (DICOM, NIfTI)",
    "kspace": "MR reconstruction from k-space (HDF5/MAT/NPZ)",
}


class UISettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    backend: BackendName = Field("rules", description="Orchestrator: deterministic rules, an OpenAI-compatible server, or a local model")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint including /v1 (openai backend)")
    model: str | None = Field(None, description="Served model name (openai backend); empty = the endpoint's first model")
    model_dir: str | None = Field(None, description="Local model directory (transformers backend)")
    enabled_experts: list[str] = Field(default_factory=lambda: list(ALL_EXPERTS))
    max_upload_mb: int = Field(2048, ge=1, le=65536, description="Largest single upload")
    retrieval: bool = Field(True, description="Cite guideline passages (builds the local index on first use)")
    allow_partial: bool = Field(False, description="Analyse the usable files when some are unusable (they are listed)")

    @field_validator("enabled_experts")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(ALL_EXPERTS))
        if unknown:
            raise ValueError(f"unknown expert(s): {', '.join(unknown)}")
        return [m for m in ALL_EXPERTS if m in v]

    @field_validator("base_url", "model", "model_dir", mode="before")
    @classmethod
    def _blank_is_none(cls, v):
        if isinstance(v, str):
            v = v.strip()
            return v or None
        return v

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("the endpoint must start with http:// or https://")
        return v

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 2**20

    def llm_overrides(self) -> dict:
        """Overrides for agent.backends.config.load_config (None = not set)."""
        return {"base_url": self.base_url, "model": self.model, "model_dir": self.model_dir}


def settings_path(home: Path) -> Path:
    return home / "ui" / "settings.json"


def load_settings(home: Path) -> UISettings:
    """Saved settings, or defaults when none are saved or the file is broken
    (a broken file must not lock the clinician out of the UI)."""
    path = settings_path(home)
    if path.is_file():
        try:
            return UISettings.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, ValidationError):
            pass
    return UISettings()


def save_settings(home: Path, settings: UISettings) -> Path:
    return atomic_write_text(settings_path(home), settings.model_dump_json(indent=2))


def make_backend(settings: UISettings):
    """A fresh backend object per case: its usage counters feed the report's
    provenance, so they must not accumulate across cases."""
    from agent.backends import get_backend

    if settings.backend == "rules":
        return get_backend("rules")
    if settings.backend == "openai":
        from agent.backends.openai_backend import OpenAIBackend

        return OpenAIBackend.from_env(**settings.llm_overrides())
    from agent.backends.config import load_config
    from agent.backends.transformers_backend import TransformersBackend

    config = load_config(**settings.llm_overrides())
    backend = TransformersBackend(config, client=_LOCAL_CLIENTS.get(_local_key(config)))
    _LOCAL_CLIENTS[_local_key(config)] = backend.client
    return backend


# A local model takes seconds to minutes to load: keep one client per model
# directory for the life of the server, while each case gets fresh counters.
_LOCAL_CLIENTS: dict[tuple, object] = {}


def _local_key(config) -> tuple:
    return (config.model_dir, config.device, config.dtype, config.max_tokens, config.temperature)
