"""NIfTI cine reader: ACDC layout, recon-style 4-D, and bad files."""

import gzip

import nibabel as nib
import numpy as np
import pytest

from experts.cmr.io_nifti import read_nifti_cine
from experts.cmr.labels import LV, RV
from experts.cmr.sim_files import write_acdc_folder
from experts.cmr.simulate import label_volumes
from experts.core.errors import InputError


@pytest.fixture(scope="module")
def acdc(sim_small, tmp_path_factory):
    folder = tmp_path_factory.mktemp("acdc")
    return write_acdc_folder(sim_small, folder)


def test_acdc_folder_reads_4d_with_ed_es_and_canonical_labels(acdc, sim_small):
    st = read_nifti_cine([str(p) for p in acdc])
    assert st.images.shape == sim_small.stack.images.shape
    assert st.pixel_spacing_mm == pytest.approx(sim_small.stack.pixel_spacing_mm)
    assert st.slice_spacing_mm == pytest.approx(10.0)
    np.testing.assert_allclose(st.images, sim_small.stack.images, rtol=1e-5)
    lv = label_volumes(sim_small.labels, sim_small.stack)["lv"]
    assert (st.ed_phase_hint, st.es_phase_hint) == (int(np.argmax(lv)), int(np.argmin(lv)))
    ed_ref = st.reference_labels[st.ed_phase_hint]
    assert np.array_equal(ed_ref, sim_small.labels[st.ed_phase_hint])  # ACDC 1=RV, 3=LV converted back
    assert (ed_ref == LV).any() and (ed_ref == RV).any()
    assert st.trigger_times_ms is not None and st.trigger_times_ms[1] > 0


def test_frame_files_alone_make_a_two_phase_stack(acdc):
    frames = [str(p) for p in acdc if "_4d" not in p.name]
    st = read_nifti_cine(frames)
    assert st.n_phases == 2
    assert set(st.reference_labels) == {0, 1}
    assert {st.ed_phase_hint, st.es_phase_hint} == {0, 1}


def test_spacing_comes_from_the_affine(tmp_path):
    data = np.random.default_rng(0).random((40, 30, 6, 5)).astype(np.float32)
    affine = np.array([[0, 1.25, 0, 0], [-1.5, 0, 0, 0], [0, 0, 8.0, 0], [0, 0, 0, 1]])  # x/y swapped, oblique-free
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / "recon.nii.gz"))
    st = read_nifti_cine([str(tmp_path / "recon.nii.gz")])
    assert st.images.shape == (5, 6, 30, 40)  # (t, z, y, x)
    assert st.pixel_spacing_mm == pytest.approx((1.25, 1.5))  # (rows = y, columns = x)
    assert st.slice_spacing_mm == pytest.approx(8.0)


def test_five_d_with_singleton_fourth_axis_is_squeezed(tmp_path):
    data = np.ones((16, 16, 4, 1, 6), np.float32)
    nib.save(nib.Nifti1Image(data, np.diag([1.5, 1.5, 10, 1])), str(tmp_path / "a.nii"))
    assert read_nifti_cine([str(tmp_path / "a.nii")]).images.shape == (6, 4, 16, 16)


def test_only_labels_or_nan_or_corrupt_are_input_errors(tmp_path, acdc):
    gts = [str(p) for p in acdc if "_gt" in p.name]
    with pytest.raises(InputError, match="only label files"):
        read_nifti_cine(gts)
    bad = np.ones((8, 8, 3, 4), np.float32)
    bad[0, 0, 0, 0] = np.nan
    nib.save(nib.Nifti1Image(bad, np.eye(4) * [1.5, 1.5, 8, 1]), str(tmp_path / "nan.nii.gz"))
    with pytest.raises(InputError, match="NaN"):
        read_nifti_cine([str(tmp_path / "nan.nii.gz")])
    raw = gzip.compress(b"\x5c\x01\x00\x00" + b"\x00" * 100)
    (tmp_path / "trunc.nii.gz").write_bytes(raw)
    with pytest.raises(InputError):
        read_nifti_cine([str(tmp_path / "trunc.nii.gz")])


def test_mismatched_phase_files_are_refused(tmp_path):
    nib.save(nib.Nifti1Image(np.ones((8, 8, 3), np.float32), np.eye(4)), str(tmp_path / "p_frame01.nii.gz"))
    nib.save(nib.Nifti1Image(np.ones((8, 9, 3), np.float32), np.eye(4)), str(tmp_path / "p_frame05.nii.gz"))
    with pytest.raises(InputError, match="not phases of one stack"):
        read_nifti_cine([str(tmp_path / "p_frame01.nii.gz"), str(tmp_path / "p_frame05.nii.gz")])


def test_four_d_with_one_phase_reads_as_a_single_phase(tmp_path):
    nib.save(nib.Nifti1Image(np.ones((16, 16, 5, 1), np.float32), np.diag([1.5, 1.5, 10, 1])), str(tmp_path / "one.nii.gz"))
    st = read_nifti_cine([str(tmp_path / "one.nii.gz")])
    assert st.images.shape == (1, 5, 16, 16)  # the tool reports this as non-diagnostic (no ED/ES pair)
