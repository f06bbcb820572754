"""The deterministic composer: grounded by construction.

Why templates: every sentence is assembled from a measurement's own
formatted value and unit, a statement's own label and criteria, and a
passage's own citation, with the ids attached. It is the embedded default
(no GPU, no network) and the fallback when an LLM draft fails verification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.case import InputProblem
from agent.render.provenance import OPERATOR_SIGNS
from agent.report import ImpressionItem, ModalitySection, ToolCallRecord
from agent.synthesis import COMBINATION_ONLY, synthesize
from experts.core.types import Measurement, Modality, Statement, format_quantity
from retrieval.types import GuidelinePassage

KEY_MEASUREMENTS: dict[Modality, list[str]] = {
    Modality.ECG: ["heart_rate", "pr_interval", "qrs_duration", "qt_interval", "qtc_bazett", "qtc_fridericia",
                   "qtc_framingham", "qrs_axis"],
    Modality.ECHO: ["lvef", "lv_edv", "lv_esv", "heart_rate"],
    Modality.CMR: ["lvef", "lv_edv", "lv_esv", "lv_sv", "lv_mass", "rvef", "lv_edv_index", "lv_mass_index"],
    Modality.KSPACE: ["acceleration", "psnr", "ssim", "lvef_abs_difference"],
}  # fmt: skip
MAX_NARRATIVE_MEASUREMENTS = 8


@dataclass
class Draft:
    narrative: list[str] = field(default_factory=list)
    impression: list[ImpressionItem] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)


def _cite(kind: str, ids: list[str]) -> str:
    return f"[{kind}:{','.join(ids)}]" if ids else ""


def _measurement_phrase(m: Measurement) -> str:
    return f"{m.label} {m.with_unit()} {_cite('M', [m.id])}"


def _key_measurements(section: ModalitySection) -> list[Measurement]:
    order = KEY_MEASUREMENTS.get(section.modality, [])
    by_name = {m.name: m for m in section.measurements}
    chosen = [by_name[n] for n in order if n in by_name]
    flagged = [m for m in section.measurements if m.flag in ("low", "high", "abnormal") and m not in chosen]
    return (chosen + flagged)[:MAX_NARRATIVE_MEASUREMENTS]


def _criteria_phrase(st: Statement, measurements: dict[str, Measurement]) -> tuple[str, list[str]]:
    """'QTc 478 ms > 460 ms' parts for the criteria that were met."""
    parts, ids = [], []
    for c in st.criteria:
        m = measurements.get(c.measurement_id)
        if m is None or not c.met:
            continue
        sign = OPERATOR_SIGNS.get(c.operator, c.operator)  # '≥ 120 ms', as every renderer prints it
        parts.append(f"{m.label} {m.with_unit()} {sign} {format_quantity(c.threshold, c.unit, m.decimals)}")
        ids.append(m.id)
    return "; ".join(parts), ids


# Finer than the verifier's lexicon: a finding named by one side must not
# take a passage about the other ("complete RBBB criteria" for an LBBB).
SPECIFIC_CONCEPTS: dict[str, re.Pattern] = {
    "lbbb": re.compile(r"\b(left\s+bundle[-\s]branch\s+block|LBBB)\b", re.I),
    "rbbb": re.compile(r"\b(right\s+bundle[-\s]branch\s+block|RBBB)\b", re.I),
    "ivcd": re.compile(r"\b(intraventricular\s+conduction\s+(delay|disturbance|defect)s?|IVCD)\b", re.I),
}
# Complete and incomplete blocks have different criteria: the passage's
# section says which one it states.
INCOMPLETE = re.compile(r"\bincomplete\b", re.I)
# Diagnoses a passage may be conditioned on ("AF catheter ablation in HFrEF"):
# such a passage is context only in a case where a tool found that diagnosis.
PREMISE_CONCEPTS = frozenset({"atrial_fibrillation", "atrial_flutter", "pre_excitation", "ventricular_arrhythmia", "av_block", "pause"})


def _specific(text: str) -> set[str]:
    return {k for k, pat in SPECIFIC_CONCEPTS.items() if pat.search(text)}


IMAGING_TOPICS = {Modality.ECHO: "echo", Modality.CMR: "cmr"}


def _other_technique(p: GuidelinePassage, modality: Modality | None) -> bool:
    """An echo-only reference passage (2D echo LVEF norms, linear LV mass) does not
    interpret a CMR value, and a CMR-only one does not interpret an echo value."""
    own = IMAGING_TOPICS.get(modality) if modality is not None else None
    if own is None:
        return False
    others = set(IMAGING_TOPICS.values()) - {own}
    return own not in p.topics and bool(others & set(p.topics))


def relevant_passages(
    st: Statement, passages: list[GuidelinePassage], case_concepts: set[str] | None = None, modality: Modality | None = None
) -> list[GuidelinePassage]:
    """Keep passages that speak of the finding itself.

    Why a gate after retrieval: nearest-neighbour search always returns k
    passages, and a passage about ivabradine in heart failure is 'near'
    sinus bradycardia. A passage is shown for a finding only when it names
    every diagnostic concept of the finding's label (the verifier's
    lexicon), or — for findings whose label names no such concept — when it
    concerns one of the finding's measurements. Two further gates: a
    passage naming the other side of a pair (RBBB for an LBBB), or the
    incomplete form of a complete block (and vice versa), is dropped, and, when `case_concepts` (the concepts of the case's present findings)
    is given, so is a passage premised on a diagnosis the case does not have
    (AF ablation as 'context' for a reduced LVEF in sinus rhythm). With the
    finding's imaging `modality`, a passage written for the other imaging
    technique only (its topics) is dropped too.
    """
    from agent.verifier import concepts_in, statement_concepts

    wanted = statement_concepts(st)
    wanted_specific = _specific(st.label)
    names = {c.measurement_id.split(".")[-1] for c in st.criteria}
    kept = []
    for p in passages:
        text = p.text + " " + p.section
        have = concepts_in(text)
        if wanted_specific and not wanted_specific <= _specific(text):
            continue
        if "bundle_branch_block" in wanted and bool(INCOMPLETE.search(st.label)) != bool(INCOMPLETE.search(p.section)):
            continue
        if _other_technique(p, modality):
            continue
        if case_concepts is not None and (have & PREMISE_CONCEPTS) - case_concepts - wanted:
            continue
        if wanted and wanted <= have:
            kept.append(p)
        elif not wanted and names & set(p.measurements):
            kept.append(p)
    return kept


def compose(
    sections: list[ModalitySection],
    passages_for: dict[str, list[GuidelinePassage]],
    supplied: set[Modality],
    problems: list[InputProblem],
    failed_calls: list[ToolCallRecord],
    unavailable: list[str],
) -> Draft:
    """Build narrative, impression and limitations from structured results.

    `passages_for` maps a statement or measurement id to the guideline
    passages retrieved for it.
    """
    from agent.verifier import statement_concepts

    draft = Draft()
    measurements = {m.id: m for s in sections for m in s.measurements}
    pool = list({p.id: p for ps in passages_for.values() for p in ps}.values())
    syntheses = synthesize(sections, pool)
    suppressed: dict[str, tuple[str, ...]] = {}
    # a passage a synthesis cites is shown there, with both findings, not again per finding
    reserved = set(COMBINATION_ONLY) | {pid for syn in syntheses for pid in syn.item.passage_ids}
    for syn in syntheses:
        for sid, prefixes in syn.suppress_context.items():
            suppressed[sid] = suppressed.get(sid, ()) + prefixes
    case_concepts = set().union(
        *(statement_concepts(st) for s in sections if s.quality.verdict != "non_diagnostic" for st in s.statements if st.status == "present")
    )

    for section in sections:
        head = f"{section.modality.display} ({section.study_id}): quality {section.quality.verdict.replace('_', '-')}."
        keys = _key_measurements(section)
        body = ""
        if keys and section.quality.verdict != "non_diagnostic":
            body = " Measured: " + ", ".join(_measurement_phrase(m) for m in keys) + "."
        draft.narrative.append(head + body)

        present = [st for st in section.statements if st.status == "present"]
        for st in present:
            crit, ids = _criteria_phrase(st, measurements)
            text = st.label + (f" ({crit})" if crit else "") + "."
            draft.impression.append(
                ImpressionItem(text=text, statement_ids=[st.id], measurement_ids=ids, kind="finding")
            )
            for p in relevant_passages(st, passages_for.get(st.id, []), case_concepts, section.modality):
                if p.id in reserved or p.id.startswith(suppressed.get(st.id, ())):
                    continue  # a synthesis rule cites it, or explains why it does not apply
                if p.collection == "guidelines":
                    text = f"Guideline context for {st.label}: {p.citation()}."
                else:
                    text = f"Local document on {st.label} (supplied by the user, quoted as data): {p.source_file or p.id}."
                draft.impression.append(
                    ImpressionItem(
                        text=text,
                        statement_ids=[st.id],
                        passage_ids=[p.id],
                        kind="recommendation" if p.collection == "guidelines" else "note",
                    )
                )
        covered = {mid for st in present for c in st.criteria for mid in [c.measurement_id]}
        for m in section.measurements:
            if m.flag in ("low", "high", "abnormal") and m.id not in covered:
                rr = m.reference_range
                ref = ""
                if rr and (rr.low is not None or rr.high is not None):
                    lo = f"{rr.low:g}" if rr.low is not None else ""
                    hi = f"{rr.high:g}" if rr.high is not None else ""
                    ref = f"; reference {lo}–{hi} {rr.unit}".replace(" /min", " bpm")
                draft.impression.append(
                    ImpressionItem(
                        text=f"{m.label} {m.with_unit()} is {m.flag}{ref}.",
                        measurement_ids=[m.id],
                        kind="measurement",
                    )
                )
        if section.quality.verdict == "non_diagnostic":
            draft.limitations.append(
                f"{section.modality.display} ({section.study_id}) is non-diagnostic: "
                + ("; ".join(section.quality.reasons) or "quality too low")
                + ". No findings are reported from it."
            )
        elif section.quality.verdict == "limited":
            draft.limitations.append(
                f"{section.modality.display} ({section.study_id}) has limited quality: " + "; ".join(section.quality.reasons) + "."
            )
        for w in section.warnings:
            draft.limitations.append(f"{section.modality.display} ({section.study_id}): {w}")

    # What the studies say together comes after what each says alone.
    draft.impression.extend(syn.item for syn in syntheses)

    if sections and not any(i.kind in ("finding", "measurement") for i in draft.impression):
        if all(s.quality.verdict != "non_diagnostic" for s in sections):
            draft.impression.append(
                ImpressionItem(text="The automated analysis identified no abnormal finding.", kind="note")
            )

    names = sorted({m.display for m in supplied})
    if names:
        draft.limitations.append(
            f"Supplied: {', '.join(names)}. The report covers only the supplied studies."
        )
    for call in failed_calls:
        draft.limitations.append(f"Tool {call.tool} failed on {call.study_id}: {call.error}")
    for what in unavailable:
        draft.limitations.append(what)
    for p in problems:
        draft.limitations.append(f"Input not used — {p.line()}")
    return draft
