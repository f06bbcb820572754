"""Build batch inputs from the bundled real records (tests and benchmarks).

Why generated: a batch of 50+ cases must exist on a fresh clone without
copying megabytes into the repository. Case folders hold symbolic links to
the real PhysioNet records under examples/ecg/ and to the 12-lead DICOM ECG
waveform that ships with pydicom's test files (`waveform_ecg.dcm`, part of the
MIT-licensed pydicom package, so nothing is copied), reused round
robin; a few deliberately bad cases exercise the failures table.

`MIXED_RECORDS` adds the other imaging modalities for throughput runs: the
real apical-four-chamber echo clip that ships with pydicom
(`examples_ybr_color.dcm`, 30 frames) and one simulated short-axis cine
DICOM series (CMR phantom, seed 7, written once per batch root).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "ecg"
# Short records first: the 30-min MIT-BIH and 5.5-min CinC records are the slow ones.
RECORDS = ("ludb-1", "macecgdb-test01_00s", "dicom-ecg", "ptb-s0010_re", "mitdb-100", "cinc2015-a103l")
# Every modality the batch runner routes: ECG (WFDB + DICOM), echo DICOM, CMR DICOM series.
MIXED_RECORDS = RECORDS + ("echo-dicom", "cmr-dicom-sim")
BAD_KINDS = ("empty", "corrupt-header", "jpeg-as-dicom", "partial", "truncated-signal")


def dicom_ecg_path() -> Path:
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("waveform_ecg.dcm"))


def _link(src: Path, dst: Path, copy: bool) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if copy:
        shutil.copy2(src, dst)
    else:
        os.symlink(src, dst)


def echo_dicom_path() -> Path:
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("examples_ybr_color.dcm"))


def simulated_cmr_series(cache: Path, seed: int = 7) -> list[Path]:
    """A simulated short-axis cine DICOM series, written once into `cache`."""
    done = cache / f"cmr-sim-{seed}"
    if not (done / ".complete").exists():
        from experts.cmr.sim_files import write_dicom_series
        from experts.cmr.simulate import simulate_study

        write_dicom_series(simulate_study(seed), done, patient_sex="O")
        (done / ".complete").write_text("")
    return sorted(p for p in done.iterdir() if p.suffix == ".dcm")


def record_files(record: str, cache: Path | None = None) -> list[Path]:
    if record == "dicom-ecg":
        return [dicom_ecg_path()]
    if record == "echo-dicom":
        return [echo_dicom_path()]
    if record == "cmr-dicom-sim":
        if cache is None:
            raise ValueError("cmr-dicom-sim needs a cache folder to write the simulated series into")
        return simulated_cmr_series(cache)
    return sorted(p for p in (EXAMPLES / record).iterdir() if p.is_file())


def add_good_case(root: Path, case_id: str, record: str, copy: bool = False, context: dict | None = None) -> Path:
    folder = root / case_id
    for f in record_files(record, cache=root.parent / (root.name + "-sources")):
        _link(f, folder / f.name, copy)
    if context:
        (folder / "context.json").write_text(json.dumps(context))
    return folder


def add_bad_case(root: Path, case_id: str, kind: str) -> Path:
    folder = root / case_id
    folder.mkdir(parents=True)
    if kind == "empty":
        (folder / "signal.dat").write_bytes(b"")
    elif kind == "corrupt-header":
        (folder / "rec.hea").write_text("this is not a WFDB header\n")
    elif kind == "jpeg-as-dicom":
        (folder / "image.dcm").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64)
    elif kind == "partial":  # a good record plus one unusable file: reported, with a failures row
        for f in record_files("macecgdb-test01_00s"):
            _link(f, folder / f.name, False)
        (folder / "scan.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64)
    elif kind == "truncated-signal":  # a real header whose signal file was cut short
        src = EXAMPLES / "macecgdb-test01_00s"
        shutil.copy2(src / "test01_00s.hea", folder / "test01_00s.hea")
        (folder / "test01_00s.dat").write_bytes((src / "test01_00s.dat").read_bytes()[:1000])
    else:
        raise ValueError(kind)
    return folder


def make_case_folders(root: Path, n_good: int, bad: tuple[str, ...] = BAD_KINDS, records: tuple[str, ...] = RECORDS) -> list[str]:
    """`n_good` cases reusing the real records round robin, plus one case
    per bad kind. Returns the case ids in folder order."""
    root.mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(n_good):
        record = records[i % len(records)]
        case_id = f"case{i:03d}-{record}"
        context = {"age": 40 + i % 40, "sex": "female" if i % 2 else "male", "indication": "batch example"} if i % 3 == 0 else None
        add_good_case(root, case_id, record, context=context)
        ids.append(case_id)
    for kind in bad:
        case_id = f"bad-{kind}"
        add_bad_case(root, case_id, kind)
        ids.append(case_id)
    return sorted(ids)
