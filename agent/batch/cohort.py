"""Per-batch tables, rebuilt from the case folders on disk after every run.

Why rebuilt from disk: after a resume, the tables must cover the cases of
earlier runs too, and the done markers plus report.json files are the
truth. Tables (CSV for spreadsheets, Parquet for pandas/Arrow/Spark):
- `cohort`: one row per case — status, modalities, quality, findings,
  key measurements (one column per modality and measurement, unit in the
  name) and statement status (one column per finding);
- `measurements`: long form, one row per measurement of every case, with
  unit, flag, code, tool and evidence (nothing is left out of this one);
- `failures`: one row per problem — case, file, why, and its kind (input
  not used while the case was still reported, input that sank the case,
  timeout, worker crash, internal error).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from agent.atomic import atomic_write_bytes, atomic_write_text
from agent.batch.manifest import CaseSpec
from agent.batch.markers import DONE_MARKER, FAILURE_RECORD, CaseRecord, read_record
from agent.batch.settings import BatchSettings
from agent.report import Report

# Measurements that get their own cohort column even without a LOINC code:
# the ones a cohort study of these modalities reports first.
KEY_MEASUREMENTS = {
    "ecg": ("heart_rate", "rr_sdnn", "pr_interval", "qrs_duration", "qt_interval", "qtc_bazett", "qtc_fridericia",
            "qtc_framingham", "p_axis", "qrs_axis", "t_axis"),
    "echo": ("lvef", "lv_edv", "lv_esv", "lv_sv", "lv_edv_index", "lv_esv_index", "heart_rate"),
    "cmr": ("lvef", "lv_edv", "lv_esv", "lv_sv", "lv_mass", "rvef", "rv_edv", "rv_esv", "lv_edv_index", "lv_esv_index",
            "lv_mass_index", "rv_edv_index", "heart_rate"),
    "kspace": ("acceleration", "psnr", "ssim", "nmse", "lvef_abs_diff"),
}  # fmt: skip


@dataclass
class CaseView:
    spec: CaseSpec
    record: CaseRecord | None  # None: not run yet (interrupted batch)
    report: Report | None = None
    error: str | None = None
    report_file: str | None = None  # the report to open, relative to the batch folder


# What the cohort's `report` column links to: the first of these the case wrote.
REPORT_PREFERENCE = ("report.html", "report.md", "report.json")


def report_link(case_dir: Path, case_id: str) -> str | None:
    """'cases/<id>/report.html' if written, else the Markdown, else the JSON
    (a batch run with --formats json,md has no HTML to point at)."""
    name = next((n for n in REPORT_PREFERENCE if (case_dir / n).is_file()), None)
    return f"cases/{case_id}/{name}" if name else None


@dataclass
class Tables:
    cohort: list[dict] = field(default_factory=list)
    measurements: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)


def collect(cases: list[CaseSpec], settings: BatchSettings) -> list[CaseView]:
    """Each case of this batch with its marker and report, as on disk."""
    views = []
    for spec in cases:
        case_dir = settings.case_dir(spec.case_id)
        record = read_record(case_dir / DONE_MARKER) or read_record(case_dir / FAILURE_RECORD)
        view = CaseView(spec=spec, record=record)
        if record is not None and record.status == "ok":
            try:
                view.report = Report.model_validate_json((case_dir / "report.json").read_text(encoding="utf-8"))
                view.report_file = report_link(case_dir, spec.case_id)
            except (OSError, ValueError) as exc:
                view.error = f"report.json unreadable: {exc}"
        views.append(view)
    return views


def _is_key(modality: str, name: str, has_code: bool) -> bool:
    return has_code or name in KEY_MEASUREMENTS.get(modality, ())


def build_tables(views: list[CaseView]) -> Tables:
    t = Tables()
    for v in views:
        rec, rep = v.record, v.report
        row: dict = {"case_id": v.spec.case_id, "status": "pending" if rec is None else rec.status}
        if rec is not None:
            row["runtime_s"] = rec.runtime_s
            for p in rec.problems:
                t.failures.append({"case_id": v.spec.case_id, "file": p.file, "problem": p.problem, "kind": p.kind})
        if v.error:
            row["status"] = "failed"
            t.failures.append({"case_id": v.spec.case_id, "file": "report.json", "problem": v.error, "kind": "internal_error"})
        if rep is not None:
            row["modalities"] = ";".join(sorted({s.modality.value for s in rep.studies}))
            row["n_studies"] = len(rep.studies)
            row["quality"] = ";".join(f"{s.study_id}:{s.quality.verdict}" for s in rep.sections)
            row["findings"] = "; ".join(st.label for st in rep.statements() if st.status == "present")
            row["n_measurements"] = len(rep.measurements())
            row["inputs_not_used"] = len(rep.rejected_inputs)
            if v.report_file:
                row["report"] = v.report_file
            seen_modality: set[str] = set()
            for s in rep.sections:
                mod = s.modality.value
                first_of_modality = mod not in seen_modality
                seen_modality.add(mod)
                for m in s.measurements:
                    t.measurements.append({
                        "case_id": v.spec.case_id, "study_id": s.study_id, "modality": mod, "name": m.name, "label": m.label,
                        "value": m.value, "unit": m.unit, "decimals": m.decimals, "flag": m.flag or "",
                        "code": f"{m.code.system}|{m.code.code}" if m.code else "", "quality": m.quality,
                        "tool": f"{m.source.tool} {m.source.version}", "evidence_file": m.evidence.file, "measurement_id": m.id,
                    })  # fmt: skip
                    if first_of_modality and _is_key(mod, m.name, m.code is not None):
                        row[f"{mod}.{m.name} [{m.unit}]"] = round(m.value, max(m.decimals, 1))
                for st in s.statements:
                    if first_of_modality:
                        row[f"finding.{mod}.{st.id.split('.')[-1]}"] = st.status
        t.cohort.append(row)
    return t


INT_COLUMNS = {"n_studies", "n_measurements", "inputs_not_used", "decimals"}
FIXED_COLUMNS = ["case_id", "status", "modalities", "n_studies", "quality", "findings", "n_measurements", "inputs_not_used", "runtime_s", "report"]


def _frame(rows: list[dict], first: list[str]):
    import pandas as pd

    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=first)
    for col in INT_COLUMNS & set(df.columns):
        df[col] = df[col].astype("Int64")  # integers stay integers next to cases that have none
    rest = sorted(c for c in df.columns if c not in first)
    return df[[c for c in first if c in df.columns] + rest]


def write_tables(tables: Tables, out: Path) -> dict[str, Path]:
    """cohort/measurements/failures as CSV and Parquet, each written atomically."""
    import io

    written: dict[str, Path] = {}
    specs = {
        "cohort": (tables.cohort, FIXED_COLUMNS),
        "measurements": (tables.measurements, ["case_id", "study_id", "modality", "name", "value", "unit"]),
        "failures": (tables.failures, ["case_id", "file", "problem", "kind"]),
    }
    for name, (rows, first) in specs.items():
        df = _frame(rows, first)
        written[f"{name}.csv"] = atomic_write_text(out / f"{name}.csv", df.to_csv(index=False))
        buf = io.BytesIO()
        df.to_parquet(buf, engine="pyarrow", index=False)
        written[f"{name}.parquet"] = atomic_write_bytes(out / f"{name}.parquet", buf.getvalue())
    return written


def write_json(path: Path, data: dict) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, default=str))
