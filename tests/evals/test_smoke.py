"""The smoke suite end to end through `cardioagent eval`.

Default run: the fast part (the synthetic LBBB ECG and the mirage cases
that need no imaging expert and no guideline index). `-m slow`: the whole
smoke suite, as CI's evaluation step runs it (one case from every suite,
guideline index built in a fresh CARDIO_HOME)."""

from __future__ import annotations

import json

import pytest

from agent.cli import main
from evals.suites import smoke


def _run(tmp_path, *extra: str) -> tuple[int, dict, list[dict]]:
    out = tmp_path / "results"
    code = main(["eval", "smoke", "--out", str(out), "--quiet", "--bootstrap", "100", "--work", str(tmp_path / "work"), *extra])
    (run_dir,) = list((out / "smoke").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    cases = [json.loads(p.read_text()) for p in sorted((run_dir / "cases").glob("*.json"))]
    assert (run_dir / "summary.md").is_file() and (run_dir / "summary.html").is_file()
    assert "| smoke |" in (out / "leaderboard.md").read_text()
    return code, summary, cases


def _case(cases: list[dict], cid: str) -> dict:
    return next(c for c in cases if c["case_id"] == cid)


def test_fast_smoke(tmp_path):
    patterns = [f"{suite}/{i}" for suite, ids in smoke.FAST.items() for i in ids]
    code, s, cases = _run(tmp_path, *[x for p in patterns for x in ("--case", p)])
    assert code == 0
    assert s["cases"]["scored"] == len(patterns) == len(cases) and s["cases"]["errors"] == 0
    assert s["outcome"]["accuracy"] == 1.0  # refusals where refusing is right, reports elsewhere
    assert s["abstention"]["cases"] == 3 and s["abstention"]["accuracy"] == 1.0
    assert s["hallucinations"] == {**s["hallucinations"], "findings": 0, "modalities": 0, "ungrounded_sentences": 0}
    assert s["history"]["instructions_flagged"] == {"cases": 1, "correct": 1}
    assert s["grounding"]["rate"] == 1.0 and s["routing"]["recall"] == 1.0
    lbbb = _case(cases, "ecg-synthetic/lbbb-002")
    assert {r["key"]: r["correct"] for r in lbbb["scores"]["statements"]}["lbbb"]
    assert lbbb["report_html"].endswith("report.html") and lbbb["latency"]["tools"]["ecg_analyze"] > 0
    assert _case(cases, "mirage/garbage-dicom")["status"] == "rejected"
    assert s["run"]["backend"] == "rules" and s["run"]["tool_versions"].get("ecg_analyze")

    # scoring again from the stored reports gives the same numbers
    (run_dir,) = list((tmp_path / "results" / "smoke").iterdir())
    assert main(["eval", "--rescore", str(run_dir), "--out", str(tmp_path / "results"), "--bootstrap", "100"]) == 0
    again = json.loads((run_dir / "summary.json").read_text())
    assert again["headline"] == s["headline"] and again["run"]["rescored"]


@pytest.mark.slow
def test_full_smoke(tmp_path, shared_data):
    code, s, cases = _run(tmp_path)
    assert code == 0 and s["cases"]["errors"] == 0
    assert s["cases"]["scored"] == sum(len(v) for v in smoke.PICKS.values())
    assert s["hallucinations"]["findings"] == 0 and s["hallucinations"]["modalities"] == 0
    assert s["imaging"]["segmentation"]["dice"]["LV"] > 0.5  # the CMR mask artifact was scored
    assert s["imaging"]["reconstruction"]["psnr_db"] > 20  # the reconstructed cine was scored
    assert s["guidelines"]["cases"] == 1 and s["chat"]["questions"] == 4
    assert all(c["status"] in ("ok", "rejected") for c in cases)
