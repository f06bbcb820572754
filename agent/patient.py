"""Patient demographics: which value is used, where it came from, and where
sources disagree.

Sources, in order of precedence: command-line flags (or a batch manifest
row) > a structured context file (--context ctx.json/yaml) > the input
files' own metadata (WFDB header comments such as '<age>: 51', DICOM
PatientAge/PatientSex/PatientID/PatientBirthDate). A lower source only
fills a value the higher ones leave empty. When two sources give different
values the report says so in a warning naming both values and both sources
and the one used: in a clinic such a disagreement can mean the files belong
to another patient.

`load_context` (agent/case.py) records flag vs context-file sources; the
intake node calls `resolve_from_files` once the studies are known, before
any tool runs, so every tool and every output format sees the same values.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime
from pathlib import Path

from experts.core.types import PatientContext, StudyInput

PRECEDENCE = "flags, then context file, then file metadata"
FIELDS = ("age_years", "sex", "height_cm", "weight_kg")
FLAG_NAMES = {"age_years": "--age", "sex": "--sex", "height_cm": "--height", "weight_kg": "--weight"}
NAMES = {"age_years": "Age", "sex": "Sex", "height_cm": "Height", "weight_kg": "Weight", "patient_id": "Patient ID", "birth_date": "Birth date"}
MAX_FILES_PER_STUDY = 64


def fmt_value(field: str, value) -> str:
    if value is None:
        return "not given"
    if field == "age_years":
        return f"{float(value):g} y"
    if field == "height_cm":
        return f"{float(value):g} cm"
    if field == "weight_kg":
        return f"{float(value):g} kg"
    return str(value)


def same(field: str, a, b) -> bool:
    """Equal for the purpose of a conflict: ages within a year (metadata
    ages are whole years), heights/weights within 0.5."""
    if a is None or b is None:
        return True
    if field == "age_years":
        return abs(float(a) - float(b)) < 1.0
    if field in ("height_cm", "weight_kg"):
        return abs(float(a) - float(b)) <= 0.5
    return str(a).strip() == str(b).strip()


def conflict_text(field: str, used, used_src: str, other, other_src: str) -> str:
    name = NAMES.get(field, field)
    return (f"{name}: {used_src} gives {fmt_value(field, used)} but {other_src} gives {fmt_value(field, other)}; "
            f"{fmt_value(field, used)} ({used_src}) was used ({PRECEDENCE}). Check that the files belong to this patient.")  # fmt: skip


# --- reading demographics from files -------------------------------------------------


def _dicom_age(value: str) -> float | None:
    m = re.fullmatch(r"\s*(\d{1,3})\s*([YMWD]?)\s*", value or "")
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2) or "Y"
    years = {"Y": n, "M": n / 12, "W": n / 52.1775, "D": n / 365.25}[unit]
    return round(years, 2) if 0 <= years <= 130 else None


def _dicom_datetime(ds) -> str | None:
    """Acquisition date/time as ISO 8601 (AcquisitionDateTime, else
    AcquisitionDate + AcquisitionTime, else ContentDate + ContentTime)."""

    def parse(date: str, time: str = "") -> str | None:
        date = (date or "").strip()
        if not re.fullmatch(r"\d{8}", date) or date == "00000000":
            return None
        try:
            d = datetime.strptime(date, "%Y%m%d")
        except ValueError:
            return None
        t = re.match(r"(\d{2})(\d{2})?(\d{2})?", (time or "").strip())
        if not t:
            return d.date().isoformat()
        try:
            return d.replace(hour=int(t.group(1)), minute=int(t.group(2) or 0), second=int(t.group(3) or 0)).isoformat()
        except ValueError:
            return d.date().isoformat()

    adt = str(ds.get("AcquisitionDateTime", "") or "").strip()
    if adt:
        got = parse(adt[:8], adt[8:14])
        if got:
            return got
    for d, t in (("AcquisitionDate", "AcquisitionTime"), ("ContentDate", "ContentTime")):
        got = parse(str(ds.get(d, "") or ""), str(ds.get(t, "") or ""))
        if got:
            return got
    return None


def _from_dicom(path: Path) -> dict:
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    out: dict = {}
    age = _dicom_age(str(ds.get("PatientAge", "") or ""))
    if age is not None:
        out["age_years"] = age
    sex = {"F": "female", "M": "male"}.get(str(ds.get("PatientSex", "") or "").strip().upper())
    if sex:
        out["sex"] = sex
    pid = str(ds.get("PatientID", "") or "").strip()
    if pid:
        out["patient_id"] = pid[:64]
    bd = str(ds.get("PatientBirthDate", "") or "").strip()
    if re.fullmatch(r"\d{8}", bd):
        try:
            out["birth_date"] = datetime.strptime(bd, "%Y%m%d").date().isoformat()
        except ValueError:
            pass
    when = _dicom_datetime(ds)
    tz = str(ds.get("TimezoneOffsetFromUTC", "") or "").strip()
    if when and "T" in when and re.fullmatch(r"[+-]\d{4}", tz):
        when += f"{tz[:3]}:{tz[3:]}"
    if when:
        out["acquired_at"] = when
    return out


def _from_wfdb_header(path: Path) -> dict:
    from experts.core.header_demographics import context_from_header

    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    comments = [ln.lstrip("#").strip() for ln in lines if ln.startswith("#")]
    ctx, _ = context_from_header(comments)
    out: dict = {k: v for k, v in (("age_years", ctx.age_years), ("sex", ctx.sex)) if v is not None}
    first = next((ln for ln in lines if ln.strip() and not ln.startswith("#")), "")
    parts = first.split()
    if len(parts) >= 6:  # record nsig fs nsamp base_time base_date
        try:
            d = datetime.strptime(parts[5], "%d/%m/%Y")
            t = [int(x) for x in re.findall(r"\d+", parts[4].split(".")[0])][:3]
            out["acquired_at"] = d.replace(hour=t[0], minute=t[1] if len(t) > 1 else 0, second=t[2] if len(t) > 2 else 0).isoformat()
        except (ValueError, IndexError):
            pass
    return out


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def file_demographics(study: StudyInput) -> list[tuple[str, dict]]:
    """(source label, values) for each file of the study that carries any."""
    out: list[tuple[str, dict]] = []
    for path in study.files[:MAX_FILES_PER_STUDY]:
        p = Path(path)
        try:
            if p.suffix.lower() == ".hea":
                values = _from_wfdb_header(p)
            elif _is_dicom(p):
                values = _from_dicom(p)
            else:
                continue
        except Exception:  # unreadable metadata is the tool's problem to report, not ours
            continue
        if values:
            out.append((f"{study.display_name(path)} metadata", values))
    return out


_SERIES_DESC = re.compile(r"DICOM(?: \w+)? series(?: (?P<label>.+?))? \(\d+ \w+\)")


def study_source_label(study: StudyInput) -> str:
    """How a multi-file study is named as one source of demographics:
    'DICOM series 300 (240 files)' (as provenance names it), not one of its files."""
    n = len(study.files)
    desc = (study.description or "").strip()
    m = _SERIES_DESC.fullmatch(desc)
    if m:
        return "DICOM series" + (f" {m.group('label')}" if m.group("label") else "") + f" ({n} files)"
    return f"{desc or study.study_id} ({n} files)"


def study_demographics(study: StudyInput) -> list[tuple[str, dict]]:
    """(source label, values) per source *study*: a series whose files agree is
    one source named by the series, so a disagreement is reported once per
    study, not once per file. Files of one series that disagree among
    themselves are each a source ('DICOM series 300 (240 files; 3 of 64 files read)')."""
    found = file_demographics(study)
    if len(found) <= 1:
        return found
    label = study_source_label(study)
    merged: dict = {}
    split: list[tuple[str, dict]] = []
    for field in (*FIELDS, "patient_id", "birth_date", "acquired_at"):
        values: dict[str, tuple[object, int]] = {}
        for _, v in found:
            if field in v:
                key = str(v[field]).strip() if field != "age_years" else f"{float(v[field]):g}"
                first, count = values.get(key, (v[field], 0))
                values[key] = (first, count + 1)
        if not values:
            continue
        if field == "acquired_at" or len(values) == 1:
            merged[field] = next(iter(values.values()))[0]
        else:
            for value, count in values.values():
                split.append((f"{label[:-1]}; {count} of {len(found)} files read)" if label.endswith(")") else f"{label} ({count} of {len(found)} files read)", {field: value}))
    return [(label, merged), *split] if merged else split


# --- merging ------------------------------------------------------------------------------


def resolve_from_files(patient: PatientContext, studies: list[StudyInput]) -> PatientContext:
    """Fill empty demographics from the files' metadata, record each value's
    source and every disagreement (once per source study or series, not per
    file); store the acquisition time in each study's meta ('acquired_at').
    Returns the new context (the input is not changed)."""
    data = patient.model_dump()
    sources = dict(patient.sources)
    conflicts = list(patient.conflicts)
    for study in studies:
        found = study_demographics(study)
        when = next((v["acquired_at"] for _, v in found if "acquired_at" in v), None)
        if when and "acquired_at" not in study.meta:
            study.meta["acquired_at"] = when
        for label, values in found:
            for field in (*FIELDS, "patient_id", "birth_date"):
                if field not in values:
                    continue
                value = values[field]
                if data.get(field) is None:
                    data[field] = value
                    sources[field] = label
                elif not same(field, data[field], value):
                    text = conflict_text(field, data[field], sources.get(field, "the case context"), value, label)
                    if text not in conflicts:
                        conflicts.append(text)
    data["sources"] = sources
    data["conflicts"] = conflicts
    return PatientContext.model_validate(data)


def describe(patient: PatientContext) -> list[str]:
    """'age 51 y (from 1.hea metadata)', … — every demographic used, with its source."""
    parts = []
    for field in ("patient_id", *FIELDS, "birth_date"):
        value = getattr(patient, field)
        if value is None:
            continue
        prefix = {"patient_id": "patient ID ", "age_years": "age ", "height_cm": "height ", "weight_kg": "weight ", "birth_date": "born "}
        text = prefix.get(field, "") + fmt_value(field, value)
        src = patient.sources.get(field)
        parts.append(text + (f" (from {src})" if src else ""))
    return parts
