"""Write simulated studies as real files: a DICOM MR cine series or an
ACDC-style NIfTI folder.

Why: tests, benchmarks and the demo must exercise the same readers real
studies go through (geometry from ImagePositionPatient, sorting by
TriggerTime, ACDC `_gt` files), on a fresh clone without patient data.
The DICOM geometry is an oblique short-axis plane like a scanner's, and
SliceLocation is deliberately *not* the slice spacing (as in the Sunnybrook
series) so readers that trust it fail the tests.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from experts.cmr.labels import from_canonical
from experts.cmr.simulate import SimulatedStudy

# an oblique short-axis orientation (row, column direction cosines, LPS)
SAX_ROW = np.array([0.712, 0.701, -0.034])
SAX_COL = np.array([-0.308, 0.268, -0.913])


def _orthonormal(row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    row = row / np.linalg.norm(row)
    col = col - row * (row @ col)
    col = col / np.linalg.norm(col)
    return row, col, np.cross(row, col)


def write_dicom_series(
    sim: SimulatedStudy,
    folder: str | Path,
    row_dir: np.ndarray = SAX_ROW,
    col_dir: np.ndarray = SAX_COL,
    slice_location_factor: float = 0.672,
    series_description: str = "SA cine (simulated)",
    patient_sex: str = "O",
    slices: list[int] | None = None,
    phases: list[int] | None = None,
) -> list[Path]:
    """One single-frame MR Image Storage file per (slice, phase), named by
    InstanceNumber. Returns the paths."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stack = sim.stack
    T, Z, H, W = stack.images.shape
    slices = list(range(Z)) if slices is None else slices
    phases = list(range(T)) if phases is None else phases
    row, col, normal = _orthonormal(np.asarray(row_dir, float), np.asarray(col_dir, float))
    origin = np.array([-120.0, -150.0, 80.0])
    study_uid, series_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    now = datetime.datetime(2024, 1, 1, 12, 0, 0)
    rr = 60000.0 / (stack.heart_rate_bpm or 60.0)
    paths = []
    instance = 0
    for z in slices:
        ipp = origin + normal * float(stack.slice_positions_mm[z])
        for t in phases:
            instance += 1
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = MRImageStorage
            sop_uid = generate_uid()
            meta.MediaStorageSOPInstanceUID = sop_uid
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.SOPClassUID = MRImageStorage
            ds.SOPInstanceUID = sop_uid
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = series_uid
            ds.FrameOfReferenceUID = frame_uid
            ds.Modality = "MR"
            ds.PatientName = "Simulated^Heart"
            ds.PatientID = "SIM0001"
            ds.PatientSex = patient_sex
            ds.PatientBirthDate = ""
            ds.StudyDate = ds.SeriesDate = now.strftime("%Y%m%d")
            ds.StudyTime = ds.SeriesTime = now.strftime("%H%M%S")
            ds.StudyID = "1"
            ds.AccessionNumber = ""
            ds.ReferringPhysicianName = ""
            ds.Manufacturer = "CardioAgent simulator"
            ds.SeriesNumber = 5
            ds.InstanceNumber = instance
            ds.SeriesDescription = series_description
            ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
            ds.ScanningSequence = "GR"
            ds.SequenceVariant = "SS"
            ds.ScanOptions = ""
            ds.MRAcquisitionType = "2D"
            ds.ImagePositionPatient = [float(v) for v in ipp]
            ds.ImageOrientationPatient = [float(v) for v in np.concatenate([row, col])]
            ds.PixelSpacing = [float(stack.pixel_spacing_mm[0]), float(stack.pixel_spacing_mm[1])]
            ds.SliceThickness = float(stack.slice_thickness_mm or 8.0)
            ds.SpacingBetweenSlices = float(stack.slice_spacing_mm)
            ds.SliceLocation = float(stack.slice_positions_mm[z] * slice_location_factor)
            ds.TriggerTime = float(stack.trigger_times_ms[t]) if stack.trigger_times_ms is not None else float(t * rr / T)
            ds.NominalInterval = round(rr)
            ds.HeartRate = round(stack.heart_rate_bpm or 60)
            ds.CardiacNumberOfImages = T
            ds.Rows, ds.Columns = H, W
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated = 16
            ds.BitsStored = 16
            ds.HighBit = 15
            ds.PixelRepresentation = 0
            ds.PixelData = np.clip(stack.images[t, z], 0, 65535).astype("<u2").tobytes()
            path = folder / f"{instance}.dcm"
            pydicom.dcmwrite(path, ds, enforce_file_format=True)
            paths.append(path)
    return paths


def write_acdc_folder(sim: SimulatedStudy, folder: str | Path, patient: str = "patient001", with_4d: bool = True) -> list[Path]:
    """ACDC layout: patientNNN_4d.nii.gz, patientNNN_frameXX.nii.gz for ED
    and ES, and their _gt label files (ACDC numbering: 1 RV, 2 MYO, 3 LV)."""
    import nibabel as nib

    from experts.cmr.simulate import label_volumes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stack = sim.stack
    affine = np.diag([stack.pixel_spacing_mm[1], stack.pixel_spacing_mm[0], stack.slice_spacing_mm, 1.0])
    lv = label_volumes(sim.labels, stack)["lv"]
    ed, es = int(np.argmax(lv)), int(np.argmin(lv))
    paths = []
    if with_4d:
        img4 = nib.Nifti1Image(stack.images.transpose(3, 2, 1, 0).astype(np.float32), affine)
        img4.header.set_xyzt_units("mm", "msec")
        z = list(img4.header.get_zooms())
        if stack.trigger_times_ms is not None and len(stack.trigger_times_ms) > 1:
            z[3] = float(np.diff(stack.trigger_times_ms).mean())
        img4.header.set_zooms(z)
        p = folder / f"{patient}_4d.nii.gz"
        nib.save(img4, str(p))
        paths.append(p)
    for t in (ed, es):
        p = folder / f"{patient}_frame{t + 1:02d}.nii.gz"
        nib.save(nib.Nifti1Image(stack.images[t].transpose(2, 1, 0).astype(np.float32), affine), str(p))
        g = folder / f"{patient}_frame{t + 1:02d}_gt.nii.gz"
        nib.save(nib.Nifti1Image(from_canonical(sim.labels[t], "acdc").transpose(2, 1, 0).astype(np.uint8), affine), str(g))
        paths += [p, g]
    return paths
