"""PDF, FHIR and DICOM SR outputs, checked by reading them back with the
field's own libraries (pypdf, fhir.resources, pydicom/highdicom) on the
reports the shared batch produced from real records."""

from __future__ import annotations

import json

import pydicom
import pytest

from agent.render import fhir, pdf, sr
from agent.report import Report
from tests.batch.make_cases import dicom_ecg_path


def _report(settings, case_id: str) -> Report:
    return Report.model_validate_json((settings.case_dir(case_id) / "report.json").read_text())


@pytest.fixture(scope="module")
def dicom_case(small_batch):
    _, settings, _ = small_batch
    return settings.case_dir("ecg-dicom"), _report(settings, "ecg-dicom")


def test_loinc_and_snomed_check_digits():
    assert fhir.loinc_valid("8867-4") and fhir.loinc_valid("11524-6") and fhir.loinc_valid("8638-9")
    assert not fhir.loinc_valid("8867-5") and not fhir.loinc_valid("8638-1") and not fhir.loinc_valid("abc")
    assert fhir.snomed_valid("426177001") and fhir.snomed_valid("164889003")
    assert not fhir.snomed_valid("426177002") and not fhir.snomed_valid("1234")


def test_fhir_bundle_validates_and_has_one_observation_per_measurement(dicom_case):
    from fhir.resources.R4B.bundle import Bundle

    case_dir, report = dicom_case
    raw = json.loads((case_dir / fhir.FILENAME).read_text())
    bundle = Bundle.model_validate(raw)
    assert bundle.type == "transaction"
    resources = [e.resource for e in bundle.entry]
    reports = [r for r in resources if r.get_resource_type() == "DiagnosticReport"]
    observations = [r for r in resources if r.get_resource_type() == "Observation"]
    assert len(reports) == 1 and len(observations) == len(report.measurements())
    dr = reports[0]
    assert dr.status == "preliminary" and dr.code.coding[0].code == "11524-6"
    assert {ref.reference for ref in dr.result} == {e.fullUrl for e in bundle.entry if e.resource.get_resource_type() == "Observation"}
    by_id = {o.identifier[0].value.split("/", 1)[1]: o for o in observations}
    for m in report.measurements():
        o = by_id[m.id]
        assert o.status == "preliminary"
        assert float(o.valueQuantity.value) == pytest.approx(round(m.value, m.decimals))
        if m.unit in fhir.UCUM_UNITS:
            assert o.valueQuantity.system == "http://unitsofmeasure.org" and o.valueQuantity.code == m.unit
        loinc = [c.code for c in o.code.coding if c.system == "http://loinc.org"]
        if m.code is not None and fhir.loinc_valid(m.code.code):
            assert loinc == [m.code.code]
        else:
            assert loinc == []  # no code, or one that fails its check digit: never exported
    present = [st for st in report.statements() if st.status == "present" and st.code is not None]
    assert len(dr.conclusionCode or []) == len(present)
    assert fhir.check_codes(raw) == []


def test_fhir_refuses_statuses_and_codes_outside_our_value_sets(dicom_case):
    _, report = dicom_case
    bundle = fhir.build_bundle(report)
    bundle["entry"][0]["resource"]["status"] = "registered"
    obs = bundle["entry"][1]["resource"]
    obs["code"]["coding"].insert(0, {"system": fhir.LOINC, "code": "8867-5"})
    obs["valueQuantity"].update(system=fhir.UCUM, code="beats")
    problems = fhir.check_codes(bundle)
    assert any("status 'registered'" in p for p in problems)
    assert any("invalid LOINC code '8867-5'" in p for p in problems)
    assert any("UCUM code 'beats'" in p for p in problems)


def test_pdf_reads_back_with_the_report_content(dicom_case):
    import pypdf

    case_dir, report = dicom_case
    reader = pypdf.PdfReader(case_dir / pdf.FILENAME)
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert report.case_id in text and "Decision support" in text
    for m in report.measurements():
        assert m.with_unit() in text  # every value, with its unit, is printed
    assert reader.metadata.title == f"CardioAgent report {report.case_id}"


def test_dicom_sr_is_a_tid1500_report_in_the_source_study(dicom_case):
    import highdicom as hd

    case_dir, report = dicom_case
    ds = pydicom.dcmread(case_dir / sr.FILENAME)
    src = pydicom.dcmread(dicom_ecg_path(), stop_before_pixels=True)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert ds.StudyInstanceUID == src.StudyInstanceUID and ds.PatientID == src.PatientID
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert evidence.ReferencedSOPInstanceUID == src.SOPInstanceUID
    doc = hd.sr.Comprehensive3DSR.from_dataset(ds)
    (group,) = doc.content.get_image_measurement_groups()
    values = {(m.name.value, m.method.value if m.method else None, m.unit.value): m.value for m in group.get_measurements()}
    assert len(values) == len(group.get_measurements()) == len(report.measurements())  # each one identifiable
    for m in report.measurements():
        loinc = m.code.code if m.code is not None and fhir.loinc_valid(m.code.code) else None
        keys = [k for k in values if k[0] == (loinc or m.name) and k[2] == m.unit and k[1] in (None, m.name)]
        assert len(keys) == 1, m.id
        assert float(values[keys[0]]) == pytest.approx(round(m.value, m.decimals))
    findings = [st for st in report.statements() if st.status == "present"]
    assert len(group.get_qualitative_evaluations()) == len(findings)


def test_sr_only_for_dicom_inputs_and_explains_when_paths_are_unknown(small_batch, tmp_path):
    source, settings, _ = small_batch
    wfdb_report = _report(settings, "ecg-mac")
    sources = [str(p) for p in (source / "ecg-mac").iterdir()]
    assert sr.write_sr(wfdb_report, tmp_path, sources) is None  # WFDB: nothing to attach an SR to
    dicom_report = _report(settings, "ecg-dicom")
    note = sr.write(dicom_report, tmp_path)  # registry form, no paths known
    assert note.name == sr.SKIPPED_NOTE and "source DICOM paths" in note.read_text()
    with sr.source_files([str(dicom_ecg_path())]):
        assert sr.write(dicom_report, tmp_path).name == sr.FILENAME


def _section_report(tmp_path):
    """A hand-built report (renderer input, not an analysis result) with a
    CMR study on pydicom's MR test image and an ECG study on its DICOM ECG of
    another patient."""
    from agent.report import ModalitySection, StudySummary
    from experts.core.types import Criterion, Evidence, Measurement, Modality, Quality, Source, Statement

    from pydicom.data import get_testdata_file

    src = Source(tool="cmr_analyze", version="9.9.9")
    mr = get_testdata_file("MR_small.dcm")
    edv = Measurement(id="cmr-1.lvedv", name="lvedv", label="LV end-diastolic volume", value=151.26, unit="mL", decimals=0,
                      method="test fixture", source=src, evidence=Evidence(file="MR_small.dcm", slices=[0]))  # fmt: skip
    edvi = Measurement(id="cmr-1.lvedvi", name="lvedvi", label="LV EDV index", value=80.4, unit="mL/m2", decimals=1,
                       method="test fixture", source=src, evidence=Evidence(file="MR_small.dcm"))  # fmt: skip
    dilated = Statement(id="cmr-1.lv_dilation", label="LV dilation", status="present", source=src,
                        criteria=[Criterion(measurement_id="cmr-1.lvedvi", operator=">", threshold=74, unit="mL/m2", met=True)])  # fmt: skip
    cmr = ModalitySection(study_id="cmr-1", modality=Modality.CMR, tool="cmr_analyze", tool_version="9.9.9", files=["MR_small.dcm"],
                          quality=Quality(verdict="usable"), measurements=[edv, edvi], statements=[dilated])  # fmt: skip
    hr = Measurement(id="ecg-2.heart_rate", name="heart_rate", label="Heart rate", value=61, unit="/min", method="test fixture",
                     source=Source(tool="ecg_analyze", version="9"), evidence=Evidence(file="waveform_ecg.dcm"))  # fmt: skip
    ecg = ModalitySection(study_id="ecg-2", modality=Modality.ECG, tool="ecg_analyze", tool_version="9", files=["waveform_ecg.dcm"],
                          quality=Quality(verdict="usable"), measurements=[hr])  # fmt: skip
    report = Report(report_id="fixture-1", case_id="fixture", sections=[cmr, ecg],
                    studies=[StudySummary(study_id="cmr-1", modality=Modality.CMR, files=["MR_small.dcm"]),
                             StudySummary(study_id="ecg-2", modality=Modality.ECG, files=["waveform_ecg.dcm"])])  # fmt: skip
    return report, [mr, str(dicom_ecg_path())]


def test_sr_references_source_images_and_keeps_to_one_patient(tmp_path):
    import highdicom as hd

    report, sources = _section_report(tmp_path)
    ds = pydicom.dcmread(sr.write_sr(report, tmp_path, sources))
    mr = pydicom.dcmread(sources[0], stop_before_pixels=True)
    assert ds.PatientID == mr.PatientID and ds.StudyInstanceUID == mr.StudyInstanceUID
    doc = hd.sr.Comprehensive3DSR.from_dataset(ds)
    groups = doc.content.get_image_measurement_groups()
    assert [g.tracking_identifier for g in groups] == ["cmr-1"]  # the other patient's ECG is not mixed in
    (group,) = groups
    refs = [item for item in group[0].ContentSequence if item.ValueType == "IMAGE"]
    assert refs and refs[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == mr.SOPInstanceUID
    got = {(m.name.value, m.name.scheme_designator, m.unit.value): float(m.value) for m in group.get_measurements()}
    assert got == {("lvedv", sr.PRIVATE_SCHEME, "mL"): 151.0, ("lvedvi", sr.PRIVATE_SCHEME, "mL/m2"): 80.4}
    (finding,) = group.get_qualitative_evaluations()
    assert finding.value.meaning == "LV dilation" and finding.name.meaning == "Clinical finding"


def test_fhir_from_a_hand_built_report_keeps_units_and_has_no_loinc_without_one(tmp_path):
    report, _ = _section_report(tmp_path)
    bundle = fhir.build_bundle(report)
    obs = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert [o["valueQuantity"]["code"] for o in obs] == ["mL", "mL/m2", "/min"]
    assert [o["valueQuantity"]["value"] for o in obs] == [151, 80.4, 61]
    assert [o["category"][0]["coding"][0]["code"] for o in obs] == ["imaging", "imaging", "procedure"]
    dr = bundle["entry"][0]["resource"]
    assert "coding" not in dr["code"] and "Cardiac MRI" in dr["code"]["text"]  # no LOINC study code we are not sure of


@pytest.mark.slow
@pytest.mark.shared_data
def test_batch_on_real_cmr_writes_an_sr_over_every_source_image(shared_data, tmp_path, batch_home):
    """Sunnybrook SC-HF-I-1 (240 real DICOM MR images, anonymised with
    '00000000' birth dates and UIDs with leading-zero components)."""
    import highdicom as hd

    from agent.batch.markers import DONE_MARKER, read_record
    from agent.batch.run import run_batch
    from agent.batch.settings import BatchSettings

    dicom = shared_data / "cmr" / "sunnybrook" / "SC-HF-I-1" / "dicom"
    (tmp_path / "m.csv").write_text(f"case_id,files,age,sex,height_cm,weight_kg\nsc1,{dicom},60,M,175,80\n")
    settings = BatchSettings(out_dir=str(tmp_path / "out"), formats=("json", "fhir", "sr"), retrieval=False, timeout_s=1200)
    outcome = run_batch(tmp_path / "m.csv", settings, quiet=True)
    case_dir = outcome.settings.case_dir("sc1")
    done = read_record(case_dir / DONE_MARKER)
    assert done is not None and done.modalities == ["cmr"] and "sr" in done.outputs
    report = _report(outcome.settings, "sc1")
    doc = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(case_dir / sr.FILENAME))
    (group,) = doc.content.get_image_measurement_groups()
    assert len(group.get_measurements()) == len(report.measurements())
    assert sum(1 for item in group[0].ContentSequence if item.ValueType == "IMAGE") == len(list(dicom.glob("*.dcm")))
