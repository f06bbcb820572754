"""The grounding verifier: prose may only say what the tools measured.

Why a parser rather than trust: an LLM (or a template bug) can write a
number no tool produced, name a diagnosis no rule supported, recommend a
therapy no guideline passage backs, or describe a study that was never
supplied. Each sentence is checked against the case's structured results;
a sentence that fails is removed and logged with its reason.

Citation syntax in prose: `[M:<measurement id>]`, `[S:<statement id>]`,
`[G:<passage id>]` (several ids may share a bracket, comma-separated).
Structured impression items carry their ids in fields instead; those count
as cited for the item's text.

What a number may equal (after rounding to the decimals the text shows):
- a measurement of this case with the same unit (any measurement when the
  text gives no unit but cites it);
- a threshold of a criterion of a statement cited in the same sentence, or a
  reference-range bound of a measurement cited in the same sentence (these
  are tool outputs, carried with their guideline citation);
- a year or section number of a guideline passage or reference cited in the
  same sentence;
- a threshold stated in the text of a curated guideline passage cited in the
  same sentence, with the same unit, and only where the sentence uses it as
  a threshold ('≤ 35%', '150 ms or more'): "LVEF is 35% [G:...]" stays
  untraced, so a passage cannot stand in for a measurement. A user's
  document never supplies a threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Literal

from agent.report import GroundingSummary, ImpressionItem, RemovedSentence
from experts.core.types import Measurement, Modality, Statement
from retrieval.types import GuidelinePassage

CITATION = re.compile(r"\[(M|S|G):([^\]]+)\]")

# Words that name a modality. A sentence naming an unsupplied one is removed.
MODALITY_PATTERNS: dict[Modality, re.Pattern] = {
    Modality.ECG: re.compile(r"\b(ECGs?|EKGs?|electrocardiog\w*|Holter)\b", re.IGNORECASE),
    Modality.ECHO: re.compile(r"\b(echo\w*|ultrasound|sonograph\w*|TTE|TOE|TEE|apical\s+(?:four|4)-chamber)\b", re.IGNORECASE),
    Modality.CMR: re.compile(r"\b(CMR|cardiac\s+MR\w*|MRI|magnetic\s+resonance|cine\s+MR\w*|short-axis\s+cine)\b", re.IGNORECASE),
    Modality.KSPACE: re.compile(r"\b(k-?space|undersampl\w*|compressed\s+sensing|VarNet)\b", re.IGNORECASE),
}

# Diagnostic concepts: a sentence naming one must cite a statement that
# names the same concept. Patterns are applied to sentences and to
# statement labels alike, so the two sides speak one vocabulary.
DIAGNOSTIC_CONCEPTS: dict[str, re.Pattern] = {
    "sinus": re.compile(r"\bsinus\b", re.I),
    "atrial_fibrillation": re.compile(r"\b(atrial\s+fibrillation|AF|AFib)\b", re.I),
    "atrial_flutter": re.compile(r"\b(atrial\s+flutter|flutter)\b", re.I),
    "tachycardia": re.compile(r"\btachy\w*", re.I),
    "bradycardia": re.compile(r"\bbrady\w*", re.I),
    "pause": re.compile(r"\b(pauses?|asystol\w*|sinus\s+arrest)\b", re.I),
    "av_block": re.compile(r"\b(AV|atrioventricular|first-degree|second-degree|third-degree|complete\s+heart)\s+block\b|\bAVB\b", re.I),
    "bundle_branch_block": re.compile(r"\b(bundle[-\s]branch\s+block|LBBB|RBBB|IVCD|intraventricular\s+conduction)\b", re.I),
    "fascicular_block": re.compile(r"\b(fascicular\s+block|hemiblock|LAFB|LPFB)\b", re.I),
    "axis_deviation": re.compile(r"\baxis\s+deviation\b", re.I),
    "hypertrophy": re.compile(r"\b(hypertroph\w*|LVH|RVH)\b", re.I),
    "low_voltage": re.compile(r"\blow\s+(QRS\s+)?voltage\b", re.I),
    "qt_prolongation": re.compile(r"\b(long\s+QT|QTc?\s+prolong\w*|prolonged\s+QTc?)\b", re.I),
    "short_qt": re.compile(r"\bshort\s+QTc?\b", re.I),
    "infarction": re.compile(r"\b(infarct\w*|STEMI|NSTEMI|MI)\b", re.I),
    "ischemia": re.compile(r"\b(isch(a)?emi\w*)\b", re.I),
    "st_change": re.compile(r"\bST[-\s](segment\s+)?(elevation|depression)\b", re.I),
    "q_waves": re.compile(r"\b(pathological\s+)?Q[-\s]waves?\b", re.I),
    "ectopy": re.compile(r"\b(ectop\w*|premature\s+(ventricular|atrial|supraventricular)|PVCs?|PACs?|VPBs?|APBs?|extrasystol\w*|bigemin\w*|trigemin\w*)\b", re.I),
    "ventricular_arrhythmia": re.compile(r"\b(ventricular\s+(tachycardia|fibrillation)|VT|VF|torsade\w*)\b", re.I),
    "pre_excitation": re.compile(r"\b(pre-?excitation|WPW|Wolff)\b", re.I),
    "heart_failure": re.compile(r"\b(heart\s+failure|HFrEF|HFmrEF|HFpEF|HFimpEF)\b", re.I),
    "reduced_function": re.compile(r"\b(reduced|impaired|depressed)\s+(LV\s+|RV\s+|left\s+ventricular\s+|right\s+ventricular\s+|systolic\s+)*(ejection\s+fraction|EF|systolic\s+function|function)\b|\bsystolic\s+dysfunction\b", re.I),
    "dilatation": re.compile(r"\b(dilat\w*|enlarg\w*)\b", re.I),
    "cardiomyopathy": re.compile(r"\bcardiomyopath\w*\b", re.I),
    "valve_disease": re.compile(r"\b(stenosis|regurgitation|insufficiency|prolapse)\b", re.I),
    "pericardial": re.compile(r"\b(pericardi\w*|effusion|tamponade)\b", re.I),
    "normal_study": re.compile(r"\b(normal\s+(ECG|electrocardiogram|study|echocardiogram|CMR))\b", re.I),
}

RECOMMENDATION = re.compile(
    r"\b(recommend\w*|should|consider\w*|indicated|advis\w*|refer(ral|red)?|initiat\w*|"
    r"anticoagula\w*|implant\w*|ICD|CRT|prescrib\w*|start\w*\s+(therapy|treatment)|guideline-directed|GDMT)\b",
    re.I,
)
NEGATION = re.compile(r"\b(no|not|without|absent|absence|excluded|negative\s+for|nor)\b", re.I)

UNITS = (
    r"%|ms\b|msec\b|bpm\b|/min\b|beats\s+per\s+minute|mL/m²|mL/m2|mL\b|ml\b|g/m²|g/m2|g\b|mm\b|mV\b|μV\b|uV\b|°|deg\b|degrees\b|"
    r"cm/s\b|m/s\b|s\b|Hz\b|dB\b|m²|m2\b"
)
NUMBER = re.compile(r"(?<![\w.\-/])(?P<num>[-+−]?\d+(?:[.,]\d+)?)" rf"(?![\w])(?:\s*(?P<unit>{UNITS}))?", re.I)
# A range in guideline text ("QRS of 130–149 ms") gives its unit to both ends.
RANGE = re.compile(r"(?<![\w.])(?P<lo>\d+(?:\.\d+)?)\s*(?:–|-|to)\s*(?P<hi>\d+(?:\.\d+)?)" rf"\s*(?P<unit>{UNITS})", re.I)
# How a sentence uses a number as a threshold: a comparator just before it,
# or "or more/less ..." just after it.
THRESHOLD_BEFORE = re.compile(
    r"(?:≤|≥|<=|>=|<|>|\bat\s+least|\bat\s+most|\bbelow|\babove|\bunder|\bover|\bthreshold(?:\s+of)?|\bcut-?off(?:\s+of)?)\s*$", re.I
)
THRESHOLD_AFTER = re.compile(r"^\s*or\s+(?:less|more|lower|higher|above|below|greater|longer|shorter)\b", re.I)
NOT_QUANTITIES = re.compile(r"\b\d+-lead\b|\b(?:lead|leads)\s+[IVX]+\b|\bclass\s+[IV]+[ab]?\b", re.I)

UNIT_ALIASES = {
    "bpm": "/min", "/min": "/min", "beats per minute": "/min",
    "ms": "ms", "msec": "ms", "s": "s", "%": "%",
    "ml": "mL", "ml/m²": "mL/m2", "ml/m2": "mL/m2", "g": "g", "g/m²": "g/m2", "g/m2": "g/m2",
    "mm": "mm", "mv": "mV", "μv": "uV", "uv": "uV", "°": "deg", "deg": "deg", "degrees": "deg",
    "cm/s": "cm/s", "m/s": "m/s", "hz": "Hz", "db": "dB", "m²": "m2", "m2": "m2",
}  # fmt: skip


@dataclass
class CaseEvidence:
    """What prose may rest on: this case's tool outputs and retrieved passages."""

    measurements: dict[str, Measurement]
    statements: dict[str, Statement]
    passages: dict[str, GuidelinePassage]
    supplied: set[Modality]

    @classmethod
    def build(
        cls,
        measurements: Iterable[Measurement],
        statements: Iterable[Statement],
        passages: Iterable[GuidelinePassage],
        supplied: Iterable[Modality],
    ) -> "CaseEvidence":
        return cls(
            measurements={m.id: m for m in measurements},
            statements={s.id: s for s in statements},
            passages={p.id: p for p in passages},
            supplied=set(supplied),
        )


@dataclass
class SentenceCheck:
    text: str
    ok: bool
    reasons: list[str] = field(default_factory=list)
    numbers_checked: int = 0
    numbers_traced: int = 0
    failures: set[str] = field(default_factory=set)


def concepts_in(text: str) -> set[str]:
    return {name for name, pat in DIAGNOSTIC_CONCEPTS.items() if pat.search(text)}


def statement_concepts(st: Statement) -> set[str]:
    text = st.label + " " + (st.code.display if st.code else "")
    return concepts_in(text)


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences without breaking decimals ('72.4 ms')."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z\[(\"'])|\n+", text.strip())
    return [p.strip() for p in parts if p and p.strip()]


def _decimals(num_text: str) -> int:
    return len(num_text.split(".")[1]) if "." in num_text else 0


def _matches(value: float, num: float, decimals: int) -> bool:
    return abs(round(value, decimals) - num) < 10 ** (-decimals) / 2 + 1e-9


def _to_float(num_text: str) -> tuple[float, int]:
    t = num_text.replace("−", "-").replace(",", ".")
    return float(t), _decimals(t)


def _unit_of(text: str | None) -> str | None:
    t = (text or "").lower()
    return UNIT_ALIASES.get(t, t) if t else None


def guideline_thresholds(p: GuidelinePassage) -> list[tuple[float, str]]:
    """The (value, unit) pairs a curated passage states; none for user documents."""
    if p.collection != "guidelines":
        return []
    out = []
    for m in NUMBER.finditer(p.text):
        unit = _unit_of(m.group("unit"))
        if unit:
            out.append((_to_float(m.group("num"))[0], unit))
    for m in RANGE.finditer(p.text):
        unit = _unit_of(m.group("unit"))
        out += [(float(m.group("lo")), unit), (float(m.group("hi")), unit)]
    return out


def used_as_threshold(text: str, start: int, end: int) -> bool:
    return bool(THRESHOLD_BEFORE.search(text[max(0, start - 24) : start]) or THRESHOLD_AFTER.search(text[end : end + 30]))


def check_sentence(
    sentence: str,
    ev: CaseEvidence,
    extra_cited: dict[str, list[str]] | None = None,
) -> SentenceCheck:
    """Check one sentence. `extra_cited` adds ids cited by structure
    (an impression item's fields) to those cited inline."""
    res = SentenceCheck(text=sentence, ok=True)
    cited: dict[str, list[str]] = {"M": [], "S": [], "G": []}
    for kind, ids in CITATION.findall(sentence):
        cited[kind].extend(i.strip() for i in ids.split(",") if i.strip())
    for kind, ids in (extra_cited or {}).items():
        cited[kind].extend(ids)

    known = {"M": ev.measurements, "S": ev.statements, "G": ev.passages}
    for kind, ids in cited.items():
        for i in ids:
            if i not in known[kind]:
                res.reasons.append(f"cites unknown {kind}:{i}")
                res.failures.add("unknown_citation")

    plain = CITATION.sub(" ", sentence)
    # A cited passage's own title and section may be quoted verbatim: they
    # name the source, not a finding (e.g. "... Guidelines for heart failure").
    # They go first, before any measurement or finding label is blanked out
    # inside them: the same citation must get the same verdict whichever
    # finding's sentence carries it (a PVC label inside "Premature ventricular
    # complexes and PVC-induced cardiomyopathy" must not leave the
    # 'cardiomyopathy' behind).
    for pid in cited["G"]:
        p = ev.passages.get(pid)
        if p is not None:
            for quoted in (p.citation(), p.guideline, p.section):
                plain = plain.replace(quoted, " ")
    # The names of cited measurements and findings are names, not quantities
    # ("ST level at J+60 ms V1" cites the measurement, it does not assert 60 ms).
    for mid in cited["M"]:
        if mid in ev.measurements:
            plain = plain.replace(ev.measurements[mid].label, " ")
    for sid in cited["S"]:
        if sid in ev.statements:
            st = ev.statements[sid]
            plain = plain.replace(st.label, " " + re.sub(r"\d", "", st.label) + " ")
            # The guideline behind a cited criterion may be named ("… Recommendations
            # for the Standardization …"): a source's title is not a recommendation.
            for c in st.criteria:
                if c.guideline:
                    for quoted in (c.guideline.short(), c.guideline.guideline, c.guideline.section):
                        plain = plain.replace(quoted, " ")

    # 1. modalities
    for modality, pat in MODALITY_PATTERNS.items():
        if pat.search(plain) and modality not in ev.supplied:
            res.reasons.append(f"mentions {modality.display}, which was not supplied")
            res.failures.add("unsupplied_modality")

    # 2. numbers
    cited_m = [ev.measurements[i] for i in cited["M"] if i in ev.measurements]
    cited_s = [ev.statements[i] for i in cited["S"] if i in ev.statements]
    cited_g = [ev.passages[i] for i in cited["G"] if i in ev.passages]
    thresholds = [(c.threshold, c.unit) for s in cited_s for c in s.criteria]
    ranges = [
        (b, m.reference_range.unit)
        for m in cited_m
        if m.reference_range
        for b in (m.reference_range.low, m.reference_range.high)
        if b is not None
    ]
    citation_numbers: set[float] = set()
    for p in cited_g:
        citation_numbers.add(float(p.year))
        citation_numbers.update(float(x) for x in re.findall(r"\d+(?:\.\d+)?", p.section + " " + p.guideline))
    for s in cited_s:
        for c in s.criteria:
            if c.guideline:
                citation_numbers.add(float(c.guideline.year))
                citation_numbers.update(float(x) for x in re.findall(r"\d+(?:\.\d+)?", c.guideline.section + " " + c.guideline.guideline))
    scrubbed = NOT_QUANTITIES.sub(" ", plain)
    for m in NUMBER.finditer(scrubbed):
        num, dec = _to_float(m.group("num"))
        unit_text = (m.group("unit") or "").lower()
        unit = UNIT_ALIASES.get(unit_text, unit_text) if unit_text else None
        res.numbers_checked += 1
        traced = False
        if unit:
            traced = any(x.unit == unit and _matches(x.value, num, dec) for x in ev.measurements.values())
            traced = traced or any(u == unit and _matches(t, num, dec) for t, u in thresholds + ranges)
            traced = traced or (
                used_as_threshold(scrubbed, m.start(), m.end())
                and any(u == unit and _matches(t, num, dec) for p in cited_g for t, u in guideline_thresholds(p))
            )
        else:
            traced = any(_matches(x.value, num, dec) for x in cited_m)
            traced = traced or any(_matches(t, num, dec) for t, _ in thresholds + ranges)
            traced = traced or any(_matches(c, num, dec) for c in citation_numbers)
            traced = traced or any(x.unit == "1" and _matches(x.value, num, dec) for x in ev.measurements.values())
        if traced:
            res.numbers_traced += 1
        else:
            shown = m.group(0).strip()
            res.reasons.append(f"number '{shown}' matches no measurement of this case")
            res.failures.add("untraced_number")

    # 3. diagnoses
    mentioned = concepts_in(plain)
    if mentioned:
        if not cited_s:
            res.reasons.append(f"names a diagnosis ({', '.join(sorted(mentioned))}) without citing a statement")
            res.failures.add("diagnosis_without_evidence")
        else:
            supported = set().union(*(statement_concepts(s) for s in cited_s))
            missing = mentioned - supported
            if missing:
                res.reasons.append(f"names {', '.join(sorted(missing))}, which no cited statement supports")
                res.failures.add("diagnosis_without_evidence")
            elif not NEGATION.search(plain):
                affirmed = {c for c in mentioned}
                backing = [s for s in cited_s if statement_concepts(s) & affirmed]
                if backing and all(s.status == "absent" for s in backing):
                    res.reasons.append("affirms a finding that the cited statement marks absent")
                    res.failures.add("diagnosis_without_evidence")

    # 4. recommendations
    # A user's local document is data, quoted as supplied; only the curated
    # guideline corpus can back a recommendation.
    if RECOMMENDATION.search(plain) and not any(p.collection == "guidelines" for p in cited_g):
        res.reasons.append("makes a recommendation without citing a guideline passage")
        res.failures.add("recommendation_without_guideline")

    res.ok = not res.reasons
    return res


@dataclass
class VerifiedDraft:
    narrative: list[str]
    impression: list[ImpressionItem]
    summary: GroundingSummary


def _tally(summary: GroundingSummary, chk: SentenceCheck, where: Literal["narrative", "impression", "answer"]) -> None:
    summary.sentences_checked += 1
    summary.numbers_checked += chk.numbers_checked
    summary.numbers_traced += chk.numbers_traced
    if chk.ok:
        summary.sentences_kept += 1
        return
    summary.sentences_removed += 1
    summary.untraced_numbers += chk.numbers_checked - chk.numbers_traced
    summary.diagnoses_without_evidence += "diagnosis_without_evidence" in chk.failures
    summary.recommendations_without_guideline += "recommendation_without_guideline" in chk.failures
    summary.unsupplied_modalities_mentioned += "unsupplied_modality" in chk.failures
    summary.unknown_citations += "unknown_citation" in chk.failures
    summary.removed.append(RemovedSentence(text=chk.text, reason="; ".join(chk.reasons), where=where))


def verify_draft(
    narrative: list[str],
    impression: list[ImpressionItem],
    ev: CaseEvidence,
    composer: str = "rules",
) -> VerifiedDraft:
    """Check every sentence; return what survives and the grounding block."""
    summary = GroundingSummary(composer=composer)
    kept_narrative: list[str] = []
    for paragraph in narrative:
        kept = []
        for sentence in split_sentences(paragraph):
            chk = check_sentence(sentence, ev)
            _tally(summary, chk, "narrative")
            if chk.ok:
                kept.append(sentence)
        if kept:
            kept_narrative.append(" ".join(kept))

    kept_items: list[ImpressionItem] = []
    for item in impression:
        structured = {"M": item.measurement_ids, "S": item.statement_ids, "G": item.passage_ids}
        kept = []
        for sentence in split_sentences(item.text):
            chk = check_sentence(sentence, ev, structured)
            _tally(summary, chk, "impression")
            if chk.ok:
                kept.append(sentence)
        if kept:
            kept_items.append(item.model_copy(update={"text": " ".join(kept)}))
    return VerifiedDraft(narrative=kept_narrative, impression=kept_items, summary=summary)


def verify_answer(text: str, ev: CaseEvidence) -> tuple[str, GroundingSummary]:
    """Check a chat answer with the same rule; return the grounded part."""
    summary = GroundingSummary(composer="chat")
    kept = []
    for sentence in split_sentences(text):
        chk = check_sentence(sentence, ev)
        _tally(summary, chk, "answer")
        if chk.ok:
            kept.append(sentence)
    return " ".join(kept), summary
