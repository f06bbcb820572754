"""The deterministic backend: route by modality, compose from templates.

The embedded default: no GPU, no network, same output for the same input.
"""

from __future__ import annotations

from agent.backends.base import Backend, ComposeInput, PlannedCall
from agent.case import ClinicalContext
from agent.compose import Draft, compose
from experts.core.tool import ExpertTool
from experts.core.types import Modality, StudyInput


class RulesBackend(Backend):
    name = "rules"
    model = None

    def plan(self, studies: list[StudyInput], tools: dict[Modality, ExpertTool], context: ClinicalContext) -> list[PlannedCall]:
        calls = []
        for study in studies:
            tool = tools.get(study.modality)
            if tool is not None:
                calls.append(
                    PlannedCall(tool=tool.name, study_id=study.study_id, reason=f"{study.modality.display} study → {tool.name}")
                )
        return calls

    def compose(self, inp: ComposeInput) -> Draft:
        return compose(inp.sections, inp.passages_for, inp.supplied, inp.problems, inp.failed_calls, inp.unavailable, inp.context)
