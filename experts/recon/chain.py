"""Hand reconstructed and reference cines to the CMR expert and compare LVEF.

Why through the tool interface: the EF difference must be what the agent
would report for each image series, so it is computed by the same
`ToolRequest → ExpertResult` call the agent makes, not by a private shortcut.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from experts.core.types import ExpertResult, Modality, StudyInput

LVEF_NAMES = ("lvef", "lv_ef", "lv_ejection_fraction", "ejection_fraction", "ef")


@dataclass
class EFComparison:
    recon_ef: float
    reference_ef: float
    recon_measurement_id: str
    reference_measurement_id: str
    cmr_tool: str
    cmr_version: str

    @property
    def abs_difference(self) -> float:
        return abs(self.recon_ef - self.reference_ef)


class ChainUnavailable(RuntimeError):
    """The CMR expert cannot be used here (not installed, or it failed)."""


def cmr_tool():
    from experts.registry import NoToolForModality, load_tool

    try:
        return load_tool(Modality.CMR)
    except NoToolForModality as exc:
        raise ChainUnavailable(str(exc)) from exc


def find_lvef(result: ExpertResult) -> tuple[float, str] | None:
    for wanted in LVEF_NAMES:
        for m in result.measurements:
            if m.name.lower() == wanted and m.unit == "%":
                return m.value, m.id
    return None


def run_cmr(study: StudyInput, output_dir: Path) -> ExpertResult:
    from experts.core.errors import ExpertError
    from experts.core.tool import ToolRequest

    tool = cmr_tool()
    try:
        return tool.run(ToolRequest(study=study, output_dir=str(output_dir)))
    except ExpertError as exc:
        what = study.display_names[0] if study.display_names else study.study_id
        raise ChainUnavailable(f"the CMR expert could not analyse {what}: {exc}") from exc
    except Exception as exc:  # another expert's bug must not sink this reconstruction
        raise ChainUnavailable(f"CMR expert failed ({type(exc).__name__}: {exc})") from exc


# The same fully sampled reference is analysed once per process, however many
# methods or acceleration factors are tried on it (key: hash of its pixels).
_REFERENCE_CACHE: dict[str, ExpertResult] = {}
_CACHE_LIMIT = 16


def compare_ef(recon: StudyInput, reference: StudyInput, output_dir: Path, reference_key: str | None = None) -> EFComparison:
    rec_result = run_cmr(recon, output_dir / "cmr_recon")
    ref_result = _REFERENCE_CACHE.get(reference_key) if reference_key else None
    if ref_result is None:
        ref_result = run_cmr(reference, output_dir / "cmr_reference")
        if reference_key:
            if len(_REFERENCE_CACHE) >= _CACHE_LIMIT:
                _REFERENCE_CACHE.pop(next(iter(_REFERENCE_CACHE)))
            _REFERENCE_CACHE[reference_key] = ref_result
    rec, ref = find_lvef(rec_result), find_lvef(ref_result)
    if rec is None or ref is None:
        missing = "reconstruction" if rec is None else "reference"
        why = "; ".join((rec_result if rec is None else ref_result).warnings[:2]) or "no LVEF measurement returned"
        raise ChainUnavailable(f"CMR expert gave no LVEF for the {missing} ({why})")
    return EFComparison(
        recon_ef=rec[0],
        reference_ef=ref[0],
        recon_measurement_id=rec[1],
        reference_measurement_id=ref[1],
        cmr_tool=rec_result.tool,
        cmr_version=rec_result.version,
    )
