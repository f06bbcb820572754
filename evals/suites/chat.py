"""chat: follow-up questions on analysed cases, with expected answers.

Each case is analysed first; then its `chat:` questions are put to the
case thread one by one (agent.chat.answer, same backend), and each answer
is checked: answered or honestly not, which ids it cites, what it must and
must not say, whether a tool was re-run, and — for measurement questions
on generated cases — the value against the generator's truth.

Committed: ludb-1-questions (evals/suites/cases/chat/). Generated:
lbbb-questions, a synthetic LBBB-pattern ECG with exact QRS truth.
"""

from __future__ import annotations

from pathlib import Path

from evals.harness.case import write_case
from evals.harness.suite import BuildContext, BuildResult, folder_cases
from evals.suites import ecg_gen

DESCRIPTION = "follow-up questions on analysed cases (measurements, criteria, re-runs, guidelines, unanswerable) with expected answers"
CASES_DIR = Path(__file__).parent / "cases" / "chat"
SEED = 8_600_000


def lbbb_questions(ctx: BuildContext, case_id: str) -> Path:
    folder = ctx.work_dir / case_id
    ecg = ecg_gen.lbbb_pattern(SEED, hr=70.0)
    ecg_gen.write_wfdb(folder, "ecg", ecg)
    qrs = round(ecg.truth["qrs_ms"], 1)
    write_case(folder, {
        "id": case_id, "description": f"synthetic LBBB-pattern ECG (QRS {qrs:.0f} ms): questions on the QRS, the LBBB criteria, CRT and a missing echo",
        "tags": ["chat", "ecg", "synthetic"], "source": f"evals/suites/ecg_gen.lbbb_pattern seed {SEED} (exact QRS truth)",
        "context": {"age": 70, "sex": "male"},
        "expected": {"modalities": ["ecg"], "statements": [{"id": "lbbb", "status": "present"}]},
        "chat": [
            {"question": "What is the QRS duration?",
             "expect": {"answered": True, "cites": ["qrs_duration"],
                        "value": {"name": "qrs_duration", "value": qrs, "tolerance": ecg_gen.INTERVAL_TOLERANCE_MS["qrs_duration"], "unit": "ms"}}},
            {"question": "Why is this called left bundle branch block?",
             "expect": {"answered": True, "cites": ["lbbb", "qrs_duration"], "contains": ["120 ms"]}},
            {"question": "Does this patient need cardiac resynchronization therapy? What do the guidelines recommend?",
             "expect": {"answered": True, "cites": ["*crt*"]}},
            {"question": "What did the echocardiogram show?",
             "expect": {"answered": False, "not_contains": ["ejection fraction was", "LVEF was"]}},
        ],
    })  # fmt: skip
    return folder


def build(ctx: BuildContext) -> BuildResult:
    res = folder_cases(CASES_DIR, ctx)
    if ctx.wants("lbbb-questions"):
        res.cases.append(lbbb_questions(ctx, "lbbb-questions"))
    return res
