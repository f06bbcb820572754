"""Real data: Sunnybrook Cardiac Data (public domain) via ../shared/data.

The reader must place slices by ImagePositionPatient (SliceLocation steps
6.7 mm where slices are 10 mm apart), order phases by TriggerTime, and the
experts' contours must land on the right images. The tool is checked on
SC-HF-I-4, the patient the embedded model never saw."""

from pathlib import Path

import numpy as np
import pytest

from experts.cmr.contours import load_sunnybrook_reference, reference_volumes
from experts.cmr.io_dicom import read_dicom_cine
from experts.cmr.labels import LV, MYO
from experts.cmr.tool import CMRTool
from experts.core.tool import ToolRequest
from experts.core.types import Modality, PatientContext, StudyInput

pytestmark = pytest.mark.shared_data


def _files(d: Path) -> list[str]:
    return sorted(str(f) for f in (d / "dicom").glob("*.dcm"))


@pytest.mark.parametrize("patient,spacing,n_contours", [("SC-HF-I-1", 10.0, 18), ("SC-HF-I-2", 10.0, 18), ("SC-HF-I-4", 8.0, 20)])
def test_reader_geometry_and_contours(sunnybrook, patient, spacing, n_contours):
    d = sunnybrook / patient
    st = read_dicom_cine(_files(d))
    assert st.n_phases == 20 and st.verdict() == "usable"
    assert st.slice_spacing_mm == pytest.approx(spacing, abs=0.01)
    assert any("SliceLocation steps" in n for n in st.notes)
    assert np.all(np.diff(st.trigger_times_ms) > 0) and 50 < st.heart_rate_bpm < 100
    ref = load_sunnybrook_reference(d, st)
    assert len(ref.images) == n_contours
    for im in ref.images:  # each contour sits on its own image: the pool is brighter than the myocardium ring
        img = st.images[im.phase, im.slice]
        if im.has_epi:
            assert np.median(img[im.labels == LV]) > np.median(img[im.labels == MYO])
    ed_phases = {ed.phase for ed, _ in ref.ed_es_per_slice().values()}
    assert len(ed_phases) == 1  # one ED phase for the whole stack
    v = reference_volumes(ref, st)
    assert v["lv_edv"] > v["lv_esv"] > 0 and 0 < v["lvef"] < 50  # heart-failure patients
    assert 60 < v["lv_mass"] < 250


def test_tool_on_the_held_out_patient(sunnybrook, tmp_path):
    d = sunnybrook / "SC-HF-I-4"
    files = _files(d)
    study = StudyInput(study_id="cmr-1", modality=Modality.CMR, files=files, display_names=[Path(f).name for f in files], meta={"format": "dicom"})
    result = CMRTool().run(ToolRequest(study=study, patient=PatientContext(), output_dir=str(tmp_path)))
    assert result.quality.verdict in ("usable", "limited")
    m = {x.name: x for x in result.measurements}
    st = read_dicom_cine(files)
    ref = reference_volumes(load_sunnybrook_reference(d, st), st)
    # heart-failure patient: reduced EF found, within 10 points of the experts' contours
    assert abs(m["lvef"].value - ref["lvef"]) < 10
    assert abs(m["lv_edv"].value - ref["lv_edv"]) / ref["lv_edv"] < 0.3
    assert m["heart_rate"].value == pytest.approx(65)
    assert any(a.media_type == "application/dicom" for a in result.artifacts)
