"""Local engine end to end on real records: per-case outputs and markers,
failures table, cohort tables, summary, resume by hashes, timeout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from agent.batch.markers import DONE_MARKER, FAILURE_RECORD, read_record
from agent.batch.run import BatchUsageError, run_batch
from agent.batch.settings import BatchSettings
from agent.report import Report
from tests.batch.conftest import SMALL_BAD, SMALL_GOOD, build_small_input
from tests.batch.make_cases import add_good_case


def test_every_case_has_a_marker_and_good_cases_a_full_output_set(small_batch):
    source, settings, outcome = small_batch
    assert outcome.cases == 5 and outcome.ran == 5 and outcome.completed
    for case_id in SMALL_GOOD:
        case_dir = settings.case_dir(case_id)
        done = read_record(case_dir / DONE_MARKER)
        assert done is not None and done.status == "ok", case_id
        assert done.config_hash == settings.config_hash and len(done.input_hash) == 64
        assert done.modalities == ["ecg"]
        assert done.thread_id.startswith(case_id) and Path(done.checkpoint_db).is_file()  # the case thread can be reopened
        report = Report.model_validate_json((case_dir / "report.json").read_text())
        assert report.case_id == case_id and report.measurements()
        for fmt in ("json", "html", "pdf", "fhir"):
            assert (case_dir / done.outputs[fmt]).is_file(), (case_id, fmt)
        assert ("sr" in done.outputs) == (case_id == "ecg-dicom")  # an SR only for the DICOM input
        assert not list(case_dir.rglob("*.tmp"))  # atomic writes leave no temp files
    with_context = Report.model_validate_json((settings.case_dir("ecg-dicom") / "report.json").read_text())
    assert with_context.patient.age_years == 51 and with_context.reported_history.indication == "palpitations"


def test_failures_table_says_which_case_which_file_why(small_batch):
    _, settings, outcome = small_batch
    failures = pd.read_csv(settings.out / "failures.csv")
    by_case = {c: g for c, g in failures.groupby("case_id")}
    assert set(by_case) == set(SMALL_BAD)  # the good cases have no rows
    empty = by_case["bad-empty"].iloc[0]
    assert (empty.file, empty.kind) == ("signal.dat", "input") and "empty" in empty.problem
    partial = by_case["bad-partial"].iloc[0]
    assert (partial.file, partial.kind) == ("scan.jpg", "input_not_used")  # reported without that file
    trunc = by_case["bad-truncated"].iloc[0]
    assert (trunc.file, trunc.kind) == ("test01_00s.dat", "input") and "file truncated" in trunc.problem  # refused at intake
    assert read_record(settings.case_dir("bad-partial") / DONE_MARKER).status == "ok"
    for case_id in ("bad-empty", "bad-truncated"):
        assert read_record(settings.case_dir(case_id) / FAILURE_RECORD).status == "failed"
        assert not (settings.case_dir(case_id) / DONE_MARKER).exists()
    assert outcome.ok == 3 and outcome.failed == 2


def test_cohort_tables_csv_and_parquet(small_batch):
    _, settings, _ = small_batch
    cohort = pd.read_parquet(settings.out / "cohort.parquet")
    assert sorted(cohort.case_id) == sorted([*SMALL_GOOD, *SMALL_BAD])
    assert list(cohort.columns[:3]) == ["case_id", "status", "modalities"]
    csv = pd.read_csv(settings.out / "cohort.csv")
    assert len(csv) == len(cohort)
    long = pd.read_parquet(settings.out / "measurements.parquet")
    for case_id in SMALL_GOOD:
        report = Report.model_validate_json((settings.case_dir(case_id) / "report.json").read_text())
        rows = long[long.case_id == case_id]
        assert len(rows) == len(report.measurements())  # the long table leaves nothing out
        hr = [m for m in report.measurements() if m.name == "heart_rate"]
        if hr:
            row = cohort[cohort.case_id == case_id].iloc[0]
            assert row["ecg.heart_rate [/min]"] == pytest.approx(hr[0].value, abs=0.05)
    assert set(cohort[cohort.status == "failed"].case_id) == {"bad-empty", "bad-truncated"}


def test_summary_html_has_counts_failures_and_plots(small_batch):
    _, settings, _ = small_batch
    html = (settings.out / "summary.html").read_text()
    assert "CardioAgent batch summary" in html and "bad-empty" in html and "input_not_used" in html
    assert html.count("data:image/png;base64,") >= 1
    assert "cases/ecg-dicom/report.html" in html
    info = json.loads((settings.out / "batch.json").read_text())
    assert info["config_hash"] == settings.config_hash and info["runs"][-1]["ran"] == 5


def test_resume_skips_done_cases_and_reruns_changed_ones(small_batch, tmp_path):
    source, settings, _ = small_batch
    copy = tmp_path / "out"
    shutil.copytree(settings.out, copy, symlinks=True)
    s2 = settings.model_copy(update={"out_dir": str(copy)})
    with pytest.raises(BatchUsageError, match="--resume"):
        run_batch(source, s2, workers=1, quiet=True)  # an existing batch is never silently overwritten
    # Change one case's clinical context: its input hash changes, only it (and the two failed cases) run again.
    ctx = source / "ecg-mac" / "context.json"
    try:
        ctx.write_text(json.dumps({"age": 30}))
        again = run_batch(source, s2, workers=1, resume=True, quiet=True)
    finally:
        ctx.unlink()
    assert again.skipped == 2 and again.ran == 3  # ecg-dicom, bad-partial skipped
    events = [json.loads(ln) for ln in (copy / ".batch" / "events.jsonl").read_text().splitlines()]
    assert sorted(e["case_id"] for e in events[5:]) == ["bad-empty", "bad-truncated", "ecg-mac"]
    rerun = Report.model_validate_json((copy / "cases" / "ecg-mac" / "report.json").read_text())
    assert rerun.patient.age_years == 30
    assert len(json.loads((copy / "batch.json").read_text())["runs"]) == 2


def test_refuses_a_non_batch_output_folder(tmp_path, batch_home):
    add_good_case(tmp_path / "in", "a", "dicom-ecg")
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.docx").write_text("do not delete")
    with pytest.raises(BatchUsageError, match="not a CardioAgent batch folder"):
        run_batch(tmp_path / "in", BatchSettings(out_dir=str(out)), quiet=True)
    assert (out / "thesis.docx").read_text() == "do not delete"


def test_timeout_kills_the_case_and_the_batch_goes_on(tmp_path, batch_home):
    """A 30-minute two-lead record cannot be analysed in 0.1 s: the case must
    become a timeout row (its worker killed) while the batch completes."""
    add_good_case(tmp_path / "in", "a-long", "mitdb-100")
    settings = BatchSettings(out_dir=str(tmp_path / "out"), formats=("json",), retrieval=False, timeout_s=0.1)
    outcome = run_batch(tmp_path / "in", settings, workers=1, quiet=True)
    rec = read_record(tmp_path / "out" / "cases" / "a-long" / FAILURE_RECORD)
    assert rec is not None and rec.problems[0].kind == "timeout" and "0.1 s" in rec.problems[0].problem
    assert outcome.failed == 1 and outcome.completed
    assert "timeout" in (tmp_path / "out" / "failures.csv").read_text()


def test_small_input_builder_is_reusable(tmp_path):
    root = build_small_input(tmp_path / "x")
    assert sorted(p.name for p in root.iterdir()) == sorted([*SMALL_GOOD, *SMALL_BAD])
