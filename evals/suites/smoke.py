"""smoke: a few cases from every suite, for CI (target: under 3 minutes).

One case per simulator suite, one real record (when ../shared/data is
present), the mirage cases that cost nothing (injected instructions, a
garbage file, notes only, a truncated record), one multimodal case with
guideline retrieval, and one chat case. `FAST` is the subset the default
test run uses (no imaging experts, no retrieval index).
"""

from __future__ import annotations

import fnmatch
import importlib

from evals.harness.suite import SUITES, BuildContext, BuildResult

DESCRIPTION = "a few cases from every suite (CI, < 3 min)"
PICKS: dict[str, list[str]] = {
    "ecg-synthetic": ["lbbb-002"],
    "ecg-real": ["cinc2017-A00004"],
    "mirage": ["injected-instructions", "garbage-dicom", "notes-only", "truncated-ecg"],
    "chat": ["lbbb-questions"],
    "echo-sim": ["echo-000"],
    "cmr-sim": ["cmr-000"],
    "recon-sim": ["recon-000-R4"],
    "multimodal": ["af-dilated-lv"],
}
FAST: dict[str, list[str]] = {
    "ecg-synthetic": ["lbbb-002"],
    "mirage": ["injected-instructions", "garbage-dicom", "notes-only", "truncated-ecg"],
}


def build_picks(ctx: BuildContext, picks: dict[str, list[str]]) -> BuildResult:
    res = BuildResult()
    for suite, ids in picks.items():
        if ctx.select is not None:
            ids = [i for i in ids if any(fnmatch.fnmatchcase(i, p) or fnmatch.fnmatchcase(f"{suite}/{i}", p) for p in ctx.select)]
        if not ids:
            continue
        sub = BuildContext(work_dir=ctx.work_dir / suite, select=ids, shared=ctx.shared)
        sub.work_dir.mkdir(parents=True, exist_ok=True)
        built = importlib.import_module(SUITES[suite]).build(sub)
        built.notes = []  # the suites' size notes describe their own runs, not this one
        res.extend(built, prefix=f"{suite}/")
    return res


def build(ctx: BuildContext) -> BuildResult:
    return build_picks(ctx, PICKS)
