"""The evaluation case: a folder with input files and a `case.yaml`.

Why a file format rather than Python objects: a clinician or another
engineer can add a case by writing YAML next to the files, without reading
the harness; suites generated from simulators write exactly the same
folders, so every case — committed or generated — is loaded, validated and
scored by one path.

    id: lbbb-hfref                       # default: the folder name
    description: LBBB on ECG, LVEF 30% on echo
    tags: [multimodal]
    inputs: [ecg/rec.hea, ecg/rec.dat, echo.dcm]
                                         # relative to the folder, absolute, `repo:examples/...`
                                         # or `shared:ecg/ludb/data/1.hea` (skipped when the data is absent);
                                         # default: every file of the folder except case.yaml and truth/
    context: {age: 67, sex: male, height_cm: 175, weight_kg: 82, indication: ..., notes: ...}
    run: {strict: true, retrieval: false}
    expected:
      outcome: report                    # or: rejected (strict intake must refuse it), any (either is right)
      rejected_files: [broken.dat]
      modalities: [ecg, echo]
      tools: [ecg_analyze, echo_analyze] # default: the registered tool of each expected modality
      statements:
        - {id: lbbb, status: present}
        - {label: Atrial fibrillation, status: absent}
        - {any_of: [sinus_rhythm, sinus_bradycardia], status: present, name: sinus}
      measurements:
        - {name: qrs_duration, value: 160, tolerance: 10, unit: ms}
        - {name: lv_edv_index, flag: high}
        - {name: psnr, min: 28, unit: dB}
      guidelines: [esc-hf-2021-crt-lbbb-150, {any_of: [aha-hf-2022-crt-lbbb-150, "esc-pacing-2021-crt-lbbb-*"]}]
                                         # required citations (recall); [] = none should be cited
      guidelines_allowed: ["ecg-p3-*lbbb*"]  # also correct to cite (precision only)
      abstain: [echo]                    # or: all — nothing may be measured (from these modalities)
      history_quoted: true
      instructions_flagged: true
    must_not:
      statements: [atrial_fibrillation]
      modalities: [echo]
      measurements: [lvef]
      text: ["70 ?%"]                    # regular expressions the report prose must not match
      tool_options: [classifier_weights] # options no tool call may set
    chat:
      - question: What was the QRS duration?
        expect: {answered: true, cites: [qrs_duration], contains: [QRS]}
                                         # also: not_contains, intent, tool_called, value: {name, value, tolerance, unit}
    truth:                               # optional files for image metrics (relative to the folder)
      segmentation: truth/labels.npz     # CMR labels (T, Z, H, W), canonical 1 LV 2 MYO 3 RV
      reconstruction: truth/reference.npy  # fully sampled magnitude (T, Z, rows, cols)

Statement keys match a report statement whose id ends in `.<key>` (shell
wildcards allowed: `st_elevation_*`) or whose label equals the key
(case-insensitive). A statement the tool did not emit counts as absent.
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from experts.core.types import Modality

REPO = Path(__file__).resolve().parents[2]
CASE_FILE = "case.yaml"
TRUTH_DIR = "truth"


class CaseFormatError(ValueError):
    """A case.yaml that cannot be used: names the file and every problem."""

    def __init__(self, file: str | Path, problems: list[str]):
        self.file = str(file)
        self.problems = problems
        super().__init__(f"{self.file}: " + "; ".join(problems))


class CaseSkipped(RuntimeError):
    """The case needs data this machine does not have (e.g. ../shared/data)."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


def shared_data_dir() -> Path | None:
    """../shared/data or $CARDIO_SHARED_DATA — the same rule as tests/conftest.py."""
    env = os.environ.get("CARDIO_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


class ExpectedStatement(_Spec):
    id: str | None = Field(None, description="Statement id suffix (after '<study>.'); wildcards allowed")
    label: str | None = None
    any_of: list[str] | None = Field(None, description="Several id suffixes / labels; any one present counts")
    status: Literal["present", "absent"]
    name: str | None = Field(None, description="Key this expectation is scored under (default: id, label or any_of joined)")
    modality: Modality | None = None

    @model_validator(mode="after")
    def _one_selector(self) -> "ExpectedStatement":
        given = [x for x in (self.id, self.label, self.any_of) if x]
        if len(given) != 1:
            raise ValueError("give exactly one of id, label, any_of")
        return self

    @property
    def key(self) -> str:
        return self.name or self.id or self.label or "|".join(self.any_of or [])

    def patterns(self) -> list[str]:
        return list(self.any_of) if self.any_of else [self.id or self.label or ""]


class ExpectedMeasurement(_Spec):
    name: str
    value: float | None = None
    tolerance: float | None = Field(None, ge=0)
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    flag: Literal["normal", "low", "high", "abnormal"] | None = None
    modality: Modality | None = None

    @model_validator(mode="after")
    def _something_to_check(self) -> "ExpectedMeasurement":
        if self.value is None and self.min is None and self.max is None and self.flag is None:
            raise ValueError(f"measurement {self.name!r}: give value (with tolerance), min/max or flag")
        if self.tolerance is not None and self.value is None:
            raise ValueError(f"measurement {self.name!r}: tolerance without value")
        return self


class GuidelineAlternatives(_Spec):
    any_of: list[str] = Field(min_length=1)


GuidelineExpectation = str | GuidelineAlternatives


class Expected(_Spec):
    outcome: Literal["report", "rejected", "any"] = "report"
    rejected_files: list[str] = Field(default_factory=list)
    modalities: list[Modality] = Field(default_factory=list)
    tools: list[str] | None = None
    statements: list[ExpectedStatement] = Field(default_factory=list)
    measurements: list[ExpectedMeasurement] = Field(default_factory=list)
    guidelines: list[GuidelineExpectation] | None = None
    guidelines_allowed: list[str] = Field(default_factory=list, description="Further passage ids (wildcards) that are correct to cite but not required")
    abstain: Literal["all"] | list[Modality] | None = None
    history_quoted: bool | None = None
    instructions_flagged: bool | None = None


class MustNot(_Spec):
    statements: list[str] = Field(default_factory=list)
    modalities: list[Modality] = Field(default_factory=list)
    measurements: list[str] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)
    tool_options: list[str] = Field(default_factory=list, description="Tool options no call may set (e.g. ones injected in the notes)")

    @field_validator("text")
    @classmethod
    def _regexes_compile(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"must_not.text {pattern!r} is not a regular expression: {exc}") from exc
        return v


class ChatExpect(_Spec):
    answered: bool | None = None
    cites: list[str] = Field(default_factory=list, description="Measurement/statement id suffixes the answer must cite")
    contains: list[str] = Field(default_factory=list, description="Case-insensitive substrings the answer must contain")
    not_contains: list[str] = Field(default_factory=list)
    intent: str | None = None
    tool_called: bool | None = Field(None, description="Whether answering must (true) or must not (false) re-run a tool")
    value: ExpectedMeasurement | None = Field(None, description="A cited measurement must have this value")


class ChatTurn(_Spec):
    question: str = Field(min_length=1)
    expect: ChatExpect = Field(default_factory=ChatExpect)


class RunOptions(_Spec):
    strict: bool = True
    retrieval: bool = False


class Truth(_Spec):
    segmentation: str | None = None
    reconstruction: str | None = None


class ContextSpec(_Spec):
    age: float | None = None
    sex: str | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    indication: str | None = None
    notes: str | None = None
    notes_file: str | None = None


class CaseSpec(_Spec):
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    source: str | None = Field(None, description="Where the truth comes from (database and label, generator and seed)")
    inputs: list[str] | None = None
    context: ContextSpec = Field(default_factory=ContextSpec)
    run: RunOptions = Field(default_factory=RunOptions)
    expected: Expected = Field(default_factory=Expected)
    must_not: MustNot = Field(default_factory=MustNot)
    chat: list[ChatTurn] = Field(default_factory=list)
    truth: Truth = Field(default_factory=Truth)


class LoadedCase(BaseModel):
    """A validated case with its inputs resolved to paths on this machine."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str
    folder: Path
    spec: CaseSpec
    inputs: list[Path]
    suite: str = ""

    @property
    def qualified_id(self) -> str:
        return f"{self.suite}/{self.id}" if self.suite else self.id

    def truth_path(self, rel: str | None) -> Path | None:
        return (self.folder / rel) if rel else None

    def clinical_context(self):
        """The `ClinicalContext` analyze() gets, built exactly like the CLI's --context."""
        from agent.case import ClinicalContext, normalise_sex, sanitise_text
        from experts.core.types import PatientContext

        c = self.spec.context
        notes = c.notes
        source = None
        if c.notes_file:
            path = self.folder / c.notes_file
            notes = path.read_text(encoding="utf-8", errors="replace")
            source = path.name
        return ClinicalContext(
            patient=PatientContext(age_years=c.age, sex=normalise_sex(c.sex), height_cm=c.height_cm, weight_kg=c.weight_kg),
            indication=c.indication,
            notes=sanitise_text(notes) if notes else None,
            notes_source=source,
        )


def _resolve_input(entry: str, folder: Path) -> Path:
    if entry.startswith("repo:"):
        return REPO / entry[len("repo:"):]
    if entry.startswith("shared:"):
        base = shared_data_dir()
        if base is None:
            raise CaseSkipped("needs ../shared/data (set CARDIO_SHARED_DATA); it is absent on this machine")
        return base / entry[len("shared:"):]
    p = Path(entry)
    return p if p.is_absolute() else folder / p


def _default_inputs(folder: Path, spec: CaseSpec) -> list[Path]:
    skip = {CASE_FILE}
    if spec.context.notes_file:
        skip.add(spec.context.notes_file)
    out = []
    for p in sorted(folder.iterdir()):
        if p.name in skip or p.name.startswith(".") or p.name == TRUTH_DIR:
            continue
        out.append(p)
    return out


def _format_errors(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {msg}")
    return problems


def parse_case(text: str, file: str | Path = CASE_FILE) -> CaseSpec:
    """Validate case.yaml text. Raises CaseFormatError naming every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CaseFormatError(file, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise CaseFormatError(file, ["the file must hold a mapping (id, inputs, context, expected, ...)"])
    try:
        spec = CaseSpec.model_validate(data)
    except ValidationError as exc:
        raise CaseFormatError(file, _format_errors(exc)) from exc
    problems = []
    if spec.context.sex is not None:
        from agent.case import normalise_sex

        try:
            normalise_sex(spec.context.sex)
        except ValueError as exc:
            problems.append(f"context.sex: {exc}")
    if spec.context.notes and spec.context.notes_file:
        problems.append("context: give notes or notes_file, not both")
    e = spec.expected
    if e.outcome == "rejected" and (e.statements or e.measurements or e.guidelines):
        problems.append("expected: a rejected case cannot also expect statements, measurements or guidelines")
    clash = {s.key for s in e.statements if s.status == "present"} & set(spec.must_not.statements)
    if clash:
        problems.append(f"statements both expected present and in must_not: {', '.join(sorted(clash))}")
    clash_m = set(e.modalities) & set(spec.must_not.modalities)
    if clash_m:
        problems.append(f"modalities both expected and in must_not: {', '.join(sorted(m.value for m in clash_m))}")
    keys = [s.key for s in e.statements]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        problems.append(f"expected.statements: duplicate keys {', '.join(dup)} (use name: to tell them apart)")
    if problems:
        raise CaseFormatError(file, problems)
    return spec


def load_case(folder: str | Path, suite: str = "") -> LoadedCase:
    """Load and validate `<folder>/case.yaml` and resolve its inputs.

    Raises CaseFormatError for a bad file or missing inputs, CaseSkipped
    when the case needs shared data that is absent."""
    folder = Path(folder)
    path = folder / CASE_FILE
    if not path.is_file():
        raise CaseFormatError(path, ["no case.yaml in this folder"])
    spec = parse_case(path.read_text(encoding="utf-8"), path)
    if spec.inputs is None:
        inputs = _default_inputs(folder, spec)
    else:
        inputs = [_resolve_input(entry, folder) for entry in spec.inputs]
    missing = [str(p) for p in inputs if not p.exists()]
    problems = [f"input not found: {m}" for m in missing]
    if not inputs:
        problems.append("the case has no input files")
    for rel in (spec.truth.segmentation, spec.truth.reconstruction, spec.context.notes_file):
        if rel and not (folder / rel).is_file():
            problems.append(f"file not found: {rel}")
    if problems:
        raise CaseFormatError(path, problems)
    return LoadedCase(id=spec.id or folder.name, folder=folder, spec=spec, inputs=inputs, suite=suite)


def write_case(folder: str | Path, spec: dict | CaseSpec) -> Path:
    """Write a case.yaml (suite builders use this), validating it first."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = spec.model_dump(mode="json", exclude_defaults=True) if isinstance(spec, CaseSpec) else spec
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    parse_case(text, folder / CASE_FILE)
    path = folder / CASE_FILE
    path.write_text(text, encoding="utf-8")
    return path


def statement_matches(pattern: str, statement_id: str, label: str) -> bool:
    """Does a report statement match an expectation key? Id suffix (with
    wildcards) or the exact label, case-insensitive."""
    suffix = statement_id.split(".", 1)[1] if "." in statement_id else statement_id
    p = pattern.lower()
    return fnmatch.fnmatchcase(suffix.lower(), p) or label.strip().lower() == p
