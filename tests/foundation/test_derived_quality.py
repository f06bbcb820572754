"""A study derived from a limited reconstruction inherits that verdict:
its findings are not asserted, its values stay with their evidence."""

from __future__ import annotations

from agent.derived import carry_parent_quality
from experts.core.types import (
    Criterion,
    Evidence,
    ExpertResult,
    GuidelineRef,
    Measurement,
    Modality,
    Quality,
    Source,
    Statement,
    StudyInput,
)

REF = GuidelineRef(guideline="ESC heart failure", year=2021, section="Table 3")


def _recon(verdict: str) -> ExpertResult:
    derived = StudyInput(study_id="k1-recon", modality=Modality.CMR, files=["/x/recon.nii.gz"], meta={"derived_from": "k1"})
    reasons = ["at 4.3x the LVEF on reconstructed cine differed from the reference"] if verdict != "usable" else []
    return ExpertResult(tool="recon_reconstruct", version="1", modality=Modality.KSPACE, study_id="k1",
                        quality=Quality(verdict=verdict, reasons=reasons), derived_studies=[derived])  # fmt: skip


def _cmr(study_id: str = "k1-recon") -> ExpertResult:
    src = Source(tool="cmr_analyze", version="1")
    m = Measurement(id=f"{study_id}.lvef", name="lvef", label="LVEF", value=38.0, unit="%", method="discs", source=src,
                    evidence=Evidence(file="recon.nii.gz"), flag="low")  # fmt: skip
    st = Statement(id=f"{study_id}.lvef_reduced", label="LVEF reduced", status="present", source=src,
                   criteria=[Criterion(measurement_id=m.id, operator="<=", threshold=40, unit="%", met=True, guideline=REF)])  # fmt: skip
    absent = Statement(id=f"{study_id}.lv_dilated", label="LV dilated", status="absent", source=src)
    return ExpertResult(tool="cmr_analyze", version="1", modality=Modality.CMR, study_id=study_id, measurements=[m],
                        statements=[st, absent], quality=Quality(verdict="usable"))  # fmt: skip


def test_limited_parent_makes_child_findings_indeterminate_and_values_limited():
    recon, cmr = carry_parent_quality([_recon("limited"), _cmr()])
    assert recon.quality.verdict == "limited"  # the parent itself is untouched
    assert cmr.quality.verdict == "limited"
    assert any("derived from k1" in r and "LVEF on reconstructed cine" in r for r in cmr.quality.reasons)
    assert [m.quality for m in cmr.measurements] == ["limited"] and cmr.measurements[0].value == 38.0
    status = {s.id: s.status for s in cmr.statements}
    assert status == {"k1-recon.lvef_reduced": "indeterminate", "k1-recon.lv_dilated": "absent"}
    assert "Not asserted" in cmr.statements[0].explanation
    assert cmr.statements[0].criteria[0].met is True  # the criterion still says what was measured


def test_usable_parent_and_unrelated_studies_unchanged():
    recon, cmr = _recon("usable"), _cmr()
    assert carry_parent_quality([recon, cmr]) == [recon, cmr]
    other = _cmr("s2")
    out = carry_parent_quality([_recon("limited"), other])
    assert out[1] == other


def test_non_diagnostic_parent_is_carried_as_non_diagnostic():
    _, cmr = carry_parent_quality([_recon("non_diagnostic"), _cmr()])
    assert cmr.quality.verdict == "non_diagnostic"
    assert all(s.status != "present" for s in cmr.statements)
