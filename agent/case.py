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

from pydantic import BaseModel, ConfigDict, Field, field_validator

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

    @field_validator("case_id")
    @classmethod
    def _safe_case_id(cls, value: str) -> str:
        # The id becomes part of thread and report ids: never a path (see case_id_problem).
        why = case_id_problem(value)
        if why:
            raise ValueError(why)
        return value


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
    given_by: str = "flag",
) -> ClinicalContext:
    """Build the clinical context from CLI-style arguments.

    `context` is a path or literal text. A `.json`/`.yaml` file gives
    structured fields (age, sex, height_cm, weight_kg, indication, notes);
    any other file or text is free notes. Explicit arguments win; each
    value's source is recorded (`given_by` names where the explicit
    arguments came from: 'flag' for the CLI) and a context-file value that
    disagrees with an argument is recorded as a conflict (agent/patient.py).
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
    from agent.patient import FLAG_NAMES, conflict_text, same

    explicit = {"age_years": age, "sex": normalise_sex(sex) if sex else None, "height_cm": height_cm, "weight_kg": weight_kg}
    raw_sex = fields.get("sex")
    from_file = {"age_years": fields.get("age", fields.get("age_years")), "sex": normalise_sex(raw_sex) if raw_sex else None,
                 "height_cm": fields.get("height_cm"), "weight_kg": fields.get("weight_kg")}  # fmt: skip
    values: dict = {}
    sources: dict[str, str] = {}
    conflicts: list[str] = []
    file_label = f"context file {notes_source}"
    for key, flag_value in explicit.items():  # flags (or manifest columns) win over the context file
        flag_label = f"{given_by} {FLAG_NAMES[key]}" if given_by == "flag" else f"{given_by} {key.replace('_years', '')}"
        file_value = from_file[key]
        if flag_value is not None:
            values[key], sources[key] = flag_value, flag_label
            if file_value is not None and not same(key, flag_value, file_value):
                conflicts.append(conflict_text(key, flag_value, flag_label, file_value, file_label))
        elif file_value is not None:
            values[key], sources[key] = file_value, file_label
    patient = PatientContext(**values, sources=sources, conflicts=conflicts)
    return ClinicalContext(
        patient=patient,
        indication=indication or fields.get("indication"),
        notes=sanitise_text(notes) if notes else None,
        notes_source=notes_source,
    )


# --- clear messages for bad demographics ----------------------------------

_DEMOGRAPHICS = {
    # field: (flag, context-file keys, noun, unit, unit word)
    "age_years": ("--age", "age", "age", "years", "years"),
    "height_cm": ("--height", "height_cm", "height", "cm", "cm"),
    "weight_kg": ("--weight", "weight_kg", "weight", "kg", "kg"),
}


def _bounds(field: str) -> tuple[float | None, float | None]:
    from annotated_types import Ge, Gt, Le, Lt

    lo = hi = None
    for m in PatientContext.model_fields[field].metadata:
        if isinstance(m, (Ge, Gt)):
            lo = float(m.ge if isinstance(m, Ge) else m.gt)
        if isinstance(m, (Le, Lt)):
            hi = float(m.le if isinstance(m, Le) else m.lt)
    return lo, hi


def _num(x: object) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) else repr(x)


def context_error_lines(
    exc: Exception,
    *,
    context: str | None = None,
    age: float | None = None,
    height_cm: float | None = None,
    weight_kg: float | None = None,
) -> list[str]:
    """One teaching line per problem in a clinical context that failed
    validation (instead of pydantic's dump), naming where the value came
    from: '--height 1.75: height is in cm (30–260); did you mean 175?'."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return [str(exc)]
    flags = {"age_years": age, "height_cm": height_cm, "weight_kg": weight_kg}
    ctx_name = Path(context).name if context and len(context) < 4096 and Path(context).is_file() else "context file"
    lines = []
    for err in exc.errors():
        field = str(err["loc"][-1]) if err.get("loc") else ""
        value = err.get("input")
        if field not in _DEMOGRAPHICS:
            where = ".".join(str(x) for x in err.get("loc", ())) or "context"
            lines.append(f"{where}: {err.get('msg', 'invalid value')} (got {_num(value)})")
            continue
        flag, key, noun, unit, _ = _DEMOGRAPHICS[field]
        origin = f"{flag} {_num(value)}" if flags[field] is not None else f"{ctx_name} {key}: {_num(value)}"
        lo, hi = _bounds(field)
        span = f"{lo:g}–{hi:g}" if lo is not None and hi is not None else ""
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            lines.append(f"{origin}: {noun} must be a number in {unit} ({span})")
            continue
        hint = ""
        if field == "age_years" and value < 0:
            why = f"{noun} cannot be negative; give it in {unit} ({span})"
        elif field == "height_cm" and lo is not None and hi is not None and lo < value * 100 < hi:
            why, hint = f"{noun} is in {unit} ({span})", f"; did you mean {value * 100:g}?"
        elif field == "height_cm" and lo is not None and hi is not None and lo < value * 2.54 < hi:
            why, hint = f"{noun} is in {unit} ({span})", f"; if that is inches, {value * 2.54:.0f} cm"
        elif field == "weight_kg" and hi is not None and lo is not None and value >= hi and lo < value / 1000 < hi:
            why, hint = f"{noun} is in {unit} ({span})", f"; did you mean {value / 1000:g} (grams given)?"
        elif field == "age_years" and hi is not None and value > hi and value / 12 <= hi:
            why, hint = f"{noun} is in {unit} ({span})", f"; if that is months, {value / 12:.0f} years"
        else:
            why = f"{noun} is in {unit} ({span})" if span else f"invalid {noun}"
        lines.append(f"{origin}: {why}{hint}")
    return lines


# --- case identifiers ------------------------------------------------------

MAX_CASE_ID = 128
_CASE_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-+@=,:# ]*$")


def case_id_problem(case_id: str) -> str | None:
    """Why `case_id` cannot be used, or None. A case id becomes part of the
    thread and report ids (and of folder names in batch runs), so path
    separators, '..' and control characters are refused, not rewritten:
    a silently changed id would not match the clinician's records."""
    if not case_id or not case_id.strip():
        return "case id is empty"
    if len(case_id) > MAX_CASE_ID:
        return f"case id is {len(case_id)} characters; at most {MAX_CASE_ID}"
    if re.search(r"[\x00-\x1f\x7f]", case_id):
        return "case id contains control characters"
    if "/" in case_id or "\\" in case_id:
        return "case id contains a path separator ('/' or '\\'); use letters, digits, '-', '_' or '.' (e.g. case-007)"
    if ".." in case_id:
        return "case id contains '..'; use letters, digits, '-', '_' or '.' (e.g. case-007)"
    if not _CASE_ID_OK.match(case_id):
        return "case id must start with a letter or digit and use letters, digits, spaces or - _ . + @ = , : # (e.g. case-007)"
    return None
