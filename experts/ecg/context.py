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
    """Fill missing age/sex from the header; return the notes to report."""
    header, _ = context_from_header(comments)
    notes: list[str] = []
    data = given.model_dump()
    if given.age_years is None and header.age_years is not None:
        data["age_years"] = header.age_years
        notes.append(f"Age ({header.age_years:g} y) was taken from the metadata of {source_file}.")
    if given.sex is None and header.sex is not None:
        data["sex"] = header.sex
        notes.append(f"Sex ({header.sex}) was taken from the metadata of {source_file}.")
    return PatientContext(**data), notes
