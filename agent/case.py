"""What a case is when it enters the agent: files plus clinical context.

Why separate from the report: the case is what the user asserted (files,
notes, demographics); the report is what the tools measured. Keeping the two
apart is how notes stay *reported history* and never become measurements.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from experts.core.types import PatientContext

MAX_NOTE_CHARS = 20_000


class ClinicalContext(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient: PatientContext = Field(default_factory=PatientContext)
    indication: str | None = Field(None, max_length=500)
    notes: str | None = Field(None, description="Free text as supplied; data, never instructions")
    notes_source: str | None = Field(None, description="File the notes came from, if any")


class CaseInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str
    paths: list[str]
    display_names: dict[str, str] = Field(
        default_factory=dict, description="Path → the name the user knows the file by (UI uploads)"
    )
    context: ClinicalContext = Field(default_factory=ClinicalContext)


class InputProblem(BaseModel):
    """One input that could not be used, and why. Shown to the user verbatim."""

    model_config = ConfigDict(extra="forbid")

    file: str
    problem: str
    severity: Literal["error", "warning"] = "error"

    def line(self) -> str:
        return f"{self.file}: {self.problem}"


_SEX_WORDS = {"f": "female", "female": "female", "woman": "female", "m": "male", "male": "male", "man": "male"}


def normalise_sex(value: str | None) -> Literal["female", "male"] | None:
    if value is None:
        return None
    key = value.strip().lower()
    if key not in _SEX_WORDS:
        raise ValueError(f"sex must be female/male (or F/M), got {value!r}")
    return _SEX_WORDS[key]  # type: ignore[return-value]


def sanitise_text(text: str, limit: int = MAX_NOTE_CHARS) -> str:
    """Drop control characters (terminal escapes, NULs) and cap the length:
    notes are shown back to clinicians and sent to LLMs."""
    cleaned = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x1b]", "", text)
    return cleaned[:limit]


def load_context(
    context: str | None,
    *,
    age: float | None = None,
    sex: str | None = None,
    height_cm: float | None = None,
    weight_kg: float | None = None,
    indication: str | None = None,
) -> ClinicalContext:
    """Build the clinical context from CLI-style arguments.

    `context` is a path or literal text. A `.json`/`.yaml` file gives
    structured fields (age, sex, height_cm, weight_kg, indication, notes);
    any other file or text is free notes. Explicit arguments win.
    """
    fields: dict = {}
    notes = None
    notes_source = None
    if context:
        path = Path(context)
        if len(context) < 4096 and path.is_file():
            raw = path.read_bytes()[: MAX_NOTE_CHARS * 4]
            text = raw.decode("utf-8", errors="replace")
            notes_source = path.name
            if path.suffix.lower() == ".json":
                fields = json.loads(text)
            elif path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                fields = yaml.safe_load(text) or {}
            else:
                notes = text
        else:
            notes = context
    if not isinstance(fields, dict):
        raise ValueError(f"{notes_source}: context file must hold a mapping of fields")
    notes = fields.pop("notes", notes)
    patient = PatientContext(
        age_years=age if age is not None else fields.get("age", fields.get("age_years")),
        sex=normalise_sex(sex or fields.get("sex")),
        height_cm=height_cm if height_cm is not None else fields.get("height_cm"),
        weight_kg=weight_kg if weight_kg is not None else fields.get("weight_kg"),
    )
    return ClinicalContext(
        patient=patient,
        indication=indication or fields.get("indication"),
        notes=sanitise_text(notes) if notes else None,
        notes_source=notes_source,
    )
