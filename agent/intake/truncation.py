"""Is a file complete? Cheap size checks against what its own header declares.

Why at intake: a signal or image file cut short (an interrupted copy or
upload) otherwise fails deep inside an expert with a numpy broadcasting
error, after the case has started, and the report says "no study analysed"
with exit 0. Each check here reads only headers and compares byte counts,
so the problem is reported before anything runs, naming the file, in the
words of its format: "1000 bytes, but trunc.hea declares 650000 samples ×
2 signals in format 212 (1950000 bytes): file truncated".

Every function returns a problem text, or None when the file looks complete
(or the format cannot be checked cheaply: compressed WFDB, deflated DICOM).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from experts.core.wfdb_size import WFDB_BITS, wfdb_expected_sizes, wfdb_signal_problem  # noqa: F401  (re-exported)


# --- DICOM ------------------------------------------------------------------

_ITEM, _SEQ_END = (0xFFFE, 0xE000), (0xFFFE, 0xE0DD)
_DEFLATED = "1.2.840.10008.1.2.1.99"


def dicom_pixel_problem(path: str | Path, ds: object, pixel_pos: int) -> str | None:
    """Check the Pixel Data element that starts at `pixel_pos` (where
    pydicom stopped with stop_before_pixels) fits in the file: native data
    must hold rows × columns × samples × bits × frames; encapsulated
    (compressed) data must end with its sequence delimiter."""
    p = Path(path)
    size = p.stat().st_size
    ts = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    if ts == _DEFLATED or pixel_pos >= size:
        return None
    implicit, little = getattr(ds, "original_encoding", (False, True))
    if implicit is None or little is None:
        return None
    e = "<" if little else ">"
    with open(p, "rb") as fh:
        fh.seek(pixel_pos)
        head = fh.read(12)
        if len(head) < 8:
            return f"{size} bytes: file truncated inside the pixel data header"
        group, elem = struct.unpack(e + "HH", head[:4])
        if (group, elem) != (0x7FE0, 0x0010):
            return None  # not Pixel Data (e.g. a float pixel element): not checked
        if implicit:
            length, value_start = struct.unpack(e + "I", head[4:8])[0], pixel_pos + 8
        else:
            if len(head) < 12:
                return f"{size} bytes: file truncated inside the pixel data header"
            length, value_start = struct.unpack(e + "I", head[8:12])[0], pixel_pos + 12
        if length != 0xFFFFFFFF:  # native pixel data
            rows, cols = int(getattr(ds, "Rows", 0) or 0), int(getattr(ds, "Columns", 0) or 0)
            spp, bits = int(getattr(ds, "SamplesPerPixel", 1) or 1), int(getattr(ds, "BitsAllocated", 0) or 0)
            frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
            expected = rows * cols * spp * frames * bits // 8
            have = size - value_start
            if have < length:
                what = f"{frames} frame{'s' if frames > 1 else ''} of {rows}×{cols}" if rows and cols else "the pixel data"
                return f"{size} bytes, but its header declares {length} bytes of pixel data ({what}), only {max(have, 0)} present: file truncated"
            if expected and length < expected and bits:
                return f"pixel data holds {length} bytes, but {frames} frame(s) of {rows}×{cols}×{spp} at {bits} bits need {expected}: file truncated"
            return None
        # encapsulated: walk the items up to the sequence delimiter
        pos, frames_seen = value_start, 0
        while True:
            fh.seek(pos)
            tag = fh.read(8)
            if len(tag) < 8:
                return (f"{size} bytes: the compressed pixel data stops after {max(frames_seen - 1, 0)} fragment(s) "
                        "without its end marker: file truncated")  # fmt: skip
            g, el, ln = struct.unpack(e + "HHI", tag)
            if (g, el) == _SEQ_END:
                return None
            if (g, el) != _ITEM or ln == 0xFFFFFFFF:
                return "the compressed pixel data is malformed (unexpected tag inside it): file corrupt or truncated"
            if pos + 8 + ln > size:
                return (f"{size} bytes, but a compressed frame fragment at byte {pos} declares {ln} bytes, ending at "
                        f"{pos + 8 + ln}: file truncated")  # fmt: skip
            pos += 8 + ln
            frames_seen += 1


# --- NIfTI ------------------------------------------------------------------


def nifti_problem(path: str | Path, header: object, gz: bool) -> str | None:
    """Data bytes present vs. vox_offset + shape × bitpix. For .nii.gz the
    stream is decompressed (counting only) to find its length and whether
    the gzip stream ends properly."""
    try:
        shape = [int(x) for x in header.get_data_shape()]  # type: ignore[attr-defined]
        bitpix = int(header["bitpix"])  # type: ignore[index]
        offset = int(float(header["vox_offset"]))  # type: ignore[index]
    except Exception:
        return None
    n = 1
    for s in shape:
        n *= max(s, 0)
    need = offset + n * bitpix // 8
    what = f"{'×'.join(map(str, shape))} voxels at {bitpix} bits"
    p = Path(path)
    if not gz:
        size = p.stat().st_size
        return f"{size} bytes, but its header declares {what} ({need} bytes): file truncated" if size < need else None
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    total = 0
    with open(p, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            try:
                total += len(d.decompress(chunk))
            except zlib.error as exc:
                return f"corrupt gzip data after {total} decompressed bytes ({exc})"
            if d.eof:
                break
    if total < need:
        return f"decompresses to {total} bytes, but its header declares {what} ({need} bytes): file truncated"
    if not d.eof:
        return f"the gzip stream ends without its end marker after {total} bytes: file truncated"
    return None


# --- video ------------------------------------------------------------------


def video_problem(path: str | Path, head: bytes) -> str | None:
    """AVI: the RIFF size; MP4/MOV: every top-level box must fit in the file."""
    p = Path(path)
    size = p.stat().st_size
    if head[:4] == b"RIFF" and len(head) >= 8:
        declared = struct.unpack("<I", head[4:8])[0] + 8
        if declared > size:
            return f"{size} bytes, but its AVI (RIFF) header declares {declared} bytes: file truncated"
        return None
    if head[4:8] != b"ftyp":
        return None
    pos = 0
    with open(p, "rb") as fh:
        while pos < size:
            fh.seek(pos)
            box = fh.read(16)
            if len(box) < 8:
                return f"{size} bytes: the file ends inside an MP4 box header: file truncated"
            length, kind = struct.unpack(">I", box[:4])[0], box[4:8]
            if length == 1:
                if len(box) < 16:
                    return f"{size} bytes: the file ends inside an MP4 box header: file truncated"
                length = struct.unpack(">Q", box[8:16])[0]
            elif length == 0:  # box runs to the end of the file
                return None
            if length < 8:
                return f"malformed MP4 box at byte {pos}: file corrupt"
            if pos + length > size:
                name = kind.decode("latin-1", "replace")
                return f"{size} bytes, but its '{name}' box declares {pos + length}: file truncated"
            pos += length
    return None


# --- CSV --------------------------------------------------------------------


def csv_problem(path: str | Path, header_line: str) -> str | None:
    """A table cut mid-line: the last line has fewer fields than the header
    row, or it ends in a separator."""
    import re

    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as fh:
        fh.seek(max(0, size - 4096))
        tail = fh.read().decode("utf-8", errors="replace")
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    if not lines or size <= len(header_line.encode()) + 2:
        return None
    sep = next((s for s in (",", "\t", ";") if s in header_line), ",")
    n_header = len(header_line.split(sep))
    last = lines[-1]
    n_last = len(last.split(sep))
    ends_newline = tail.endswith(("\n", "\r"))
    if n_last < n_header or (not ends_newline and re.search(r"[,;\t]\s*$", last)):
        line_no = "the last line"
        return (f"{line_no} has {n_last} of {n_header} fields "
                f"({last[:40]!r}{'' if ends_newline else ', no final newline'}): file cut mid-line (truncated)")  # fmt: skip
    if not ends_newline and len(lines) >= 4:
        # A value cut short: the writer used a fixed number of decimals in
        # this column on every line above, and the unterminated last line has fewer.
        col = n_last - 1
        value = last.split(sep)[col].strip()
        above = [ln.split(sep) for ln in lines[-6:-1]]
        decimals = [len(r[col].strip().split(".")[1]) if "." in r[col] else 0 for r in above if len(r) == n_last]
        mine = len(value.split(".")[1]) if "." in value else 0
        if decimals and min(decimals) == max(decimals) and mine < decimals[0]:
            return (f"the last line ends without a newline and its last value {value!r} has fewer digits than the "
                    f"same column above ({above[-1][col].strip()!r}): file cut mid-line (truncated)")  # fmt: skip
    return None
