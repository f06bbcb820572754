"""Cross-modality synthesis rules: each fires on its combination only, never
on one modality alone or on a value just on the wrong side of its
threshold, and the verifier keeps every sentence it writes."""

from __future__ import annotations

import pytest

from agent.compose import compose
from agent.synthesis import SYNTHESIS_RULES, synthesize
from agent.verifier import CaseEvidence, verify_draft
from experts.core.types import Modality
from tests.agent_compose.helpers import corpus, ecg, imaging

ECHO, CMR, ECG = Modality.ECHO, Modality.CMR, Modality.ECG


def fired(sections, passages=None):
    pool = list(corpus().values()) if passages is None else passages
    return {s.rule: s.item for s in synthesize(sections, pool)}


def verified(sections, passages=None):
    """Compose with the whole corpus as 'retrieved' and verify; return (draft, result)."""
    pool = list(corpus().values()) if passages is None else passages
    supplied = {s.modality for s in sections}
    draft = compose(sections, {"all": pool}, supplied, [], [], [])
    ev = CaseEvidence.build([m for s in sections for m in s.measurements], [st for s in sections for st in s.statements], pool, supplied)
    return draft, verify_draft(draft.narrative, draft.impression, ev)


# ------------------------------------------------------------------ CRT
def test_lbbb_qrs150_with_low_ef_meets_crt_criteria_and_cites_the_esc_pacing_passage():
    item = fired([ecg(qrs=152, lbbb=True), imaging(ECHO, 30)])["crt"]
    assert item.passage_ids[0] == "esc-pacing-2021-crt-lbbb-150"
    assert set(item.passage_ids) <= {"esc-pacing-2021-crt-lbbb-150", "esc-hf-2021-crt-lbbb-150", "aha-hf-2022-crt-lbbb-150"}
    assert {"ecg-1.lbbb", "ecg-1.sinus_rhythm", "echo-1.lvef_reduced"} <= set(item.statement_ids)
    assert {"ecg-1.qrs_duration", "echo-1.lvef"} <= set(item.measurement_ids)
    assert "QRS duration 152 ms (≥ 150 ms)" in item.text and "LVEF 30% on echocardiography" in item.text and "(≤ 35%)" in item.text
    assert "class I, level A. CRT is recommended only when" in item.text
    # the clinical conditions the tools cannot see are named, not assumed
    assert "symptoms despite optimal medical therapy" in item.text and "not assessed" in item.text


def test_crt_on_cmr_ef_and_the_mid_qrs_band():
    item = fired([ecg(qrs=140, lbbb=True), imaging(CMR, 28)])["crt"]
    assert item.passage_ids[0] == "esc-pacing-2021-crt-lbbb-130-149"
    assert "(≥ 130 ms, ≤ 149 ms)" in item.text and "on Cardiac MRI" in item.text and "should be considered" in item.text


def test_non_lbbb_wide_qrs_uses_the_non_lbbb_recommendation():
    item = fired([ecg(qrs=156, rbbb=True), imaging(ECHO, 25)])["crt"]
    assert item.passage_ids[0] == "esc-pacing-2021-crt-non-lbbb-150"
    assert item.text.startswith("Non-LBBB QRS morphology (right bundle branch block)")


@pytest.mark.parametrize(
    "sections, why",
    [
        ([ecg(qrs=160, lbbb=True)], "ECG alone"),
        ([imaging(ECHO, 25)], "imaging alone"),
        ([ecg(qrs=160, lbbb=True), imaging(ECHO, 36)], "LVEF 36% just above 35%"),
        ([ecg(qrs=160, lbbb=True), imaging(ECHO, 35.4)], "LVEF 35.4% (shows as 35%) still above 35%"),
        ([ecg(qrs=128, lbbb=True), imaging(ECHO, 25)], "QRS 128 ms below every CRT band"),
        ([ecg(qrs=160, lbbb=True, rhythm="atrial_fibrillation"), imaging(ECHO, 25)], "AF: the sinus-rhythm rows do not apply"),
        ([ecg(qrs=160, lbbb=True, rhythm="none"), imaging(ECHO, 25)], "rhythm not established"),
        ([ecg(qrs=160, lbbb=True), imaging(ECHO, 25, verdict="non_diagnostic")], "non-diagnostic echo"),
        ([ecg(qrs=160, lbbb=True, verdict="non_diagnostic"), imaging(ECHO, 25)], "non-diagnostic ECG"),
        ([ecg(qrs=160, lbbb=True), imaging(ECHO, 30), imaging(CMR, 45)], "a second imaging LVEF above 35%"),
    ],
)
def test_crt_does_not_fire(sections, why):
    assert "crt" not in fired(sections), why


def test_no_crt_advice_without_its_retrieved_passage():
    pool = [p for p in corpus().values() if "crt" not in p.id]
    assert "crt" not in fired([ecg(qrs=152, lbbb=True), imaging(ECHO, 30)], pool)


def test_exactly_35_percent_and_150_ms_meet_the_thresholds():
    assert fired([ecg(qrs=150, lbbb=True), imaging(ECHO, 35)])["crt"].passage_ids[0] == "esc-pacing-2021-crt-lbbb-150"


# ------------------------------------------------------------------ AF + low EF
def test_af_with_ef_40_or_lower_gives_rate_and_rhythm_control_context():
    item = fired([ecg(rhythm="atrial_fibrillation"), imaging(ECHO, 32)])["af_reduced_ef"]
    assert item.passage_ids[0] == "esc-af-2024-rate-drugs-by-lvef"
    assert "beta-blockers and/or digoxin" in item.text and "rate and rhythm control" in item.text
    assert "ecg-1.atrial_fibrillation" in item.statement_ids


@pytest.mark.parametrize("sections", [[ecg(rhythm="atrial_fibrillation"), imaging(ECHO, 41)], [ecg(rhythm="atrial_fibrillation")],
                                      [ecg(), imaging(ECHO, 30)]])  # fmt: skip
def test_af_rule_needs_af_and_an_ef_of_40_or_lower(sections):
    assert "af_reduced_ef" not in fired(sections)


# ------------------------------------------------------------------ LVH
def test_ecg_lvh_and_increased_cmr_mass_are_concordant():
    item = fired([ecg(lvh=True), imaging(CMR, 60, mass_index=95)])["lvh_concordant"]
    assert item.passage_ids == ["ecg-p5-lvh-criteria-accuracy"]
    assert "LV mass indexed to BSA 95 g/m²" in item.text


@pytest.mark.parametrize("sections", [[ecg(lvh=True), imaging(CMR, 60, mass_index=70)], [ecg(), imaging(CMR, 60, mass_index=95)],
                                      [ecg(lvh=True)], [imaging(CMR, 60, mass_index=95)]])  # fmt: skip
def test_lvh_concordance_needs_both_sides(sections):
    assert "lvh_concordant" not in fired(sections)


def test_increased_mass_with_ecg_voltage_not_met_is_reported_as_discordant():
    item = fired([ecg(), imaging(CMR, 60, mass_index=95)])["lvh_discordant"]
    assert item.passage_ids == ["ecg-p5-lvh-criteria-accuracy"] and "do not exclude the increased mass" in item.text
    assert "ecg-1.lvh_voltage" in item.statement_ids


def test_lvh_discordance_needs_voltage_evaluated_and_a_narrow_qrs():
    no_voltage = ecg()
    no_voltage.statements = [s for s in no_voltage.statements if not s.id.endswith(".lvh_voltage")]  # amplitudes unreliable
    for sections in ([no_voltage, imaging(CMR, 60, mass_index=95)], [ecg(qrs=150, lbbb=True), imaging(CMR, 60, mass_index=95)],
                     [ecg(), imaging(CMR, 60, mass_index=70)], [ecg(lvh=True), imaging(CMR, 60, mass_index=95)]):  # fmt: skip
        assert "lvh_discordant" not in fired(sections)


# ------------------------------------------------------------------ Q waves + low EF
def test_q_waves_with_low_ef_point_to_prior_infarction():
    item = fired([ecg(q_waves=True), imaging(ECHO, 38)])["prior_mi"]
    assert item.passage_ids[0] == "udmi4-prior-mi-criteria"
    assert "consistent with a myocardial infarction" in item.text and "did not assess regional wall motion" in item.text
    assert "acute or evolving" not in item.text


def test_q_waves_with_st_changes_leave_the_infarct_undated():
    section = ecg(q_waves=True)
    from tests.agent_compose.helpers import statement

    section.statements.append(statement("ecg-1", ECG, "st_depression_anterior", "ST depression meeting the Universal Definition amplitude criteria, anterior leads (V1, V2, V3, V4)", True))
    sections = [section, imaging(ECHO, 30)]
    item = fired(sections)["prior_mi"]
    assert "ecg-1.st_depression_anterior" in item.statement_ids and "shows ST depression" in item.text
    assert "acute or evolving event is possible" in item.text
    draft, out = verified(sections)
    assert out.summary.sentences_removed == 0, out.summary.removed


@pytest.mark.parametrize("sections", [[ecg(q_waves=True), imaging(ECHO, 58)], [ecg(q_waves=True)],
                                      [ecg(q_waves=True, lbbb=True, qrs=150), imaging(ECHO, 30)]])  # fmt: skip
def test_prior_mi_rule_needs_low_ef_and_no_lbbb(sections):
    assert "prior_mi" not in fired(sections)


# ------------------------------------------------------------------ QTc
def test_qtc_over_a_wide_qrs_replaces_long_qt_syndrome_context():
    sections = [ecg(qrs=141, rbbb=True, long_qtc=484)]
    draft, out = verified(sections)
    texts = [i.text for i in draft.impression]
    syn = next(i for i in draft.impression if "ecg-p4-qt-adjust-for-qrs-duration" in i.passage_ids)
    assert "QRS duration 141 ms (≥ 120 ms)" in syn.text
    assert not any(pid.startswith("esc-va-2022-lqts") for i in draft.impression for pid in i.passage_ids), texts
    assert out.summary.sentences_removed == 0, out.summary.removed


def test_qtc_with_narrow_qrs_keeps_its_context_and_meets_low_ef():
    rules = fired([ecg(long_qtc=480), imaging(ECHO, 30)])
    assert "qtc_wide_qrs" not in rules
    assert "no passage on acquired QT prolongation" in rules["qtc_reduced_ef"].text
    assert "qtc_reduced_ef" not in fired([ecg(long_qtc=480), imaging(ECHO, 45)])


# ------------------------------------------------------------------ EF disagreement
def test_ef_disagreement_gives_both_values_with_sources_and_no_average():
    rules = fired([imaging(ECHO, 30), imaging(CMR, 52)])
    item = rules["ef_disagreement"]
    assert "30% on echocardiography (echo-1, echo_analyze)" in item.text and "52% on Cardiac MRI (cmr-1, cmr_analyze)" in item.text
    assert "41%" not in item.text and "not averaged" in item.text
    assert item.measurement_ids == ["echo-1.lvef", "cmr-1.lvef"]
    assert "ef_disagreement" not in fired([imaging(ECHO, 30), imaging(CMR, 40)])  # 10 points: not more than 10


# ------------------------------------------------------------------ grounding
GROUNDING_CASES = [
    [ecg(qrs=152, lbbb=True), imaging(ECHO, 30)],
    [ecg(qrs=140, lbbb=True), imaging(CMR, 28)],
    [ecg(qrs=156, rbbb=True, long_qtc=470), imaging(ECHO, 25)],
    [ecg(qrs=136, rbbb=True), imaging(CMR, 33)],
    [ecg(rhythm="atrial_fibrillation"), imaging(ECHO, 32)],
    [ecg(lvh=True), imaging(CMR, 60, mass_index=95)],
    [ecg(), imaging(CMR, 60, mass_index=95)],
    [ecg(q_waves=True), imaging(ECHO, 38)],
    [ecg(long_qtc=480), imaging(ECHO, 30)],
    [ecg(qrs=152, lbbb=True), imaging(ECHO, 30), imaging(CMR, 55)],
]


@pytest.mark.parametrize("sections", GROUNDING_CASES)
def test_the_verifier_keeps_every_synthesis_sentence(sections):
    draft, out = verified(sections)
    syn_texts = {s.item.text for s in synthesize(sections, list(corpus().values()))}
    assert syn_texts, "a rule should fire on this combination"
    assert out.summary.sentences_removed == 0, out.summary.removed
    assert out.summary.numbers_traced == out.summary.numbers_checked
    kept = {i.text for i in out.impression}
    assert syn_texts <= kept


def test_every_rule_cites_passages_that_exist_in_the_corpus():
    ids = set(corpus())
    for rule in SYNTHESIS_RULES:
        missing = [c for c in rule.cites if c not in ids]
        assert not missing, f"{rule.key}: {missing}"


def test_modalities_named_are_only_supplied_ones():
    draft, out = verified([ecg(qrs=152, lbbb=True), imaging(CMR, 30)])
    text = " ".join(i.text for i in out.impression)
    assert "echocardiograph" not in text.lower() and out.summary.unsupplied_modalities_mentioned == 0
