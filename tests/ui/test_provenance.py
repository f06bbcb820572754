"""agent.render.provenance: the one view model behind the provenance,
grounding, measurement and criteria text of report.md, report.html,
report.pdf and the UI panel — and the four formats saying the same thing."""

from __future__ import annotations

import re

from datetime import datetime, timezone

import pytest

from agent.render.html import render_html
from agent.render.markdown import render_markdown
from agent.render.provenance import (
    criterion_row,
    grounding_view,
    measurement_row,
    provenance_view,
    signed_line,
    statement_row,
    tool_groups,
)
from agent.report import GroundingSummary, ModalitySection, Provenance, RemovedSentence, Report, SignOff, ToolCallRecord, ToolProvenance
from experts.core.types import (
    Code,
    Criterion,
    Evidence,
    GuidelineRef,
    Measurement,
    Modality,
    Quality,
    ReferenceRange,
    Source,
    Statement,
)
from ui.report_view import render_panel

REF = GuidelineRef(guideline="AHA/ACCF/HRS ECG standardization, Part III", year=2009, section="Left bundle branch block")
SRC = Source(tool="ecg_analyze", version="0.2.0", model="rule engine", weights_sha256="0123456789abcdef" * 4)


def _qrs() -> Measurement:
    return Measurement(id="ecg-1.qrs_duration", name="qrs_duration", label="QRS duration", value=148.2, unit="ms", method="median beat",
                       source=SRC, evidence=Evidence(file="rec.hea", location="median beat", leads=["V1", "V6"], time_span_s=(0.5, 9.75)),
                       reference_range=ReferenceRange(high=110, unit="ms", source=REF), flag="high",
                       code=Code(system="http://loinc.org", code="8633-0", display="QRS duration"))  # fmt: skip


def _report() -> Report:
    m = _qrs()
    st = Statement(id="ecg-1.lbbb", label="Complete left bundle branch block", status="present", source=SRC,
                   criteria=[Criterion(measurement_id=m.id, operator=">=", threshold=120, unit="ms", met=True, guideline=REF)])  # fmt: skip
    section = ModalitySection(study_id="ecg-1", modality=Modality.ECG, tool="ecg_analyze", tool_version="0.2.0", files=["rec.hea"],
                              quality=Quality(verdict="usable"), measurements=[m], statements=[st])  # fmt: skip
    pv = Provenance(tools=[ToolProvenance(tool="ecg_analyze", version="0.2.0", model="rule engine"),
                           ToolProvenance(tool="ecg_analyze", version="0.2.0"),
                           ToolProvenance(tool="cmr_analyze", version="0.3.0", model="unet", weights_sha256="ab" * 32),
                           ToolProvenance(tool="cmr_analyze", version="0.3.1", model="unet", weights_sha256="cd" * 32),
                           ToolProvenance(tool="ecg_analyze", version="0.2.0", model="rule engine")],
                    tool_calls=[ToolCallRecord(tool="ecg_analyze", study_id="ecg-1", ok=True, runtime_s=1.234),
                                ToolCallRecord(tool="cmr_analyze", study_id="cmr-1", ok=False, error="no short-axis <stack>", runtime_s=0.5)],
                    plan=["planner: ecg_analyze(ecg-1)"], retrieval_note="switched off")  # fmt: skip
    g = GroundingSummary(sentences_checked=4, sentences_kept=3, sentences_removed=1, numbers_checked=5, numbers_traced=4,
                         removed=[RemovedSentence(text="EF was 25%.", reason="number 25 not traced", where="narrative")])  # fmt: skip
    return Report(report_id="r-1", case_id="c-1", sections=[section], provenance=pv, grounding=g)


def test_each_tool_is_listed_once_with_its_versions_and_models():
    groups = tool_groups(_report().provenance)
    assert [g.tool for g in groups] == ["ecg_analyze", "cmr_analyze"]
    assert groups[0].text() == "tool ecg_analyze 0.2.0 (model rule engine)"  # the model-less and repeated entries add nothing
    assert groups[1].text() == ("tool cmr_analyze 0.3.0 (model unet, weights sha256 abababababababab…), "
                                "0.3.1 (model unet, weights sha256 cdcdcdcdcdcdcdcd…)")  # fmt: skip


def test_measurement_row_carries_value_unit_source_model_hash_and_evidence():
    r = measurement_row(_qrs())
    assert (r.value, r.flag, r.reference, r.reference_source) == ("148 ms", "high", "≤ 110 ms", "AHA/ACCF/HRS ECG standardization, Part III (2009), Left bundle branch block")
    assert r.source == "ecg_analyze 0.2.0" and r.model == "rule engine" and r.weights == "weights sha256 0123456789abcdef…"
    assert r.evidence == "rec.hea; median beat; leads V1,V6; 0.50–9.75 s" and r.code_text == "LOINC 8633-0"


def test_statement_criteria_rows():
    m = _qrs()
    st = _report().sections[0].statements[0]
    row = statement_row(st, {m.id: m})
    (c,) = row.criteria
    assert c.text() == "QRS duration ≥ 120 ms — met (AHA/ACCF/HRS ECG standardization, Part III (2009), Left bundle branch block)"
    assert (c.measured_label, c.measured_value) == ("QRS duration", "148 ms")
    unknown = criterion_row(Criterion(measurement_id="ecg-1.x", operator="<", threshold=0.5, unit="mV", met=False))
    assert unknown.text() == "x < 0.5 mV — not met" and unknown.measured_label == ""


def test_grounding_and_provenance_lines():
    r = _report()
    g = grounding_view(r.grounding)
    assert g.summary.endswith("numbers traced to a tool output 4 of 5.")
    assert g.removed == ("removed (narrative): “EF was 25%.” — number 25 not traced",)
    lines = provenance_view(r).lines()
    assert "call cmr_analyze(cmr-1) by planner: FAILED: no short-axis <stack> in 0.50 s" in lines
    assert "plan: planner: ecg_analyze(ecg-1)" in lines and "retrieval: switched off" in lines
    assert sum(line.startswith("tool ") for line in lines) == 2


def test_signed_line_names_who_and_when():
    r = _report()
    assert signed_line(r) == "Not signed: awaiting review by a clinician"
    r.signoffs.append(SignOff(clinician="Dr A", signed_at=datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc), comment="Agree."))
    assert signed_line(r) == "Signed by Dr A at 2026-11-26 09:30 UTC — Agree."


@pytest.mark.parametrize("render", [render_markdown, render_html, render_panel, "pdf"])
def test_every_format_says_the_same_provenance(render):
    import html

    r = _report()
    r.signoffs.append(SignOff(clinician="Dr A", signed_at=datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc)))
    if render == "pdf":
        import io

        pypdf = pytest.importorskip("pypdf")
        from agent.render.pdf import render_pdf

        text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_pdf(r))).pages)
        text = " ".join(text.split())
    else:
        # Markdown backslash-escapes punctuation of user-controlled text; read it back as a viewer shows it
        text = html.unescape(render(r)) if render is not render_markdown else re.sub(r"\\(.)", r"\1", render(r))
    pv = provenance_view(r)
    for line in [grounding_view(r.grounding).summary, *pv.lines(), "by Dr A at 2026-11-26 09:30 UTC"]:
        assert line in text or " ".join(line.split()) in text, line
    assert text.count("tool ecg_analyze 0.2.0 (model") == 1  # one line per tool, however many entries it has


def test_an_empty_impression_says_why():
    from agent.render.provenance import no_impression_text

    r = _report()
    assert no_impression_text(r) == "No impression item passed verification."
    r.sections[0].quality = Quality(verdict="non_diagnostic", reasons=["no complete cardiac cycle"])
    assert no_impression_text(r).startswith("No findings: the study was non-diagnostic")
    assert no_impression_text(r) in render_markdown(r) and no_impression_text(r) in render_panel(r)
    assert no_impression_text(Report(report_id="r", case_id="c")) == "No study was analysed; see Limitations."
