"""Age and sex from a record's header, when the case context lacks them.

Why: sex- and age-specific thresholds (QTc, Cornell voltage, ST
elevation in V2–V3) need them, and many WFDB headers carry them
('<age>: 51', '# sex: female', '#Age: 7'). Diagnoses in headers are
reference labels and are never read.
"""

from __future__ import annotations

import re

from experts.core.types import PatientContext

_AGE = re.compile(r"<?\bage\b>?\s*:\s*(\d{1,3})", re.I)
_SEX = re.compile(r"<?\b(?:sex|gender)\b>?\s*:\s*(female|male|f|m)\b", re.I)


def context_from_header(comments: list[str]) -> tuple[PatientContext, list[str]]:
    text = "\n".join(comments)
    age = sex = None
    if m := _AGE.search(text):
        a = int(m.group(1))
        if 0 <= a <= 120:
            age = float(a)
    if m := _SEX.search(text):
        sex = "female" if m.group(1).lower().startswith("f") else "male"
    used = [w for w, v in (("age", age), ("sex", sex)) if v is not None]
    return PatientContext(age_years=age, sex=sex), used


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
