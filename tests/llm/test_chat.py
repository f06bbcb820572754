"""Follow-up questions on a case thread: look-ups, criteria, re-runs with
other tool options, guideline search, plain 'cannot answer' — all under the
report's grounding rule, with rules and with a scripted LLM."""

from __future__ import annotations

import pytest

from agent.chat import ChatError, answer, history
from agent.runner import analyze
from agent.verifier import CaseEvidence, verify_answer
from retrieval.types import GuidelinePassage
from tests.llm.scripted import Reply, scripted_backend

HF_PASSAGE = GuidelinePassage(id="esc-hf-2021-icd-primary", guideline="ESC Guidelines for heart failure", society="ESC", year=2021,
                              section="Implantable cardioverter-defibrillator", recommendation_class="I", evidence_level="A",
                              text="An ICD is recommended to reduce the risk of sudden death in symptomatic HF with LVEF ≤35% despite "
                                   "≥3 months of optimal medical therapy.")  # fmt: skip


def fake_search(query: str, k: int) -> list[GuidelinePassage]:
    return [HF_PASSAGE] if "recommend" in query.lower() or "icd" in query.lower() else []


@pytest.fixture()
def thread(toy_registry, ecg_case, tmp_path):
    db = tmp_path / "threads.sqlite"
    out = analyze([ecg_case], None, tmp_path / "out", checkpoint_db=db, retrieval=False)
    return out.thread_id, db, out.report


def ask(thread, question, backend=None, **kw):
    tid, db, _ = thread
    return answer(tid, question, backend, checkpoint_db=db, search=fake_search, **kw)


def assert_grounded(a, report):
    """Nothing in the answer fails the verifier against the case + what the answer itself produced."""
    ev = CaseEvidence.build(report.measurements() + a.measurements, report.statements(), a.passages, report.supplied_modalities())
    _, summary = verify_answer(a.text, ev)
    assert summary.sentences_removed == 0 and a.grounding.sentences_removed == 0, summary.removed


def test_qtc_by_another_formula_reruns_the_tool_and_is_remembered(thread):
    a = ask(thread, "What was the QTc by Fridericia?")
    assert a.intent == "rerun" and a.answered
    assert [(c.tool, c.options, c.requested_by, c.ok) for c in a.tool_calls] == [("toy_ecg_qt", {"qtc_formula": "fridericia"}, "chat", True)]
    m = a.measurements[0]
    assert m.name == "qtc_fridericia" and a.text == f"QTc (Fridericia) was {m.with_unit()} [M:ecg-1.qtc_fridericia]."
    assert_grounded(a, thread[2])
    again = ask(thread, "and the QTc by Fridericia again?")
    assert again.intent == "measurement" and again.tool_calls == [] and again.measurements[0].value == m.value
    turns = history(thread[0], thread[1])
    assert [t["intent"] for t in turns] == ["rerun", "measurement"] and turns[0]["new_measurements"][0]["id"] == "ecg-1.qtc_fridericia"


def test_why_lbbb_gives_criteria_values_thresholds_and_guideline(thread):
    a = ask(thread, "Why do you call this LBBB?")
    assert a.intent == "statement" and a.answered
    assert "Complete left bundle branch block: reported as present by toy_ecg_qt [S:ecg-1.lbbb]." in a.text
    # the verifier treats the title of a cited criterion's guideline as a name, so the reference stays inline
    assert ("Criterion: QRS duration 148 ms >= 120 ms, met; threshold from AHA/ACCF/HRS recommendations for the standardization and "
            "interpretation of the ECG, Part III (2009), Left bundle branch block [S:ecg-1.lbbb][M:ecg-1.qrs_duration].") in a.text
    assert [r.short() for r in a.references] == [
        "AHA/ACCF/HRS recommendations for the standardization and interpretation of the ECG, Part III (2009), Left bundle branch block"]
    assert_grounded(a, thread[2])


def test_absent_finding_is_reported_as_absent(thread):
    a = ask(thread, "Is there atrial fibrillation?")
    assert a.text.startswith("Atrial fibrillation: reported as absent") and a.answered
    assert_grounded(a, thread[2])


def test_finding_nobody_assessed_is_neither_confirmed_nor_excluded(thread):
    a = ask(thread, "Is there a pericardial effusion?")
    assert not a.answered and "neither confirm nor exclude" in a.text
    assert "effusion" not in a.text.lower()
    assert_grounded(a, thread[2])


def test_measurement_lookup_and_missing_quantity(thread):
    a = ask(thread, "what was the heart rate?")
    assert a.intent == "measurement" and a.text.startswith("Heart rate was 36 bpm [M:ecg-1.heart_rate], flagged low")
    assert_grounded(a, thread[2])
    both = ask(thread, "what were the QRS and QT intervals?")
    assert both.cited_ids == ["ecg-1.qrs_duration", "ecg-1.qt_interval"] and both.answered
    b = ask(thread, "What was the ejection fraction?")
    assert not b.answered and b.text.startswith("This case has no left ventricular ejection fraction measurement.")


def test_guideline_question_quotes_passages_and_never_adopts_the_questions_number(thread):
    a = ask(thread, "What does the guideline recommend for EF 35%?")
    assert a.intent == "guideline" and a.answered and [p.id for p in a.passages] == ["esc-hf-2021-icd-primary"]
    assert "[G:esc-hf-2021-icd-primary]" in a.text
    assert "35" not in a.text and "no left ventricular ejection fraction measurement" in a.text
    assert_grounded(a, thread[2])


def test_unanswerable_question_says_so_plainly(thread):
    a = ask(thread, "What is the patient's favourite colour?")
    assert a.intent == "unanswerable" and not a.answered and "I cannot answer this from this case's results." in a.text
    assert_grounded(a, thread[2])


def test_report_file_without_thread_cannot_rerun(thread, tmp_path):
    report_json = tmp_path / "out" / "report.json"
    a = answer(report_json, "What was the QTc by Fridericia?", search=fake_search)
    assert not a.answered and a.tool_calls == [] and a.text.startswith("This case has no QTc by Fridericia measurement.")
    assert "Related measurements: QTc (Framingham)" in a.text and any("needs the case thread" in n for n in a.notes)
    with pytest.raises(ChatError, match="unknown case thread"):
        answer("no-such-thread", "hi", checkpoint_db=thread[1])


def test_report_file_finds_its_thread_when_the_database_has_it(thread, tmp_path):
    a = answer(tmp_path / "out" / "report.json", "What was the QTc by Fridericia?", checkpoint_db=thread[1], search=fake_search)
    assert a.thread_id == thread[0] and a.intent == "rerun" and a.answered


def test_llm_follow_up_with_search_tool_is_verified(thread):
    steps = [Reply("", [("search_guidelines", {"query": "ICD primary prevention LVEF"})]),
             Reply("An ICD is recommended for primary prevention only when the criteria of the cited statement are met "
                   "[G:esc-hf-2021-icd-primary]. QRS duration was 148 ms [M:ecg-1.qrs_duration].")]  # fmt: skip
    backend = scripted_backend(steps, then=None)
    a = ask(thread, "Should this patient get an ICD?", backend)
    assert a.backend == "scripted" and not a.fell_back and a.intent == "llm"
    assert a.passages[0].id == "esc-hf-2021-icd-primary" and "[M:ecg-1.qrs_duration]" in a.text
    tool_msgs = [m for m in backend.client.requests[1]["messages"] if m["role"] == "tool"]
    assert "esc-hf-2021-icd-primary" in tool_msgs[0]["content"]
    assert_grounded(a, thread[2])


def test_llm_follow_up_reruns_a_tool_with_an_option(thread):
    def answer_with_result(messages, tools, schema):
        import json

        data = json.loads(messages[-1]["content"])
        m = next(x for x in data["measurements"] if x["id"] == "ecg-1.qtc_bazett")
        return Reply(f"QTc by Bazett was {m['value']} [M:ecg-1.qtc_bazett].")  # the digest shows '310 ms'

    backend = scripted_backend([Reply("", [("toy_ecg_qt", {"study_id": "ecg-1", "qtc_formula": "bazett"})]), answer_with_result], then=None)
    a = ask(thread, "Recompute the QTc with Bazett", backend)
    assert a.tool_calls[0].options == {"qtc_formula": "bazett"} and a.tool_calls[0].requested_by == "chat"
    assert a.text.startswith("QTc by Bazett was") and not a.fell_back and a.measurements[0].id == "ecg-1.qtc_bazett"
    assert_grounded(a, thread[2])


def test_llm_that_invents_twice_falls_back_to_rules(thread):
    liar = Reply("The QTc by Fridericia was 512 ms and the echo shows an EF of 25%.")
    backend = scripted_backend([liar, liar], then=None)
    a = ask(thread, "What was the QTc by Fridericia?", backend)
    assert a.fell_back and a.intent == "rerun" and "512" not in a.text and "25%" not in a.text
    assert any("failed the grounding check twice" in n for n in a.notes)
    assert_grounded(a, thread[2])
