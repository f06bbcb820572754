"""The report schema: what CardioAgent hands to a clinician or a system.

Why this shape: a report is only as trustworthy as its weakest sentence, so
prose (narrative, impression) is kept apart from the structured results it
cites, and every prose item lists the ids it rests on. The grounding block
says how many sentences and numbers were checked and what was removed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent import __version__
from agent.case import InputProblem
from experts.core.types import (
    SCHEMA_VERSION,
    Artifact,
    ExpertResult,
    Measurement,
    Modality,
    PatientContext,
    Quality,
    Statement,
)
from retrieval.types import GuidelinePassage

DISCLAIMER = (
    "Decision support only, not a diagnosis. Generated automatically by CardioAgent from the supplied files; "
    "every value was measured by the software tool named beside it and must be reviewed and confirmed by a "
    "qualified clinician before clinical use. Not validated as a medical device."
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StudySummary(_Model):
    study_id: str
    modality: Modality
    files: list[str] = Field(description="File names as supplied")
    description: str = ""
    acquired_at: str | None = Field(None, description="Acquisition date/time (ISO 8601) from the files' metadata, when they carry one")


class ModalitySection(_Model):
    """The results of one tool call on one study."""

    study_id: str
    modality: Modality
    tool: str
    tool_version: str
    files: list[str]
    quality: Quality
    measurements: list[Measurement] = Field(default_factory=list)
    statements: list[Statement] = Field(default_factory=list)
    artifacts: list[Artifact] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @classmethod
    def from_result(cls, result: ExpertResult) -> "ModalitySection":
        return cls(
            study_id=result.study_id,
            modality=result.modality,
            tool=result.tool,
            tool_version=result.version,
            files=result.inputs,
            quality=result.quality,
            measurements=result.measurements,
            statements=result.statements,
            artifacts=result.artifacts,
            warnings=result.warnings,
        )


class ImpressionItem(_Model):
    text: str
    statement_ids: list[str] = Field(default_factory=list)
    measurement_ids: list[str] = Field(default_factory=list)
    passage_ids: list[str] = Field(default_factory=list)
    kind: Literal["finding", "measurement", "recommendation", "note"] = "finding"


class RemovedSentence(_Model):
    text: str
    reason: str
    where: Literal["narrative", "impression", "answer"]


class GroundingSummary(_Model):
    sentences_checked: int = 0
    sentences_kept: int = 0
    sentences_removed: int = 0
    numbers_checked: int = 0
    numbers_traced: int = 0
    untraced_numbers: int = 0
    diagnoses_without_evidence: int = 0
    recommendations_without_guideline: int = 0
    unsupplied_modalities_mentioned: int = 0
    unknown_citations: int = 0
    removed: list[RemovedSentence] = Field(default_factory=list)
    composer: str = Field("rules", description="Which composer produced the final prose")
    fell_back: bool = Field(False, description="True when an LLM draft failed twice and the rules composer took over")

    @property
    def grounding_rate(self) -> float:
        return 1.0 if self.numbers_checked == 0 else self.numbers_traced / self.numbers_checked


class ToolCallRecord(_Model):
    tool: str
    study_id: str
    options: dict = Field(default_factory=dict)
    ok: bool
    error: str | None = None
    runtime_s: float = 0.0
    requested_by: Literal["planner", "llm", "required", "chat"] = "planner"


class ToolProvenance(_Model):
    tool: str
    version: str
    model: str | None = None
    weights_sha256: str | None = None


class Provenance(_Model):
    app: str = "cardioagent"
    app_version: str = __version__
    schema_version: str = SCHEMA_VERSION
    backend: str = "rules"
    llm_model: str | None = None
    tools: list[ToolProvenance] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    plan: list[str] = Field(default_factory=list, description="The plan as logged, one line per step")
    node_timings_s: dict[str, float] = Field(default_factory=dict)
    retrieval_note: str | None = None
    llm_calls: int = 0
    llm_tokens: int = 0


class ReportedHistory(_Model):
    """Clinical context as the user supplied it: quoted, never verified."""

    indication: str | None = None
    notes_excerpt: str | None = None
    notes_source: str | None = None
    flagged_instructions: list[str] = Field(
        default_factory=list, description="Passages that read like instructions to the system; ignored"
    )


class SignOff(_Model):
    clinician: str
    signed_at: datetime
    action: Literal["signed", "amended"] = "signed"
    comment: str | None = None


class Report(_Model):
    schema_version: str = SCHEMA_VERSION
    report_id: str
    case_id: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    status: Literal["preliminary", "final", "amended"] = "preliminary"
    patient: PatientContext = Field(default_factory=PatientContext)
    reported_history: ReportedHistory = Field(default_factory=ReportedHistory)
    studies: list[StudySummary] = Field(default_factory=list)
    sections: list[ModalitySection] = Field(default_factory=list)
    narrative: list[str] = Field(default_factory=list)
    impression: list[ImpressionItem] = Field(default_factory=list)
    guidelines: list[GuidelinePassage] = Field(default_factory=list)
    limitations: list[str] = Field(default_factory=list)
    rejected_inputs: list[InputProblem] = Field(default_factory=list)
    grounding: GroundingSummary = Field(default_factory=GroundingSummary)
    provenance: Provenance = Field(default_factory=Provenance)
    signoffs: list[SignOff] = Field(default_factory=list)
    disclaimer: str = DISCLAIMER

    def measurements(self) -> list[Measurement]:
        return [m for s in self.sections for m in s.measurements]

    def statements(self) -> list[Statement]:
        return [st for s in self.sections for st in s.statements]

    def supplied_modalities(self) -> set[Modality]:
        return {s.modality for s in self.studies}
