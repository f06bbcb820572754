"""Age and sex written in a record header's comments.

Why here, in core: many WFDB headers carry them ('<age>: 51', '# sex:
female', '#Age: 7'), and both the agent's intake (merging patient data from
file metadata, agent/patient.py) and the ECG expert (filling a missing age
or sex, experts/ecg/context.py) read them; one parser keeps them agreeing.
Diagnoses in headers are reference labels and are never read.
"""

from __future__ import annotations

import re

from experts.core.types import PatientContext

_AGE = re.compile(r"<?\bage\b>?\s*:\s*(\d{1,3})", re.I)
_SEX = re.compile(r"<?\b(?:sex|gender)\b>?\s*:\s*(female|male|f|m)\b", re.I)


def context_from_header(comments: list[str]) -> tuple[PatientContext, list[str]]:
    """(age and sex found, names of the fields found) from header comment lines."""
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
