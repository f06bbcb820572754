"""Patient demographics with their sources and conflicts, shown the same in
every format; Markdown escaping of user-controlled text; the FHIR Patient
and its references; unflagged out-of-range values; one disclaimer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.case import load_context
from agent.patient import resolve_from_files
from agent.render import fhir, pdf
from agent.render.html import render_html
from agent.render.markdown import render_markdown
from agent.render.provenance import measurement_row
from agent.report import ModalitySection, ReportedHistory, Report, StudySummary
from experts.core.types import Evidence, Measurement, Modality, PatientContext, Quality, ReferenceRange, Source, StudyInput

ROOT = Path(__file__).resolve().parents[2]
EVIL = "<img src=x onerror=alert(1)>.dcm"


def _wfdb_study(tmp_path: Path, age: int = 81, sex: str = "female") -> StudyInput:
    hea = tmp_path / "s0010_re.hea"
    hea.write_text(f"s0010_re 1 1000 10 12:00:00 01/10/1990\ns0010_re.dat 16 2000 16 0 0 0 0 i\n# age: {age}\n# sex: {sex}\n")
    return StudyInput(study_id="ecg-1", modality=Modality.ECG, files=[str(hea)], display_names=["s0010_re.hea"])


def _text(report: Report, tmp_path: Path) -> dict[str, str]:
    import pypdf

    pdf.write(report, tmp_path)
    reader = pypdf.PdfReader(tmp_path / pdf.FILENAME)
    return {
        "md": render_markdown(report, tmp_path),
        "html": render_html(report, tmp_path),
        "pdf": " ".join(" ".join(p.extract_text() for p in reader.pages).split()),
    }


def _measurement(name="lv_mass_index", value=90.0, rr=(35.0, 71.0), quality="usable", flag=None, file="a.dcm") -> Measurement:
    return Measurement(
        id=f"cmr-1.{name}", name=name, label=name, value=value, unit="g/m2", quality=quality, flag=flag, method="fixture",
        reference_range=ReferenceRange(low=rr[0], high=rr[1], unit="g/m2") if rr else None,
        source=Source(tool="cmr_analyze", version="1"), evidence=Evidence(file=file),
    )  # fmt: skip


def _report(patient: PatientContext, *, files=("a.dcm",), case_id="case-1", indication=None, measurements=(), acquired_at=None) -> Report:
    section = ModalitySection(study_id="cmr-1", modality=Modality.CMR, tool="cmr_analyze", tool_version="1", files=list(files),
                              quality=Quality(verdict="usable"), measurements=list(measurements))  # fmt: skip
    return Report(report_id=f"{case_id}-1", case_id=case_id, patient=patient, sections=[section],
                  studies=[StudySummary(study_id="cmr-1", modality=Modality.CMR, files=list(files), acquired_at=acquired_at)],
                  reported_history=ReportedHistory(indication=indication), limitations=[f"Sex taken from the metadata of {files[0]}."])  # fmt: skip


# --- 1. demographics: sources, precedence, conflicts --------------------------------


def test_metadata_fills_missing_values_and_the_header_names_the_source(tmp_path):
    patient = resolve_from_files(PatientContext(), [_wfdb_study(tmp_path, 51, "female")])
    assert (patient.age_years, patient.sex) == (51, "female") and patient.conflicts == []
    assert patient.sources == {"age_years": "s0010_re.hea metadata", "sex": "s0010_re.hea metadata"}
    texts = _text(_report(patient), tmp_path)
    for fmt, text in texts.items():
        assert "not given" not in text, fmt
        assert "age 51 y (from s0010_re.hea metadata)" in text.replace("\\_", "_"), fmt
        assert "female (from s0010_re.hea metadata)" in text.replace("\\_", "_"), fmt


def test_flags_override_metadata_with_a_warning_naming_both(tmp_path):
    ctx = load_context(None, age=72, sex="M")
    patient = resolve_from_files(ctx.patient, [_wfdb_study(tmp_path, 81, "female")])
    assert (patient.age_years, patient.sex) == (72, "male")
    assert patient.sources["age_years"] == "flag --age"
    age_c, sex_c = patient.conflicts
    assert "flag --age gives 72 y" in age_c and "s0010_re.hea metadata gives 81 y" in age_c and "72 y (flag --age) was used" in age_c
    assert "flag --sex gives male" in sex_c and "s0010_re.hea metadata gives female" in sex_c
    report = _report(patient)
    for fmt, text in _text(report, tmp_path).items():
        plain = text.replace("\\_", "_").replace("\\-", "-")
        assert "patient data disagree" in plain, fmt
        assert "81 y" in plain and "72 y" in plain, fmt
    assert json.loads(report.model_dump_json())["patient"]["conflicts"] == [age_c, sex_c]


def test_flags_override_the_context_file_with_a_warning(tmp_path):
    ctx_file = tmp_path / "ctx.json"
    ctx_file.write_text(json.dumps({"age": 50, "sex": "M", "height_cm": 170}))
    p = load_context(str(ctx_file), age=60, sex="F").patient
    assert (p.age_years, p.sex, p.height_cm) == (60, "female", 170)
    assert p.sources == {"age_years": "flag --age", "sex": "flag --sex", "height_cm": "context file ctx.json"}
    assert any("flag --age gives 60 y but context file ctx.json gives 50 y" in c for c in p.conflicts)
    assert any("flag --sex gives female but context file ctx.json gives male" in c for c in p.conflicts)
    assert load_context(str(ctx_file), age=50.4).patient.conflicts == []  # same whole-year age: no conflict


def test_dicom_ecg_metadata_gives_patient_id_sex_age_and_acquisition_time():
    import pydicom.data

    path = pydicom.data.get_testdata_file("waveform_ecg.dcm")
    study = StudyInput(study_id="ecg-1", modality=Modality.ECG, files=[path], display_names=["waveform_ecg.dcm"])
    patient = resolve_from_files(PatientContext(), [study])
    assert patient.patient_id == "642341" and patient.sources["patient_id"] == "waveform_ecg.dcm metadata"
    assert study.meta["acquired_at"].startswith("20")


# --- 2. Markdown escaping -------------------------------------------------------------


def test_markdown_escapes_file_names_case_id_indication_and_patient_text(tmp_path):
    from markdown_it import MarkdownIt

    patient = PatientContext(sex="female", sources={"sex": f"{EVIL} metadata"})
    report = _report(patient, files=(EVIL,), case_id="*case*", indication="**bold** <i>x</i>",
                     measurements=[_measurement(file=EVIL)])  # fmt: skip
    md = render_markdown(report, tmp_path)
    assert "\\<img" in md and md.count("<img") == md.count("\\<img") and "**bold**" not in md
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<img" not in html and "<i>" not in html and "<strong>bold</strong>" not in html and "<em>case</em>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.dcm" in html  # shown literally
    assert "**bold** &lt;i&gt;x&lt;/i&gt;" in html


# --- 3. FHIR Patient, subject and effective time --------------------------------------


def _check_references(bundle: dict) -> dict[str, dict]:
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    for e in bundle["entry"]:
        r = e["resource"]
        if r["resourceType"] in ("DiagnosticReport", "Observation"):
            assert by_url[r["subject"]["reference"]]["resourceType"] == "Patient"
        for ref in r.get("result", []):
            assert by_url[ref["reference"]]["resourceType"] == "Observation"
    return by_url


def test_fhir_has_a_patient_referenced_by_every_resource():
    patient = PatientContext(sex="female", age_years=42, patient_id="642341", birth_date="1950-01-01")
    report = _report(patient, measurements=[_measurement()], acquired_at="2001-02-03T04:05:06")
    bundle = fhir.build_bundle(report)
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert sorted(set(types)) == ["DiagnosticReport", "Observation", "Patient"] and types.count("Patient") == 1
    by_url = _check_references(bundle)
    (pat,) = [r for r in by_url.values() if r["resourceType"] == "Patient"]
    assert pat["identifier"] == [{"system": fhir.ID_DICOM_PATIENT, "value": "642341"}]
    assert pat["gender"] == "female" and pat["birthDate"] == "1950-01-01"
    dr = next(r for r in by_url.values() if r["resourceType"] == "DiagnosticReport")
    assert dr["effectiveDateTime"] == "2001-02-03"  # a local time without zone: the date only
    assert all(r.get("effectiveDateTime") == "2001-02-03" for r in by_url.values() if r["resourceType"] == "Observation")


def test_fhir_patient_without_metadata_uses_the_case_id_and_invents_nothing():
    bundle = fhir.build_bundle(_report(PatientContext(age_years=60), measurements=[_measurement()]))
    by_url = _check_references(bundle)
    (pat,) = [r for r in by_url.values() if r["resourceType"] == "Patient"]
    assert pat["identifier"] == [{"system": fhir.ID_CASE, "value": "case-1"}]
    assert "gender" not in pat and "birthDate" not in pat  # an age alone gives no birth date
    assert all("effectiveDateTime" not in r for r in by_url.values()) and all("issued" in r for r in by_url.values() if r["resourceType"] != "Patient")


# --- 4. flags and reference cells -------------------------------------------------------


def test_out_of_range_value_without_a_tool_flag_is_shown_with_its_qualification(tmp_path):
    limited = measurement_row(_measurement(quality="limited"))
    assert limited.flag == "high" and limited.flag_text == "high — limited, see Limitations"
    assert measurement_row(_measurement(value=50)).flag_text == ""  # in range, unflagged: blank
    assert measurement_row(_measurement(name="rv_edvi", value=36, rr=None)).reference == "no reference range"
    report = _report(PatientContext(), measurements=[_measurement(quality="limited"), _measurement(name="rv_edvi", value=36, rr=None)])
    for fmt, text in _text(report, tmp_path).items():
        squeezed = text.replace(" ", "")  # narrow PDF cells wrap words
        assert "high—limited,seeLimitations" in squeezed and "noreferencerange" in squeezed, fmt


# --- 5. the disclaimer once --------------------------------------------------------------


def test_disclaimer_is_said_once(tmp_path):
    texts = _text(_report(PatientContext()), tmp_path)
    for fmt, text in texts.items():
        assert "Decision support. Decision support" not in text, fmt
        assert text.count("Decision support only") == 1, fmt
