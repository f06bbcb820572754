"""Shared result types: the typed boundary between experts and everything else.

Why one module: every number that reaches a report must carry its unit, the
tool and version that produced it and where in the input it was measured.
Putting those fields on the one `Measurement` type, and refusing to build a
report from anything else, is what makes "every number is traceable" a
property of the code rather than a promise.

Experts import only this package (plus their own scientific libraries); the
agent imports these types to build reports.
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = "1.0"


class Modality(str, Enum):
    """The study types CardioAgent routes. `kspace` is raw MR data that the
    reconstruction expert turns into a CMR image series."""

    ECG = "ecg"
    ECHO = "echo"
    CMR = "cmr"
    KSPACE = "kspace"

    @property
    def display(self) -> str:
        return {
            "ecg": "ECG",
            "echo": "Echocardiography",
            "cmr": "Cardiac MRI",
            "kspace": "MR k-space (raw data)",
        }[self.value]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Code(_Model):
    """A coded concept (LOINC for measurements, SNOMED CT for findings)."""

    system: Literal["http://loinc.org", "http://snomed.info/sct", "urn:cardioagent"]
    code: str
    display: str


class Source(_Model):
    """Which tool produced a result, so a reader can reproduce it."""

    tool: str
    version: str
    model: str | None = Field(None, description="Model or algorithm name, if any")
    weights_sha256: str | None = Field(None, description="SHA-256 of the weights file used, if any")


class Evidence(_Model):
    """Where in the input a value was measured.

    `file` is the input file name as the user supplied it (never a temp path
    from a server). The other fields narrow the location; tools fill those
    that make sense for their modality.
    """

    file: str
    location: str | None = Field(None, description="Human-readable location, e.g. 'median beat, leads I-V6'")
    leads: list[str] = Field(default_factory=list)
    time_span_s: tuple[float, float] | None = None
    frames: list[int] = Field(default_factory=list)
    slices: list[int] = Field(default_factory=list)
    phases: list[int] = Field(default_factory=list)


class GuidelineRef(_Model):
    """A citation of the guideline behind a threshold: guideline, year, section."""

    guideline: str
    year: int
    section: str
    passage_id: str | None = Field(None, description="Id of the corpus passage that restates it, if any")

    def short(self) -> str:
        return f"{self.guideline} ({self.year}), {self.section}"


class ReferenceRange(_Model):
    low: float | None = None
    high: float | None = None
    unit: str
    population: str | None = Field(None, description="e.g. 'adult women'")
    source: GuidelineRef | None = None

    def classify(self, value: float) -> Literal["low", "normal", "high"]:
        if self.low is not None and value < self.low:
            return "low"
        if self.high is not None and value > self.high:
            return "high"
        return "normal"


Flag = Literal["normal", "low", "high", "abnormal"]
QualityVerdict = Literal["usable", "limited", "non_diagnostic"]


class Measurement(_Model):
    """One measured number with everything needed to trust it.

    `id` is unique within a case (tools prefix it with their study id);
    `name` is the stable machine name (e.g. `qtc_fridericia`) that rules,
    queries and the code tables use.
    """

    id: str
    name: str
    label: str
    value: float
    unit: str = Field(description="UCUM unit, e.g. 'ms', '/min', '%', 'mL', 'g', 'mV', 'deg', '1'")
    decimals: int = Field(0, ge=0, le=6, description="Display precision; the verifier rounds to what the text shows")
    code: Code | None = None
    reference_range: ReferenceRange | None = None
    flag: Flag | None = None
    method: str
    source: Source
    evidence: Evidence
    quality: QualityVerdict = "usable"

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("a measurement value must be finite; report a warning instead of NaN/inf")
        return v

    def formatted(self) -> str:
        return f"{self.value:.{self.decimals}f}"

    def with_unit(self) -> str:
        return format_quantity(self.value, self.unit, self.decimals)


# How UCUM units are written in prose. The verifier maps these back.
UNIT_DISPLAY: dict[str, str] = {"/min": "bpm", "deg": "°", "1": "", "mL/m2": "mL/m²", "g/m2": "g/m²", "m2": "m²"}


def format_quantity(value: float, unit: str, decimals: int = 0) -> str:
    """'72 bpm', '35%', '−30°': how reports write a value with its unit."""
    shown = UNIT_DISPLAY.get(unit, unit)
    sep = "" if shown in ("%", "°", "") else " "
    return f"{value:.{decimals}f}{sep}{shown}"


Operator = Literal["<", "<=", ">", ">=", "==", "!="]


class Criterion(_Model):
    """One tested condition of a diagnostic statement: measured value, operator,
    threshold and the guideline that sets the threshold."""

    measurement_id: str
    operator: Operator
    threshold: float
    unit: str
    met: bool
    guideline: GuidelineRef | None = None
    note: str | None = None

    @staticmethod
    def evaluate(value: float, operator: Operator, threshold: float) -> bool:
        return {
            "<": value < threshold,
            "<=": value <= threshold,
            ">": value > threshold,
            ">=": value >= threshold,
            "==": value == threshold,
            "!=": value != threshold,
        }[operator]


class Statement(_Model):
    """A diagnostic finding with the criteria that support it."""

    id: str
    label: str
    code: Code | None = None
    status: Literal["present", "absent", "indeterminate"]
    category: str = Field("general", description="e.g. rhythm, conduction, hypertrophy, function")
    confidence: float | None = Field(None, ge=0, le=1)
    criteria: list[Criterion] = Field(default_factory=list)
    explanation: str | None = Field(None, description="Short reasoning, numbers only via criteria")
    source: Source


class Quality(_Model):
    verdict: QualityVerdict
    reasons: list[str] = Field(default_factory=list)


class Artifact(_Model):
    """A file a tool wrote: a plot, a mask, a reconstructed series."""

    kind: Literal["plot", "mask", "image", "video", "data"]
    title: str
    path: str
    media_type: str


class ExpertResult(_Model):
    """Everything one tool call returns. The agent never reaches past this."""

    schema_version: str = SCHEMA_VERSION
    tool: str
    version: str
    modality: Modality
    study_id: str
    inputs: list[str] = Field(default_factory=list, description="Input file names as supplied")
    measurements: list[Measurement] = Field(default_factory=list)
    statements: list[Statement] = Field(default_factory=list)
    quality: Quality
    artifacts: list[Artifact] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    runtime_s: float = 0.0
    derived_studies: list["StudyInput"] = Field(
        default_factory=list,
        description="Studies this tool produced for another expert (e.g. reconstructed CMR from k-space)",
    )

    @model_validator(mode="after")
    def _ids_unique_and_referenced(self) -> "ExpertResult":
        ids = [m.id for m in self.measurements]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{self.tool}: duplicate measurement ids")
        known = set(ids)
        for st in self.statements:
            for c in st.criteria:
                if c.measurement_id not in known:
                    raise ValueError(f"{self.tool}: statement {st.id} cites unknown measurement {c.measurement_id}")
        if self.quality.verdict == "non_diagnostic" and any(s.status == "present" for s in self.statements):
            raise ValueError(f"{self.tool}: a non-diagnostic study must not produce present findings")
        return self


class PatientContext(_Model):
    """The structured part of the clinical context that tools may use
    (sex- and age-specific thresholds, BSA indexing). Free-text notes never
    reach the experts."""

    age_years: float | None = Field(None, ge=0, le=130)
    sex: Literal["female", "male"] | None = None
    height_cm: float | None = Field(None, gt=30, lt=260)
    weight_kg: float | None = Field(None, gt=1, lt=400)
    # Where each value came from and where sources disagreed (agent/patient.py). Tools ignore these;
    # the report shows them so the reader sees which demographics were used and why.
    sources: dict[str, str] = Field(
        default_factory=dict, description="Field name -> its source, e.g. 'flag --age', 'context file ctx.json', '1.hea metadata'"
    )
    conflicts: list[str] = Field(default_factory=list, description="Sources that disagreed: both values, both sources and the value used")
    patient_id: str | None = Field(None, max_length=64, description="Patient ID from the input files' metadata (DICOM PatientID)")
    birth_date: str | None = Field(None, description="Birth date YYYY-MM-DD from the input files' metadata, when present")

    def bsa_m2(self) -> float | None:
        """Body surface area by Mosteller: sqrt(height_cm * weight_kg / 3600)."""
        if self.height_cm is None or self.weight_kg is None:
            return None
        return math.sqrt(self.height_cm * self.weight_kg / 3600.0)


class StudyInput(_Model):
    """One study as the intake grouped it: the files a tool needs and the
    names to show for them."""

    study_id: str
    modality: Modality
    files: list[str] = Field(description="Absolute paths on this machine")
    display_names: list[str] = Field(default_factory=list, description="File names as the user supplied them")
    description: str = ""
    meta: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    def display_name(self, path: str | Path) -> str:
        """The user-facing name of one of this study's files."""
        p = str(path)
        if p in self.files and len(self.display_names) == len(self.files):
            return self.display_names[self.files.index(p)]
        return Path(p).name


ExpertResult.model_rebuild()
