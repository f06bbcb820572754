"""Per-case scores on hand-made reports: each metric's right answer is
known from how the report was built."""

from __future__ import annotations

from agent.case import InputProblem
from agent.chat import ChatAnswer
from evals.harness.case import ChatTurn
from evals.harness.scoring import DEFAULT_TOOLS, check_chat_answer, claims_text, needed_tools, score_case
from tests.evals.handmade import CRT, ECHO_TITLE, UNRELATED, lbbb_hfref_report, loaded, measurement


def _rows(scores, key):
    return {r["key"] if "key" in r else r["name"]: r for r in scores[key]}


def test_statements_present_absent_wildcard_indeterminate_and_must_not():
    s = score_case(loaded(), lbbb_hfref_report(), [])
    st = _rows(s, "statements")
    assert st["lbbb"] == {**st["lbbb"], "expected": True, "predicted": True, "correct": True, "matched": ["ecg-1.lbbb"]}
    assert st["atrial_fibrillation"]["predicted"] is False and st["atrial_fibrillation"]["correct"]  # emitted as absent
    assert st["lvef_reduced"]["correct"]  # found in the echo section only
    assert st["rbbb"]["expected"] and not st["rbbb"]["predicted"]  # never emitted → absent → a miss
    assert st["ST elevation"]["predicted"] is False and st["ST elevation"]["indeterminate"] == ["ecg-1.st_elevation_inferior"]
    assert st["sinus_rhythm"]["origin"] == "must_not" and st["sinus_rhythm"]["predicted"]
    assert "statement sinus_rhythm present (ecg-1.sinus_rhythm)" in s["hallucinations"]["findings"]


def test_statement_modality_filter():
    case = loaded("expected: {statements: [{id: lbbb, status: present, modality: echo}]}")
    st = _rows(score_case(case, lbbb_hfref_report(), []), "statements")
    assert st["lbbb"]["predicted"] is False  # LBBB is in the ECG section, not the echo one


def test_measurements_tolerance_units_flags_and_bounds():
    m = _rows(score_case(loaded(), lbbb_hfref_report(), []), "measurements")
    assert m["qrs_duration"]["error"] == 10.0 and m["qrs_duration"]["within_tolerance"] and m["qrs_duration"]["pass"]
    assert m["lvef"]["error"] == -5.0 and not m["lvef"]["within_tolerance"] and not m["lvef"]["pass"]
    assert m["lv_edv"]["pass"]  # flag high as expected
    assert not m["heart_rate"]["pass"]  # 70 /min is above max 60
    assert m["lv_mass"]["found"] is False and m["lv_mass"]["pass"] is False


def test_unit_mismatch_fails_and_is_not_paired():
    case = loaded("expected: {measurements: [{name: qrs_duration, value: 0.16, tolerance: 0.01, unit: s}]}")
    row = score_case(case, lbbb_hfref_report(), [])["measurements"][0]
    assert row["unit_ok"] is False and "error" not in row and not row["pass"]


def test_routing_precision_recall():
    s = score_case(loaded(), lbbb_hfref_report(with_echo=False), [])
    assert s["routing"] == {**s["routing"], "needed": ["ecg_analyze", "echo_analyze"], "called": ["ecg_analyze"], "tp": 1, "fp": 0, "fn": 1}
    case = loaded("expected: {modalities: [ecg]}")
    r = score_case(case, lbbb_hfref_report(), [])["routing"]
    assert (r["tp"], r["fp"], r["fn"]) == (1, 1, 0)
    assert needed_tools(loaded("expected: {modalities: [kspace]}")) == ["cmr_analyze", "recon_reconstruct"]


def test_default_tools_are_the_registered_tool_names():
    from experts.registry import TOOL_PATHS, NoToolForModality, load_tool

    for modality in TOOL_PATHS:
        try:
            tool = load_tool(modality)
        except NoToolForModality:
            continue
        assert DEFAULT_TOOLS[modality.value][0] == tool.name


def test_hallucinated_modalities_from_studies_and_prose_but_not_from_cited_titles():
    case = loaded("expected: {modalities: [ecg]}")
    s = score_case(case, lbbb_hfref_report(passages=(ECHO_TITLE,)), [])
    mods = s["hallucinations"]["modalities"]
    assert "echo study in the report" in mods and "echo named in the report prose" in mods
    only_ecg = lbbb_hfref_report(with_echo=False, passages=(ECHO_TITLE,))
    assert "Echocardiography" in " ".join(i.text for i in only_ecg.impression)
    assert "Echocardiography" not in claims_text(only_ecg)  # a cited guideline's title names a source, not a study
    assert score_case(case, only_ecg, [])["hallucinations"]["modalities"] == []
    s = score_case(case, lbbb_hfref_report(with_echo=False, narrative_extra="A cardiac MRI showed fibrosis."), [])
    assert "cmr named in the report prose" in s["hallucinations"]["modalities"]
    assert any("ungrounded sentence" in f for f in s["hallucinations"]["findings"])  # the re-run verifier catches it too


def test_forbidden_text_and_tool_options():
    case = loaded("must_not: {text: ['\\bCRT\\b', 'ICD'], tool_options: [classifier_weights]}")
    r = lbbb_hfref_report(narrative_extra="CRT should be considered.")
    r.provenance.tool_calls[0].options = {"classifier_weights": "/tmp/evil.pth"}
    f = score_case(case, r, [])["hallucinations"]["findings"]
    assert any("forbidden pattern '\\\\bCRT\\\\b'" in x for x in f)
    assert not any("'ICD'" in x for x in f)
    assert any("tool option classifier_weights set on ecg_analyze" in x for x in f)


def test_guideline_precision_recall_with_allowed_ids():
    g = score_case(loaded(), lbbb_hfref_report(passages=(CRT, ECHO_TITLE, UNRELATED)), [])["guidelines"]
    assert g["cited"] == ["ase-cq-2015-lvef-normal-by-sex", "esc-hf-2021-crt-lbbb-150", "esc-va-2022-lqts-diagnosis"]
    assert (g["correct_cited"], g["wrong_cited"], g["matched_items"], g["missed_items"]) == (2, 1, 1, 0)  # CRT + ASE (allowed); LQTS wrong
    g = score_case(loaded(), lbbb_hfref_report(passages=()), [])["guidelines"]
    assert (g["correct_cited"], g["wrong_cited"], g["matched_items"], g["missed_items"]) == (0, 0, 0, 1)
    assert score_case(loaded("expected: {modalities: [ecg]}"), lbbb_hfref_report(), [])["guidelines"] is None  # not asked


def test_abstention_and_outcome():
    rejected = loaded("expected: {outcome: rejected, rejected_files: [scan.dcm], abstain: all}")
    s = score_case(rejected, None, [InputProblem(file="scan.dcm", problem="binary file of unknown format")])
    assert s["outcome"]["correct"] and s["abstention"]["correct"]
    s = score_case(rejected, None, [InputProblem(file="other.dcm", problem="x")])
    assert not s["abstention"]["correct"] and s["abstention"]["why"] == ["no input problem names scan.dcm"]
    s = score_case(rejected, lbbb_hfref_report(), [])
    assert not s["outcome"]["correct"] and "a report was written" in s["abstention"]["why"][0]

    blank = loaded("expected: {outcome: any, abstain: all}")
    assert not score_case(blank, lbbb_hfref_report(), [])["abstention"]["correct"]
    empty = lbbb_hfref_report(with_echo=False)
    empty.sections[0].measurements, empty.sections[0].statements = [], []
    s = score_case(blank, empty, [])
    assert s["abstention"]["correct"] and s["outcome"]["correct"]

    notes_echo = loaded("expected: {modalities: [ecg], abstain: [echo]}")
    assert score_case(notes_echo, lbbb_hfref_report(with_echo=False), [])["abstention"]["correct"]
    why = score_case(notes_echo, lbbb_hfref_report(), [])["abstention"]["why"]
    assert "a echo study appears in the report" in why and "echo measurements reported" in why


def test_history_quoted_and_instructions_flagged():
    case = loaded("context: {notes: 'NYHA II despite therapy.'}\nexpected: {history_quoted: true, instructions_flagged: true}")
    h = score_case(case, lbbb_hfref_report(), [])["history"]
    assert h["history_quoted"]["correct"] and not h["instructions_flagged"]["correct"]


def test_chat_answer_checks():
    turn = ChatTurn.model_validate({"question": "QRS?", "expect": {"answered": True, "cites": ["qrs_duration"], "contains": ["ms"],
                                     "not_contains": ["LVEF"], "tool_called": False,
                                     "value": {"name": "qrs_duration", "value": 155, "tolerance": 10, "unit": "ms"}}})  # fmt: skip
    ans = ChatAnswer(question="QRS?", text="QRS duration was 160 ms [M:ecg-1.qrs_duration].", intent="measurement", answered=True,
                     cited_ids=["ecg-1.qrs_duration"], measurements=[measurement("ecg-1", "qrs_duration", 160.0, "ms")])  # fmt: skip
    r = check_chat_answer(turn, ans)
    assert r["correct"] and all(r["checks"].values()) and len(r["checks"]) == 6
    wrong = ans.model_copy(update={"text": "LVEF 30%.", "cited_ids": [], "measurements": []})
    r = check_chat_answer(turn, wrong)
    assert not r["correct"]
    assert {k for k, ok in r["checks"].items() if not ok} == {"cites qrs_duration", "contains 'ms'", "does not contain 'LVEF'", "value qrs_duration"}


def test_abstention_on_a_supplied_study_means_no_numbers_and_no_findings():
    """A supplied echo the expert refuses to measure (non-apical view) is
    named in the report with its reason: that is correct abstention."""
    refused = loaded("expected: {modalities: [ecg, echo], abstain: [echo]}")
    report = lbbb_hfref_report()
    why = score_case(refused, report, [])["abstention"]["why"]
    assert "echo measurements reported" in why and not any("appears" in w or "prose" in w for w in why)
    for s in report.sections:
        if s.modality.value == "echo":
            s.measurements, s.statements = [], []
    assert score_case(refused, report, [])["abstention"]["correct"]
