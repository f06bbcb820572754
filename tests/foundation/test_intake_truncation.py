"""Truncated files are refused at intake, naming the file and the byte
counts its own header declares — never a numpy error from inside a tool,
never exit 0 with an empty report."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.intake.group import intake
from tests import fixtures as fx

REPO = Path(__file__).resolve().parents[2]


def _cut(src: Path, dst: Path, n: int) -> Path:
    data = src.read_bytes()
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data[:n])
    return dst


def _problems(folder: Path) -> list[str]:
    r = intake([folder])
    assert not r.studies, [s.description for s in r.studies]
    return [p.line() for p in r.problems]


def test_truncated_wfdb_signal_names_file_and_declared_size(tmp_path):
    src = REPO / "examples" / "ecg" / "mitdb-100"
    text = (src / "100.hea").read_text().replace("100 2 360", "trunc 2 360").replace("100.dat", "trunc.dat")
    (tmp_path / "trunc.hea").write_text(text)
    _cut(src / "100.dat", tmp_path / "trunc.dat", 1000)
    lines = _problems(tmp_path)
    assert lines == ["trunc.dat: 1000 bytes, but trunc.hea declares 650000 samples × 2 signals in format 212 (1950000 bytes): file truncated"]


def test_complete_examples_are_not_flagged():
    for d in sorted((REPO / "examples" / "ecg").iterdir()):
        if d.is_dir():
            r = intake([d])
            assert len(r.studies) == 1 and not r.problems, (d, [p.line() for p in r.problems])


def _pydicom_file(name: str) -> Path:
    pydicom_data = pytest.importorskip("pydicom.data")
    return Path(os.path.dirname(pydicom_data.__file__)) / "test_files" / name


@pytest.mark.parametrize(
    "name, cut, expected",
    [
        ("examples_ybr_color.dcm", 0.5, "compressed frame fragment"),  # multi-frame US, JPEG
        ("examples_ybr_color.dcm", -3000, "compressed frame fragment"),
        ("examples_rgb_color.dcm", 0.5, "bytes of pixel data (1 frame of 240×320)"),  # native US
        ("MR_small.dcm", 0.5, "bytes of pixel data (1 frame of 64×64)"),  # a CMR slice
        ("MR_small_bigendian.dcm", 0.5, "bytes of pixel data"),
    ],
)
def test_truncated_dicom(tmp_path, name, cut, expected):
    src = _pydicom_file(name)
    size = src.stat().st_size
    n = int(size * cut) if cut > 0 else size + int(cut)
    f = _cut(src, tmp_path / "scan.dcm", n)
    (line,) = _problems(f.parent)
    assert line.startswith("scan.dcm: DICOM ") and expected in line and line.endswith("file truncated")


def test_complete_pydicom_files_pass():
    for name in ("examples_ybr_color.dcm", "examples_rgb_color.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "waveform_ecg.dcm"):
        r = intake([_pydicom_file(name)])
        assert len(r.studies) == 1 and not r.problems, name


def test_truncated_dicom_header_is_named(tmp_path):
    src = _pydicom_file("waveform_ecg.dcm")
    f = _cut(src, tmp_path / "ecg.dcm", src.stat().st_size // 2)
    (line,) = _problems(f.parent)
    assert line.startswith("ecg.dcm: corrupt DICOM header, or the file is truncated inside it")


@pytest.mark.parametrize("name", ["cine.nii.gz", "cine.nii"])
def test_truncated_nifti(tmp_path, name):
    full = fx.make_nifti(tmp_path / "full" / name, shape=(32, 32, 4, 6))
    _cut(full, tmp_path / "case" / name, full.stat().st_size // 2)
    (line,) = _problems(tmp_path / "case")
    assert line.startswith(f"{name}: NIfTI ") and "32×32×4×6 voxels at 32 bits" in line and line.endswith("file truncated")
    assert len(intake([tmp_path / "full"]).studies) == 1


@pytest.mark.parametrize("name, expected", [("clip.mp4", "box declares"), ("clip.avi", "AVI (RIFF) header declares")])
def test_truncated_video(tmp_path, name, expected):
    full = fx.make_video(tmp_path / "full" / name, frames=30)
    _cut(full, tmp_path / "case" / name, full.stat().st_size // 2)
    (line,) = _problems(tmp_path / "case")
    assert line.startswith(f"{name}: video ") and expected in line and line.endswith("file truncated")
    assert len(intake([tmp_path / "full"]).studies) == 1


def test_truncated_hdf5_kspace(tmp_path):
    full = fx.make_kspace_h5(tmp_path / "full" / "k.h5")
    _cut(full, tmp_path / "case" / "k.h5", full.stat().st_size // 2)
    (line,) = _problems(tmp_path / "case")
    assert line.startswith("k.h5: HDF5 file of ") and "superblock declares" in line and line.endswith("file truncated")


@pytest.mark.parametrize("extra, expected", [(-4, "fewer digits than the same column above"), (-9, "of 3 fields")])
def test_csv_cut_mid_line(tmp_path, extra, expected):
    full = fx.make_ecg_csv(tmp_path / "full" / "ecg.csv")
    text = full.read_text()
    lines = text.splitlines(keepends=True)
    keep = "".join(lines[:500])
    cut = keep + lines[500][:extra] if extra > 0 else keep + lines[500][: len(lines[500]) + extra]
    (tmp_path / "case").mkdir()
    (tmp_path / "case" / "ecg.csv").write_text(cut)
    (line,) = _problems(tmp_path / "case")
    assert line.startswith("ecg.csv: CSV ") and expected in line and "truncated" in line
    assert len(intake([tmp_path / "full"]).studies) == 1


def test_wfdb_reader_names_truncated_file_when_reached_directly(tmp_path):
    """A study built without intake (tools called directly) gets the same message."""
    from experts.core.errors import InputError
    from experts.core.types import Modality, StudyInput
    from experts.ecg.io.load import load_study

    src = REPO / "examples" / "ecg" / "mitdb-100"
    (tmp_path / "100.hea").write_text((src / "100.hea").read_text())
    _cut(src / "100.dat", tmp_path / "100.dat", 7200 * 3)
    files = [str(tmp_path / "100.hea"), str(tmp_path / "100.dat")]
    study = StudyInput(study_id="ecg-1", modality=Modality.ECG, files=files, display_names=["100.hea", "100.dat"],
                       meta={"format": "wfdb", "header": files[0]})  # fmt: skip
    with pytest.raises(InputError) as err:
        load_study(study)
    assert str(err.value) == "100.dat: 21600 bytes, but 100.hea declares 650000 samples × 2 signals in format 212 (1950000 bytes): file truncated"
