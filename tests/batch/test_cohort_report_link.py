"""The cohort's `report` column points at a report the case actually wrote:
HTML when written, else Markdown, else JSON (QA: `--formats json,md`
linked every case to a report.html that did not exist)."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd

from agent.batch.cohort import report_link
from tests.batch.make_cases import REPO, add_good_case


def test_report_link_prefers_html_then_md_then_json(tmp_path):
    case = tmp_path / "cases" / "c1"
    case.mkdir(parents=True)
    assert report_link(case, "c1") is None
    (case / "report.json").write_text("{}")
    assert report_link(case, "c1") == "cases/c1/report.json"
    (case / "report.md").write_text("# r")
    assert report_link(case, "c1") == "cases/c1/report.md"
    (case / "report.html").write_text("<html></html>")
    assert report_link(case, "c1") == "cases/c1/report.html"


def test_batch_cli_json_md_links_the_markdown_report(tmp_path):
    add_good_case(tmp_path / "in", "c1", "dicom-ecg")
    out = tmp_path / "out"
    env = {**os.environ, "CARDIO_HOME": str(tmp_path / "home")}
    r = subprocess.run([sys.executable, "-m", "agent.cli", "batch", str(tmp_path / "in"), "--out", str(out), "--formats", "json,md",
                        "--no-retrieval", "--quiet"], capture_output=True, text=True, cwd=REPO, env=env, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    case_dir = out / "cases" / "c1"
    assert (case_dir / "report.md").is_file() and not (case_dir / "report.html").exists()
    cohort = pd.read_csv(out / "cohort.csv")
    link = cohort.set_index("case_id").loc["c1", "report"]
    assert link == "cases/c1/report.md" and (out / link).is_file()
    summary = (out / "summary.html").read_text()
    assert "cases/c1/report.md" in summary and "cases/c1/report.html" not in summary
