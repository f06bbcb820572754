"""Quality carried from a study to the studies derived from it.

Why: a CMR series reconstructed from 8× undersampled k-space is analysed by
the CMR expert as if it were any cine, so its LVEF statements come out
`present` with the CMR tool's full confidence. The reconstruction tool knows
better — it rates its output `limited` when, for example, held-out
simulations showed LVEF errors of many points at that acceleration. The
agent owns the link between the two results (the derived study id), so the
agent carries the parent's verdict onto the child: the child's quality is at
best the parent's, its measurements are at best `limited`, and a `present`
finding resting on a limited reconstruction is reported as `indeterminate`
(the measured values stay, with their evidence; the finding is not
asserted). A usable parent changes nothing.
"""

from __future__ import annotations

from experts.core.types import ExpertResult, Quality

_RANK = {"usable": 0, "limited": 1, "non_diagnostic": 2}


def _worse(a: str, b: str) -> str:
    return a if _RANK.get(a, 0) >= _RANK.get(b, 0) else b


def carry_parent_quality(results: list[ExpertResult]) -> list[ExpertResult]:
    """Return `results` with every derived study's result downgraded to its
    parent's quality when the parent was not usable. Order is kept; results
    that are not derived (or whose parent is usable) are returned as is."""
    parent_of: dict[str, ExpertResult] = {}
    for r in results:
        for d in r.derived_studies:
            parent_of[d.study_id] = r
    out = []
    for r in results:
        parent = parent_of.get(r.study_id)
        if parent is None or parent.quality.verdict == "usable":
            out.append(r)
            continue
        out.append(_downgraded(r, parent))
    return out


def _downgraded(child: ExpertResult, parent: ExpertResult) -> ExpertResult:
    verdict = parent.quality.verdict
    why = "; ".join(parent.quality.reasons) or f"rated {verdict} by {parent.tool}"
    reason = f"derived from {parent.study_id}, which {parent.tool} rated {verdict}: {why}"
    quality = Quality(verdict=_worse(child.quality.verdict, verdict), reasons=[*child.quality.reasons, reason])
    measurements = [m.model_copy(update={"quality": _worse(m.quality, "limited")}) for m in child.measurements]
    statements = []
    for st in child.statements:
        if st.status == "present":
            note = f"Not asserted: measured on a series derived from {parent.study_id}, rated {verdict} ({parent.tool})."
            explanation = f"{st.explanation} {note}" if st.explanation else note
            st = st.model_copy(update={"status": "indeterminate", "explanation": explanation})
        statements.append(st)
    warnings = [*child.warnings, f"quality carried from {parent.study_id} ({parent.tool}: {verdict})"]
    return child.model_copy(update={"quality": quality, "measurements": measurements, "statements": statements, "warnings": warnings})
