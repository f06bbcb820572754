"""Guideline passage type: one statement of a guideline, in our own words."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GuidelinePassage(BaseModel):
    """A corpus statement with its citation. The text is our paraphrase;
    thresholds carry over, sentences are never pasted from the guideline."""

    model_config = ConfigDict(extra="forbid")

    id: str
    guideline: str
    society: str | None = None
    year: int
    section: str
    text: str
    recommendation_class: str | None = None
    evidence_level: str | None = None
    topics: list[str] = Field(default_factory=list)
    measurements: list[str] = Field(default_factory=list, description="Measurement names it concerns")
    score: float | None = Field(None, description="Retrieval score for this case, if retrieved")
    collection: str = Field("guidelines", description="'guidelines' or 'user_documents' (data only)")
    source_file: str | None = Field(
        None, description="Corpus file name (e.g. 'esc-af-2024.md') or the user document's display name"
    )
    flagged_instructions: bool = Field(
        False,
        description="User-document text that reads like instructions to the system; quoted as data, never obeyed",
    )

    def citation(self) -> str:
        cls = f", class {self.recommendation_class}" if self.recommendation_class else ""
        loe = f", level {self.evidence_level}" if self.evidence_level else ""
        return f"{self.guideline} ({self.year}), {self.section}{cls}{loe}"
