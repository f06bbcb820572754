"""The deterministic composer: grounded by construction.

Why templates: every sentence is assembled from a measurement's own
formatted value and unit, a statement's own label and criteria, and a
passage's own citation, with the ids attached. It is the embedded default
(no GPU, no network) and the fallback when an LLM draft fails verification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.case import ClinicalContext, InputProblem
from agent.render.provenance import OPERATOR_SIGNS, bounds_text, citation_text
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
    # a value the report calls unreliable (see Limitations) is not stated plainly
    quality = "" if m.quality == "usable" else f" ({m.quality.replace('_', '-')})"
    return f"{m.label} {m.with_unit()}{quality} {_cite('M', [m.id])}"


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
    # premature beats: the verifier's 'ectopy' covers both chambers, a PVC passage is not PAC context
    "pvc": re.compile(r"\b(premature\s+ventricular|ventricular\s+(ectop\w*|extrasystol\w*|premature)|PVCs?|VPBs?|VPCs?)\b", re.I),
    "pac": re.compile(r"\b(premature\s+(atrial|supraventricular)|(atrial|supraventricular)\s+(ectop\w*|extrasystol\w*|premature)|PACs?|APBs?|APCs?)\b", re.I),
}
# ST deviation of one polarity: a passage about the other one (ST elevation
# in aVR for an ST-depression finding) is context only when the case has it.
ST_POLARITY: dict[str, re.Pattern] = {
    "st_elevation": re.compile(r"\bST[-\s](segment\s+)?elevation\b", re.I),
    "st_depression": re.compile(r"\bST[-\s](segment\s+)?depression\b", re.I),
}
# Conditions outside the verifier's lexicon that a passage may be premised on
# ("AF with HCM or cardiac amyloidosis → anticoagulate"), and the cardiomyopathy
# a passage may be about: context only when a present finding names them.
PREMISE_CONDITIONS: dict[str, re.Pattern] = {
    "hcm": re.compile(r"\b(hypertrophic\s+cardiomyopath\w*|HCM)\b", re.I),
    "amyloidosis": re.compile(r"\bamyloid\w*", re.I),
    "cardiomyopathy": re.compile(r"\bcardiomyopath\w*", re.I),
}
# A passage premised on a measured value (reduced LVEF) is context only in a
# case that measured it (or for a finding about it).
PREMISE_MEASUREMENTS = frozenset({"lvef"})
# Leads a finding or a passage names ("inferior leads (II, aVF)", "V1–V2").
LEAD = re.compile(r"(?<![\w-])(aV[RLF]|V\d{1,2}R?|III|II|I)(?![\w-])")
LEAD_RANGE = re.compile(r"(?<![\w-])V(\d{1,2})\s*(?:–|-|to)\s*V(\d{1,2})(?![\w-])")
NOT_LEADS = re.compile(r"\b(class|type|part|grade|stage|phase|level|NYHA)\s+[IV]+\b", re.I)
# "... in all other leads", "except V2–V3", "any lead": the passage covers every lead.
ALL_LEADS = re.compile(r"\b(all\s+(other\s+)?(standard\s+)?leads|other\s+(standard\s+)?leads|leads?\s+other\s+than|except|any\s+(standard\s+)?lead)\b", re.I)
TERRITORY = re.compile(r"\b(anterior|inferior|lateral|posterior|septal)\b", re.I)
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
MIN_LEADS = re.compile(
    r"(?<![\d.,−-])\b(\d+|two|three|four|five|six|seven|eight|nine|ten)\s+(?:or\s+more\s+)?"
    r"(?:(?:surface|standard|contiguous|anatomically|adjacent|precordial|limb|consecutive)\s+){0,2}leads\b",
    re.I,
)
# Complete and incomplete blocks have different criteria: the passage's
# section says which one it states.
INCOMPLETE = re.compile(r"\bincomplete\b", re.I)
# Diagnoses a passage may be conditioned on ("AF catheter ablation in HFrEF"):
# such a passage is context only in a case where a tool found that diagnosis.
PREMISE_CONCEPTS = frozenset({"atrial_fibrillation", "atrial_flutter", "pre_excitation", "ventricular_arrhythmia", "av_block", "pause"})


# How a class of recommendation reads: "Indication for pacing …, class III"
# must not read as an indication when the statement says "not recommended".
DIRECTION = {"I": "recommended", "IIa": "should be considered", "IIb": "may be considered", "III": "not recommended"}
QUOTE_WORDS = 24
CLAUSE_END = re.compile(r",\s|;\s|\s—\s|\s\(")
# A passage premised on the heart-failure syndrome: therapy (any class of
# recommendation) for HFrEF/HFmrEF/HFpEF. Heart failure is a clinical
# diagnosis the tools cannot make; an LVEF is not one.
HF_PREMISE = "heart_failure"


def direction(p: GuidelinePassage) -> str:
    """'not recommended' for a class III passage, '' when it has no class."""
    return DIRECTION.get((p.recommendation_class or "").strip(), "")


def condition_quote(p: GuidelinePassage, max_words: int = QUOTE_WORDS) -> str:
    """The passage's first sentence in its own words (the corpus is ours),
    cut at a clause boundary when longer than `max_words`."""
    from agent.verifier import split_sentences

    first = (split_sentences(p.text) or [""])[0].strip().rstrip(".")
    words = first.split()
    if len(words) <= max_words:
        return first
    cuts = [m.start() for m in CLAUSE_END.finditer(first) if 6 <= len(first[: m.start()].split()) <= max_words]
    head = first[: cuts[-1]] if cuts else " ".join(words[:max_words])
    return head.rstrip(" ,;") + " …"


def _first_clause(quote: str) -> str:
    m = CLAUSE_END.search(quote)
    return quote[: m.start()].rstrip(" ,;") + " …" if m and len(quote[: m.start()].split()) >= 4 else ""


def guideline_lines(label: str, p: GuidelinePassage) -> list[str]:
    """Candidate impression lines for a guideline passage given as context for
    a finding, most informative first. A passage with a class of
    recommendation states its direction plainly ('not recommended: …') and
    the statement's own condition, quoted; the next candidates quote less
    (the verifier removes a quote naming a diagnosis the case lacks or a
    number it cannot trace), the last names only the direction and the
    section title."""
    plain = f"Guideline context for {label}: {citation_text(p)}."
    how = direction(p)
    if not how:
        return [plain]
    out = []
    quote = condition_quote(p)
    for q in dict.fromkeys(x for x in (quote, _first_clause(quote)) if x):
        out.append(f"Guideline context for {label} — {how}: “{q}” ({citation_text(p)}).")
    out.append(f"Guideline context for {label} — {how} ({citation_text(p)}).")
    return out


def _hf_established(case_concepts: set[str] | None, context: ClinicalContext | None) -> bool:
    """A present finding names heart failure, or the supplied indication or
    notes state it (a sentence naming it without a negation)."""
    from agent.verifier import NEGATION, concepts_in, split_sentences

    if case_concepts and HF_PREMISE in case_concepts:
        return True
    if context is None:
        return False
    from agent.notes import flag_instructions

    for text in (context.indication, context.notes):
        for sentence in split_sentences(text or ""):
            if flag_instructions(sentence):
                continue  # instruction-like text is quoted data, never clinical history
            if HF_PREMISE in concepts_in(sentence) and not NEGATION.search(sentence):
                return True
    return False


def _specific(text: str) -> set[str]:
    return {k for k, pat in SPECIFIC_CONCEPTS.items() if pat.search(text)}


def _named(patterns: dict[str, re.Pattern], text: str) -> set[str]:
    return {k for k, pat in patterns.items() if pat.search(text)}


def _premise_met(named: set[str], have: set[str]) -> bool:
    """A passage naming conditions ('HCM or cardiac amyloidosis') needs one of
    them in the case; a named specific one is not met by a generic
    'cardiomyopathy' (a DCM is not an HCM)."""
    if not named:
        return True
    if have & {"reduced_function", "heart_failure", "dilatation"}:
        have = have | {"cardiomyopathy"}  # a poorly contracting or dilated LV: a cardiomyopathy is the question
    specific = named - {"cardiomyopathy"}
    return bool((specific or named) & have)


def _leads(text: str) -> set[str]:
    """The ECG leads a text names, ranges expanded ('V1–V3' → V1, V2, V3)."""
    text = NOT_LEADS.sub(" ", text)
    out = {m.group(1) for m in LEAD.finditer(text)}
    for m in LEAD_RANGE.finditer(text):
        lo, hi = int(m.group(1)), int(m.group(2))
        out |= {f"V{i}" for i in range(lo, hi + 1)}
    return out


def _min_leads(text: str) -> int:
    counts = [int(n) if n.isdigit() else NUMBER_WORDS[n.lower()] for n in MIN_LEADS.findall(text)]
    return max(counts, default=0)


def _other_leads(st: Statement, p: GuidelinePassage) -> bool:
    """A passage about other leads or another territory than the finding's
    ('R wave in V1–V2, posterior infarction' for Q waves in II and aVF), or
    needing more leads than the finding involves ('eight or more leads' for
    ST depression in four), is not that finding's context. Only the passage
    text counts: a section title names the chapter, not the criterion."""
    own = _leads(st.label)
    if not own:
        return False
    if len(own) < _min_leads(p.text):
        return True
    theirs = _leads(p.text)
    if not theirs or ALL_LEADS.search(p.text) or own & theirs:
        return False
    own_t = {t.lower() for t in TERRITORY.findall(st.label)}
    their_t = {t.lower() for t in TERRITORY.findall(p.text)}
    return not (own_t & their_t)


IMAGING_TOPICS = {Modality.ECHO: "echo", Modality.CMR: "cmr"}
STUDY_TOPICS = {Modality.ECG: "ecg", **IMAGING_TOPICS}


def _single_study(p: GuidelinePassage, modality: Modality) -> bool:
    """The passage is written for this modality's studies only (its topics)."""
    own = STUDY_TOPICS.get(modality)
    return own is not None and set(p.topics) & set(STUDY_TOPICS.values()) == {own}


def _other_technique(p: GuidelinePassage, modality: Modality | None) -> bool:
    """An echo-only reference passage (2D echo LVEF norms, linear LV mass) does not
    interpret a CMR value, and a CMR-only one does not interpret an echo value."""
    own = IMAGING_TOPICS.get(modality) if modality is not None else None
    if own is None:
        return False
    others = set(IMAGING_TOPICS.values()) - {own}
    return own not in p.topics and bool(others & set(p.topics))


# Case measurement name -> the measurement name of retrieval.numeric (which
# parses the ranges a passage states): the same concept under another name.
# Per-lead amplitudes and durations are not mapped: a passage's "Q wave ≥ 40 ms"
# is not about one lead the case happened to measure.
NUMERIC_ALIASES = {"qtc_bazett": "qtc", "qtc_fridericia": "qtc", "qtc_framingham": "qtc", "p_duration": "p_wave_duration"}
# Axis deviation has a side: left posterior fascicular block is a right axis
# deviation, left anterior fascicular block a left one.
AXIS_SIDE: dict[str, re.Pattern] = {
    "left": re.compile(r"\b(left\s+axis\s+deviation|left\s+anterior\s+fascicular\s+block|LAFB)\b", re.I),
    "right": re.compile(r"\b(right\s+axis\s+deviation|left\s+posterior\s+fascicular\s+block|LPFB)\b", re.I),
}
DEGREE = r"([+−-]?\d+(?:\.\d+)?)\s*°"
AXIS_RANGE = re.compile(rf"{DEGREE}\s*(?:and|to|–|—|-)\s*{DEGREE}")
AXIS_SENTENCE = re.compile(r"\baxis\b", re.I)
FASCICULAR = re.compile(r"\bfascicular\b|\b(LAFB|LPFB|hemiblock)\b", re.I)
VENTRICULAR_PACED = "ventricular_paced_rhythm"


def case_quantities(sections: list[ModalitySection]) -> list:
    """The case's values as retrieval.numeric quantities (usable studies only),
    in the unit family retrieval.numeric uses; a value in a unit it cannot
    convert is left out."""
    from retrieval.numeric import MEASUREMENTS, UNITS, Quantity

    out = []
    for s in sections:
        if s.quality.verdict == "non_diagnostic":
            continue
        for m in s.measurements:
            name = NUMERIC_ALIASES.get(m.name, m.name)
            if name not in MEASUREMENTS or m.value is None:
                continue
            family = MEASUREMENTS[name][0]
            unit = (m.unit or "").strip()
            if unit in ("", "1"):
                factor = 1.0 if family == "1" else None
            else:
                fam, factor = UNITS.get(unit.lower(), (None, None))
                factor = factor if fam == family else None
            if factor is not None:
                out.append(Quantity(name, float(m.value) * factor))
    return list(dict.fromkeys(out))


def _range_excludes(p: GuidelinePassage, quantities: list) -> bool:
    """The passage states a range or threshold for a measurement the case
    measured, and no value the case has for it (QTc by each formula, LVEF by
    each study) lies in any of the passage's ranges for it ('pacing for a PR
    above 300 ms' with a PR of 214 ms). A passage that defines the finding
    states the range the value is in, and stays."""
    from retrieval.numeric import NumericIndex, Quantity

    index = NumericIndex({p.id: p.text})
    by_name: dict[str, list[float]] = {}
    for q in quantities:
        by_name.setdefault(q.measurement, []).append(q.value)
    return any(
        all(index.conflicts(p.id, [Quantity(name, v)]) for v in values) for name, values in by_name.items()
    )


def _axis_ranges(text: str) -> list[tuple[float, float]]:
    """Frontal-axis ranges a passage states in degrees ('axis between 90° and 180°')."""
    from agent.verifier import split_sentences

    out = []
    for sentence in split_sentences(text):
        if not AXIS_SENTENCE.search(sentence):
            continue
        for m in AXIS_RANGE.finditer(sentence):
            a, b = (float(x.replace("−", "-")) for x in m.groups())
            out.append((min(a, b), max(a, b)))
    return out


def _other_axis(st: Statement, p: GuidelinePassage, axis_values: list[float], paced: bool) -> bool:
    """An axis finding (or a fascicular block) does not take a passage about
    the other side's deviation (LPFB, 'right axis deviation' for a left axis
    deviation), nor — unless the passage names the finding itself — one whose
    frontal-axis ranges all exclude the measured axis (LAFB's −45° to −90° for
    an axis of −35°). On a ventricular-paced
    rhythm the axis is the paced QRS's: a passage about fascicular block (its
    section) is not its context."""
    own = _named(AXIS_SIDE, st.label)
    is_axis = bool(own) or any(c.measurement_id.split(".")[-1] == "qrs_axis" for c in st.criteria)
    if not is_axis:
        return False
    text = p.text + " " + p.section
    if paced and FASCICULAR.search(p.section) and not FASCICULAR.search(st.label):
        return True
    theirs = _named(AXIS_SIDE, text)
    if own and theirs and not (own & theirs):
        return True
    if re.search(rf"\b{re.escape(st.label)}\b", text, re.I):
        return False  # it names the finding itself (the axis nomenclature defining LAD)
    ranges = _axis_ranges(p.text)
    if ranges and axis_values:
        return not any(lo <= v <= hi for v in axis_values for lo, hi in ranges)
    return False


def _unmet_criterion(st: Statement, p: GuidelinePassage) -> bool:
    """A finding met by one of several criteria (LVH by Cornell, not by
    Sokolow-Lyon) does not take the passage about a criterion it did not meet."""
    met = {c.measurement_id.split(".")[-1] for c in st.criteria if c.met}
    unmet = {c.measurement_id.split(".")[-1] for c in st.criteria if not c.met} - met
    if not met or not unmet:
        return False
    about = set(p.measurements) & (met | unmet)
    return bool(about) and about <= unmet


def relevant_passages(
    st: Statement,
    passages: list[GuidelinePassage],
    case_concepts: set[str] | None = None,
    modality: Modality | None = None,
    case_measurements: set[str] | None = None,
    hf_established: bool | None = None,
    quantities: list | None = None,
    axis_values: list[float] | None = None,
    ventricular_paced: bool = False,
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

    Premature beats keep their chamber (a PVC passage is not PAC context), an
    ST finding does not take a passage about the other polarity unless the
    case has it, and a passage naming other leads or territory than the
    finding's, or more leads than it involves, is dropped (`_other_leads`).
    With `case_concepts`, a passage premised on a condition no present
    finding names (HCM, amyloidosis, a cardiomyopathy) is dropped; with
    `case_measurements` (the names of the case's measurements), so is a
    passage premised on a value the case did not measure (a reduced LVEF in
    an ECG-only case). `case_concepts` then also holds the condition keys of
    `PREMISE_CONDITIONS` and `ST_POLARITY` that the present findings name.

    With `hf_established=False` (no present finding names heart failure and
    the supplied context does not state it), an imaging finding (an LVEF
    grade, a dilated LV) does not take a passage with a class of
    recommendation premised on heart failure (SGLT2 inhibitors in HFmrEF): a
    reduced LVEF is not the clinical syndrome. Definitions and LVEF grading
    passages (no class) remain.

    With `quantities` (the case's values, `case_quantities`), a passage whose
    stated ranges for a measured value all exclude it is dropped ('pacing for
    a PR above 300 ms' with a PR of 214 ms; `_range_excludes`). An axis
    finding keeps its side and, with `axis_values`, its range; with
    `ventricular_paced`, it takes no fascicular-block passage (`_other_axis`).
    A finding met by one criterion of several takes no passage about a
    criterion it did not meet (`_unmet_criterion`).
    """
    from agent.verifier import concepts_in, statement_concepts

    wanted = statement_concepts(st)
    wanted_specific = _specific(st.label)
    names = {c.measurement_id.split(".")[-1] for c in st.criteria}
    own_text = st.label + " " + (st.code.display if st.code else "")
    own_conditions = _named(PREMISE_CONDITIONS, own_text) | _named(ST_POLARITY, own_text)
    own_polarity = _named(ST_POLARITY, own_text)
    kept = []
    for p in passages:
        text = p.text + " " + p.section
        have = concepts_in(text)
        if wanted_specific and not wanted_specific <= _specific(text):
            continue
        if case_concepts is not None and not _premise_met(_named(PREMISE_CONDITIONS, text), own_conditions | case_concepts):
            continue
        if own_polarity and (_named(ST_POLARITY, p.text) - own_polarity - (case_concepts or set())):
            continue
        if _other_leads(st, p):
            continue
        if case_measurements is not None and (set(p.measurements) & PREMISE_MEASUREMENTS) - case_measurements - names:
            continue
        if "bundle_branch_block" in wanted and bool(INCOMPLETE.search(st.label)) != bool(INCOMPLETE.search(p.section)):
            continue
        if _other_technique(p, modality):
            continue
        if quantities and _range_excludes(p, quantities):
            continue
        if _other_axis(st, p, axis_values or [], ventricular_paced):
            continue
        if _unmet_criterion(st, p):
            continue
        if (
            hf_established is False
            and modality in IMAGING_TOPICS
            and p.recommendation_class
            and HF_PREMISE in have
            and HF_PREMISE not in wanted
        ):
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
    context: ClinicalContext | None = None,
) -> Draft:
    """Build narrative, impression and limitations from structured results.

    `passages_for` maps a statement or measurement id to the guideline
    passages retrieved for it. `context` (indication, notes) may establish a
    heart-failure diagnosis the tools cannot make.
    """
    from agent.verifier import CaseEvidence, check_sentence, split_sentences, statement_concepts

    draft = Draft()
    measurements = {m.id: m for s in sections for m in s.measurements}
    pool = list({p.id: p for ps in passages_for.values() for p in ps}.values())
    syntheses = synthesize(sections, pool)
    suppressed: dict[str, tuple[str, ...]] = {}
    # a passage a synthesis cites is shown there, with both findings, not again per
    # finding — unless it speaks of one study's finding alone (the ECG criteria for
    # pathological Q waves that the prior-MI rule also cites): then it is that
    # finding's context too
    reserved = set(COMBINATION_ONLY)
    shared = {pid for syn in syntheses for pid in syn.item.passage_ids} - reserved
    for syn in syntheses:
        for sid, prefixes in syn.suppress_context.items():
            suppressed[sid] = suppressed.get(sid, ()) + prefixes
    present_all = [st for s in sections if s.quality.verdict != "non_diagnostic" for st in s.statements if st.status == "present"]
    case_concepts = set().union(*(statement_concepts(st) for st in present_all))
    for st in present_all:
        own_text = st.label + " " + (st.code.display if st.code else "")
        case_concepts |= _named(PREMISE_CONDITIONS, own_text) | _named(ST_POLARITY, own_text)
    case_measurements = {m.name for s in sections if s.quality.verdict != "non_diagnostic" for m in s.measurements}
    hf = _hf_established(case_concepts, context)
    quantities = case_quantities(sections)
    usable = [s for s in sections if s.quality.verdict != "non_diagnostic"]
    axis_values = [m.value for s in usable for m in s.measurements if m.name == "qrs_axis" and m.value is not None]
    paced = any(st.id.split(".")[-1] == VENTRICULAR_PACED for st in present_all)
    # the verifier's own check picks the most informative guideline line that passes it
    evidence = CaseEvidence.build(
        [m for s in sections for m in s.measurements], [st for s in sections for st in s.statements], pool, supplied
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
            shown: set[str] = set()
            shown_text: set[str] = set()
            kept = relevant_passages(
                st, passages_for.get(st.id, []), case_concepts, section.modality, case_measurements, hf,
                quantities, axis_values, paced,
            )
            for p in kept:
                if p.id in reserved or p.id.startswith(suppressed.get(st.id, ())) or p.id in shown:
                    continue  # a synthesis rule cites it, or explains why it does not apply
                if p.id in shared and not _single_study(p, section.modality):
                    continue
                shown.add(p.id)
                if p.collection == "guidelines":
                    cited = {"S": [st.id], "G": [p.id]}
                    lines = guideline_lines(st.label, p)
                    text = next(
                        (t for t in lines if all(check_sentence(x, evidence, cited).ok for x in split_sentences(t))), lines[-1]
                    )
                else:
                    text = f"Local document on {st.label} (supplied by the user, quoted as data): {p.source_file or p.id}."
                if text in shown_text:
                    continue  # two passages reading alike for one finding: one line
                shown_text.add(text)
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
                    ref = f"; reference {bounds_text(rr.low, rr.high, rr.unit)}"  # '≤ 110 ms', '−30° to +90°'
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
        said = " ".join(section.quality.reasons) if section.quality.verdict != "usable" else ""
        for w in section.warnings:
            if w.strip().rstrip(".") and w.strip().rstrip(".") in said:
                continue  # already in the quality bullet above
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
