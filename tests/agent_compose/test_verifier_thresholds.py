"""The verifier's one extension for synthesis: a threshold a cited guideline
passage states may be written as a threshold — and only as one."""

from __future__ import annotations

from agent.verifier import CaseEvidence, check_sentence, guideline_thresholds
from experts.core.types import Modality
from tests.agent_compose.helpers import corpus, ecg, imaging

CRT = "esc-pacing-2021-crt-lbbb-150"


def evidence(passages=None):
    sections = [ecg(qrs=152, lbbb=True), imaging(Modality.ECHO, 30)]
    pool = [corpus()[CRT]] if passages is None else passages
    return CaseEvidence.build([m for s in sections for m in s.measurements], [x for s in sections for x in s.statements], pool,
                              {Modality.ECG, Modality.ECHO})  # fmt: skip


def test_passage_thresholds_are_read_with_their_units_including_ranges():
    assert (35.0, "%") in guideline_thresholds(corpus()[CRT]) and (150.0, "ms") in guideline_thresholds(corpus()[CRT])
    mid = guideline_thresholds(corpus()["esc-pacing-2021-crt-lbbb-130-149"])
    assert (130.0, "ms") in mid and (149.0, "ms") in mid


def test_a_cited_threshold_written_as_a_threshold_is_traced():
    for text in (f"CRT applies when LVEF is ≤ 35% [G:{CRT}].", f"CRT applies with a QRS of 150 ms or more [G:{CRT}].",
                 f"CRT applies at an LVEF below 35% [G:{CRT}]."):  # fmt: skip
        chk = check_sentence(text, evidence())
        assert chk.ok, (text, chk.reasons)


def test_a_passage_cannot_stand_in_for_a_measurement():
    chk = check_sentence(f"The LVEF is 35% [G:{CRT}].", evidence())
    assert not chk.ok and "untraced_number" in chk.failures
    chk = check_sentence(f"The LVEF = 35% [G:{CRT}].", evidence())
    assert not chk.ok


def test_threshold_needs_the_passage_cited_in_the_same_sentence_and_the_same_unit():
    assert not check_sentence("CRT applies when LVEF is ≤ 35%.", evidence()).ok  # no citation at all
    assert not check_sentence(f"CRT applies with a QRS of 35 ms or more [G:{CRT}].", evidence()).ok  # 35 is a %, not ms
    assert not check_sentence(f"CRT applies when LVEF is ≤ 45% [G:{CRT}].", evidence()).ok  # the passage says 35%


def test_a_user_document_supplies_no_threshold():
    doc = corpus()[CRT].model_copy(update={"id": "local-protocol", "collection": "user_documents"})
    chk = check_sentence("Local protocol: LVEF ≤ 35% [G:local-protocol].", evidence([doc]))
    assert not chk.ok and "untraced_number" in chk.failures
