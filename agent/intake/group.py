"""Group detected files into studies, and list every file that was not used.

Why a grouping step: one analysable study is often several files — a WFDB
header with its signal and annotation files (which may arrive in different
upload folders), or a CMR cine series of hundreds of DICOM slices. Nothing
is silently dropped: each input ends up in exactly one study, the notes, or
the list of problems.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agent.case import InputProblem
from agent.intake.detect import DetectedFile, detect
from experts.core.types import Modality, StudyInput

MAX_FILES = int(os.environ.get("CARDIO_MAX_FILES", "20000"))


class IntakeResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    studies: list[StudyInput] = Field(default_factory=list)
    notes: list[DetectedFile] = Field(default_factory=list)
    problems: list[InputProblem] = Field(default_factory=list)
    files_seen: int = 0


def expand_paths(paths: list[str | Path]) -> tuple[list[Path], list[InputProblem]]:
    """Expand folders (recursively, skipping hidden entries) and keep files."""
    out: list[Path] = []
    problems: list[InputProblem] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            problems.append(InputProblem(file=str(raw), problem="no such file or folder"))
            continue
        if p.is_dir():
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if not f.startswith("."):
                        out.append(Path(root) / f)
        else:
            out.append(p)
    seen: set[str] = set()
    unique = []
    for p in out:
        key = str(p.resolve())
        if key not in seen:
            seen.add(key)
            unique.append(p)
    if len(unique) > MAX_FILES:
        problems.append(
            InputProblem(file=str(paths[0]), problem=f"{len(unique)} files, above the limit of {MAX_FILES} (CARDIO_MAX_FILES)")
        )
        unique = unique[:MAX_FILES]
    return unique, problems


def _pick_partner(
    header: DetectedFile, pool: list[DetectedFile], claimed: set[str], header_folders: set[str]
) -> DetectedFile | None:
    """Choose the file that belongs to this header among same-named files.

    Same folder wins. A file from another folder is taken only when it is
    the single unclaimed candidate in folders that hold no WFDB header of
    their own: uploads put every file in its own temp folder, while a data
    tree may hold two different records called '100'.
    """
    folder = str(Path(header.path).parent)
    free = [d for d in pool if d.path not in claimed]
    same = [d for d in free if str(Path(d.path).parent) == folder]
    if same:
        return same[0]
    orphans = [d for d in free if str(Path(d.path).parent) not in header_folders]
    return orphans[0] if len(orphans) == 1 else None


def _truncated_signal_files(header: DetectedFile, signal_files: list[DetectedFile]) -> list[InputProblem]:
    """Signal files shorter than their header declares (see agent.intake.truncation)."""
    from agent.intake.truncation import wfdb_signal_problem

    by_name = {d.display_name: d for d in signal_files}
    problems = []
    for entry in header.meta.get("expected_bytes") or []:
        fname, need, why = str(entry).split("\t", 2)
        d = by_name.get(fname)
        if d is None:
            continue
        try:
            cut = wfdb_signal_problem(d.path, int(need), why)
        except OSError as exc:
            cut = f"cannot be read ({exc.strerror or exc})"
        if cut:
            problems.append(InputProblem(file=d.display_name, problem=cut))
    return problems


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "study"


def intake(paths: list[str | Path], display_names: dict[str, str] | None = None) -> IntakeResult:
    """Detect and group. `display_names` maps a path to the name the user
    knows it by (uploads land in temp folders under other names)."""
    display_names = display_names or {}
    files, problems = expand_paths(paths)
    detected = [detect(p, display_names.get(str(p)) or p.name) for p in files]
    result = IntakeResult(files_seen=len(detected))
    result.problems.extend(problems)

    studies: list[StudyInput] = []
    claimed: set[str] = set()

    # WFDB: each header claims its signal files (by name, anywhere among the
    # inputs, else beside the header) and annotation files of its record.
    binaries_by_name: dict[str, list[DetectedFile]] = defaultdict(list)
    for d in detected:
        if d.kind == "wfdb_data":
            binaries_by_name[d.display_name].append(d)
    headers = [d for d in detected if d.kind == "wfdb_header"]
    header_names = {str(h.meta["record"]) for h in headers}
    header_folders = {str(Path(h.path).parent) for h in headers}
    segment_headers = {
        f + ".hea" for h in headers if h.meta.get("multi_segment") for f in (h.meta.get("signal_files") or [])
    }
    for h in headers:
        if h.display_name in segment_headers:
            continue  # claimed by its multi-segment master header
        record = str(h.meta["record"])
        sig_files = list(h.meta.get("signal_files") or [])
        members = [h]
        missing = []
        for fname in sig_files:
            if h.meta.get("multi_segment"):
                fname = fname + ".hea"
            pool = binaries_by_name.get(fname, []) + [d for d in headers if d.display_name == fname]
            found = _pick_partner(h, pool, claimed, header_folders)
            if found is None:
                beside = Path(h.path).parent / fname
                if beside.is_file():
                    found = DetectedFile(path=str(beside), display_name=fname, kind="wfdb_data")
            if found is None:
                missing.append(fname)
            else:
                members.append(found)
        if missing:
            problems_text = ", ".join(missing)
            result.problems.append(
                InputProblem(file=h.display_name, problem=f"WFDB record '{record}' needs {problems_text}, which was not supplied")
            )
            claimed.update(m.path for m in members)
            continue
        truncated = _truncated_signal_files(h, members[1:])
        if truncated:
            result.problems.extend(truncated)
            claimed.update(m.path for m in members)
            continue
        annotations = []
        for name, ds in binaries_by_name.items():
            if name.startswith(record + ".") and name not in sig_files:
                partner = _pick_partner(h, ds, claimed, header_folders)
                if partner is not None:
                    annotations.append(partner)
        members.extend(annotations)
        claimed.update(m.path for m in members)
        studies.append(
            StudyInput(
                study_id="",
                modality=Modality.ECG,
                files=[m.path for m in members],
                display_names=[m.display_name for m in members],
                description=f"WFDB record {record}: {h.meta.get('n_sig')} signals at {h.meta.get('fs'):g} Hz",
                meta={"format": "wfdb", "record": record, "header": h.path, "annotations": len(annotations)},
            )
        )

    # DICOM MR: one study per series; other single-file studies one each.
    mr_series: dict[str, list[DetectedFile]] = defaultdict(list)
    for d in detected:
        if d.path in claimed or d.problem:
            continue
        if d.kind == "dicom" and d.modality == Modality.CMR:
            mr_series[str(d.meta.get("series_uid") or d.meta.get("study_uid") or "unknown")].append(d)
            claimed.add(d.path)
    for uid, members in mr_series.items():
        studies.append(
            StudyInput(
                study_id="",
                modality=Modality.CMR,
                files=[m.path for m in members],
                display_names=[m.display_name for m in members],
                description=mr_series_description(members),
                meta={"format": "dicom", "series_uid": uid},
            )
        )

    # NIfTI: files in one folder form one cine study (ACDC keeps ED/ES/4D and
    # label volumes of a patient together).
    nifti_dirs: dict[str, list[DetectedFile]] = defaultdict(list)
    for d in detected:
        if d.kind == "nifti" and not d.problem and d.path not in claimed:
            nifti_dirs[str(Path(d.path).parent)].append(d)
            claimed.add(d.path)
    for folder, members in nifti_dirs.items():
        studies.append(
            StudyInput(
                study_id="",
                modality=Modality.CMR,
                files=[m.path for m in members],
                display_names=[m.display_name for m in members],
                description=f"NIfTI cine ({len(members)} volume{'s' if len(members) > 1 else ''})",
                meta={"format": "nifti"},
            )
        )

    single_formats = {"dicom": "dicom", "video": "video", "kspace_hdf5": "hdf5", "kspace_npz": "npz", "ecg_csv": "csv"}
    for d in detected:
        if d.path in claimed or d.problem:
            continue
        if d.kind in single_formats and d.modality is not None:
            claimed.add(d.path)
            studies.append(
                StudyInput(
                    study_id="",
                    modality=d.modality,
                    files=[d.path],
                    display_names=[d.display_name],
                    description=str(d.meta.get("description") or f"{d.modality.display} ({single_formats[d.kind]})"),
                    meta={"format": single_formats[d.kind], **{k: v for k, v in d.meta.items() if not isinstance(v, list)}},
                )
            )

    for d in detected:
        if d.path in claimed:
            continue
        if d.problem:
            result.problems.append(InputProblem(file=d.display_name, problem=d.problem))
        elif d.kind == "note":
            result.notes.append(d)
        elif d.kind == "wfdb_data":
            stem = d.display_name.split(".")[0]
            if stem in header_names:
                why = "belongs to a WFDB record whose header could not be used"
            elif d.meta.get("matlab"):
                why = "MATLAB file without a WFDB header (.hea) describing it"
            else:
                why = "binary file of unknown format (not DICOM, NIfTI, video or HDF5, and no supplied WFDB header names it)"
            result.problems.append(InputProblem(file=d.display_name, problem=why))
        else:
            result.problems.append(InputProblem(file=d.display_name, problem="not used (no study claimed it)"))

    # Stable ids: modality + running number + a slug of the first file.
    counters: dict[Modality, int] = defaultdict(int)
    order = {Modality.ECG: 0, Modality.ECHO: 1, Modality.CMR: 2, Modality.KSPACE: 3}
    studies.sort(key=lambda s: (order[s.modality], s.display_names[0] if s.display_names else ""))
    for s in studies:
        counters[s.modality] += 1
        s.study_id = f"{s.modality.value}-{counters[s.modality]}"
    result.studies = studies
    return result


def mr_series_description(members: list[DetectedFile]) -> str:
    """'DICOM MR series 300 "SAX cine" (240 images)': the number and
    description a reader finds the series by in the PACS (provenance names
    the series, not one of its files), each only when the files carry it."""
    number = next((str(m.meta.get("series_number")) for m in members if m.meta.get("series_number")), "")
    text = next((str(m.meta.get("series_description")) for m in members if m.meta.get("series_description")), "")
    label = " ".join(x for x in (number, f"“{text}”" if text else "") if x)
    return f"DICOM MR series {label} ({len(members)} images)" if label else f"DICOM MR series ({len(members)} images)"
