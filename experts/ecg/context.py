"""Age and sex from a record's header, when the case context lacks them.

Why: sex- and age-specific thresholds (QTc, Cornell voltage, ST
elevation in V2–V3) need them. The header parser is shared with the agent's
intake (experts/core/header_demographics.py); this module only fills and
notes what the given context lacks.
"""

from __future__ import annotations

from experts.core.header_demographics import context_from_header
from experts.core.types import PatientContext


def merge_context(given: PatientContext, comments: list[str], source_file: str) -> tuple[PatientContext, list[str]]:
    """Fill missing age/sex from the header; return the notes to report.

    Usually the agent has already merged file metadata before the tool runs
    (agent/patient.py), so nothing is filled here; a header value that
    disagrees with the one given is noted unless already recorded."""
    header, _ = context_from_header(comments)
    notes: list[str] = []
    data = given.model_dump()
    sources = dict(given.sources)
    label = f"{source_file} metadata"
    if given.age_years is None and header.age_years is not None:
        data["age_years"] = header.age_years
        sources["age_years"] = label
        notes.append(f"Age ({header.age_years:g} y) was taken from the metadata of {source_file}.")
    elif given.age_years is not None and header.age_years is not None and abs(given.age_years - header.age_years) >= 1:
        if not any(source_file in c for c in given.conflicts if c.startswith("Age")):
            notes.append(f"Age: {given.age_years:g} y was used but {source_file} metadata gives {header.age_years:g} y; "
                         "check that the file belongs to this patient.")  # fmt: skip
    if given.sex is None and header.sex is not None:
        data["sex"] = header.sex
        sources["sex"] = label
        notes.append(f"Sex ({header.sex}) was taken from the metadata of {source_file}.")
    elif given.sex is not None and header.sex is not None and given.sex != header.sex:
        if not any(source_file in c for c in given.conflicts if c.startswith("Sex")):
            notes.append(f"Sex: {given.sex} was used but {source_file} metadata gives {header.sex}; "
                         "check that the file belongs to this patient.")  # fmt: skip
    data["sources"] = sources
    return PatientContext(**data), notes
