"""Write the segmentation where other software can open it.

NIfTI: one 4-D (x=column, y=row, z=slice, t=phase) uint8 file on the
input's own grid (the input affine for NIfTI input, ImagePositionPatient/
ImageOrientationPatient converted to RAS for DICOM), canonical labels
(1 LV pool, 2 LV myocardium, 3 RV pool) unless asked for ACDC numbering.
DICOM SEG: highdicom `Segmentation` referencing the source MR images, so a
PACS or 3D Slicer overlays it on the original series.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from experts.cmr.cine import CineStack
from experts.cmr.labels import LV, MYO, RV, from_canonical


def write_nifti(labels: np.ndarray, stack: CineStack, path: Path, convention: str = "canonical") -> Path:
    import nibabel as nib

    data = from_canonical(labels, convention) if convention != "canonical" else labels
    vol = np.ascontiguousarray(data.transpose(3, 2, 1, 0).astype(np.uint8))  # (x, y, z, t)
    img = nib.Nifti1Image(vol, stack.affine_ras)
    img.header.set_xyzt_units("mm", "msec")
    zooms = list(img.header.get_zooms())
    if stack.trigger_times_ms is not None and len(stack.trigger_times_ms) > 1:
        zooms[3] = float(np.median(np.diff(stack.trigger_times_ms)))
    img.header.set_zooms(zooms)
    img.header["descrip"] = b"cardioagent cmr labels 1LV 2MYO 3RV" if convention == "canonical" else b"cardioagent cmr labels ACDC 1RV 2MYO 3LV"
    nib.save(img, str(path))
    return path


def write_dicom_seg(
    labels: np.ndarray, stack: CineStack, phase: int, path: Path, tool_name: str, version: str, notes: list[str] | None = None
) -> Path:
    """DICOM SEG (binary, 3 segments) of one cardiac phase of a DICOM stack.

    One file per phase: a SEG's frames must sit at distinct plane
    positions, and every phase of a cine reuses the same positions."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    if stack.dicom_frames is None:
        raise ValueError("the input was not DICOM")
    if any(frame is not None for row in stack.dicom_frames for _, frame in row):
        raise ValueError("DICOM SEG export supports single-frame MR source images only")
    sources = []
    masks = []
    for z, (src, _frame) in enumerate(stack.dicom_frames[phase]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sources.append(_blank_invalid_dates(pydicom.dcmread(src)))
        masks.append(labels[phase, z])
    # orientation strings that differ only in the last printed digit (1e-6) are one orientation
    iop0 = np.asarray(sources[0].ImageOrientationPatient, float)
    for ds in sources[1:]:
        if np.abs(np.asarray(ds.ImageOrientationPatient, float) - iop0).max() < 1e-4:
            ds.ImageOrientationPatient = sources[0].ImageOrientationPatient
    with warnings.catch_warnings():  # anonymiser-made UIDs (leading zeros) warn on every access
        warnings.simplefilter("ignore")
        frames_of_reference = {str(ds.get("FrameOfReferenceUID", "")) for ds in sources}
        if len(frames_of_reference) > 1:
            # some anonymisers (the Sunnybrook release among them) give every image its own
            # FrameOfReferenceUID although the geometry is one stack; a SEG needs one
            for ds in sources[1:]:
                ds.FrameOfReferenceUID = sources[0].FrameOfReferenceUID
        if notes is not None:
            notes.append(
                f"source images carry {len(frames_of_reference)} different FrameOfReferenceUIDs for one stack; "
                "the DICOM SEG uses the first image's"
            )
    algorithm = hd.AlgorithmIdentificationSequence(
        name=tool_name, version=version, family=codes.cid7162.ArtificialIntelligence
    )
    structures = [
        (LV, "LV blood pool", codes.SCT.LeftVentricle),
        (MYO, "LV myocardium", codes.SCT.LeftVentricleMyocardium),
        (RV, "RV blood pool", codes.SCT.RightVentricle),
    ]
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=codes.SCT.AnatomicalStructure,
            segmented_property_type=code,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
        )
        for number, label, code in structures
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = hd.seg.Segmentation(
            source_images=sources,
            pixel_array=np.stack(masks).astype(np.uint8),
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=hd.UID(),
            series_number=9901 + phase,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer="CardioAgent",
            manufacturer_model_name=tool_name,
            software_versions=version,
            device_serial_number="0",
            series_description=f"CardioAgent CMR segmentation, phase {phase + 1}",
        )
        seg.save_as(str(path))
    return path


_DATE_TAGS = ("PatientBirthDate", "StudyDate", "SeriesDate", "ContentDate", "AcquisitionDate")


def _blank_invalid_dates(ds):
    """Anonymised series often carry dates like 00000000 or 20120000 that
    highdicom (rightly) refuses to copy; blank them in the in-memory copy
    (all are type 2, so empty is valid). The source files are untouched."""
    from pydicom.valuerep import DA

    for tag in _DATE_TAGS:
        value = ds.get(tag)
        if value in (None, ""):
            continue
        try:
            DA(str(value))
        except ValueError:
            setattr(ds, tag, "")
    return ds

