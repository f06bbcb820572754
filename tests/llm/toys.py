"""Test-double expert for LLM tests: an ECG tool whose QTc depends on an
option (so a follow-up can re-run it with another formula) and which
reports a conduction statement with criteria (so 'why LBBB?' has an
answer). Toy numbers, real interface."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field

from experts.core.errors import InputError
from experts.core.tool import ExpertTool, ToolOptions
from experts.core.types import (
    Criterion,
    Evidence,
    ExpertResult,
    GuidelineRef,
    Measurement,
    Modality,
    PatientContext,
    Quality,
    ReferenceRange,
    Source,
    Statement,
    StudyInput,
)

QT_MS = 400.0
QRS_MS = 148.0
PART3 = GuidelineRef(guideline="AHA/ACCF/HRS recommendations for the standardization and interpretation of the ECG, Part III",
                     year=2009, section="Left bundle branch block")  # fmt: skip


class ToyQTOptions(ToolOptions):
    qtc_formula: Literal["bazett", "fridericia", "framingham"] = Field("framingham", description="QT correction formula")
    fail: bool = Field(False, description="make the tool fail (tests)")
    weights_path: str | None = Field(None, description="a path option the LLM must never see")


class ToyQTTool(ExpertTool):
    name = "toy_ecg_qt"
    version = "0.0.2"
    modality = Modality.ECG
    description = "test double: heart rate, QRS, QT and one QTc (formula by option); LBBB statement"
    Options = ToyQTOptions

    def analyze(self, study: StudyInput, patient: PatientContext, options: ToyQTOptions, output_dir: Path) -> ExpertResult:
        import wfdb

        header = Path(study.meta["header"])
        if options.fail or header.name.startswith("broken"):
            raise InputError(study.display_name(header), "toy failure: signal unreadable")
        rec = wfdb.rdrecord(str(header.with_suffix("")))
        seconds = rec.sig_len / rec.fs
        hr = round(12 / seconds * 60, 1)
        rr_s = 60.0 / hr
        qtc = {"bazett": QT_MS / math.sqrt(rr_s), "fridericia": QT_MS / rr_s ** (1 / 3),
               "framingham": QT_MS + 154 * (1 - rr_s)}[options.qtc_formula]  # fmt: skip
        src = Source(tool=self.name, version=self.version)
        ev = Evidence(file=study.display_name(header), location="median beat", time_span_s=(0.0, seconds))

        def m(name, label, value, unit, **kw):
            return Measurement(id=f"{study.study_id}.{name}", name=name, label=label, value=round(value, 1), unit=unit, method="toy",
                               source=src, evidence=ev, **kw)  # fmt: skip

        ms = [
            m("heart_rate", "Heart rate", hr, "/min", reference_range=(rr := ReferenceRange(low=50, high=100, unit="/min")), flag=rr.classify(hr)),
            m("qrs_duration", "QRS duration", QRS_MS, "ms", flag="high", reference_range=ReferenceRange(high=110, unit="ms")),
            m("qt_interval", "QT interval", QT_MS, "ms"),
            m(f"qtc_{options.qtc_formula}", f"QTc ({options.qtc_formula.capitalize()})", qtc, "ms"),
        ]
        lbbb = Statement(id=f"{study.study_id}.lbbb", label="Complete left bundle branch block", status="present", category="conduction",
                         source=src, explanation="QRS duration at or above 120 ms with LBBB morphology",
                         criteria=[Criterion(measurement_id=ms[1].id, operator=">=", threshold=120, unit="ms", met=True, guideline=PART3)])  # fmt: skip
        afib = Statement(id=f"{study.study_id}.atrial_fibrillation", label="Atrial fibrillation", status="absent", category="rhythm",
                         source=src)  # fmt: skip
        return ExpertResult(tool=self.name, version=self.version, modality=self.modality, study_id=study.study_id,
                            inputs=study.display_names, measurements=ms, statements=[lbbb, afib], quality=Quality(verdict="usable"))  # fmt: skip


TOY_LLM_PATHS = {
    Modality.ECG: "tests.llm.toys:ToyQTTool",
    Modality.KSPACE: "tests.foundation.toy_tools:ToyKspaceTool",
    Modality.CMR: "tests.foundation.toy_tools:ToyCMRTool",
}
