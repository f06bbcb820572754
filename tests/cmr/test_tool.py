"""`cmr_analyze` end to end on simulated DICOM and NIfTI studies."""

from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pytest

from experts.cmr.quantify import quantify
from experts.cmr.sim_files import write_acdc_folder, write_dicom_series
from experts.cmr.simulate import label_volumes
from experts.cmr.tool import CMRTool
from experts.core.errors import InputError
from experts.core.tool import ToolRequest
from experts.core.types import Modality, PatientContext, StudyInput
from experts.registry import load_tool


def _study(paths, fmt, sid="cmr-1"):
    return StudyInput(
        study_id=sid,
        modality=Modality.CMR,
        files=[str(p) for p in paths],
        display_names=[Path(p).name for p in paths],
        meta={"format": fmt},
    )


def _run(study, out: Path, patient=None, **options):
    req = ToolRequest(study=study, patient=patient or PatientContext(), output_dir=str(out), options=options)
    return CMRTool().run(req)


@pytest.fixture(scope="module")
def dicom_paths(sim_small, tmp_path_factory):
    return write_dicom_series(sim_small, tmp_path_factory.mktemp("series"), patient_sex="F")


@pytest.fixture(scope="module")
def dicom_result(dicom_paths, tmp_path_factory):
    patient = PatientContext(sex="female", height_cm=165, weight_kg=60, age_years=50)
    return _run(_study(dicom_paths, "dicom"), tmp_path_factory.mktemp("out"), patient)


def test_registry_routes_cmr_here():
    tool = load_tool(Modality.CMR)
    assert isinstance(tool, CMRTool)
    schema = tool.function_schema()["function"]
    assert schema["name"] == "cmr_analyze"
    assert "weights_path" in schema["parameters"]["properties"]


def test_dicom_study_measurements_evidence_and_accuracy(dicom_result, sim_small):
    r = dicom_result
    assert r.quality.verdict in ("usable", "limited")
    m = {x.name: x for x in r.measurements}
    for name in ("lv_edv", "lv_esv", "lv_sv", "lvef", "lv_mass", "rv_edv", "rv_esv", "rvef", "lv_edv_index", "lv_mass_index"):
        assert name in m, name
        assert m[name].id == f"cmr-1.{name}"
        assert m[name].source.tool == "cmr_analyze" and m[name].source.weights_sha256
    assert m["lvef"].unit == "%" and m["lv_edv"].unit == "mL" and m["lv_mass"].unit == "g"
    assert m["lv_edv_index"].unit == "mL/m2" and m["lv_mass_index"].unit == "g/m2"
    ev = m["lv_edv"].evidence
    assert ev.phases and 1 <= ev.phases[0] <= 10 and ev.slices and max(ev.slices) <= 9
    assert set(m["lvef"].evidence.phases) == {m["lv_edv"].evidence.phases[0], m["lv_esv"].evidence.phases[0]}
    # against the simulator's labels, quantified with the same rules
    truth = quantify(sim_small.labels, sim_small.stack).values
    assert abs(m["lvef"].value - truth["lvef"]) < 12
    assert abs(m["lv_edv"].value - truth["lv_edv"]) / truth["lv_edv"] < 0.25
    # sex-specific range and cited statements
    assert m["lvef"].reference_range.source.year == 2017 and m["lvef"].flag in ("low", "normal", "high")
    st = {s.id.split(".", 1)[1]: s for s in r.statements}
    assert {"lvef_reduced_range", "lvef_mildly_reduced_range", "lvef_below_reference", "lv_mass_index_increased"} <= set(st)
    c = st["lvef_reduced_range"].criteria[0]
    assert c.measurement_id == "cmr-1.lvef" and c.threshold == 40 and c.guideline.year == 2021
    assert c.met == (m["lvef"].value <= 40)


def test_dicom_study_artifacts(dicom_result, dicom_paths, sim_small):
    arts = {a.title: Path(a.path) for a in dicom_result.artifacts}
    assert all(p.is_file() and p.stat().st_size > 0 for p in arts.values())
    assert any(p.suffix == ".png" for p in arts.values())
    nii = next(p for p in arts.values() if p.name.endswith(".nii.gz"))
    img = nib.load(str(nii))
    assert img.shape == (112, 112, 9, 10)
    assert set(np.unique(np.asarray(img.dataobj))) <= {0, 1, 2, 3}
    segs = [p for p in arts.values() if p.suffix == ".dcm"]
    assert len(segs) == 2  # ED and ES
    seg = hd.seg.segread(str(segs[0]))
    assert seg.number_of_segments == 3
    labels = [d.SegmentLabel for d in seg.SegmentSequence]
    assert labels == ["LV blood pool", "LV myocardium", "RV blood pool"]
    import pydicom

    src = pydicom.dcmread(dicom_paths[0], stop_before_pixels=True)
    assert seg.StudyInstanceUID == src.StudyInstanceUID


def test_single_slice_is_non_diagnostic_without_numbers(sim_small, tmp_path):
    paths = write_dicom_series(sim_small, tmp_path / "one", slices=[4])
    r = _run(_study(paths, "dicom"), tmp_path / "out")
    assert r.quality.verdict == "non_diagnostic"
    assert not r.measurements and not [s for s in r.statements if s.status == "present"]
    assert any("single slice" in x for x in r.quality.reasons)


def test_acdc_nifti_segmented_and_from_supplied_labels(sim_small, tmp_path):
    paths = write_acdc_folder(sim_small, tmp_path / "acdc")
    study = _study(paths, "nifti")
    seg = _run(study, tmp_path / "o1")
    assert seg.quality.verdict in ("usable", "limited")
    assert {"lvef", "rvef"} <= {m.name for m in seg.measurements}
    sup = _run(study, tmp_path / "o2", use_supplied_labels=True, export_seg=False, make_plot=False)
    m = {x.name: x for x in sup.measurements}
    lv = label_volumes(sim_small.labels, sim_small.stack)["lv"]
    # evidence names the input's own frame numbers of the two supplied label files
    assert (m["lv_edv"].evidence.phases[0], m["lv_esv"].evidence.phases[0]) == (int(np.argmax(lv)) + 1, int(np.argmin(lv)) + 1)
    ref = quantify(sim_small.labels, sim_small.stack).values
    assert m["lv_edv"].value == pytest.approx(ref["lv_edv"], rel=0.02)
    assert m["lvef"].value == pytest.approx(ref["lvef"], abs=2)
    assert m["lvef"].source.model == "supplied label files"


def test_single_phase_nifti_is_non_diagnostic(sim_small, tmp_path):
    img = nib.Nifti1Image(sim_small.stack.images[0].transpose(2, 1, 0), np.diag([1.8, 1.8, 10.0, 1.0]))
    nib.save(img, str(tmp_path / "ed_only.nii.gz"))
    r = _run(_study([tmp_path / "ed_only.nii.gz"], "nifti"), tmp_path / "out")
    assert r.quality.verdict == "non_diagnostic" and not r.measurements
    assert any("one cardiac phase" in x for x in r.quality.reasons)


def test_wrong_file_is_an_input_error(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("not an image")
    with pytest.raises(InputError):
        _run(StudyInput(study_id="cmr-9", modality=Modality.CMR, files=[str(p)], display_names=["notes.txt"]), tmp_path / "o")
