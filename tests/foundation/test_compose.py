"""The rules composer is grounded by construction and shows only guideline
passages that speak of the finding."""

from __future__ import annotations

from agent.compose import compose, relevant_passages
from agent.report import ModalitySection
from agent.verifier import CaseEvidence, verify_draft
from experts.core.types import Modality, Quality
from retrieval.types import GuidelinePassage
from tests.foundation.test_verifier import evidence


def _passage(pid, text, measurements=()):
    return GuidelinePassage(id=pid, guideline="G", year=2020, section="S", text=text, measurements=list(measurements))


def test_relevance_gate_keeps_passages_naming_the_finding():
    ev = evidence()
    brady = ev.statements["ecg-1.sinus_bradycardia"]
    on_topic = _passage("a", "Sinus bradycardia is a sinus rate below 50 bpm.", ["heart_rate"])
    off_topic = _passage("b", "Ivabradine is considered in sinus rhythm with a heart rate of 70 bpm or more.", ["heart_rate"])
    assert [p.id for p in relevant_passages(brady, [on_topic, off_topic])] == ["a"]


def test_rules_draft_passes_verification_untouched():
    ev = evidence()
    section = ModalitySection(study_id="ecg-1", modality=Modality.ECG, tool="ecg_analyze", tool_version="0", files=["1.hea"],
                              quality=Quality(verdict="usable"), measurements=list(ev.measurements.values()),
                              statements=list(ev.statements.values()))  # fmt: skip
    # QTc 478 ms: the definition (above 460 ms) is context; the LQTS diagnosis (480 ms or more) is not met
    passages = {"ecg-1.long_qt": [_passage("ecg-p4-qtc", "A QTc above 460 ms is a prolonged QTc (long QT interval)."),
                                  _passage("esc-va-2022-lqts", "Long QT syndrome is diagnosed with a QTc of 480 ms or more.")]}  # fmt: skip
    draft = compose([section], passages, {Modality.ECG}, [], [], [])
    ev2 = CaseEvidence.build(section.measurements, section.statements, passages["ecg-1.long_qt"], {Modality.ECG})
    out = verify_draft(draft.narrative, draft.impression, ev2)
    assert out.summary.sentences_removed == 0, out.summary.removed
    assert out.summary.numbers_traced == out.summary.numbers_checked > 0
    texts = [i.text for i in draft.impression]
    assert any(t.startswith("Sinus bradycardia (heart rate 52 bpm < 60 bpm") for t in texts)
    assert any("Guideline context for Prolonged QTc" in t for t in texts)
    context_ids = {pid for i in draft.impression if i.text.startswith("Guideline context") for pid in i.passage_ids}
    assert "ecg-p4-qtc" in context_ids and "esc-va-2022-lqts" not in context_ids
    assert draft.limitations[-1].startswith("Supplied: ECG")
