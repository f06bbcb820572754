"""The settings every worker needs, as one JSON-able model.

Why one model: the same object crosses a process pipe (local engine) and a
Ray task boundary (cluster engine), and its report-changing part is what
the configuration hash is computed from.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

ALL_FORMATS = ("json", "md", "html", "pdf", "fhir", "sr")
DEFAULT_FORMATS = ("json", "html", "pdf", "fhir", "sr")


class BatchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out_dir: str
    formats: tuple[str, ...] = DEFAULT_FORMATS
    backend: str | None = None
    strict: bool = Field(False, description="True: any unusable input fails the whole case (as `analyze` without --allow-partial)")
    retrieval: bool = True
    timeout_s: float | None = Field(900.0, description="Per-case wall-clock limit; None for no limit")
    weights: dict[str, str] = Field(default_factory=dict, description="User weights: 'tool.option' -> absolute path (see agent/weights.py)")
    keep_threads: bool = Field(True, description="Keep each case's LangGraph thread (SQLite, ~0.4 MB per ECG case) so it can be reopened")
    config_hash: str = ""

    @property
    def out(self) -> Path:
        return Path(self.out_dir)

    def case_dir(self, case_id: str) -> Path:
        return self.out / "cases" / case_id

    @property
    def state_dir(self) -> Path:
        """Batch bookkeeping (lock, checkpoints of the case threads)."""
        return self.out / ".batch"
