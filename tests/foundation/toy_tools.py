"""Test doubles of expert tools for graph tests (real interface, tiny logic).

They exercise routing, fan-out, derived studies and failure handling
without depending on the real experts' models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
    Source,
    Statement,
    StudyInput,
)


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
        import wfdb

        header = Path(study.meta["header"])
        if options.fail or header.name.startswith("broken"):
            raise InputError(study.display_name(header), "toy failure")
        rec = wfdb.rdrecord(str(header.with_suffix("")))
        seconds = rec.sig_len / rec.fs
        hr = float(np.round(12 / seconds * 60, 1))
        src = Source(tool=self.name, version=self.version)
        m = Measurement(id=f"{study.study_id}.heart_rate", name="heart_rate", label="Heart rate", value=hr, unit="/min",
                        method="toy", source=src, evidence=Evidence(file=study.display_name(header), time_span_s=(0.0, seconds)))  # fmt: skip
        st = Statement(id=f"{study.study_id}.sinus_bradycardia", label="Sinus bradycardia", status="present" if hr < 60 else "absent",
                       source=src, criteria=[Criterion(measurement_id=m.id, operator="<", threshold=60, unit="/min", met=hr < 60,
                       guideline=GuidelineRef(guideline="AHA/ACCF/HRS ECG standardization part II", year=2007, section="rate"))])  # fmt: skip
        return ExpertResult(tool=self.name, version=self.version, modality=self.modality, study_id=study.study_id,
                            inputs=study.display_names, measurements=[m], statements=[st], quality=Quality(verdict="usable"))  # fmt: skip


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
        return ExpertResult(tool=self.name, version=self.version, modality=self.modality, study_id=study.study_id,
                            inputs=study.display_names, quality=Quality(verdict="usable"), derived_studies=[derived])  # fmt: skip


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
        return ExpertResult(tool=self.name, version=self.version, modality=self.modality, study_id=study.study_id,
                            inputs=study.display_names, measurements=[m], quality=Quality(verdict="usable"))  # fmt: skip


TOY_PATHS = {
    Modality.ECG: "tests.foundation.toy_tools:ToyECGTool",
    Modality.KSPACE: "tests.foundation.toy_tools:ToyKspaceTool",
    Modality.CMR: "tests.foundation.toy_tools:ToyCMRTool",
}
