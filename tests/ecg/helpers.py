"""Build ECG StudyInputs for tests without going through the agent's intake."""

from __future__ import annotations

from pathlib import Path

from experts.core.types import Modality, StudyInput


def wfdb_study(folder: Path, record: str, study_id: str = "ecg-1", extra: list[Path] | None = None) -> StudyInput:
    files = sorted(p for p in folder.iterdir() if p.name.split(".")[0] == record and p.is_file())
    files += list(extra or [])
    header = folder / f"{record}.hea"
    return StudyInput(
        study_id=study_id,
        modality=Modality.ECG,
        files=[str(p) for p in files],
        display_names=[p.name for p in files],
        meta={"format": "wfdb", "record": record, "header": str(header)},
    )


def single_file_study(path: Path, fmt: str, study_id: str = "ecg-1", display_name: str | None = None) -> StudyInput:
    return StudyInput(
        study_id=study_id,
        modality=Modality.ECG,
        files=[str(path)],
        display_names=[display_name or path.name],
        meta={"format": fmt},
    )
