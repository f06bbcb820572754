"""Test doubles of expert tools: the real ExpertTool interface, toy logic.

Why: graph, chat, sign-off and UI tests exercise routing, fan-out, derived
studies, re-runs with options and failure handling; they must not depend on
the real experts' models (slow, and changed by other work). One module for
all of them, so a change of the tool contract is made in one place.

- `ToyECGTool` (toy_ecg): heart rate from the record length, a bradycardia
  statement with its criterion.
- `ToyQTTool` (toy_ecg_qt): adds QRS, QT and one QTc whose formula is an
  option (so a follow-up can re-run it), an LBBB statement with criteria and
  a small PNG figure per run (so the UI can show a re-run's figure).
- `ToyKspaceTool` (toy_recon) returns a derived CMR study; `ToyCMRTool`
  (toy_cmr) sums its volume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from experts.core.errors import InputError
from experts.core.tool import ExpertTool, ToolOptions
from experts.core.types import (
    Artifact,
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

TOY_BEATS = 12  # toy heart rate: this many beats over the record's length
QT_MS = 400.0
QRS_MS = 148.0
RATE_REF = GuidelineRef(guideline="AHA/ACCF/HRS ECG standardization part II", year=2007, section="rate")
PART3 = GuidelineRef(guideline="AHA/ACCF/HRS recommendations for the standardization and interpretation of the ECG, Part III",
                     year=2009, section="Left bundle branch block")  # fmt: skip


@dataclass
class ToyRecord:
    header: Path
    display: str
    seconds: float
    heart_rate: float


def read_toy_record(study: StudyInput, fail: bool, problem: str) -> ToyRecord:
    """The WFDB record's length (wfdb reads it); `fail` or a header named
    broken* raise InputError like a real tool on an unreadable file."""
    import wfdb

    header = Path(study.meta["header"])
    if fail or header.name.startswith("broken"):
        raise InputError(study.display_name(header), problem)
    rec = wfdb.rdrecord(str(header.with_suffix("")))
    seconds = rec.sig_len / rec.fs
    return ToyRecord(header, study.display_name(header), seconds, float(np.round(TOY_BEATS / seconds * 60, 1)))


def _result(tool: ExpertTool, study: StudyInput, **kw) -> ExpertResult:
    return ExpertResult(tool=tool.name, version=tool.version, modality=tool.modality, study_id=study.study_id, inputs=study.display_names,
                        quality=Quality(verdict="usable"), **kw)  # fmt: skip


class ToyECGOptions(ToolOptions):
    fail: bool = False


class ToyECGTool(ExpertTool):
    """Heart rate from the record's length and a fixed beat count: toy logic."""

    name = "toy_ecg"
    version = "0.0.1"
    modality = Modality.ECG
    description = "test double"
    Options = ToyECGOptions

    def analyze(self, study: StudyInput, patient: PatientContext, options: ToyECGOptions, output_dir: Path) -> ExpertResult:
        rec = read_toy_record(study, options.fail, "toy failure")
        src = Source(tool=self.name, version=self.version)
        hr = rec.heart_rate
        m = Measurement(id=f"{study.study_id}.heart_rate", name="heart_rate", label="Heart rate", value=hr, unit="/min",
                        method="toy", source=src, evidence=Evidence(file=rec.display, time_span_s=(0.0, rec.seconds)))  # fmt: skip
        st = Statement(id=f"{study.study_id}.sinus_bradycardia", label="Sinus bradycardia", status="present" if hr < 60 else "absent",
                       source=src, criteria=[Criterion(measurement_id=m.id, operator="<", threshold=60, unit="/min", met=hr < 60,
                       guideline=RATE_REF)])  # fmt: skip
        return _result(self, study, measurements=[m], statements=[st])


class ToyQTOptions(ToolOptions):
    qtc_formula: Literal["bazett", "fridericia", "framingham"] = Field("framingham", description="QT correction formula")
    fail: bool = Field(False, description="make the tool fail (tests)")
    weights_path: str | None = Field(None, description="a path option the LLM must never see")


def toy_figure(path: Path, text: str) -> Path:
    """A small PNG (PIL, already a matplotlib dependency) naming what was run."""
    from PIL import Image, ImageDraw

    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (480, 120), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((2, 2, 477, 117), outline=(200, 40, 40), width=3)
    draw.text((16, 50), text, fill=(0, 0, 0))
    img.save(path, format="PNG")
    return path


class ToyQTTool(ExpertTool):
    name = "toy_ecg_qt"
    version = "0.0.2"
    modality = Modality.ECG
    description = "test double: heart rate, QRS, QT and one QTc (formula by option); LBBB statement"
    Options = ToyQTOptions

    def analyze(self, study: StudyInput, patient: PatientContext, options: ToyQTOptions, output_dir: Path) -> ExpertResult:
        rec = read_toy_record(study, options.fail, "toy failure: signal unreadable")
        hr = round(rec.heart_rate, 1)
        rr_s = 60.0 / hr
        qtc = {"bazett": QT_MS / math.sqrt(rr_s), "fridericia": QT_MS / rr_s ** (1 / 3),
               "framingham": QT_MS + 154 * (1 - rr_s)}[options.qtc_formula]  # fmt: skip
        src = Source(tool=self.name, version=self.version)
        ev = Evidence(file=rec.display, location="median beat", time_span_s=(0.0, rec.seconds))

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
        title = f"Toy QT plot ({options.qtc_formula.capitalize()})"
        fig = toy_figure(Path(output_dir) / f"toy_qt_{options.qtc_formula}.png", f"{title}: QTc {qtc:.0f} ms")
        art = Artifact(kind="plot", title=title, path=str(fig), media_type="image/png")
        return _result(self, study, measurements=ms, statements=[lbbb, afib], artifacts=[art])


class ToyKspaceTool(ExpertTool):
    name = "toy_recon"
    version = "0.0.1"
    modality = Modality.KSPACE
    description = "test double producing a derived CMR study"

    def analyze(self, study, patient, options, output_dir: Path) -> ExpertResult:
        import nibabel as nib

        out = output_dir / "recon.nii.gz"
        nib.save(nib.Nifti1Image(np.ones((4, 4, 2, 3), np.float32), np.eye(4)), str(out))
        derived = StudyInput(study_id=f"{study.study_id}-recon", modality=Modality.CMR, files=[str(out)], display_names=["recon.nii.gz"],
                             meta={"format": "nifti", "derived_from": study.study_id})  # fmt: skip
        return _result(self, study, derived_studies=[derived])


class ToyCMRTool(ExpertTool):
    name = "toy_cmr"
    version = "0.0.1"
    modality = Modality.CMR
    description = "test double"

    def analyze(self, study, patient, options, output_dir: Path) -> ExpertResult:
        import nibabel as nib

        img = nib.load(study.files[0])
        vol = float(np.asarray(img.dataobj).sum())
        m = Measurement(id=f"{study.study_id}.lv_edv", name="lv_edv", label="LV end-diastolic volume", value=vol, unit="mL",
                        method="toy", source=Source(tool=self.name, version=self.version), evidence=Evidence(file=study.display_names[0]))  # fmt: skip
        return _result(self, study, measurements=[m])


_HERE = "tests.toy_tools"
TOY_PATHS = {
    Modality.ECG: f"{_HERE}:ToyECGTool",
    Modality.KSPACE: f"{_HERE}:ToyKspaceTool",
    Modality.CMR: f"{_HERE}:ToyCMRTool",
}
TOY_LLM_PATHS = {**TOY_PATHS, Modality.ECG: f"{_HERE}:ToyQTTool"}
