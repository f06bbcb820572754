"""Pick the reader for a study's file (DICOM or video)."""

from __future__ import annotations

from pathlib import Path

from experts.core.errors import InputError
from experts.echo.clip import EchoClip


def read_clip(path: str | Path, display_name: str, fmt: str | None = None) -> EchoClip:
    """Read one echo clip. `fmt` is the intake's StudyInput.meta["format"]
    ("dicom" or "video"); without it the file's magic bytes decide."""
    p = Path(path)
    if not p.is_file():
        raise InputError(display_name, "file does not exist or is not a regular file")
    if p.stat().st_size == 0:
        raise InputError(display_name, "empty file (0 bytes)")
    if fmt not in ("dicom", "video"):
        with open(p, "rb") as fh:
            head = fh.read(132)
        fmt = "dicom" if head[128:132] == b"DICM" else "video"
    if fmt == "dicom":
        from experts.echo.io_dicom import read_dicom_clip

        return read_dicom_clip(p, display_name)
    from experts.echo.io_video import read_video_clip

    return read_video_clip(p, display_name)
