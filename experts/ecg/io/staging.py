"""Put a study's files side by side under their user-facing names.

Why: wfdb finds a record's signal and annotation files by name next to its
header, but browser uploads put every file in its own temp folder under a
random name. Symlinks named by display name in one temp folder give wfdb
the layout it expects without copying large signal files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from experts.core.errors import InputError
from experts.core.types import StudyInput


@contextmanager
def staged_study(study: StudyInput) -> Iterator[dict[str, Path]]:
    """Yield {display name: staged path}; the folder is removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="cardio-ecg-"))
    staged: dict[str, Path] = {}
    try:
        for path in study.files:
            name = Path(study.display_name(path)).name
            src = Path(path)
            if not src.is_file():
                raise InputError(name, "file is missing or not a regular file")
            if name in staged:
                if os.path.samefile(staged[name], src):
                    continue
                raise InputError(name, "two different files of this study have the same name")
            dst = tmp / name
            try:
                dst.symlink_to(src.resolve())
            except OSError:
                shutil.copyfile(src, dst)  # file systems without symlinks
            staged[name] = dst
        yield staged
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
