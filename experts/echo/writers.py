"""Write echo clips: AVI/MP4 through PyAV and DICOM ultrasound multi-frame
through pydicom.

Why in the expert: the overlay video for the UI, the test fixtures
(simulated clips in every container the readers accept, with known
spacing and frame time) and the evaluation sets all need the same writers,
and writing real files is how the readers get tested end to end.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def _rgb(frames: np.ndarray) -> np.ndarray:
    return np.repeat(frames[..., None], 3, axis=-1) if frames.ndim == 3 else frames


def write_video(frames: np.ndarray, fps: float, path: str | Path, codec: str | None = None) -> Path:
    """(T, H, W) grey or (T, H, W, 3) RGB uint8 -> AVI (MJPEG, as EchoNet's
    videos) or MP4/MKV (H.264 when available, else MPEG-4 part 2)."""
    import av

    path = Path(path)
    rgb = _rgb(np.asarray(frames, np.uint8))
    T, H, W = rgb.shape[:3]
    suffix = path.suffix.lower()
    if codec is None:
        codec = "mjpeg" if suffix == ".avi" else ("libx264" if "libx264" in av.codecs_available else "mpeg4")
    even = codec in ("libx264", "mpeg4", "h264")
    if even and (H % 2 or W % 2):
        rgb = rgb[:, : H - H % 2, : W - W % 2]
        H, W = rgb.shape[1:3]
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = W, H
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "18", "preset": "veryfast"}
        for f in rgb:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_us_dicom(
    frames: np.ndarray,
    fps: float,
    path: str | Path,
    spacing_mm: float | None = None,
    region_bbox: tuple[int, int, int, int] | None = None,
    photometric: str = "MONOCHROME2",
) -> Path:
    """Ultrasound Multi-frame Image Storage, uncompressed, with Frame Time
    and (optionally) one tissue region carrying the physical spacing in cm.
    region_bbox is (x0, y0, x1, y1); defaults to the whole image."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    arr = np.asarray(frames, np.uint8)
    if photometric == "RGB":
        arr = _rgb(arr)
    T, H, W = arr.shape[:3]
    sop_class = "1.2.840.10008.5.1.4.1.1.3.1"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "US"
    ds.PatientName = "SIMULATED^ECHO"
    ds.PatientID = "SIM"
    ds.Manufacturer = "CardioAgent simulator"
    ds.NumberOfFrames = T
    ds.FrameTime = f"{1000.0 / fps:.3f}"
    ds.FrameIncrementPointer = pydicom.tag.Tag(0x0018, 0x1063)
    ds.Rows, ds.Columns = H, W
    ds.SamplesPerPixel = 3 if photometric == "RGB" else 1
    ds.PhotometricInterpretation = photometric
    if photometric == "RGB":
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if spacing_mm is not None:
        x0, y0, x1, y1 = region_bbox or (0, 0, W - 1, H - 1)
        region = Dataset()
        region.RegionSpatialFormat = 1
        region.RegionDataType = 1
        region.RegionFlags = 0
        region.RegionLocationMinX0, region.RegionLocationMinY0 = x0, y0
        region.RegionLocationMaxX1, region.RegionLocationMaxY1 = x1, y1
        region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3
        region.PhysicalDeltaX = region.PhysicalDeltaY = spacing_mm / 10.0
        ds.SequenceOfUltrasoundRegions = Sequence([region])
    ds.PixelData = arr.tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return Path(path)
