"""agent.signoff: the LangGraph interrupt that waits for the clinician, the
allowed status transitions and the atomic re-render of the report set."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from agent.report import Report
from agent.signoff import (
    SignoffDecision,
    SignoffError,
    open_signoff,
    pending_signoff,
    sign_report,
    signoff_thread_id,
    submit_signoff,
)
from tests.toy_tools import TOY_PATHS
from tests.ui.conftest import toy_case


@pytest.fixture()
def report_dir(monkeypatch, tmp_path):
    """A real report set written by the graph (toy ECG tool: fast)."""
    with toy_case(monkeypatch, tmp_path, TOY_PATHS) as out:
        (tmp_path / "out" / ".thread").write_text(out.thread_id)
        yield tmp_path / "out"


def _status(d) -> str:
    return json.loads((d / "report.json").read_text())["status"]


def test_open_pauses_and_persists_across_processes(report_dir):
    pending = open_signoff(report_dir, "case-1:signoff")
    assert pending.status == "preliminary" and pending.allowed == ["signed", "amended"]
    # a fresh checkpointer connection (another process, a UI restart) sees the same pause
    again = pending_signoff("case-1:signoff")
    assert again is not None and again.report_id == pending.report_id and again.report_dir == str(report_dir)
    # opening twice does not start a second round
    assert open_signoff(report_dir, "case-1:signoff").report_id == pending.report_id
    assert _status(report_dir) == "preliminary"  # nothing changes before the decision


def test_sign_turns_preliminary_into_final_and_rerenders(report_dir):
    before_html = (report_dir / "report.html").read_text()
    assert "PRELIMINARY" in before_html
    open_signoff(report_dir, "t:signoff")
    when = datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc)
    report = submit_signoff("t:signoff", {"clinician": "Dr A. Example", "action": "signed", "comment": "Agree."}, now=when)
    assert report.status == "final"
    assert [(s.clinician, s.action, s.comment, s.signed_at) for s in report.signoffs] == [("Dr A. Example", "signed", "Agree.", when)]
    on_disk = Report.model_validate_json((report_dir / "report.json").read_text())
    assert on_disk.status == "final" and on_disk.signoffs[0].clinician == "Dr A. Example"
    html = (report_dir / "report.html").read_text()
    assert "FINAL" in html and "signed by Dr A. Example at 2026-11-26 09:30 UTC: Agree." in html
    assert "**Status:** FINAL" in (report_dir / "report.md").read_text()
    assert pending_signoff("t:signoff") is None
    assert not list(report_dir.glob(".*.tmp"))  # atomic writes leave no temp files


def test_amend_after_signing_needs_a_comment(report_dir):
    sign_report(report_dir, SignoffDecision(clinician="Dr A"), "t2:signoff")
    assert _status(report_dir) == "final"
    open_signoff(report_dir, "t2:signoff")
    with pytest.raises(SignoffError, match="already final"):
        submit_signoff("t2:signoff", {"clinician": "Dr B", "action": "signed"})
    with pytest.raises(SignoffError, match="needs a comment"):
        submit_signoff("t2:signoff", {"clinician": "Dr B", "action": "amended", "comment": "   "})
    assert pending_signoff("t2:signoff") is not None  # refused decisions leave the round waiting
    report = submit_signoff("t2:signoff", {"clinician": "Dr B", "action": "amended", "comment": "QT measured manually: 470 ms."})
    assert report.status == "amended"
    assert [s.action for s in report.signoffs] == ["signed", "amended"]
    assert "AMENDED" in (report_dir / "report.html").read_text()


def test_decision_is_validated(report_dir):
    open_signoff(report_dir, "t3:signoff")
    with pytest.raises(SignoffError, match="name is required"):
        submit_signoff("t3:signoff", {"clinician": " \x1b ", "action": "signed"})
    with pytest.raises(SignoffError):
        submit_signoff("t3:signoff", {"clinician": "Dr C", "action": "approve"})
    with pytest.raises(SignoffError, match="no sign-off is waiting"):
        submit_signoff("other:signoff", {"clinician": "Dr C"})
    assert _status(report_dir) == "preliminary"


def test_interrupt_revalidates_a_bad_resume(report_dir):
    """Resuming the graph directly with a bad value pauses again with the
    reason (the validate-in-a-loop pattern), instead of writing anything."""
    from langgraph.types import Command

    from agent.runner import sqlite_checkpointer
    from agent.signoff import build_signoff_graph

    open_signoff(report_dir, "t4:signoff")
    config = {"configurable": {"thread_id": "t4:signoff"}}
    with sqlite_checkpointer() as saver:
        build_signoff_graph(saver).invoke(Command(resume={"clinician": "Dr D", "action": "amended"}), config)
    pending = pending_signoff("t4:signoff")
    assert pending is not None and "comment" in (pending.error or "")
    assert _status(report_dir) == "preliminary"


def test_missing_report_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path / "home"))
    with pytest.raises(SignoffError, match="no report.json"):
        open_signoff(tmp_path, signoff_thread_id("x"))


def test_pdf_and_fhir_are_rerendered_when_present(report_dir):
    pytest.importorskip("agent.render.pdf")
    pytest.importorskip("agent.render.fhir")
    from agent.render import write_report

    write_report(Report.model_validate_json((report_dir / "report.json").read_text()), report_dir, ["pdf", "fhir"])
    sign_report(report_dir, {"clinician": "Dr E"}, "t5:signoff")
    bundle = json.loads((report_dir / "report.fhir.json").read_text())
    assert '"final"' in json.dumps(bundle)
    dr = bundle["entry"][0]["resource"]
    assert dr["resourceType"] == "DiagnosticReport" and dr["resultsInterpreter"] == [{"display": "Dr E"}]
    signed = Report.model_validate_json((report_dir / "report.json").read_text()).signoffs[-1].signed_at
    assert datetime.fromisoformat(dr["issued"]) == signed
    assert (report_dir / "report.pdf").stat().st_size > 1000


def test_signed_report_replaces_the_preliminary_one_in_the_case_thread(report_dir):
    """Follow-up questions and reopened cases read the case from its thread:
    after sign-off they must see the signed report, with who and when."""
    from agent import chat

    case_thread = (report_dir / ".thread").read_text()
    assert chat.load_case(case_thread).report.status == "preliminary"
    when = datetime(2026, 11, 26, 10, 5, tzinfo=timezone.utc)
    open_signoff(report_dir, signoff_thread_id(case_thread))
    submit_signoff(signoff_thread_id(case_thread), {"clinician": "Dr T. Hread", "comment": "Agree."}, now=when)
    stored = chat.load_case(case_thread).report
    assert stored.status == "final" and [(s.clinician, s.signed_at) for s in stored.signoffs] == [("Dr T. Hread", when)]
    assert stored == Report.model_validate_json((report_dir / "report.json").read_text())
    # a follow-up after signing still answers from the case (and keeps the thread's signed report)
    answer = chat.answer(case_thread, "What was the heart rate?", "rules")
    assert answer.answered and chat.load_case(case_thread).report.status == "final"
    assert "Signed by Dr T. Hread at 2026-11-26 10:05 UTC — Agree." in (report_dir / "report.md").read_text()


def test_a_signoff_thread_of_another_name_leaves_case_threads_alone(report_dir):
    from agent import chat
    from agent.signoff import case_thread_of

    case_thread = (report_dir / ".thread").read_text()
    assert case_thread_of(signoff_thread_id(case_thread)) == case_thread and case_thread_of("adhoc") is None
    sign_report(report_dir, {"clinician": "Dr S"}, "adhoc")
    assert _status(report_dir) == "final" and chat.load_case(case_thread).report.status == "preliminary"
