"""One interface for every orchestrator backend (rules, openai, transformers).

Why an interface this narrow: the graph owns control flow, grounding and
provenance; a backend only proposes a plan and drafts prose. Whatever a
backend returns is checked (plan completed with required calls, prose
verified), so a weak or misbehaving model cannot weaken the report.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from agent.case import ClinicalContext, InputProblem
from agent.compose import Draft
from agent.report import ModalitySection, ToolCallRecord
from experts.core.tool import ExpertTool
from experts.core.types import Modality, StudyInput
from retrieval.types import GuidelinePassage


@dataclass
class PlannedCall:
    tool: str
    study_id: str
    options: dict[str, Any] = field(default_factory=dict)
    requested_by: str = "planner"
    reason: str = ""


@dataclass
class ComposeInput:
    sections: list[ModalitySection]
    passages_for: dict[str, list[GuidelinePassage]]
    supplied: set[Modality]
    problems: list[InputProblem]
    failed_calls: list[ToolCallRecord]
    unavailable: list[str]
    context: ClinicalContext
    feedback: list[str] = field(default_factory=list)


@dataclass
class Usage:
    calls: int = 0
    tokens: int = 0


class Backend(ABC):
    name: str = "abstract"
    model: str | None = None

    def __init__(self) -> None:
        self.usage = Usage()

    @abstractmethod
    def plan(self, studies: list[StudyInput], tools: dict[Modality, ExpertTool], context: ClinicalContext) -> list[PlannedCall]:
        """Propose tool calls. The graph adds a required call for any
        supplied study the plan leaves out."""

    @abstractmethod
    def compose(self, inp: ComposeInput) -> Draft:
        """Draft narrative and impression citing ids; limitations may be
        left to the rules composer."""
