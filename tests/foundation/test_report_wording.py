"""QA wording fixes: a patient-ID disagreement once per source study, limited
values never stated plainly, reference ranges that cannot read as negative,
criteria with their label and unit, a guideline year printed once, one
limitation said once."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.compose import compose
from agent.patient import resolve_from_files
from agent.render.markdown import render_markdown
from agent.render.provenance import bounds_text, citation_text, criterion_row, measurement_row, ref_text, reference_text
from agent.report import ModalitySection, Report, StudySummary
from experts.core.types import (
    Criterion,
    Evidence,
    GuidelineRef,
    Measurement,
    Modality,
    PatientContext,
    Quality,
    ReferenceRange,
    Source,
    Statement,
    StudyInput,
)
from retrieval.types import GuidelinePassage
from ui.report_view import measurement_rows, reference_bounds

pydicom = pytest.importorskip("pydicom")
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
UDMI = "Fourth Universal Definition of Myocardial Infarction (2018)"


def _dicom_copies(tmp_path: Path, name: str, n: int, patient_id: str) -> list[str]:
    src = TEST_FILES / "CT_small.dcm"
    if not src.exists():
        pytest.skip("pydicom test file CT_small.dcm not installed")
    out = []
    for i in range(n):
        ds = pydicom.dcmread(src)
        ds.PatientID = patient_id
        p = tmp_path / name / f"{i + 1}.dcm"
        p.parent.mkdir(exist_ok=True)
        ds.save_as(p)
        out.append(str(p))
    return out


def _m(name="rvef", value=30.0, unit="%", rr=None, quality="usable", flag=None, label=None, decimals=0) -> Measurement:
    return Measurement(
        id=f"cmr-1.{name}", name=name, label=label or name, value=value, unit=unit, quality=quality, flag=flag, method="fixture",
        decimals=decimals, reference_range=ReferenceRange(low=rr[0], high=rr[1], unit=unit) if rr else None,
        source=Source(tool="cmr_analyze", version="1"), evidence=Evidence(file="1.dcm"),
    )  # fmt: skip


# --- 1. one warning per source study, not per file ---------------------------------------


def test_patient_id_disagreement_is_warned_once_per_series(tmp_path):
    single = StudyInput(study_id="ecg-1", modality=Modality.ECG, files=_dicom_copies(tmp_path, "ecg", 1, "642341"), display_names=["waveform_ecg.dcm"])
    series_files = _dicom_copies(tmp_path, "cmr", 12, "SCD0000101")
    series = StudyInput(study_id="cmr-1", modality=Modality.CMR, files=series_files, description="DICOM MR series 300 (12 images)")
    patient = resolve_from_files(PatientContext(), [single, series])
    ids = [c for c in patient.conflicts if c.startswith("Patient ID")]
    assert len(ids) == 1, ids  # prominent, once: not once per file of the series
    assert "waveform_ecg.dcm metadata gives 642341 but DICOM series 300 (12 files) gives SCD0000101" in ids[0]
    assert "1.dcm" not in ids[0]


def test_files_of_one_series_that_disagree_are_named_with_their_counts(tmp_path):
    files = _dicom_copies(tmp_path, "a", 3, "P1") + _dicom_copies(tmp_path, "b", 2, "P2")
    series = StudyInput(study_id="cmr-1", modality=Modality.CMR, files=files, description="DICOM MR series 7 (5 images)")
    patient = resolve_from_files(PatientContext(), [series])
    assert patient.patient_id == "P1" and patient.sources["patient_id"] == "DICOM series 7 (5 files; 3 of 5 files read)"
    (c,) = patient.conflicts  # the files of one series disagree: said once, with how many files give each ID
    assert "but DICOM series 7 (5 files; 2 of 5 files read) gives P2" in c


# --- 2. limited values: flagged in tables, marked in the Summary ----------------------------


def test_limited_value_without_an_out_of_range_flag_says_limited():
    rvef = _m(quality="limited")
    assert measurement_row(rvef).flag_text == "limited, see Limitations"
    assert measurement_row(_m()).flag_text == ""
    assert "limited, see Limitations" in measurement_rows([rvef])  # the UI panel too


def test_summary_marks_limited_values():
    ms = [_m("lvef", 27, label="LV ejection fraction", rr=(48, 68), flag="low"), _m("rvef", 30, label="RV ejection fraction", quality="limited")]
    section = ModalitySection(study_id="cmr-1", modality=Modality.CMR, tool="cmr_analyze", tool_version="1", files=["1.dcm"],
                              quality=Quality(verdict="limited", reasons=["RV volumes and RVEF are unreliable"]),
                              warnings=["RV volumes and RVEF are unreliable", "spacing from ImagePositionPatient"], measurements=ms)  # fmt: skip
    draft = compose([section], {}, {Modality.CMR}, [], [], [])
    summary = " ".join(draft.narrative)
    assert "RV ejection fraction 30% (limited)" in summary and "LV ejection fraction 27% [" in summary
    # --- 4. the plausibility text once in Limitations (in the quality bullet, not again alone)
    assert sum("RV volumes and RVEF are unreliable" in x for x in draft.limitations) == 1
    assert any("spacing from ImagePositionPatient" in x for x in draft.limitations)


# --- 3. reference ranges that cannot read as minus ------------------------------------------


def test_reference_ranges_read_unambiguously():
    assert bounds_text(None, 110, "ms") == "≤ 110 ms"
    assert bounds_text(50, None, "%") == "≥ 50%"
    assert bounds_text(-30, 90, "deg") == "−30° to +90°"
    assert bounds_text(390, 460, "ms") == "390 ms – 460 ms"
    qrs = _m("qrs_duration", 172, "ms", rr=(None, 110), flag="high", label="QRS duration")
    assert reference_text(qrs) == "≤ 110 ms" and reference_bounds(qrs) == "≤ 110 ms"
    axis = _m("qrs_axis", -98, "deg", rr=(-30, 90), flag="abnormal", label="QRS axis")
    assert reference_bounds(axis) == "−30° to +90°"
    section = ModalitySection(study_id="ecg-1", modality=Modality.ECG, tool="ecg_analyze", tool_version="1", files=["1.hea"],
                              quality=Quality(verdict="usable"), measurements=[qrs, axis])  # fmt: skip
    texts = [i.text for i in compose([section], {}, {Modality.ECG}, [], [], []).impression]
    assert "QRS duration 172 ms is high; reference ≤ 110 ms." in texts
    assert any(t.endswith("is abnormal; reference −30° to +90°.") for t in texts)
    assert not any("reference –" in t or " deg" in t for t in texts)


# --- 4. criteria, citations, units --------------------------------------------------------


def test_criterion_shows_label_and_unit_not_raw_name_and_bare_number():
    m = _m("qt_lead_count", 8, "1", label="Independent leads in the global QT measurement")
    c = criterion_row(Criterion(measurement_id=m.id, operator=">=", threshold=8, unit="1", met=True), {m.id: m})
    assert c.text() == "Independent leads in the global QT measurement ≥ 8 — met"
    mass = criterion_row(Criterion(measurement_id="cmr-1.lv_mass_index", operator=">", threshold=70.6, unit="g/m2", met=True))
    assert mass.rule == "> 70.6 g/m²"  # as the tables print it, not 'g/m2'


def test_guideline_year_is_printed_once():
    ref = GuidelineRef(guideline=UDMI, year=2018, section="ECG detection of MI")
    assert ref_text(ref) == f"{UDMI}, ECG detection of MI"
    assert ref_text(GuidelineRef(guideline="ESC HF", year=2021, section="T3")) == "ESC HF (2021), T3"
    p = GuidelinePassage(id="udmi", guideline=UDMI, year=2018, section="S", text="t")
    assert citation_text(p) == f"{UDMI}, S"
    st = Statement(id="ecg-1.q", label="Pathological Q waves", status="present", source=Source(tool="ecg_analyze", version="1"),
                   criteria=[Criterion(measurement_id="ecg-1.q_v2", operator=">=", threshold=0.02, unit="s", met=True, guideline=ref)])  # fmt: skip
    section = ModalitySection(study_id="ecg-1", modality=Modality.ECG, tool="ecg_analyze", tool_version="1", files=["1.hea"],
                              quality=Quality(verdict="usable"), statements=[st])  # fmt: skip
    md = render_markdown(Report(report_id="r", case_id="c", sections=[section], studies=[StudySummary(study_id="ecg-1", modality=Modality.ECG, files=["1.hea"])]))
    assert "(2018) (2018)" not in md and UDMI in md
