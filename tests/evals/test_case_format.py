"""case.yaml: what parses, what is refused (with every problem named), how
inputs resolve, and that every committed case in the suites is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.harness import case as case_mod
from evals.harness.case import CaseFormatError, CaseSkipped, load_case, parse_case, statement_matches, write_case
from tests.evals.handmade import LBBB_CASE

REPO = Path(__file__).resolve().parents[2]


def test_full_example_parses_with_defaults():
    spec = parse_case(LBBB_CASE)
    assert spec.id == "lbbb-hfref"
    assert [s.key for s in spec.expected.statements] == ["lbbb", "atrial_fibrillation", "lvef_reduced", "rbbb", "ST elevation"]
    assert spec.expected.statements[2].modality.value == "echo"
    assert spec.expected.outcome == "report" and spec.run.strict is True and spec.run.retrieval is False
    lvef = spec.expected.measurements[1]
    assert (lvef.name, lvef.value, lvef.tolerance, lvef.unit) == ("lvef", 35, 3, "%")
    assert spec.must_not.statements == ["sinus_rhythm"]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("- just a list", "must hold a mapping"),
        ("expected: {statements: [{status: present}]}", "exactly one of id, label, any_of"),
        ("expected: {statements: [{id: a, label: A, status: present}]}", "exactly one of id, label, any_of"),
        ("expected: {statements: [{id: a, status: maybe}]}", "expected.statements.0.status"),
        ("expected: {measurements: [{name: qt}]}", "give value (with tolerance), min/max or flag"),
        ("expected: {measurements: [{name: qt, tolerance: 5, flag: high}]}", "tolerance without value"),
        ("expected: {outcome: rejected, statements: [{id: a, status: absent}]}", "a rejected case cannot also expect"),
        ("must_not: {text: ['(unclosed']}", "is not a regular expression"),
        ("context: {sex: robot}", "sex must be female/male"),
        ("expected: {statements: [{id: lbbb, status: present}]}\nmust_not: {statements: [lbbb]}", "both expected present and in must_not"),
        ("expected: {modalities: [ecg]}\nmust_not: {modalities: [ecg]}", "modalities both expected and in must_not"),
        ("expected: {statements: [{id: a, status: present}, {id: a, status: absent}]}", "duplicate keys a"),
        ("expected: {modalities: [xray]}", "expected.modalities.0"),
        ("surprise: 1", "surprise: Extra inputs are not permitted"),
        ("id: 'bad id with spaces'", "id: String should match pattern"),
        ("expected: [unclosed", "not valid YAML"),
    ],
)
def test_validation_errors_name_the_problem(text, problem):
    with pytest.raises(CaseFormatError) as err:
        parse_case(text, "suite/x/case.yaml")
    assert "suite/x/case.yaml" in str(err.value)
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_several_problems_are_reported_together():
    with pytest.raises(CaseFormatError) as err:
        parse_case("context: {sex: robot, notes: a, notes_file: n.txt}\nexpected: {modalities: [ecg]}\nmust_not: {modalities: [ecg]}")
    assert len(err.value.problems) == 3


def test_inputs_resolve_relative_repo_and_default(tmp_path):
    folder = tmp_path / "c1"
    (folder / "truth").mkdir(parents=True)
    (folder / "rec.hea").write_text("x")
    (folder / "notes.txt").write_text("history")
    (folder / "truth" / "labels.npz").write_bytes(b"")
    write_case(folder, {"context": {"notes_file": "notes.txt"}, "truth": {"segmentation": "truth/labels.npz"}})
    c = load_case(folder, suite="s")
    assert [p.name for p in c.inputs] == ["rec.hea"]  # not case.yaml, not the notes file, not truth/
    assert c.qualified_id == "s/c1" and c.clinical_context().notes == "history"

    write_case(folder, {"inputs": ["repo:examples/ecg/ludb-1", "rec.hea"]})
    c = load_case(folder)
    assert c.inputs == [REPO / "examples/ecg/ludb-1", folder / "rec.hea"]


def test_missing_inputs_and_truth_files_are_errors(tmp_path):
    write_case(tmp_path, {"inputs": ["nope.dat"], "truth": {"reconstruction": "truth/ref.npy"}})
    with pytest.raises(CaseFormatError) as err:
        load_case(tmp_path)
    assert any("input not found" in p and "nope.dat" in p for p in err.value.problems)
    assert any("truth/ref.npy" in p for p in err.value.problems)
    with pytest.raises(CaseFormatError, match="no case.yaml"):
        load_case(tmp_path / "empty")


def test_shared_inputs_skip_when_the_data_is_absent(tmp_path, monkeypatch):
    write_case(tmp_path, {"inputs": ["shared:ecg/100.hea"]})
    monkeypatch.setattr(case_mod, "shared_data_dir", lambda: None)
    with pytest.raises(CaseSkipped, match="shared/data"):
        load_case(tmp_path)


def test_write_case_refuses_an_invalid_spec(tmp_path):
    with pytest.raises(CaseFormatError):
        write_case(tmp_path, {"expected": {"statements": [{"status": "present"}]}})
    assert not (tmp_path / "case.yaml").exists()


def test_statement_matching_by_suffix_wildcard_and_label():
    assert statement_matches("lbbb", "ecg-1.lbbb", "Left bundle branch block")
    assert not statement_matches("lbbb", "ecg-1.incomplete_lbbb", "Incomplete LBBB")
    assert statement_matches("st_elevation_*", "ecg-2.st_elevation_inferior", "ST elevation, inferior")
    assert statement_matches("left bundle branch block", "ecg-1.lbbb", "Left bundle branch block")
    assert statement_matches("lvef_reduced_range", "kspace-1-recon.lvef_reduced_range", "x")


def test_every_committed_case_is_valid():
    folders = sorted(p.parent for p in (REPO / "evals" / "suites" / "cases").rglob("case.yaml"))
    assert len(folders) >= 5
    for folder in folders:
        c = load_case(folder)
        assert c.spec.description and c.spec.source, f"{folder}: describe the case and where its truth comes from"
