"""Small real-format files made in the tests (pydicom, nibabel, wfdb, PyAV,
h5py write them), so intake is tested on every format without big data."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_wfdb(folder: Path, name: str = "rec", fs: int = 500, seconds: float = 10.0, leads=("I", "II")) -> Path:
    """A WFDB record with a synthetic ECG-like signal (neurokit2 simulator)."""
    import neurokit2 as nk
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    n = int(fs * seconds)
    sig = np.column_stack([nk.ecg_simulate(duration=seconds, sampling_rate=fs, heart_rate=70, random_state=i)[:n] for i in range(len(leads))])
    wfdb.wrsamp(name, fs=fs, units=["mV"] * len(leads), sig_name=list(leads), p_signal=sig, fmt=["16"] * len(leads), write_dir=str(folder))
    return folder / f"{name}.hea"


def _dicom_base(sop_class: str, modality: str):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = "TEST"
    return ds


def make_dicom_mr(path: Path, series_uid: str | None = None, z: float = 0.0) -> Path:
    ds = _dicom_base("1.2.840.10008.5.1.4.1.1.4", "MR")
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    ds.Rows, ds.Columns = 16, 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = 1, "MONOCHROME2", 0
    ds.PixelSpacing = [1.5, 1.5]
    ds.ImagePositionPatient = [0.0, 0.0, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelData = (np.arange(256, dtype=np.uint16)).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def make_dicom_us(path: Path, frames: int = 4) -> Path:
    ds = _dicom_base("1.2.840.10008.5.1.4.1.1.3.1", "US")
    ds.Rows, ds.Columns, ds.NumberOfFrames = 16, 16, frames
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = 1, "MONOCHROME2", 0
    ds.FrameTime = 33.3
    ds.PixelData = np.zeros((frames, 16, 16), dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def make_dicom_ct(path: Path) -> Path:
    ds = _dicom_base("1.2.840.10008.5.1.4.1.1.2", "CT")
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def make_nifti(path: Path, shape=(8, 8, 4, 5)) -> Path:
    import nibabel as nib

    img = nib.Nifti1Image(np.random.default_rng(0).random(shape).astype(np.float32), np.diag([1.5, 1.5, 8.0, 1.0]))
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, str(path))
    return path


def make_video(path: Path, frames: int = 6, codec: str | None = None) -> Path:
    import av

    codec = codec or ("mpeg4" if path.suffix.lower() == ".avi" else "libx264" if path.suffix.lower() == ".mp4" else "mpeg4")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        try:
            stream = out.add_stream(codec, rate=25)
        except Exception:
            stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(frames):
            img = np.full((32, 32, 3), (i * 30) % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_kspace_h5(path: Path, matlab: bool = False) -> Path:
    import h5py

    k = (np.random.default_rng(0).standard_normal((2, 4, 16, 16)) + 1j * np.random.default_rng(1).standard_normal((2, 4, 16, 16))).astype(np.complex64)
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"userblock_size": 512} if matlab else {}
    with h5py.File(path, "w", **kwargs) as f:
        f.create_dataset("kspace", data=k)
    if matlab:
        with open(path, "r+b") as fh:
            fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Nov 26 2026 HDF5 schema 1.00 .")
    return path


def make_kspace_npz(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, kspace=np.zeros((2, 4, 8, 8), dtype=np.complex64))
    return path


def make_ecg_csv(path: Path, fs: int = 250) -> Path:
    t = np.arange(fs * 4) / fs
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["I,II,V1"] + [f"{np.sin(x):.4f},{np.cos(x):.4f},{0.1:.4f}" for x in t]
    path.write_text("\n".join(rows) + "\n")
    return path
