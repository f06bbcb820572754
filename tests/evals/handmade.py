"""Hand-made reports and cases for the harness tests: small, explicit, and
with known right answers, so the metrics can be checked by hand."""

from __future__ import annotations

from pathlib import Path

from agent.report import (
    GroundingSummary,
    ImpressionItem,
    ModalitySection,
    Provenance,
    Report,
    ReportedHistory,
    StudySummary,
    ToolCallRecord,
)
from evals.harness.case import LoadedCase, parse_case
from experts.core.types import Criterion, Evidence, GuidelineRef, Measurement, Modality, Quality, Source, Statement
from retrieval.types import GuidelinePassage

ECG_SRC = Source(tool="ecg_analyze", version="0.2.0")
ECHO_SRC = Source(tool="echo_analyze", version="0.1.0")
AHA = GuidelineRef(guideline="AHA/ACCF/HRS ECG standardization part III", year=2009, section="Left bundle-branch block")


def measurement(study: str, name: str, value: float, unit: str, flag=None, src=ECG_SRC) -> Measurement:
    return Measurement(id=f"{study}.{name}", name=name, label=name.replace("_", " "), value=value, unit=unit, method="test", source=src,
                       evidence=Evidence(file="x"), flag=flag)  # fmt: skip


def statement(study: str, key: str, label: str, status: str, criteria=(), src=ECG_SRC) -> Statement:
    return Statement(id=f"{study}.{key}", label=label, status=status, criteria=list(criteria), source=src)  # type: ignore[arg-type]


CRT = GuidelinePassage(id="esc-hf-2021-crt-lbbb-150", guideline="2021 ESC Guidelines for heart failure", year=2021,
                       section="Cardiac resynchronization therapy", text="CRT is recommended ... LBBB ... LVEF 35% or less.")  # fmt: skip
ECHO_TITLE = GuidelinePassage(id="ase-cq-2015-lvef-normal-by-sex", guideline="Chamber Quantification by Echocardiography in Adults",
                              year=2015, section="LV systolic function", text="Normal LVEF ...")  # fmt: skip
UNRELATED = GuidelinePassage(id="esc-va-2022-lqts-diagnosis", guideline="2022 ESC VA guidelines", year=2022, section="Long QT",
                             text="QTc of 480 ms or more ...")  # fmt: skip


def lbbb_hfref_report(*, with_echo: bool = True, narrative_extra: str | None = None, passages=(CRT,), llm_tokens: int = 0) -> Report:
    """ECG with LBBB (QRS 160 ms), echo with LVEF 30%; cites the given passages."""
    qrs = measurement("ecg-1", "qrs_duration", 160.0, "ms")
    ecg = ModalitySection(
        study_id="ecg-1", modality=Modality.ECG, tool="ecg_analyze", tool_version="0.2.0", files=["rec.hea"], quality=Quality(verdict="usable"),
        measurements=[qrs, measurement("ecg-1", "heart_rate", 70.0, "/min")],
        statements=[statement("ecg-1", "lbbb", "Left bundle branch block", "present",
                              [Criterion(measurement_id="ecg-1.qrs_duration", operator=">=", threshold=120, unit="ms", met=True, guideline=AHA)]),
                    statement("ecg-1", "atrial_fibrillation", "Atrial fibrillation", "absent"),
                    statement("ecg-1", "sinus_rhythm", "Sinus rhythm", "present"),
                    statement("ecg-1", "st_elevation_inferior", "ST elevation, inferior leads", "indeterminate")],
    )  # fmt: skip
    sections = [ecg]
    studies = [StudySummary(study_id="ecg-1", modality=Modality.ECG, files=["rec.hea"])]
    calls = [ToolCallRecord(tool="ecg_analyze", study_id="ecg-1", ok=True, runtime_s=1.5)]
    if with_echo:
        ef = measurement("echo-1", "lvef", 30.0, "%", flag="low", src=ECHO_SRC)
        sections.append(ModalitySection(
            study_id="echo-1", modality=Modality.ECHO, tool="echo_analyze", tool_version="0.1.0", files=["a4c.dcm"], quality=Quality(verdict="usable"),
            measurements=[ef, measurement("echo-1", "lv_edv", 210.0, "mL", flag="high", src=ECHO_SRC)],
            statements=[statement("echo-1", "lvef_reduced", "Reduced LV ejection fraction", "present",
                                  [Criterion(measurement_id="echo-1.lvef", operator="<=", threshold=40, unit="%", met=True)], src=ECHO_SRC)],
        ))  # fmt: skip
        studies.append(StudySummary(study_id="echo-1", modality=Modality.ECHO, files=["a4c.dcm"]))
        calls.append(ToolCallRecord(tool="echo_analyze", study_id="echo-1", ok=True, runtime_s=8.0))
    narrative = ["ECG (ecg-1): QRS duration 160 ms [M:ecg-1.qrs_duration]."]
    if with_echo:
        narrative.append("Echocardiography (echo-1): LV ejection fraction 30% [M:echo-1.lvef].")
    if narrative_extra:
        narrative.append(narrative_extra)
    impression = [ImpressionItem(text="Left bundle branch block (QRS duration 160 ms >= 120 ms).", statement_ids=["ecg-1.lbbb"],
                                 measurement_ids=["ecg-1.qrs_duration"])]  # fmt: skip
    for p in passages:
        impression.append(ImpressionItem(text=f"Guideline context for left bundle branch block: {p.citation()}.", statement_ids=["ecg-1.lbbb"],
                                         passage_ids=[p.id], kind="recommendation"))  # fmt: skip
    return Report(report_id="r1", case_id="c1", studies=studies, sections=sections, narrative=narrative, impression=impression,
                  guidelines=list(passages), grounding=GroundingSummary(numbers_checked=4, numbers_traced=4, sentences_checked=3, sentences_kept=3),
                  reported_history=ReportedHistory(notes_excerpt="NYHA II despite therapy.", flagged_instructions=[]),
                  provenance=Provenance(tool_calls=calls, node_timings_s={"intake": 0.1, "compose": 0.01}, llm_tokens=llm_tokens))  # fmt: skip


LBBB_CASE = """
id: lbbb-hfref
inputs: [x.txt]
context: {sex: male, notes: "NYHA II despite therapy."}
expected:
  modalities: [ecg, echo]
  statements:
    - {id: lbbb, status: present}
    - {id: atrial_fibrillation, status: absent}
    - {id: lvef_reduced, status: present, modality: echo}
    - {id: rbbb, status: present}
    - {id: "st_elevation_*", status: absent, name: ST elevation}
  measurements:
    - {name: qrs_duration, value: 150, tolerance: 10, unit: ms}
    - {name: lvef, value: 35, tolerance: 3, unit: "%"}
    - {name: lv_edv, flag: high}
    - {name: heart_rate, min: 50, max: 60, unit: /min}
    - {name: lv_mass, value: 100, tolerance: 10}
  guidelines: [{any_of: ["esc-hf-2021-crt-lbbb-*", "aha-hf-2022-crt-lbbb-*"]}]
  guidelines_allowed: ["ase-cq-2015-*"]
  history_quoted: true
must_not:
  statements: [sinus_rhythm]
  modalities: [cmr]
  text: ['\\bICD\\b']
"""


def loaded(text: str = LBBB_CASE, folder: Path | None = None) -> LoadedCase:
    spec = parse_case(text)
    return LoadedCase(id=spec.id or "case", folder=folder or Path("."), spec=spec, inputs=[Path("x.txt")], suite="test")
