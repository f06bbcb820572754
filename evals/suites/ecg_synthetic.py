"""ecg-synthetic: 12-lead ECGs with exact interval and rhythm truth.

Sinus rhythms at random physiology (the ECG expert's generator and its
evaluation's parameter draws: HR 45–110/min, PR 120–260 ms, QRS 70–150 ms),
plus atrial fibrillation and a left-bundle-branch-block pattern built from
the same beat model (evals/suites/ecg_gen.py). Seeds from 7,000,000 — no
tool was tuned on them. Each case is a WFDB record written at build time.
"""

from __future__ import annotations

from evals.harness.case import write_case
from evals.harness.suite import BuildContext, BuildResult
from evals.suites import ecg_gen

DESCRIPTION = "synthetic 12-lead ECGs (sinus at random rates/intervals, AF, LBBB pattern) with exact truth"
SEED_BASE = 7_000_000
DEFAULT_SIZE, FULL_SIZE = 24, 150


def plan(n: int) -> list[tuple[str, int]]:
    """(kind, seed) for n cases: every 6th is AF, every 6th (offset 3) an LBBB pattern, the rest sinus."""
    out = []
    for i in range(n):
        kind = "af" if i % 6 == 5 else "lbbb" if i % 6 == 2 else "sinus"
        out.append((kind, SEED_BASE + i))
    return out


def make(kind: str, seed: int) -> ecg_gen.SyntheticECG:
    return {"sinus": ecg_gen.sinus, "af": ecg_gen.atrial_fibrillation, "lbbb": ecg_gen.lbbb_pattern}[kind](seed)


def build_case(ctx: BuildContext, kind: str, seed: int, case_id: str | None = None):
    case_id = case_id or f"{kind}-{seed - SEED_BASE:03d}"
    ecg = make(kind, seed)
    folder = ctx.work_dir / case_id
    ecg_gen.write_wfdb(folder, f"syn{seed}", ecg)
    exp = ecg_gen.expectations(ecg)
    write_case(folder, {
        "id": case_id,
        "description": f"synthetic {kind} ECG, HR {ecg.truth['heart_rate']:.0f}/min, QRS {ecg.truth['qrs_ms']:.0f} ms"
                       + (f", PR {ecg.truth['pr_ms']:.0f} ms" if ecg.truth.get("pr_ms") else ""),
        "tags": ["ecg", "synthetic", kind],
        "source": f"evals/suites/ecg_gen.py {kind} seed {seed} (exact truth)",
        "expected": {"modalities": ["ecg"], **exp},
        "must_not": {"modalities": ["echo", "cmr", "kspace"]},
    })  # fmt: skip
    return folder


def build(ctx: BuildContext) -> BuildResult:
    n = ctx.size(DEFAULT_SIZE, FULL_SIZE)
    res = BuildResult()
    for kind, seed in plan(n):
        case_id = f"{kind}-{seed - SEED_BASE:03d}"
        if ctx.wants(case_id):
            res.cases.append(build_case(ctx, kind, seed, case_id))
    if n < FULL_SIZE:
        res.notes.append(f"reduced size: {n} of {FULL_SIZE} synthetic ECGs (--full for all)")
    return res
