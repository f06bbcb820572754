"""The LangGraph graph end to end with test-double tools: routing, fan-out,
derived studies, failures, LLM-like backends that misbehave, streaming,
checkpointed threads, and strict abort that writes nothing."""

from __future__ import annotations

import json

import pytest

from agent.backends.base import Backend, ComposeInput, PlannedCall
from agent.backends.rules import RulesBackend
from agent.case import ClinicalContext
from agent.compose import Draft
from agent.report import ImpressionItem
from agent.runner import analyze
from experts import registry
from experts.core.types import Modality, PatientContext
from tests import fixtures
from tests.toy_tools import TOY_PATHS


@pytest.fixture()
def toy_registry(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "TOOL_PATHS", dict(TOY_PATHS))
    registry.load_tool.cache_clear()
    monkeypatch.setenv("CARDIO_HOME", str(tmp_path / "home"))
    yield
    registry.load_tool.cache_clear()


def _case(tmp_path, name="rec", seconds=20.0):
    return fixtures.make_wfdb(tmp_path / "in", name=name, seconds=seconds)


def test_full_run_writes_grounded_report(toy_registry, tmp_path):
    hea = _case(tmp_path)
    events = []
    out = analyze([hea.parent], ClinicalContext(patient=PatientContext(age_years=60, sex="female"), notes="Palpitations."),
                  tmp_path / "out", on_event=events.append, retrieval=False)  # fmt: skip
    assert out.ok
    r = out.report
    assert [s.modality for s in r.sections] == [Modality.ECG]
    hr = r.measurements()[0]
    assert hr.value == 36.0 and hr.unit == "/min" and hr.source.tool == "toy_ecg"
    assert r.grounding.sentences_removed == 0 and r.grounding.numbers_traced == r.grounding.numbers_checked > 0
    assert any("Sinus bradycardia" in i.text for i in r.impression)
    assert r.provenance.tool_calls[0].ok and r.provenance.plan
    assert {"intake", "plan", "retrieve", "compose", "verify"} <= set(r.provenance.node_timings_s)  # render writes the report itself
    for fmt in ("json", "md", "html"):
        assert (tmp_path / "out" / f"report.{fmt}").is_file()
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["status"] == "preliminary" and "not a diagnosis" in data["disclaimer"]
    kinds = [e["event"] for e in events]
    assert "tool_start" in kinds and "tool_end" in kinds and kinds.count("node_start") >= 6
    assert r.reported_history.notes_excerpt == "Palpitations."


def test_derived_study_is_routed_to_its_expert(toy_registry, tmp_path):
    k = fixtures.make_kspace_npz(tmp_path / "in" / "k.npz")
    out = analyze([k], None, tmp_path / "out", retrieval=False)
    assert out.ok
    mods = [s.modality for s in out.report.sections]
    assert mods == [Modality.KSPACE, Modality.CMR]
    assert out.report.sections[1].study_id == "kspace-1-recon"
    assert out.report.measurements()[0].value == pytest.approx(96.0)


def test_tool_failure_becomes_a_limitation_and_the_case_goes_on(toy_registry, tmp_path):
    good = _case(tmp_path, "good")
    bad = fixtures.make_wfdb(tmp_path / "in2", name="broken")
    out = analyze([good.parent, bad.parent], None, tmp_path / "out", retrieval=False)
    assert out.ok
    assert len(out.report.sections) == 1
    assert any("broken.hea: toy failure" in lim for lim in out.report.limitations)
    assert [c.ok for c in out.report.provenance.tool_calls].count(False) == 1


def test_strict_abort_writes_nothing(toy_registry, tmp_path):
    hea = _case(tmp_path)
    (tmp_path / "in" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0JFIF")
    out = analyze([hea.parent], None, tmp_path / "out")
    assert not out.ok
    assert [p.file for p in out.problems] == ["photo.jpg"]
    assert not (tmp_path / "out").exists()
    partial = analyze([hea.parent], None, tmp_path / "out2", strict=False, retrieval=False)
    assert partial.ok and any("photo.jpg" in lim for lim in partial.report.limitations)


class ForgetfulLiar(Backend):
    """An LLM-like backend that skips the ECG and invents findings."""

    name = "fake-llm"
    model = "liar-1"

    def plan(self, studies, tools, context):
        return [PlannedCall(tool="does_not_exist", study_id="ecg-9")]

    def compose(self, inp: ComposeInput) -> Draft:
        self.usage.calls += 1
        return Draft(narrative=["The echocardiogram shows an EF of 70%. Atrial fibrillation is present."],
                     impression=[ImpressionItem(text="Start anticoagulation.")])  # fmt: skip


def test_ignored_modality_still_runs_and_lying_draft_falls_back(toy_registry, tmp_path):
    hea = _case(tmp_path)
    backend = ForgetfulLiar()
    out = analyze([hea.parent], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    assert r.provenance.tool_calls[0].requested_by == "required"
    assert any(step.startswith("dropped invalid call") for step in r.provenance.plan)
    assert backend.usage.calls == 2  # first draft + one retry with feedback
    assert r.grounding.composer == "rules" and r.grounding.fell_back
    text = " ".join(r.narrative + [i.text for i in r.impression])
    assert "70%" not in text and "echocardiogram" not in text and "anticoagulation" not in text
    assert r.provenance.backend == "fake-llm" and r.provenance.llm_calls == 2


def test_case_is_a_checkpointed_thread(toy_registry, tmp_path):
    from agent.graph import build_graph
    from agent.runner import sqlite_checkpointer

    hea = _case(tmp_path)
    db = tmp_path / "threads.sqlite"
    out = analyze([hea.parent], None, tmp_path / "out", checkpoint_db=db, backend=RulesBackend(), retrieval=False)
    with sqlite_checkpointer(db) as saver:
        graph = build_graph(saver)
        state = graph.get_state({"configurable": {"thread_id": out.thread_id}})
        assert state.values["report"]["report_id"] == out.report.report_id
        history = list(graph.get_state_history({"configurable": {"thread_id": out.thread_id}}))
        assert len(history) >= 8  # one checkpoint per node step


def test_a_modality_switched_off_is_not_analysed_and_says_so(toy_registry, tmp_path):
    hea = _case(tmp_path)
    k = fixtures.make_kspace_npz(tmp_path / "in" / "k.npz")
    out = analyze([hea.parent, k], None, tmp_path / "out", retrieval=False, enabled_modalities={"kspace", "cmr"})
    assert [s.modality for s in out.report.sections] == [Modality.KSPACE, Modality.CMR]
    assert any("ECG analysis was switched off for this run; ecg-1 was not analysed." == lim for lim in out.report.limitations)
