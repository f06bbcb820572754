"""Diagnostic statements from the measurements, each with cited criteria.

Why separate: the thresholds live in `reference.py` with their citations;
this module only turns "value vs threshold" into `Statement`s, so a wrong
threshold is fixed in one place and every statement shows its arithmetic.
A non-diagnostic study gets no statements at all.
"""

from __future__ import annotations

from experts.cmr.reference import ESC_HF_2021, HFPEF_LVEF_MIN, HFREF_LVEF_MAX, reference_range
from experts.core.types import Criterion, Measurement, Source, Statement


def _crit(m: Measurement, op: str, threshold: float, guideline, note: str | None = None) -> Criterion:
    return Criterion(
        measurement_id=m.id,
        operator=op,
        threshold=threshold,
        unit=m.unit,
        met=Criterion.evaluate(m.value, op, threshold),
        guideline=guideline,
        note=note,
    )


def _status(met: bool) -> str:
    return "present" if met else "absent"


MASS_OVERESTIMATED_NOTE = (
    "the segmentation model that measured it overestimates LV mass (wall too thick on the held-out real "
    "patient and on simulated stacks, see experts/cmr/MODEL_CARD.md), so a value above the limit is not "
    "taken as a finding; a value below it stands"
)


def statements(
    measurements: dict[str, Measurement],
    sex: str | None,
    study_id: str,
    source: Source,
    mass_overestimated: bool = False,
) -> list[Statement]:
    """`mass_overestimated`: the labels came from a model known to make the
    myocardium too thick (the embedded one). Its LV mass is still reported,
    but "increased indexed LV mass" is then `indeterminate`, never
    `present`: a biased-high value cannot show hypertrophy, while a value
    under the limit remains under it."""
    out: list[Statement] = []
    lvef = measurements.get("lvef")
    if lvef is not None:
        c = _crit(lvef, "<=", HFREF_LVEF_MAX, ESC_HF_2021, "LVEF <= 40 % is the reduced-EF range")
        out.append(
            Statement(
                id=f"{study_id}.lvef_reduced_range",
                label="LVEF in the reduced range (≤40%)",
                status=_status(c.met),
                category="function",
                criteria=[c],
                explanation="ESC 2021 heart-failure categories by LVEF; a category of EF, not a diagnosis of heart failure.",
                source=source,
            )
        )
        lo = _crit(lvef, ">", HFREF_LVEF_MAX, ESC_HF_2021)
        hi = _crit(lvef, "<", HFPEF_LVEF_MIN, ESC_HF_2021)
        out.append(
            Statement(
                id=f"{study_id}.lvef_mildly_reduced_range",
                label="LVEF in the mildly reduced range (41–49%)",
                status=_status(lo.met and hi.met),
                category="function",
                criteria=[lo, hi],
                explanation="ESC 2021 heart-failure categories by LVEF.",
                source=source,
            )
        )
        rr = reference_range("lvef", sex)
        if rr is not None and rr.low is not None:
            c = _crit(lvef, "<", rr.low, rr.source, f"lower reference limit for {sex}s")
            out.append(
                Statement(
                    id=f"{study_id}.lvef_below_reference",
                    label="LVEF below the sex-specific reference range",
                    status=_status(c.met),
                    category="function",
                    criteria=[c],
                    source=source,
                )
            )
    mass_i = measurements.get("lv_mass_index")
    if mass_i is not None:
        rr = reference_range("lv_mass_index", sex)
        if rr is not None and rr.high is not None:
            c = _crit(mass_i, ">", rr.high, rr.source, f"upper reference limit for {sex}s")
            explanation = "LV mass by CMR (papillary muscles in the pool), indexed to BSA (Mosteller)."
            status = _status(c.met)
            if mass_overestimated and c.met:
                status = "indeterminate"
                explanation += " Indeterminate: " + MASS_OVERESTIMATED_NOTE + "."
            out.append(
                Statement(
                    id=f"{study_id}.lv_mass_index_increased",
                    label="Increased indexed LV mass",
                    status=status,
                    category="hypertrophy",
                    criteria=[c],
                    explanation=explanation,
                    source=source,
                )
            )
    return out


def rv_statements_indeterminate(statements: list[Statement], why: str) -> list[Statement]:
    """RV findings become `indeterminate` when the RV segmentation is
    implausible (plausibility.py): a statement whose criteria use an RV
    measurement (name starting with `rv`) cannot be present or absent on
    volumes we do not trust. Other statements are returned unchanged."""
    out = []
    for st in statements:
        if any(c.measurement_id.rsplit(".", 1)[-1].startswith("rv") for c in st.criteria):
            expl = ((st.explanation or "") + " Indeterminate: " + why + ".").strip()
            st = st.model_copy(update={"status": "indeterminate", "explanation": expl})
        out.append(st)
    return out
