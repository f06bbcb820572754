"""Detect what each input file is from its content, not its name.

Why content first: uploads lose their names, DICOM files often have no
extension, a `.dat` is meaningless without its WFDB header, and a JPEG
renamed `.dcm` must be rejected with a reason. Each detector reads only a
header (never whole pixel data), so intake stays fast on large studies.
"""

from __future__ import annotations

import gzip
import os
import re
import struct
import zipfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from experts.core.types import Modality

FileKind = Literal[
    "wfdb_header",
    "wfdb_data",  # binary signal or annotation file, claimed later by a header
    "dicom",
    "nifti",
    "video",
    "kspace_hdf5",
    "kspace_npz",
    "ecg_csv",
    "note",
    "unsupported",
]

MAX_FILE_BYTES = int(float(os.environ.get("CARDIO_MAX_FILE_MB", "4096")) * 1024 * 1024)

# DICOM SOP classes we route (PS3.4 Annex B).
ECG_SOPS = {
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG waveform",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG waveform",
    "1.2.840.10008.5.1.4.1.1.9.1.3": "Ambulatory ECG waveform",
}
US_SOPS = {
    "1.2.840.10008.5.1.4.1.1.3.1": "Ultrasound multi-frame image",
    "1.2.840.10008.5.1.4.1.1.6.1": "Ultrasound image",
    "1.2.840.10008.5.1.4.1.1.6.2": "Enhanced US volume",
}
MR_SOPS = {
    "1.2.840.10008.5.1.4.1.1.4": "MR image",
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR image",
}
KNOWN_OTHER_SOPS = {
    "1.2.840.10008.5.1.4.1.1.66.4": "Segmentation",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.88.34": "Comprehensive 3D SR",
    "1.2.840.10008.5.1.4.1.1.2": "CT image",
    "1.2.840.10008.5.1.4.1.1.1": "Computed radiography image",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary capture image",
}

STANDARD_LEAD_NAMES = {
    "i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6",
    "mlii", "mli", "mliii", "ecg", "lead_i", "lead_ii", "lead_iii", "v", "x", "y", "z", "vx", "vy", "vz",
}  # fmt: skip


class DetectedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    display_name: str
    kind: FileKind
    modality: Modality | None = None
    problem: str | None = None
    meta: dict[str, str | int | float | bool | None | list[str]] = Field(default_factory=dict)


def detect(path: str | Path, display_name: str | None = None) -> DetectedFile:
    """Classify one file. Never raises for a bad file: the problem is returned."""
    p = Path(path)
    name = display_name or p.name

    def bad(problem: str) -> DetectedFile:
        return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=problem)

    try:
        st = p.stat()
    except OSError as exc:
        return bad(f"cannot be read ({exc.strerror or exc})")
    if not p.is_file():
        return bad("not a regular file")
    if st.st_size == 0:
        return bad("empty file (0 bytes)")
    if st.st_size > MAX_FILE_BYTES:
        return bad(f"file is {st.st_size / 2**30:.1f} GiB, above the {MAX_FILE_BYTES / 2**30:.1f} GiB limit (CARDIO_MAX_FILE_MB)")
    try:
        with open(p, "rb") as fh:
            head = fh.read(2048)
    except OSError as exc:
        return bad(f"cannot be read ({exc.strerror or exc})")

    for detector in (_dicom, _hdf5, _nifti, _video, _npz, _matlab, _image_or_document, _text):
        found = detector(p, name, head)
        if found is not None:
            return found
    return DetectedFile(path=str(p), display_name=name, kind="wfdb_data")


# --- detectors: each returns None when the file is not of its kind ---------


def _dicom(p: Path, name: str, head: bytes) -> DetectedFile | None:
    if head[128:132] != b"DICM":
        return None
    import warnings

    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # vendors' off-spec UIDs are common and harmless here
            with open(p, "rb") as fh:
                ds = pydicom.dcmread(fh, stop_before_pixels=True)
                pixel_pos = fh.tell()  # pydicom stops at the Pixel Data tag
            sop = str(getattr(ds, "SOPClassUID", ""))
            modality_tag = str(getattr(ds, "Modality", "")).upper()
            meta: dict = {
                "sop_class": sop,
                "dicom_modality": modality_tag,
                "study_uid": str(getattr(ds, "StudyInstanceUID", "")),
                "series_uid": str(getattr(ds, "SeriesInstanceUID", "")),
                "series_number": str(getattr(ds, "SeriesNumber", "") or ""),
                "series_description": str(getattr(ds, "SeriesDescription", "") or "").strip(),
                "frames": int(getattr(ds, "NumberOfFrames", 1) or 1),
            }
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError, AttributeError) as exc:
        return DetectedFile(path=str(p), display_name=name, kind="unsupported",
                            problem=f"corrupt DICOM header, or the file is truncated inside it ({exc})")  # fmt: skip
    if sop in ECG_SOPS or sop in US_SOPS or sop in MR_SOPS or modality_tag in ("ECG", "US", "MR"):
        from agent.intake.truncation import dicom_pixel_problem

        try:
            cut = dicom_pixel_problem(p, ds, pixel_pos)
        except (OSError, ValueError, struct.error) as exc:
            cut = f"cannot check the pixel data ({exc})"
        if cut:
            return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=f"DICOM {cut}", meta=meta)
    if sop in ECG_SOPS or modality_tag == "ECG":
        meta["description"] = ECG_SOPS.get(sop, "ECG waveform")
        return DetectedFile(path=str(p), display_name=name, kind="dicom", modality=Modality.ECG, meta=meta)
    if sop in US_SOPS or modality_tag == "US":
        meta["description"] = US_SOPS.get(sop, "Ultrasound")
        return DetectedFile(path=str(p), display_name=name, kind="dicom", modality=Modality.ECHO, meta=meta)
    if sop in MR_SOPS or modality_tag == "MR":
        meta["description"] = MR_SOPS.get(sop, "MR image")
        return DetectedFile(path=str(p), display_name=name, kind="dicom", modality=Modality.CMR, meta=meta)
    what = KNOWN_OTHER_SOPS.get(sop) or (f"modality {modality_tag}" if modality_tag else f"SOP class {sop or 'unknown'}")
    return DetectedFile(
        path=str(p),
        display_name=name,
        kind="unsupported",
        problem=f"DICOM {what} is not a cardiac study CardioAgent analyses (ECG waveform, ultrasound or MR)",
        meta=meta,
    )


_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _hdf5(p: Path, name: str, head: bytes) -> DetectedFile | None:
    # HDF5 may sit behind a user block (MATLAB v7.3 puts it at 512).
    offsets = [o for o in (0, 512, 1024) if head[o : o + 8] == _HDF5_MAGIC]
    if not offsets:
        return None
    import h5py

    try:
        with h5py.File(p, "r") as f:
            names: list[str] = []
            f.visit(names.append)
    except (OSError, ValueError) as exc:
        m = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(exc))
        why = (f"HDF5 file of {m.group(1)} bytes, but its superblock declares {m.group(2)} bytes: file truncated" if m
               else f"corrupt HDF5 file ({exc})")  # fmt: skip
        return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=why)
    kspace_like = [n for n in names if re.search(r"k_?space", n, re.IGNORECASE)]
    if kspace_like:
        return DetectedFile(
            path=str(p),
            display_name=name,
            kind="kspace_hdf5",
            modality=Modality.KSPACE,
            meta={"datasets": kspace_like[:20], "matlab": offsets[0] == 512},
        )
    shown = ", ".join(names[:5]) or "none"
    return DetectedFile(
        path=str(p),
        display_name=name,
        kind="unsupported",
        problem=f"HDF5 file without a k-space dataset (datasets: {shown})",
    )


def _nifti(p: Path, name: str, head: bytes) -> DetectedFile | None:
    raw = head
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(p, "rb") as fh:
                raw = fh.read(560)
            if len(raw) < 348:
                raise EOFError("too short for a NIfTI header")
        except (OSError, EOFError) as exc:
            if name.lower().endswith((".nii.gz", ".nii")):
                return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=f"corrupt gzip NIfTI ({exc})")
            return None
    nifti1 = raw[344:348] in (b"n+1\x00", b"ni1\x00")
    nifti2 = raw[4:8] in (b"n+2\x00", b"ni2\x00")
    if not (nifti1 or nifti2):
        return None
    import io

    import nibabel as nib

    try:
        # Parse the header from bytes: nib.load needs a .nii/.nii.gz name,
        # and uploads or PACS exports often have none.
        header_cls = nib.Nifti2Header if nifti2 else nib.Nifti1Header
        header = header_cls.from_fileobj(io.BytesIO(raw[: header_cls.sizeof_hdr]), check=True)
        shape = tuple(int(x) for x in header.get_data_shape())
        zooms = tuple(float(z) for z in header.get_zooms())
    except Exception as exc:  # nibabel raises many types for broken headers
        return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=f"corrupt NIfTI header ({exc})")
    from agent.intake.truncation import nifti_problem

    try:
        cut = nifti_problem(p, header, gz=head[:2] == b"\x1f\x8b")
    except OSError as exc:
        cut = f"cannot be read ({exc.strerror or exc})"
    if cut:
        return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=f"NIfTI {cut}")
    return DetectedFile(
        path=str(p),
        display_name=name,
        kind="nifti",
        modality=Modality.CMR,
        meta={"shape": "x".join(map(str, shape)), "zooms_mm": "x".join(f"{z:g}" for z in zooms)},
    )


def _video(p: Path, name: str, head: bytes) -> DetectedFile | None:
    is_avi = head[:4] == b"RIFF" and head[8:12] == b"AVI "
    is_mp4 = head[4:8] == b"ftyp"
    is_mkv = head[:4] == b"\x1a\x45\xdf\xa3"
    if not (is_avi or is_mp4 or is_mkv):
        return None
    import av

    from agent.intake.truncation import video_problem

    try:
        cut = video_problem(p, head)
    except (OSError, struct.error) as exc:
        cut = f"cannot be read ({exc})"
    if cut:
        return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=f"video {cut}")
    try:
        with av.open(str(p)) as container:
            streams = container.streams.video
            if not streams:
                return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem="video container holds no video stream")
            vs = streams[0]
            meta = {
                "container": "avi" if is_avi else ("mp4" if is_mp4 else "mkv"),
                "codec": vs.codec_context.name,
                "width": int(vs.codec_context.width or 0),
                "height": int(vs.codec_context.height or 0),
                "frames": int(vs.frames or 0),
            }
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=f"corrupt or truncated video container ({exc})")
    return DetectedFile(path=str(p), display_name=name, kind="video", modality=Modality.ECHO, meta=meta)


def _npz(p: Path, name: str, head: bytes) -> DetectedFile | None:
    if head[:4] != b"PK\x03\x04":
        return None
    try:
        with zipfile.ZipFile(p) as zf:
            members = [m.removesuffix(".npy") for m in zf.namelist()]
    except zipfile.BadZipFile as exc:
        return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=f"corrupt or truncated zip/NPZ archive: its directory at the end of the file is missing or damaged ({exc})")
    if not all(m.endswith(".npy") for m in zipfile.ZipFile(p).namelist()):
        return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem="zip archive: unpack it and pass the files inside")
    if any(re.search(r"k_?space", m, re.IGNORECASE) for m in members):
        return DetectedFile(path=str(p), display_name=name, kind="kspace_npz", modality=Modality.KSPACE, meta={"arrays": members[:20]})
    return DetectedFile(
        path=str(p), display_name=name, kind="unsupported", problem=f"NumPy archive without a 'kspace' array (arrays: {', '.join(members[:5])})"
    )


def _matlab(p: Path, name: str, head: bytes) -> DetectedFile | None:
    if not head.startswith(b"MATLAB"):
        return None
    # v7.3 (HDF5) was handled by _hdf5; v4/v5 .mat files here are WFDB signal
    # files (PhysioNet challenges) and are claimed by their header.
    return DetectedFile(path=str(p), display_name=name, kind="wfdb_data", meta={"matlab": True})


_SIGNATURES = {
    b"\xff\xd8\xff": "JPEG image",
    b"\x89PNG": "PNG image",
    b"GIF8": "GIF image",
    b"II*\x00": "TIFF image",
    b"MM\x00*": "TIFF image",
    b"BM": "BMP image",
    b"%PDF": "PDF document",
    b"\x7fELF": "executable program",
    b"MZ": "Windows executable",
}


def _image_or_document(p: Path, name: str, head: bytes) -> DetectedFile | None:
    for sig, what in _SIGNATURES.items():
        if head.startswith(sig):
            if what.endswith("image"):
                why = f"{what}: still pictures are not analysed (supply the ECG record, DICOM or video itself)"
            elif what == "PDF document":
                why = "PDF document: not a study; give clinical notes as text with --context (guideline PDFs go to `cardioagent kb add`)"
            else:
                why = f"{what}: not a cardiac study"
            return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=why)
    return None


def _looks_like_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the 2048-byte boundary is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return None
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if printable >= 0.95 * max(len(text), 1) else None


_WFDB_RECORD_LINE = re.compile(r"^\s*([\w\-.~]+)(?:/(\d+))?\s+(\d+)(?:\s+([\d.eE+\-]+)(?:/[\d.eE+\-]+)?(?:\([^)]*\))?)?")


def _text(p: Path, name: str, head: bytes) -> DetectedFile | None:
    text = _looks_like_text(head)
    if text is None:
        return None
    lower = name.lower()
    if lower.endswith(".hea"):
        return _wfdb_header(p, name)
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if lower.endswith((".csv", ".tsv")) or ("," in first or "\t" in first or ";" in first):
        tokens = [t.strip().strip('"').lower() for t in re.split(r"[,\t;]", first)]
        leads = [t for t in tokens if t in STANDARD_LEAD_NAMES]
        if lower.endswith((".csv", ".tsv")) and leads:
            from agent.intake.truncation import csv_problem

            cut = csv_problem(p, first)
            if cut:
                return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=f"CSV {cut}")
            return DetectedFile(path=str(p), display_name=name, kind="ecg_csv", modality=Modality.ECG, meta={"columns": tokens[:20]})
        if lower.endswith((".csv", ".tsv")):
            return DetectedFile(
                path=str(p),
                display_name=name,
                kind="unsupported",
                problem="CSV without ECG lead names in its header row (expected columns such as I, II, V1 … V6)",
            )
    if lower.endswith((".txt", ".md", ".text", ".note", ".notes")) or "." not in lower:
        return DetectedFile(path=str(p), display_name=name, kind="note")
    return DetectedFile(
        path=str(p),
        display_name=name,
        kind="unsupported",
        problem="text file of unknown format (notes must end in .txt or .md; ECG tables in .csv)",
    )


def _wfdb_header(p: Path, name: str) -> DetectedFile:
    """Parse a WFDB header with wfdb itself so a corrupt one fails here,
    naming the file, instead of deep inside an expert."""
    from experts.core.wfdb_header import read_wfdb_header_tolerant

    def bad(problem: str) -> DetectedFile:
        return DetectedFile(path=str(p), display_name=name, kind="unsupported", problem=problem)

    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return bad(f"cannot be read ({exc.strerror})")
    record_line = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    m = _WFDB_RECORD_LINE.match(record_line)
    if not m:
        return bad("corrupt WFDB header: the first line is not a record line 'NAME NSIG [FS [NSAMP]]'")
    record_name, n_sig = m.group(1), int(m.group(3))
    try:
        header, repaired = read_wfdb_header_tolerant(p, text)
    except Exception as exc:  # wfdb raises ValueError/IndexError/etc. for malformed lines
        return bad(f"corrupt WFDB header ({type(exc).__name__}: {exc})")
    if header.n_sig is None or header.n_sig < 0:
        return bad("corrupt WFDB header: no signal count")
    body = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")][1:]
    expected_lines = len(getattr(header, "seg_name", None) or []) or header.n_sig
    if len(body) < expected_lines:
        return bad(f"truncated WFDB header: the record line announces {expected_lines} signal/segment lines, found {len(body)}")
    if header.fs is None or not (header.fs > 0) or header.fs > 100_000:
        return bad(f"implausible sampling frequency {header.fs} Hz in WFDB header")
    files: list[str] = []
    if getattr(header, "seg_name", None):  # multi-segment record: segment headers are needed
        files = [s for s in header.seg_name if s and s != "~"]
        kind_meta = {"multi_segment": True}
    else:
        files = sorted({f for f in (header.file_name or []) if f and f != "~"})
        kind_meta = {"multi_segment": False}
    if n_sig > 0 and not files:
        return bad("WFDB header lists no signal files")
    from agent.intake.truncation import wfdb_expected_sizes

    # "file<TAB>minimum bytes<TAB>why": group.py checks each claimed signal file.
    expected = [f"{f}\t{n}\t{why}" for f, n, why in wfdb_expected_sizes(header, name)]
    return DetectedFile(
        path=str(p),
        display_name=name,
        kind="wfdb_header",
        modality=Modality.ECG,
        meta={
            "record": str(header.record_name or record_name),
            "n_sig": int(header.n_sig),
            "fs": float(header.fs),
            "sig_len": int(header.sig_len or 0),
            "signal_files": files,
            "sig_names": list(header.sig_name or [])[:32],
            "repaired_record_line": repaired,
            "expected_bytes": expected,
            **kind_meta,
        },
    )

