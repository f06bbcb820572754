"""Read WFDB headers, tolerating one known malformation.

Shared by the agent's intake (to detect and group records) and the ECG
expert's reader, so both accept and reject the same headers.
"""

from __future__ import annotations

import re
from pathlib import Path


def read_wfdb_header_tolerant(p: Path, text: str | None = None):
    """Read a WFDB header; if wfdb rejects the record line because the record
    name carries a file extension (as in the CinC 2020 Georgia headers,
    'E00009.mat 12 500 5000 05-May-2020 14:50:55'), repair that name in a
    temporary copy and read again. Returns (header, repaired)."""
    import tempfile

    import wfdb

    try:
        if p.suffix == ".hea":
            return wfdb.rdheader(str(p.with_suffix(""))), False
    except Exception as first:
        error = first
    else:
        error = None
    text = text if text is not None else p.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    idx = next(i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#"))
    parts = lines[idx].split()
    stem = Path(p.name).stem
    if parts and re.fullmatch(re.escape(stem) + r"\.(mat|dat)", parts[0]):
        parts[0] = stem
        # keep name, nsig, fs, nsamp; drop a date/time wfdb cannot parse
        lines[idx] = " ".join(parts[:4])
    elif error is not None:
        raise error
    with tempfile.TemporaryDirectory() as tmp:
        fixed = Path(tmp) / (stem + ".hea")
        fixed.write_text("\n".join(lines) + "\n")
        return wfdb.rdheader(str(fixed.with_suffix(""))), error is not None
