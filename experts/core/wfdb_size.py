"""Minimum size of a WFDB signal file, from its header.

Why: a signal file cut short (interrupted copy or upload) makes wfdb fail
with a numpy broadcasting error; comparing the file size with what the
header declares names the real problem. Used by intake (before anything
runs) and by the reader (when a study reaches it directly).
"""

from __future__ import annotations

from pathlib import Path

# Bits per sample of the WFDB storage formats (signal(5) in the WFDB docs).
# 310/311 pack 3 samples in 32 bits. FLAC formats (508/516/524) are
# compressed and cannot be checked by size.
WFDB_BITS = {8: 8.0, 16: 16.0, 24: 24.0, 32: 32.0, 61: 16.0, 80: 8.0, 160: 16.0, 212: 12.0, 310: 32 / 3, 311: 32 / 3}


def _fmt_code(fmt: object) -> int | None:
    try:
        return int(str(fmt).split("x")[0].split("+")[0].split(":")[0])
    except (TypeError, ValueError):
        return None


def wfdb_expected_sizes(header: object, header_name: str) -> list[tuple[str, int, str]]:
    """(signal file, minimum bytes, why) for each signal file of a
    single-segment WFDB header whose formats have a fixed sample size."""
    sig_len = int(getattr(header, "sig_len", 0) or 0)
    files = list(getattr(header, "file_name", None) or [])
    if sig_len <= 0 or not files or getattr(header, "seg_name", None):
        return []
    fmts = list(getattr(header, "fmt", None) or [])
    spf = list(getattr(header, "samps_per_frame", None) or [])
    offsets = list(getattr(header, "byte_offset", None) or [])
    per_file: dict[str, dict] = {}
    for i, fname in enumerate(files):
        if not fname or fname == "~" or fname.lower().endswith(".mat"):
            continue
        code = _fmt_code(fmts[i] if i < len(fmts) else None)
        entry = per_file.setdefault(fname, {"bits": 0.0, "n": 0, "fmts": set(), "offset": 0, "ok": True})
        if code is None or code not in WFDB_BITS:
            entry["ok"] = False
            continue
        entry["bits"] += WFDB_BITS[code] * int((spf[i] if i < len(spf) and spf[i] else 1))
        entry["n"] += 1
        entry["fmts"].add(str(code))
        if entry["n"] == 1:
            entry["offset"] = int((offsets[i] if i < len(offsets) and offsets[i] else 0))
    out = []
    for fname, e in per_file.items():
        if not e["ok"] or e["n"] == 0:
            continue
        need = e["offset"] + int(sig_len * e["bits"] // 8)
        fmt_text = "/".join(sorted(e["fmts"]))
        why = (f"{header_name} declares {sig_len} samples × {e['n']} signal{'s' if e['n'] > 1 else ''} "
               f"in format {fmt_text} ({need} bytes)")  # fmt: skip
        out.append((fname, need, why))
    return out


def wfdb_signal_problem(path: str | Path, need: int, why: str) -> str | None:
    size = Path(path).stat().st_size
    if size < need:
        return f"{size} bytes, but {why}: file truncated"
    return None
