"""Clinical synonym expansion and spelling folding (no model, no index)."""

from retrieval.bm25 import BM25Index, tokenize
from retrieval.synonyms import expand, fold_spelling, spell_out_abbreviations, synonyms_in


def test_abbreviation_gains_its_long_form_and_back():
    assert "left bundle branch block" in expand("QRS 150 ms LBBB")
    assert "LBBB" in synonyms_in("complete left bundle-branch block in an adult")
    assert "HFrEF" in synonyms_in("heart failure with reduced ejection fraction")
    assert "LVEF" in synonyms_in("EF 30%")  # a member that is not the short form maps to the short form
    # nothing is added when both names are already there
    assert synonyms_in("atrial fibrillation (AF)") == []
    # a specific name also names its general group: LBBB is a bundle-branch block
    assert synonyms_in("left bundle branch block (LBBB)") == ["BBB"]


def test_lay_names_do_not_pull_in_each_other():
    assert synonyms_in("heart attack") == ["MI"]
    # an implant phrase gains the group's short form only, not every pacing word
    assert synonyms_in("before a permanent pacemaker is implanted") == ["permanent pacing"]


def test_pacemaker_as_a_device_is_not_an_indication_for_pacing():
    # Round 3: "pacemaker" alone names the device a patient has; it no longer
    # expands to "permanent pacing", and "ventricular pacing" no longer
    # gains "pacemaker".
    assert synonyms_in("atrial high-rate episodes on a dual-chamber pacemaker interrogation") == []
    assert "pacemaker" not in expand("CRT rather than right ventricular pacing")


def test_no_expansion_inside_longer_words():
    # "HF" must not fire inside "HFrEF", nor "AF" inside "after".
    assert "heart failure" not in synonyms_in("HFrEF")[1:]
    assert synonyms_in("after the meal") == []


def test_british_and_american_spellings_meet():
    assert fold_spelling("ischaemia anaemia haemodynamic oedema paediatric") == "ischemia anemia hemodynamic edema pediatric"
    assert tokenize("hospitalisation") == tokenize("hospitalization")
    assert tokenize("resynchronisation") == tokenize("resynchronization")


def test_expansion_lets_bm25_match_across_names():
    texts = [
        "Complete left bundle-branch block needs a QRS of 120 ms or more.",
        "Atrial fibrillation needs anticoagulation when the stroke risk is raised.",
    ]
    plain = BM25Index(["lbbb", "af"], texts)
    assert plain.search("LBBB", 2) == []  # the abbreviation is not in the text
    expanded = BM25Index(["lbbb", "af"], [expand(t) for t in texts])
    assert expanded.search(expand("LBBB"), 2)[0][0] == "lbbb"
    assert expanded.search(expand("AF anticoagulation"), 2)[0][0] == "af"


def test_spell_out_is_case_sensitive():
    out = spell_out_abbreviations("HFrEF with LBBB and af")
    assert "HFrEF (heart failure with reduced ejection fraction)" in out
    assert "LBBB (left bundle branch block)" in out
    assert out.endswith("and af")  # lower-case English words are left alone
