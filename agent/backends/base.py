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
    call_id: str | None = None  # the LLM's tool-call id, so the result can be answered to it


@dataclass
class ToolCallRequest:
    """A tool call as a model emitted it: arguments are the raw JSON text,
    validated by the graph (a model's arguments are never trusted)."""

    id: str
    name: str
    arguments: str


@dataclass
class AgentTurn:
    """One model turn of a tool-calling conversation. `message` is the
    assistant message in OpenAI chat format, appended to the conversation
    so the next turn sees what the model asked for."""

    message: dict[str, Any]
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    text: str = ""


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
    """LLM usage of one backend object (one case, or one chat session).
    `token_counter` says how tokens were counted: 'server' (the endpoint's
    own usage report or /tokenize, i.e. the served model's tokenizer),
    'tokenizer' (a local model's tokenizer) or 'approximate'."""

    calls: int = 0
    tokens: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # wall time waiting for the model
    cpu_seconds: float = 0.0  # this process's CPU spent on model calls (client work, in-process models)
    token_counter: str = "none"


class Backend(ABC):
    name: str = "abstract"
    model: str | None = None
    # An agentic backend plans by tool calling: the graph runs a bounded
    # loop of `plan_turn` calls, executes the calls itself and answers each
    # with its result or error. Non-agentic backends only implement `plan`.
    agentic: bool = False
    max_plan_steps: int = 4

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

    def plan_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> AgentTurn:
        """One tool-calling turn (agentic backends only): given the
        conversation so far and the tools' JSON schemas, return the model's
        reply and the calls it asks for."""
        raise NotImplementedError(f"backend {self.name!r} does not plan by tool calling")
