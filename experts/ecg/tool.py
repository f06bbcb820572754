"""`ecg_analyze`: the ECG expert's one typed entry point.

Why thin: the agent, the LLM planner and the batch runner only need the
options schema, a description that says when to call the tool, and
`analyze`. The analysis itself lives in `pipeline.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from experts.core.tool import ExpertTool, ToolOptions
from experts.core.types import ExpertResult, Modality, PatientContext, Source, StudyInput

VERSION = "0.2.0"


class ECGOptions(ToolOptions):
    qtc_formula: Literal["bazett", "fridericia", "framingham"] = Field(
        "framingham",
        description=(
            "QT correction used by the long/short-QTc criteria (all three are always reported). Default 'framingham' "
            "(QTc = QT + 154 ms × (1 − RR)): the AHA/ACCF/HRS 2009 Part IV recommendations advise a linear regression "
            "correction rather than Bazett, which over-corrects at fast and under-corrects at slow rates."
        ),
    )
    csv_sampling_rate_hz: float | None = Field(
        None, gt=0, le=20000, description="Sampling rate of a CSV ECG (CSV files carry none). Required for CSV input."
    )
    classifier_weights: str | None = Field(
        None,
        description=(
            "Path to ECGFounder weights (.pth with a 'state_dict') to add the deep classifier's 150-label probabilities. "
            "Without it the classifier is reported unavailable and only the rule engine (the default) runs."
        ),
    )
    range_normalised_uv_per_unit: float | None = Field(
        1.0,
        gt=0,
        le=100,
        description=(
            "When a WFDB file's per-lead gains are a range normalisation (each equals the lead's digital peak-to-peak while the "
            "digital limb leads satisfy III = II − I exactly, as in LUDB v1.0.1), read all leads on one common scale of this many "
            "µV per digital unit. None restores only the relative scale and switches amplitude criteria off."
        ),
    )
    make_plot: bool = Field(True, description="Write the 12-lead printout (PNG) to the output folder.")
    max_minutes: float = Field(
        60.0, gt=0, le=24 * 60, description="Analyse at most this many minutes of a long record (the rest is reported as not analysed)."
    )


class ECGTool(ExpertTool):
    name: ClassVar[str] = "ecg_analyze"
    version: ClassVar[str] = VERSION
    modality: ClassVar[Modality] = Modality.ECG
    description: ClassVar[str] = (
        "Analyse one resting or ambulatory ECG study (WFDB record, DICOM 12-lead/general ECG waveform, or CSV with lead "
        "columns). Returns signal quality per lead, heart rate and RR statistics, rhythm (sinus rhythm, bradycardia, "
        "tachycardia, atrial fibrillation, pauses, ectopic beats), global PR/QRS/QT/QTc intervals and P/QRS/T axes from a "
        "multi-lead median beat, amplitudes and ST levels per lead, and diagnostic statements decided by published criteria "
        "(AHA/ACCF/HRS 2007–2009, Fourth Universal Definition of MI 2018, ESC AF 2024), each with the measured values, "
        "thresholds and citations. Call it once per ECG study; pass csv_sampling_rate_hz for CSV input. It uses the "
        "patient's age and sex for sex/age-specific thresholds when the case context gives them."
    )
    Options: ClassVar[type[ToolOptions]] = ECGOptions

    def analyze(self, study: StudyInput, patient: PatientContext, options: ToolOptions, output_dir: Path) -> ExpertResult:
        from experts.ecg.context import merge_context
        from experts.ecg.io import load_study
        from experts.ecg.pipeline import AnalysisConfig, analyze_record, to_result

        assert isinstance(options, ECGOptions)
        record = load_study(
            study, csv_sampling_rate_hz=options.csv_sampling_rate_hz, max_seconds=options.max_minutes * 60.0,
            range_normalised_uv_per_unit=options.range_normalised_uv_per_unit,
        )  # fmt: skip
        patient, context_notes = merge_context(patient, record.header_comments, record.source_file)
        source = Source(tool=self.name, version=self.version, model="rule engine (criteria table)")
        config = AnalysisConfig(qtc_formula=options.qtc_formula, make_plot=options.make_plot, output_dir=Path(output_dir))
        analysis = analyze_record(record, patient, study.study_id, source, config)
        warnings = list(record.notes) + context_notes
        if record.reference_annotations:
            warnings.append(
                "Reference annotation file(s) supplied with the record were not used by the analysis: "
                + ", ".join(record.reference_annotations)
                + "."
            )
        extra = []
        if options.classifier_weights is None:
            warnings.append("Deep classifier (ECGFounder) unavailable: no weights file was configured (option classifier_weights).")
        elif analysis.verdict == "non_diagnostic":
            warnings.append("Deep classifier (ECGFounder) not run: the ECG is non-diagnostic.")
        else:
            from experts.ecg.classifier import classify

            extra, notes = classify(record, study, options.classifier_weights, self.name, self.version)
            warnings.extend(notes)
        analysis.warnings = warnings + analysis.warnings
        result = to_result(analysis, self.name, self.version, study.study_id, list(study.display_names))
        result.measurements.extend(extra)
        return result
