"""Read a DICOM ultrasound clip: pixels, frame timing, physical spacing.

Why these details matter:
* Colour: pydicom 3 decodes JPEG-compressed YBR_FULL_422 (the usual echo
  export) and converts it to RGB when `as_rgb=True`, its default. We ask for
  that explicitly and never call `convert_color_space` afterwards:
  converting a second time turns a grey echo green.
* Timing: Frame Time (0018,1063) is in ms; Frame Time Vector (0018,1065)
  holds per-frame increments; Cine Rate (0018,0040) and Recommended Display
  Frame Rate (0008,2144) are in frames/s. Without any of them EF still
  works, heart rate does not.
* Spacing: ultrasound stores physical pixel size per region in the
  Sequence of Ultrasound Regions (0018,6011), in cm when Physical Units
  (0018,6024/6026) = 3. Pixel Spacing (0028,0030) is usually absent and is
  not trusted for US. `experts.echo.spacing` checks the region against the
  actual image size (downsampled exports keep the original's region).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from experts.core.errors import InputError
from experts.echo.clip import EchoClip, UltrasoundRegion

US_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.3.1": "Ultrasound Multi-frame Image",
    "1.2.840.10008.5.1.4.1.1.6.1": "Ultrasound Image",
    "1.2.840.10008.5.1.4.1.1.3": "Ultrasound Multi-frame Image (retired)",
    "1.2.840.10008.5.1.4.1.1.6": "Ultrasound Image (retired)",
}

# Decoded size above which we refuse a clip instead of exhausting memory.
MAX_DECODED_BYTES = 1_500_000_000
MIN_FPS, MAX_FPS = 1.0, 1000.0


def read_dicom_clip(path: str | Path, display_name: str) -> EchoClip:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(str(path))
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise InputError(display_name, f"corrupt or unreadable DICOM file ({type(exc).__name__}: {exc})") from exc

    sop = str(getattr(ds, "SOPClassUID", ""))
    modality = str(getattr(ds, "Modality", "")).upper()
    if sop not in US_SOP_CLASSES and modality != "US":
        what = getattr(getattr(ds, "SOPClassUID", None), "name", None) or (f"modality {modality}" if modality else "unknown type")
        raise InputError(display_name, f"not an ultrasound image ({what}); the echo expert reads ultrasound clips only")
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        raise InputError(display_name, "DICOM file has no pixel data")

    rows, cols = int(getattr(ds, "Rows", 0) or 0), int(getattr(ds, "Columns", 0) or 0)
    n_frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    spp = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if rows <= 0 or cols <= 0:
        raise InputError(display_name, f"implausible image size {rows}x{cols}")
    if n_frames * rows * cols * 3 > MAX_DECODED_BYTES:
        raise InputError(
            display_name,
            f"clip of {n_frames} frames of {rows}x{cols} would need {n_frames * rows * cols * 3 / 1e9:.1f} GB decoded "
            f"(limit {MAX_DECODED_BYTES / 1e9:.1f} GB); export a shorter loop",
        )
    if n_frames < 2:
        raise InputError(
            display_name,
            "a single still ultrasound image; LV volumes and EF need a cine clip covering at least one heart cycle",
        )

    photometric = str(getattr(ds, "PhotometricInterpretation", "")).upper()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.pixel_array_options(as_rgb=True)  # YBR -> RGB once, inside pydicom
            pixels = ds.pixel_array
    except Exception as exc:  # decoders raise many types for truncated/corrupt data
        raise InputError(display_name, f"pixel data cannot be decoded ({type(exc).__name__}: {exc})") from exc

    frames = _to_rgb_uint8(pixels, n_frames, spp, photometric, ds, display_name)
    clip = EchoClip(
        frames=frames,
        display_name=display_name,
        source_format="dicom",
        details={
            "sop_class": US_SOP_CLASSES.get(sop, sop),
            "photometric_interpretation": photometric,
            "transfer_syntax": str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "")),
            "manufacturer": str(getattr(ds, "Manufacturer", "")) or None,
            "rows": rows,
            "columns": cols,
        },
    )
    clip.fps, clip.fps_source = _frame_rate(ds, clip.warnings)
    clip.region = _tissue_region(ds, clip.warnings)
    return clip


def _to_rgb_uint8(pixels: np.ndarray, n_frames: int, spp: int, photometric: str, ds, display_name: str) -> np.ndarray:
    arr = np.asarray(pixels)
    if spp == 3 or (arr.ndim >= 3 and arr.shape[-1] == 3 and photometric not in ("MONOCHROME1", "MONOCHROME2")):
        if arr.ndim == 3:
            arr = arr[None]
    else:
        if arr.ndim == 2:
            arr = arr[None]
        if photometric == "PALETTE COLOR":
            from pydicom.pixels import apply_color_lut

            arr = apply_color_lut(arr, ds)
        else:
            arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[0] != n_frames:
        raise InputError(display_name, f"decoded pixel array has shape {arr.shape}, expected {n_frames} frames")
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float64)
        bits = int(getattr(ds, "BitsStored", 8) or 8)
        if str(getattr(ds, "PhotometricInterpretation", "")).upper() == "PALETTE COLOR":
            bits = 16 if arr.max() > 255 else 8
        lo = arr.min() if int(getattr(ds, "PixelRepresentation", 0) or 0) == 1 else 0.0
        arr = np.clip((arr - lo) / max(2.0**bits - 1.0, 1.0) * 255.0, 0, 255).astype(np.uint8)
    if photometric == "MONOCHROME1":
        arr = 255 - arr
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return np.ascontiguousarray(arr)


def _frame_rate(ds, warn: list[str]) -> tuple[float | None, str | None]:
    candidates: list[tuple[str, float | None]] = []
    ft = _number(ds, "FrameTime")
    candidates.append(("Frame Time (0018,1063)", 1000.0 / ft if ft and ft > 0 else None))
    ftv = getattr(ds, "FrameTimeVector", None)
    if ftv is not None:
        try:
            vals = [float(v) for v in (ftv if isinstance(ftv, (list, tuple)) or hasattr(ftv, "__iter__") else [ftv])]
        except (TypeError, ValueError):
            vals = []
        steps = [v for v in vals[1:] if v > 0]
        candidates.append(("Frame Time Vector (0018,1065)", 1000.0 / float(np.mean(steps)) if steps else None))
    candidates.append(("Cine Rate (0018,0040)", _number(ds, "CineRate")))
    candidates.append(("Recommended Display Frame Rate (0008,2144)", _number(ds, "RecommendedDisplayFrameRate")))
    for source, fps in candidates:
        if fps is not None and MIN_FPS <= fps <= MAX_FPS:
            return float(fps), source
        if fps is not None:
            warn.append(f"{source} gives an implausible {fps:g} frames/s; ignored")
    return None, None


def _number(ds, keyword: str) -> float | None:
    v = getattr(ds, keyword, None)
    if v is None or v == "":
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _tissue_region(ds, warn: list[str]) -> UltrasoundRegion | None:
    """The 2D tissue region with physical units in cm (largest if several)."""
    seq = getattr(ds, "SequenceOfUltrasoundRegions", None)
    if not seq:
        return None
    found: list[UltrasoundRegion] = []
    for item in seq:
        try:
            if int(getattr(item, "RegionSpatialFormat", 0)) != 1:  # 1 = 2D (tissue or flow)
                continue
            if int(getattr(item, "PhysicalUnitsXDirection", 0)) != 3 or int(getattr(item, "PhysicalUnitsYDirection", 0)) != 3:
                continue  # 3 = cm; other units are not lengths
            dx, dy = float(item.PhysicalDeltaX) * 10.0, float(item.PhysicalDeltaY) * 10.0
            region = UltrasoundRegion(
                x0=int(item.RegionLocationMinX0),
                y0=int(item.RegionLocationMinY0),
                x1=int(item.RegionLocationMaxX1),
                y1=int(item.RegionLocationMaxY1),
                delta_x_mm=abs(dx),
                delta_y_mm=abs(dy),
                data_type=int(getattr(item, "RegionDataType", 0) or 0),
            )
        except (AttributeError, TypeError, ValueError):
            warn.append("an ultrasound region entry is incomplete; ignored")
            continue
        if not (0.005 <= region.delta_x_mm <= 5 and 0.005 <= region.delta_y_mm <= 5) or region.width < 8 or region.height < 8:
            warn.append(f"ultrasound region with implausible spacing {region.delta_x_mm:g}x{region.delta_y_mm:g} mm; ignored")
            continue
        found.append(region)
    if not found:
        return None
    tissue = [r for r in found if r.data_type == 1] or found
    return max(tissue, key=lambda r: r.width * r.height)
