"""Which tool serves which modality, imported lazily.

Why lazy: importing an expert pulls in torch, MONAI or neurokit2; the CLI
must start fast and a missing optional expert must not break the others.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from experts.core.tool import ExpertTool
from experts.core.types import Modality

TOOL_PATHS: dict[Modality, str] = {
    Modality.ECG: "experts.ecg.tool:ECGTool",
    Modality.ECHO: "experts.echo.tool:EchoTool",
    Modality.CMR: "experts.cmr.tool:CMRTool",
    Modality.KSPACE: "experts.recon.tool:ReconTool",
}


class NoToolForModality(LookupError):
    pass


@lru_cache(maxsize=None)
def load_tool(modality: Modality) -> ExpertTool:
    """Import and instantiate the tool for a modality (once per process)."""
    path = TOOL_PATHS.get(modality)
    if path is None:
        raise NoToolForModality(f"no expert is registered for {modality.value}")
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module_name or module_name.startswith(exc.name + ".")):
            raise NoToolForModality(f"the {modality.display} expert is not installed in this build") from exc
        raise
    return getattr(module, attr)()


def tool_for_name(name: str) -> ExpertTool:
    """Find a tool by its function name (as the LLM calls it)."""
    for modality in TOOL_PATHS:
        try:
            tool = load_tool(modality)
        except NoToolForModality:
            continue
        if tool.name == name:
            return tool
    raise NoToolForModality(f"no tool is named {name!r}")


def available_tools() -> list[ExpertTool]:
    tools = []
    for modality in TOOL_PATHS:
        try:
            tools.append(load_tool(modality))
        except NoToolForModality:
            continue
    return tools
