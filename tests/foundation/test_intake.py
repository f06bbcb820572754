"""Intake detects every supported format from content and groups studies;
bad files are reported with a reason, never dropped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.intake.detect import detect
from agent.intake.group import intake
from experts.core.types import Modality
from tests import fixtures


def test_wfdb_record_grouped_with_signal_and_annotations(examples_dir):
    r = intake([examples_dir / "ecg" / "ludb-1"])
    assert [s.modality for s in r.studies] == [Modality.ECG]
    s = r.studies[0]
    assert s.study_id == "ecg-1"
    names = set(s.display_names)
    assert {"1.hea", "1.dat", "1.ii", "1.v6"} <= names
    assert s.meta["record"] == "1" and s.meta["annotations"] == 12
    assert [n.display_name for n in r.notes] == ["context.txt"]
    assert r.problems == []


def test_wfdb_pair_in_separate_folders_like_uploads(examples_dir, tmp_path):
    """Gradio puts each uploaded file in its own temp folder."""
    src = examples_dir / "ecg" / "mitdb-100"
    a, b = tmp_path / "u1", tmp_path / "u2"
    a.mkdir(), b.mkdir()
    shutil.copy(src / "100.hea", a)
    shutil.copy(src / "100.dat", b)
    r = intake([a / "100.hea", b / "100.dat"])
    assert len(r.studies) == 1 and r.problems == []
    assert sorted(r.studies[0].display_names) == ["100.dat", "100.hea"]


def test_two_records_with_the_same_name_do_not_mix(examples_dir, tmp_path):
    for d in ("x", "y"):
        fixtures.make_wfdb(tmp_path / d, name="100")
    r = intake([tmp_path])
    assert len(r.studies) == 2
    for s in r.studies:
        folders = {Path(f).parent for f in s.files}
        assert len(folders) == 1


def test_wfdb_header_without_its_signal_is_a_problem(examples_dir, tmp_path):
    shutil.copy(examples_dir / "ecg" / "mitdb-100" / "100.hea", tmp_path)
    r = intake([tmp_path / "100.hea"])
    assert r.studies == []
    assert "needs 100.dat" in r.problems[0].problem


def test_signal_without_header_is_a_problem(examples_dir, tmp_path):
    shutil.copy(examples_dir / "ecg" / "mitdb-100" / "100.dat", tmp_path)
    r = intake([tmp_path / "100.dat"])
    assert r.studies == [] and r.problems[0].file == "100.dat"
    assert "no supplied WFDB header" in r.problems[0].problem


def test_georgia_header_with_malformed_record_line_is_repaired(shared_data):
    d = detect(shared_data / "ecg" / "cinc2020" / "E00009.hea")
    assert d.kind == "wfdb_header" and d.problem is None
    assert d.meta["record"] == "E00009" and d.meta["repaired_record_line"] is True


@pytest.mark.parametrize(
    "maker, name, modality, kind",
    [
        (fixtures.make_dicom_mr, "mr.dcm", Modality.CMR, "dicom"),
        (fixtures.make_dicom_us, "us.dcm", Modality.ECHO, "dicom"),
        (fixtures.make_nifti, "cine.nii.gz", Modality.CMR, "nifti"),
        (fixtures.make_nifti, "cine.nii", Modality.CMR, "nifti"),
        (fixtures.make_video, "clip.avi", Modality.ECHO, "video"),
        (fixtures.make_video, "clip.mp4", Modality.ECHO, "video"),
        (fixtures.make_kspace_h5, "k.h5", Modality.KSPACE, "kspace_hdf5"),
        (fixtures.make_kspace_npz, "k.npz", Modality.KSPACE, "kspace_npz"),
        (fixtures.make_ecg_csv, "ecg.csv", Modality.ECG, "ecg_csv"),
    ],
)
def test_detects_format_from_content(tmp_path, maker, name, modality, kind):
    path = maker(tmp_path / name)
    d = detect(path)
    assert (d.kind, d.modality, d.problem) == (kind, modality, None)
    # content, not name: the same bytes under a meaningless name
    renamed = tmp_path / "upload_blob"
    shutil.copy(path, renamed)
    if kind not in ("ecg_csv",):  # a CSV is only an ECG table by its header + extension
        assert detect(renamed).modality == modality


def test_matlab_v73_kspace(tmp_path):
    d = detect(fixtures.make_kspace_h5(tmp_path / "cine.mat", matlab=True))
    assert d.kind == "kspace_hdf5" and d.meta["matlab"] is True


def test_real_dicom_ecg_and_echo_from_pydicom():
    from pydicom.data import get_testdata_file

    ecg = detect(get_testdata_file("waveform_ecg.dcm"))
    assert ecg.modality == Modality.ECG and ecg.meta["description"] == "12-lead ECG waveform"
    echo = detect(get_testdata_file("color3d_jpeg_baseline.dcm"))
    assert echo.modality == Modality.ECHO and echo.meta["frames"] == 120


def test_mr_series_grouped_by_series_uid(tmp_path):
    for i in range(3):
        fixtures.make_dicom_mr(tmp_path / "a" / f"{i}.dcm", series_uid="1.2.3.4", z=i * 10.0)
    fixtures.make_dicom_mr(tmp_path / "b" / "x.dcm", series_uid="1.2.3.5")
    r = intake([tmp_path])
    assert sorted(len(s.files) for s in r.studies) == [1, 3]
    assert {s.study_id for s in r.studies} == {"cmr-1", "cmr-2"}


@pytest.mark.parametrize(
    "content, name, expected",
    [
        (b"", "empty.dat", "empty file (0 bytes)"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "photo.jpg", "JPEG image"),
        (b"%PDF-1.7\n", "letter.pdf", "PDF document"),
        (b"this is not a header\n", "bad.hea", "corrupt WFDB header"),
        (b"100 2 360 650000\n100.dat 16 200 11 1024 995 -22131 0 MLII\n", "trunc.hea", "truncated WFDB header"),
        (b"\x00\x01\x02garbage" * 10, "blob.bin", "binary file of unknown format"),
        (b"a,b,c\n1,2,3\n", "table.csv", "CSV without ECG lead names"),
        (b"\x89HDF\r\n\x1a\n" + b"\x00" * 100, "broken.h5", "corrupt HDF5 file"),
        (b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 64, "broken.avi", "corrupt or truncated video"),
    ],
)
def test_bad_inputs_get_a_specific_problem(tmp_path, content, name, expected):
    p = tmp_path / name
    p.write_bytes(content)
    r = intake([p])
    assert r.studies == []
    assert len(r.problems) == 1
    assert r.problems[0].file == name
    assert expected in r.problems[0].problem


def test_non_cardiac_dicom_is_rejected_with_reason(tmp_path):
    r = intake([fixtures.make_dicom_ct(tmp_path / "ct.dcm")])
    assert r.studies == [] and "CT image is not a cardiac study" in r.problems[0].problem


def test_missing_path_and_display_names(tmp_path):
    p = fixtures.make_nifti(tmp_path / "tmpab12.nii.gz")
    r = intake([p, tmp_path / "nope.hea"], display_names={str(p): "patient001_4d.nii.gz"})
    assert r.studies[0].display_names == ["patient001_4d.nii.gz"]
    assert r.problems[0].problem == "no such file or folder"


def test_mr_series_is_described_by_its_number_and_description():
    """Provenance names the series the way a reader finds it in the PACS."""
    from agent.intake.detect import DetectedFile
    from agent.intake.group import mr_series_description

    def f(i: int, number: str, text: str) -> DetectedFile:
        return DetectedFile(path=f"/x/{i}.dcm", display_name=f"{i}.dcm", kind="dicom", modality=Modality.CMR,
                            meta={"series_number": number, "series_description": text})  # fmt: skip

    assert mr_series_description([f(1, "300", "SAX cine"), f(2, "300", "SAX cine")]) == "DICOM MR series 300 “SAX cine” (2 images)"
    assert mr_series_description([f(1, "300", "")]) == "DICOM MR series 300 (1 images)"
    assert mr_series_description([f(1, "", "")]) == "DICOM MR series (1 images)"
