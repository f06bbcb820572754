"""What every renderer says about where a report's content comes from.

Why one module: the Markdown, HTML and PDF reports and the UI's report panel
each used to turn measurements, criteria, grounding and provenance into text
on their own, and the four drifted apart (one listed the plan, another the
timings; a tool appeared once per model string). Here a Report becomes typed
rows of plain text — no markup — and each renderer only decides how a row
looks (a table cell, a list item, a PDF bullet). What the rows *say* is
decided once, so the formats cannot disagree.

Everything here is pure: no I/O, no HTML escaping, no Gradio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.report import GroundingSummary, ImpressionItem, Provenance, Report, SignOff, ToolCallRecord
from experts.core.types import UNIT_DISPLAY, Criterion, Measurement, Statement

_CITE = re.compile(r"\s*\[(M|S|G):([^\]]+)\]")
CODE_SYSTEMS = {"http://loinc.org": "LOINC", "http://snomed.info/sct": "SNOMED CT", "urn:cardioagent": "local"}
WEIGHTS_PREFIX = 16
OPERATOR_SIGNS = {">=": "≥", "<=": "≤", "!=": "≠"}


# --- plain-text pieces shared by all formats ------------------------------------


def strip_citations(text: str) -> str:
    """Prose without its [M:id] [S:id] [G:id] markers (formats without links)."""
    return _CITE.sub("", text).strip()


def _quantity(value: float, unit: str, decimals: int | None, plus: bool = False) -> str:
    """'110 ms', '−30°', '+90°' (with `plus`): a true minus sign, so a bound never reads as a dash."""
    number = f"{abs(value):.{decimals}f}" if decimals is not None else f"{abs(value):g}"
    sign = "−" if value < 0 and float(number) != 0 else ("+" if plus and value > 0 else "")
    shown = UNIT_DISPLAY.get(unit, unit)
    return f"{sign}{number}{'' if shown in ('%', '°', '') else ' '}{shown}"


def bounds_text(low: float | None, high: float | None, unit: str, decimals: int | None = None) -> str:
    """A reference range as every report writes it: '≤ 110 ms', '≥ 50%',
    '390 ms – 460 ms', '−30° to +90°' (a negative bound: signed ends joined by
    'to', never a dash next to a minus). `decimals` None: as short as exact ('48.2%')."""
    if low is None and high is None:
        return ""
    if low is None:
        return f"≤ {_quantity(high, unit, decimals)}"
    if high is None:
        return f"≥ {_quantity(low, unit, decimals)}"
    if low < 0:
        return f"{_quantity(low, unit, decimals)} to {_quantity(high, unit, decimals, plus=True)}"
    return f"{_quantity(low, unit, decimals)} – {_quantity(high, unit, decimals)}"


def _titled(title: str, year: int | None) -> str:
    """'Fourth Universal Definition of Myocardial Infarction (2018)' stays as it
    is; 'ESC guidelines' becomes 'ESC guidelines (2021)': the year once."""
    if year is None or re.search(rf"(?<!\d){year}(?!\d)", title):
        return title
    return f"{title} ({year})"


def ref_text(ref) -> str:
    """A GuidelineRef as reports cite it: title with the year once, section."""
    return f"{_titled(ref.guideline, ref.year)}, {ref.section}"


def citation_text(p) -> str:
    """A guideline passage as reports cite it (GuidelinePassage.citation with the year once)."""
    cls = f", class {p.recommendation_class}" if p.recommendation_class else ""
    loe = f", level {p.evidence_level}" if p.evidence_level else ""
    return f"{_titled(p.guideline, p.year)}, {p.section}{cls}{loe}"


def unit_text(unit: str) -> str:
    """A UCUM unit as reports print it ('g/m2' → 'g/m²', 'deg' → '°')."""
    return UNIT_DISPLAY.get(unit, unit)


def reference_text(m: Measurement) -> str:
    """'390 ms – 460 ms (adults)', '≤ 110 ms': the reference range as the tables print it."""
    rr = m.reference_range
    if rr is None or (rr.low is None and rr.high is None):
        return ""
    pop = f" ({rr.population})" if rr.population else ""
    return bounds_text(rr.low, rr.high, rr.unit, m.decimals) + pop


# --- input files: a series is one source, a long list is summarised ----------------

FILES_INLINE = 6  # more files than this: count and first–last, the full list folded
SINGLE_FILE_FORMATS = re.compile(r"\.(nii(\.gz)?|h5|hdf5|mat|npy|npz|mp4|avi|csv|hea|dat|atr|edf|xml)$", re.I)
_SLICES_OF = re.compile(r"\bslices?\s+\d+(?:\s*[-–]\s*\d+)?\s+of\s+(\d+)", re.I)
_PHASE_OF = re.compile(r"\bphase\s+\d+\s*/\s*(\d+)", re.I)


def natural_key(name: str) -> list:
    """'2.dcm' before '10.dcm': digit runs compare as numbers."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class FilesView:
    """A study's input files as every format lists them."""

    summary: str  # '1.hea, 1.dat' or '240 files, 1.dcm – 240.dcm'
    files: tuple[str, ...]  # all of them, in natural order
    folded: bool  # the summary abbreviates: show `files` in a fold (or point to the JSON)


def files_view(files: list[str]) -> FilesView:
    ordered = tuple(sorted(files, key=natural_key))
    if len(ordered) <= FILES_INLINE:
        return FilesView(summary=", ".join(files), files=ordered, folded=False)
    return FilesView(summary=f"{len(ordered)} files, {ordered[0]} – {ordered[-1]}", files=ordered, folded=True)


def series_source(section, study=None) -> str:
    """'DICOM series (240 files, 12 slices × 20 phases)' for a study made of
    many DICOM files, '' otherwise (one file, one record, one volume). A value
    computed over several slices or phases of it comes from the series, not
    from the file a tool happened to name. `study` (the report's
    StudySummary) may name the series."""
    files = list(section.files)
    if len(files) < 2 or any(SINGLE_FILE_FORMATS.search(f) for f in files):
        return ""
    locs = [m.evidence.location or "" for m in section.measurements]
    n_slices = max([int(x) for loc in locs for x in _SLICES_OF.findall(loc)] or [len({i for m in section.measurements for i in m.evidence.slices})])
    n_phases = max([int(x) for loc in locs for x in _PHASE_OF.findall(loc)] or [len({i for m in section.measurements for i in m.evidence.phases})])
    shape = " × ".join(x for x in (f"{n_slices} slices" if n_slices > 1 else "", f"{n_phases} phases" if n_phases > 1 else "") if x)
    desc = (getattr(study, "description", "") or "").strip()
    # intake writes 'DICOM MR series 300 “SAX cine” (240 images)': keep the number/description
    labelled = re.fullmatch(r"DICOM(?: \w+)? series(?: (?P<label>.+?))? \(\d+ \w+\)", desc)
    if labelled:
        name = f" {labelled.group('label')}" if labelled.group("label") else ""
    else:
        name = f" {desc}" if desc else ""
    return f"DICOM series{name} ({len(files)} files" + (f", {shape}" if shape else "") + ")"


@dataclass(frozen=True)
class SectionSource:
    """What a study's header says about its input, and the evidence source
    for its values computed over the whole series."""

    files: FilesView
    series: str  # '' unless a multi-file DICOM series

    @property
    def text(self) -> str:
        """'Files: DICOM series (240 files, 12 slices × 20 phases), 1.dcm – 240.dcm' or 'Files: 1.hea, 1.dat'."""
        fv = self.files
        if self.series:
            return f"Files: {self.series}, {fv.files[0]} – {fv.files[-1]}"
        return f"Files: {fv.summary}"

    FULL_LIST_NOTE = "full list in report.json"


def section_source(section, report: Report | None = None) -> SectionSource:
    study = next((s for s in (report.studies if report is not None else []) if s.study_id == section.study_id), None)
    return SectionSource(files=files_view(list(section.files)), series=series_source(section, study))


def _spans_series(m: Measurement) -> bool:
    e = m.evidence
    return len(set(e.slices)) > 1 or len(set(e.phases)) > 1 or len(_PHASE_OF.findall(e.location or "")) > 1


def evidence_text(m: Measurement, series: str = "") -> str:
    """Where in the input a value was measured: file; location; leads; time; frames; slices; phases.
    With `series` (see `series_source`), a value computed over several slices or
    phases names the series instead of one of its files."""
    e = m.evidence
    parts = [series if series and _spans_series(m) else e.file]
    if e.location:
        parts.append(e.location)
    if e.leads:
        parts.append("leads " + ",".join(e.leads))
    if e.time_span_s:
        parts.append(f"{e.time_span_s[0]:.2f}–{e.time_span_s[1]:.2f} s")
    if e.frames:
        parts.append("frames " + ",".join(map(str, e.frames[:8])) + ("…" if len(e.frames) > 8 else ""))
    if e.slices:
        parts.append("slices " + ",".join(map(str, e.slices[:12])) + ("…" if len(e.slices) > 12 else ""))
    if e.phases:
        parts.append("phases " + ",".join(map(str, e.phases)))
    return "; ".join(parts)


def weights_text(sha256: str | None) -> str:
    return f"weights sha256 {sha256[:WEIGHTS_PREFIX]}…" if sha256 else ""


# --- patient ------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientView:
    """The demographics the analysis used, each with its source, and every
    disagreement between sources (flags, context file, file metadata)."""

    heading: str  # 'Patient (values used)'
    text: str  # 'age 51 y (from 1.hea metadata), female (from 1.hea metadata)' or 'not given'
    conflicts: tuple[str, ...]


def patient_view(report: Report) -> PatientView:
    from agent.patient import PRECEDENCE, describe

    parts = describe(report.patient)
    text = ", ".join(parts) or "not given"
    if report.patient.sources:
        text += f". Precedence when sources disagree: {PRECEDENCE}"
    return PatientView(heading="Patient (values used)", text=text, conflicts=tuple(report.patient.conflicts))


# --- measurements ----------------------------------------------------------------


@dataclass(frozen=True)
class MeasurementRow:
    """One measurement as every table shows it."""

    id: str
    label: str
    value: str  # value with its unit, e.g. '72 bpm'
    flag: str  # '' when no flag; for a value outside the range that the tool left unflagged (limited quality), the side it lies on
    reference: str  # 'no reference range' when there is none
    reference_source: str  # guideline of the range, '' when none
    method: str
    evidence: str
    tool: str
    tool_version: str
    model: str  # '' when the tool names no model
    weights: str  # 'weights sha256 0123…' or ''
    code_system: str  # 'LOINC', 'SNOMED CT', 'local', '' when uncoded
    code: str
    code_display: str
    quality: str
    flag_note: str = ""  # qualification of the flag, e.g. 'limited, see Limitations'

    @property
    def flag_text(self) -> str:
        """'high', 'high — limited, see Limitations', 'limited, see Limitations'
        (a value of limited quality without an out-of-range flag) or ''."""
        if self.flag and self.flag_note:
            return f"{self.flag} — {self.flag_note}"
        return self.flag or self.flag_note

    @property
    def source(self) -> str:
        """'ecg_analyze 0.2.0'."""
        return f"{self.tool} {self.tool_version}"

    @property
    def code_text(self) -> str:
        """'LOINC 8867-4' or ''."""
        return f"{self.code_system} {self.code}" if self.code else ""


NO_REFERENCE = "no reference range"
LIMITED_NOTE = "limited, see Limitations"


def measurement_flag(m: Measurement) -> tuple[str, str]:
    """(flag, qualification). A value outside its printed range is never
    shown unflagged: when the tool withheld the flag (e.g. LV mass from a
    model known to overestimate it) the side is shown with the qualification."""
    rr = m.reference_range
    quality_note = "" if m.quality == "usable" else LIMITED_NOTE if m.quality == "limited" else "non-diagnostic, see Limitations"
    if m.flag:
        return m.flag, quality_note
    if rr is not None and (rr.low is not None or rr.high is not None):
        side = rr.classify(m.value)
        if side != "normal":
            return side, (quality_note or "not flagged by the tool, see Limitations")
    if quality_note:  # in range or without a range, yet the report calls it unreliable
        return "", quality_note
    return "", ""


def measurement_row(m: Measurement, series: str = "") -> MeasurementRow:
    rr = m.reference_range
    flag, flag_note = measurement_flag(m)
    return MeasurementRow(
        id=m.id, label=m.label, value=m.with_unit(), flag=flag, flag_note=flag_note, reference=reference_text(m) or NO_REFERENCE,
        reference_source=ref_text(rr.source) if rr is not None and rr.source else "", method=m.method, evidence=evidence_text(m, series),
        tool=m.source.tool, tool_version=m.source.version, model=m.source.model or "", weights=weights_text(m.source.weights_sha256),
        code_system=CODE_SYSTEMS.get(m.code.system, "code") if m.code else "", code=m.code.code if m.code else "",
        code_display=m.code.display if m.code else "", quality=m.quality,
    )  # fmt: skip


# --- statements and their criteria -------------------------------------------------


@dataclass(frozen=True)
class CriterionRow:
    """'QRS duration ≥ 120 ms — met (AHA/ACCF/HRS 2009, Part III)'."""

    measurement_id: str
    name: str  # the measurement's machine name (last part of its id)
    operator: str
    threshold: str  # formatted with ':g', e.g. '120'
    unit: str  # as printed ('g/m²', '°', '' for a count)
    met: bool
    guideline: str  # short citation of the threshold, '' when none
    measured_label: str = ""  # label of the measurement when it is in the report
    measured_value: str = ""  # its value with unit

    @property
    def verdict(self) -> str:
        return "met" if self.met else "not met"

    @property
    def sign(self) -> str:
        """The operator as printed: '≥' for '>=' (as in the guidelines)."""
        return OPERATOR_SIGNS.get(self.operator, self.operator)

    @property
    def title(self) -> str:
        """The measurement's label when the report has it, else its machine name."""
        return self.measured_label or self.name

    @property
    def rule(self) -> str:
        """'≥ 120 ms', '≤ 40%', '≥ 8' (a count has no unit)."""
        sep = "" if self.unit in ("%", "°", "") else " "
        return f"{self.sign} {self.threshold}{sep}{self.unit}"

    def text(self) -> str:
        """Plain: label, rule, verdict and guideline."""
        return f"{self.title} {self.rule} — {self.verdict}" + (f" ({self.guideline})" if self.guideline else "")


def criterion_row(c: Criterion, by_id: dict[str, Measurement] | None = None) -> CriterionRow:
    m = (by_id or {}).get(c.measurement_id)
    threshold = f"{c.threshold:g}".replace("-", "−")
    return CriterionRow(measurement_id=c.measurement_id, name=c.measurement_id.split(".")[-1], operator=c.operator, threshold=threshold,
                        unit=unit_text(c.unit), met=c.met, guideline=ref_text(c.guideline) if c.guideline else "",
                        measured_label=m.label if m else "", measured_value=m.with_unit() if m else "")  # fmt: skip


@dataclass(frozen=True)
class StatementRow:
    id: str
    label: str
    status: str
    explanation: str
    confidence: float | None
    tool: str
    tool_version: str
    criteria: tuple[CriterionRow, ...] = ()


def statement_row(st: Statement, by_id: dict[str, Measurement] | None = None) -> StatementRow:
    return StatementRow(id=st.id, label=st.label, status=st.status, explanation=st.explanation or "", confidence=st.confidence,
                        tool=st.source.tool, tool_version=st.source.version, criteria=tuple(criterion_row(c, by_id) for c in st.criteria))  # fmt: skip


# --- impression citations ----------------------------------------------------------


@dataclass(frozen=True)
class CitationRow:
    """The ids one impression item rests on, by kind."""

    statements: tuple[str, ...]
    measurements: tuple[str, ...]
    passages: tuple[str, ...]

    @property
    def all(self) -> list[str]:
        return [*self.statements, *self.measurements, *self.passages]


def citations(item: ImpressionItem) -> CitationRow:
    return CitationRow(tuple(item.statement_ids), tuple(item.measurement_ids), tuple(item.passage_ids))


# --- grounding ---------------------------------------------------------------------


@dataclass(frozen=True)
class GroundingView:
    composer: str
    summary: str  # one sentence with the counts
    removed: tuple[str, ...]  # one line per removed sentence


def grounding_view(g: GroundingSummary) -> GroundingView:
    summary = (f"Composer: {g.composer}{' (fallback after failed LLM drafts)' if g.fell_back else ''}. Sentences checked {g.sentences_checked}, "
               f"kept {g.sentences_kept}, removed {g.sentences_removed}; numbers traced to a tool output {g.numbers_traced} of {g.numbers_checked}.")  # fmt: skip
    return GroundingView(composer=g.composer, summary=summary, removed=tuple(f"removed ({r.where}): “{r.text}” — {r.reason}" for r in g.removed))


# --- provenance --------------------------------------------------------------------


@dataclass(frozen=True)
class ToolBuild:
    """One version of a tool with the models it ran (a tool may report
    several: a rule engine and a network)."""

    version: str
    models: tuple[str, ...]  # 'unet, weights sha256 0123…' per model

    def text(self) -> str:
        return self.version + (f" ({'; '.join(self.models)})" if self.models else "")


@dataclass(frozen=True)
class ToolGroup:
    """A tool once, with every version and model the report used."""

    tool: str
    builds: tuple[ToolBuild, ...]

    def text(self) -> str:
        return f"tool {self.tool} " + ", ".join(b.text() for b in self.builds)


def tool_groups(pv: Provenance) -> list[ToolGroup]:
    """Tools in first-seen order; within a tool, versions in first-seen order;
    a model-less entry of a version that also names a model adds nothing."""
    versions: dict[str, dict[str, list[str]]] = {}
    for t in pv.tools:
        models = versions.setdefault(t.tool, {}).setdefault(t.version, [])
        desc = ", ".join(x for x in (f"model {t.model}" if t.model else "", weights_text(t.weights_sha256)) if x)
        if desc and desc not in models:
            models.append(desc)
    return [ToolGroup(tool, tuple(ToolBuild(v, tuple(ms)) for v, ms in by_version.items())) for tool, by_version in versions.items()]


def call_text(c: ToolCallRecord) -> str:
    """'call ecg_analyze(ecg-1) by planner: ok in 1.20 s'."""
    return f"call {c.tool}({c.study_id}) by {c.requested_by}: {'ok' if c.ok else 'FAILED: ' + (c.error or '')} in {c.runtime_s:.2f} s"


def signoff_text(so: SignOff) -> str:
    """'signed by Dr A at 2026-11-26 09:30 UTC: Agree.'"""
    return f"{so.action} by {so.clinician} at {so.signed_at:%Y-%m-%d %H:%M} UTC" + (f": {so.comment}" if so.comment else "")


@dataclass(frozen=True)
class ProvenanceView:
    summary: str  # app, version, schema, backend, model, LLM use
    tools: tuple[ToolGroup, ...]
    calls: tuple[str, ...]
    plan: tuple[str, ...]
    timings: str  # '' when none were recorded
    retrieval: str  # '' when no note
    signoffs: tuple[str, ...] = field(default=())

    def lines(self, *, with_signoffs: bool = True) -> list[str]:
        """Every item below the summary, in the order all formats list them."""
        out = [t.text() for t in self.tools] + list(self.calls) + [f"plan: {p}" for p in self.plan]
        if self.timings:
            out.append(f"timings: {self.timings}")
        if self.retrieval:
            out.append(f"retrieval: {self.retrieval}")
        if with_signoffs:
            out += list(self.signoffs)
        return out


def provenance_view(report: Report) -> ProvenanceView:
    pv = report.provenance
    summary = (f"{pv.app} {pv.app_version}, schema {pv.schema_version}, backend {pv.backend}" + (f" ({pv.llm_model})" if pv.llm_model else "")
               + (f"; {pv.llm_calls} LLM calls, {pv.llm_tokens} tokens" if pv.llm_calls else ""))  # fmt: skip
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in pv.node_timings_s.items())
    return ProvenanceView(summary=summary, tools=tuple(tool_groups(pv)), calls=tuple(call_text(c) for c in pv.tool_calls), plan=tuple(pv.plan),
                          timings=timings, retrieval=pv.retrieval_note or "", signoffs=tuple(signoff_text(s) for s in report.signoffs))  # fmt: skip


# --- sign-off (who and when, for the top of every format) --------------------------


def signed_line(report: Report) -> str:
    """'Signed by Dr A at 2026-11-26 09:30 UTC' for the report's header, or
    'Not signed: awaiting review by a clinician' while preliminary."""
    if not report.signoffs:
        return "Not signed: awaiting review by a clinician"
    last = report.signoffs[-1]
    verb = "Signed" if last.action == "signed" else "Amended"
    return f"{verb} by {last.clinician} at {last.signed_at:%Y-%m-%d %H:%M} UTC" + (f" — {last.comment}" if last.comment else "")


# --- an empty impression, said plainly ------------------------------------------------


def no_impression_text(report: Report) -> str:
    """What to print where the impression would be. A non-diagnostic study
    is not a verification failure: saying 'nothing passed verification'
    there sends the reader looking for a bug instead of at the study."""
    if not report.sections:
        return "No study was analysed; see Limitations."
    if all(s.quality.verdict == "non_diagnostic" for s in report.sections):
        n = len(report.sections)
        return (f"No findings: the {'study was' if n == 1 else f'{n} studies were'} non-diagnostic, so nothing was measured or diagnosed. "
                "The reasons are under the study and in Limitations.")  # fmt: skip
    return "No impression item passed verification."
