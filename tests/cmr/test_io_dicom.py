"""The DICOM cine reader on simulated series written as real DICOM files."""

import random
import shutil

import numpy as np
import pydicom
import pytest

from experts.cmr.io_dicom import read_dicom_cine
from experts.cmr.sim_files import write_dicom_series
from experts.core.errors import InputError


@pytest.fixture(scope="module")
def series(sim_small, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dicom")
    return write_dicom_series(sim_small, folder)


def test_geometry_comes_from_image_position_not_slice_location(series, sim_small):
    st = read_dicom_cine([str(p) for p in series])
    assert st.images.shape == sim_small.stack.images.shape
    assert st.slice_spacing_mm == pytest.approx(10.0, abs=1e-3)  # SliceLocation steps 6.72 mm
    assert any("SliceLocation" in n for n in st.notes)
    assert st.pixel_spacing_mm == pytest.approx(sim_small.stack.pixel_spacing_mm)
    assert st.heart_rate_bpm == pytest.approx(round(sim_small.stack.heart_rate_bpm))
    assert st.verdict() == "usable"
    # the affine puts voxel (0, 0, k) at ImagePositionPatient of slice k (LPS -> RAS)
    ds = pydicom.dcmread(series[0])
    ipp = np.array(ds.ImagePositionPatient, float)
    assert np.allclose(st.affine_ras[:3, 3], ipp * [-1, -1, 1], atol=1e-3)
    assert np.linalg.norm(st.affine_ras[:3, 2]) == pytest.approx(10.0, abs=1e-3)


def test_file_order_does_not_matter(series, sim_small):
    shuffled = [str(p) for p in series]
    random.Random(1).shuffle(shuffled)
    st = read_dicom_cine(shuffled)
    # images are sorted by position along the normal, then by trigger time
    z = 3
    order = np.argsort([float(pydicom.dcmread(p, stop_before_pixels=True).TriggerTime) for p in series[z * 10 : (z + 1) * 10]])
    assert np.array_equal(st.images[:, z], sim_small.stack.images[order, z])


def test_missing_slice_is_reported_and_bridged(series, tmp_path):
    keep = [p for p in series if not (31 <= int(p.stem) <= 40)]  # drop slice 4 (all its phases)
    st = read_dicom_cine([str(p) for p in keep])
    assert st.n_slices == 8
    assert st.verdict() == "limited"
    assert any("missing slice" in p.message for p in st.problems)
    w = st.slice_weights_mm()
    assert w.sum() == pytest.approx(90.0, abs=0.01)  # the gap still counts once


def test_inconsistent_spacing_is_non_diagnostic(series, tmp_path):
    for p in series:
        ds = pydicom.dcmread(p)
        if int(ds.InstanceNumber) > 50:  # shift slices 6.. by 4 mm along the normal
            row, col = np.array(ds.ImageOrientationPatient[:3]), np.array(ds.ImageOrientationPatient[3:])
            ds.ImagePositionPatient = list(np.array(ds.ImagePositionPatient, float) + 4.0 * np.cross(row, col))
        ds.save_as(tmp_path / p.name)
    st = read_dicom_cine([str(tmp_path / p.name) for p in series])
    assert st.verdict() == "non_diagnostic"
    assert any("inconsistent slice spacing" in p.message for p in st.problems)


def test_duplicated_trigger_times_are_non_diagnostic(series, tmp_path):
    for p in series:
        ds = pydicom.dcmread(p)
        if int(ds.InstanceNumber) == 2:
            ds.TriggerTime = 0.0  # same as instance 1 at the same position
        ds.save_as(tmp_path / p.name)
    st = read_dicom_cine([str(tmp_path / p.name) for p in series])
    assert st.verdict() == "non_diagnostic"
    assert any("TriggerTime" in p.message for p in st.problems)


def test_corrupt_files_are_skipped_with_a_note_and_all_corrupt_is_an_input_error(series, tmp_path):
    files = [str(p) for p in series]
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00garbage")
    st = read_dicom_cine(files + [str(bad)], [p.split("/")[-1] for p in files] + ["broken.dcm"])
    assert any("broken.dcm" in n for n in st.notes)
    with pytest.raises(InputError) as err:
        read_dicom_cine([str(bad)], ["broken.dcm"])
    assert err.value.file == "broken.dcm"


def test_mixed_orientations_keep_the_stack_and_say_so(series, sim_small, tmp_path):
    lax = write_dicom_series(sim_small, tmp_path / "lax", row_dir=np.array([1.0, 0, 0]), col_dir=np.array([0, 0, -1.0]), slices=[4])
    st = read_dicom_cine([str(p) for p in series] + [str(p) for p in lax])
    assert st.n_slices == 9
    assert any("mixed series" in n for n in st.notes)


def test_truncated_pixel_data_is_an_input_error(series, tmp_path):
    files = []
    for p in series[:20]:
        shutil.copy(p, tmp_path / p.name)
        files.append(str(tmp_path / p.name))
    data = (tmp_path / series[5].name).read_bytes()
    (tmp_path / series[5].name).write_bytes(data[: len(data) - 5000])
    with pytest.raises(InputError, match="pixel data"):
        read_dicom_cine(files)


def test_radial_long_axis_set_is_non_diagnostic(sim_small, tmp_path):
    paths = []
    for i, angle in enumerate((0.0, 1.0, 2.0)):
        row = np.array([np.cos(angle), np.sin(angle), 0.0])
        paths += write_dicom_series(sim_small, tmp_path / f"lax{i}", row_dir=row, col_dir=np.array([0, 0, -1.0]), slices=[4], series_description="CINE 4CH")
    st = read_dicom_cine([str(p) for p in paths])
    assert st.verdict() == "non_diagnostic"
    assert any("long-axis" in p.message for p in st.problems)


def test_long_axis_series_description_is_non_diagnostic(sim_small, tmp_path):
    paths = write_dicom_series(sim_small, tmp_path / "lax", slices=[4], series_description="cine 4ch TrueFISP")
    st = read_dicom_cine([str(p) for p in paths])
    assert any("long-axis view" in p.message for p in st.problems) and st.verdict() == "non_diagnostic"
