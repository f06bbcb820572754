"""Errors an expert may raise, each naming the file and the problem.

Why typed errors: the CLI maps `InputError` to exit code 2 and one clear
line, a batch records it in its failures table and goes on, and the LLM
planner receives it as a tool message. An unexpected exception is an
internal error (a bug), never blamed on the user's file.
"""

from __future__ import annotations

from pathlib import Path


class ExpertError(Exception):
    """Base class of errors experts raise deliberately."""


class InputError(ExpertError):
    """The input file cannot be analysed: corrupt, truncated, wrong modality,
    empty, implausible. `file` is the name the user knows the file by."""

    def __init__(self, file: str | Path, problem: str):
        self.file = str(file)
        self.problem = problem
        super().__init__(f"{self.file}: {problem}")


class ToolUnavailable(ExpertError):
    """The tool cannot run here (e.g. weights for a published model were not
    given). Not the user's file's fault; the report lists it as a limitation."""
