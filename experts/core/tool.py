"""The typed tool interface every expert exposes in its `tool.py`.

Why a class with an `Options` model: the same definition gives the
deterministic planner its defaults, the LLM its JSON-schema function
signature, and the batch runner a configuration hash, without the agent
knowing anything about a modality's internals.
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from experts.core.types import ExpertResult, Modality, PatientContext, StudyInput


class ToolOptions(BaseModel):
    """Base of every tool's options. Tools subclass it; every field needs a
    default so the rules planner can call a tool with no arguments."""

    model_config = ConfigDict(extra="forbid")


class ToolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    study: StudyInput
    patient: PatientContext = Field(default_factory=PatientContext)
    output_dir: str = Field(description="Folder where the tool writes its artifacts (plots, masks)")
    options: dict[str, Any] = Field(default_factory=dict)


class ExpertTool(ABC):
    """One expert's entry point. Subclasses set the class attributes and
    implement `analyze`."""

    name: ClassVar[str]
    version: ClassVar[str]
    modality: ClassVar[Modality]
    description: ClassVar[str]
    Options: ClassVar[type[ToolOptions]] = ToolOptions

    def run(self, request: ToolRequest) -> ExpertResult:
        """Validate options, time the call and hand over to `analyze`."""
        options = self.Options.model_validate(request.options)
        Path(request.output_dir).mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        result = self.analyze(request.study, request.patient, options, Path(request.output_dir))
        result.runtime_s = round(time.perf_counter() - started, 4)
        return result

    @abstractmethod
    def analyze(
        self, study: StudyInput, patient: PatientContext, options: ToolOptions, output_dir: Path
    ) -> ExpertResult:
        """Analyse one study. Raise `InputError` for bad input."""

    @classmethod
    def function_schema(cls) -> dict[str, Any]:
        """OpenAI-style function definition for tool calling (options only;
        the agent supplies study, patient context and output folder)."""
        params = cls.Options.model_json_schema()
        params.pop("title", None)
        return {
            "type": "function",
            "function": {"name": cls.name, "description": cls.description, "parameters": params},
        }


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hash a file in chunks (weights files can be hundreds of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
