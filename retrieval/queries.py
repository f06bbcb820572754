"""Turn a case's findings into guideline queries.

Why queries from findings (RAD): the report must reason from guideline text,
so each abnormal finding becomes a short clinician-style question, e.g.
"LVEF 35% → HFrEF heart failure with reduced ejection fraction therapy" or
"QTc 510 ms → markedly prolonged QT, long QT syndrome, torsades risk".

The words after the arrow are *search terms*, not diagnoses: they steer the
retriever to the guideline section that interprets such a value. The value
ranges that pick them mirror the cited thresholds (LVEF ≤40 / 41–49 %, QTc
≥500 ms, QRS ≥120/150 ms, PR >200 ms, rate <50 or >100 /min ...), but
nothing here is reported as a finding; the experts' statements are.
Thresholds are written in words ("120 ms or more"), as the corpus states
them, because BM25 drops the ≥ sign.

Findings are dicts with keys kind ('statement'|'measurement'), name, label,
value, unit, flag, status (see retrieval/api.py). Normal measurements and
absent or normal statements produce no query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

ABNORMAL_FLAGS = {"high", "low", "abnormal"}
SYNTHESIS_PRIORITY = 90  # companion queries rank after every finding's own query
NORMAL_STATEMENTS = {"sinus_rhythm", "normal_ecg", "normal_sinus_rhythm", "normal", "normal_study"}
UNIT_TEXT = {"/min": "bpm", "1": "", "mL/m2": "mL/m²", "g/m2": "g/m²", "deg": "°", "m2": "m²"}


@dataclass(frozen=True)
class FindingQuery:
    """One search the retrieve node runs, and the finding it came from."""

    text: str
    finding: str
    concept: str
    topics: tuple[str, ...] = ()
    measurement_names: tuple[str, ...] = ()


Interpret = Callable[[float], str | None]


@dataclass(frozen=True)
class Concept:
    """How one kind of measurement or statement is asked about."""

    key: str
    short: str  # how a clinician writes it ("LVEF", "QTc")
    topics: tuple[str, ...]
    aliases: tuple[str, ...]  # measurement names in the corpus that concern it
    interpret: Interpret | None = None  # value -> search terms, None when unremarkable
    flagged: str = ""  # search terms when the tool flagged it but no range rule fires
    priority: int = 50  # lower wins when two findings map to one concept
    names: tuple[str, ...] = field(default_factory=tuple)  # tool names that map here


def _lvef(v: float) -> str | None:
    if v <= 40:
        return "HFrEF heart failure with reduced ejection fraction therapy"
    if v < 50:
        return "HFmrEF heart failure with mildly reduced ejection fraction"
    return None


def _qtc(v: float) -> str | None:
    if v >= 500:
        return "markedly prolonged QT, long QT syndrome, torsades de pointes risk"
    if v >= 450:
        return "prolonged QTc interval, long QT"
    if v <= 360:
        return "short QT interval, short QT syndrome"
    return None


def _qrs(v: float) -> str | None:
    if v >= 150:
        return "complete bundle branch block (QRS 120 ms or more); CRT when QRS 150 ms or more"
    if v >= 120:
        return "QRS 120 ms or more: complete bundle branch block or intraventricular conduction delay"
    if v >= 110:
        return "QRS 110–119 ms, incomplete bundle branch block, fascicular block"
    return None


def _pr(v: float) -> str | None:
    if v > 200:
        return "first-degree AV block, PR prolongation"
    if v < 120:
        return "short PR interval, pre-excitation"
    return None


def _rate(v: float) -> str | None:
    if v < 50:
        return "bradycardia, sinus node dysfunction, pacing indication"
    if v > 100:
        return "tachycardia"
    return None


def _qrs_axis(v: float) -> str | None:
    if v < -30:
        return "left axis deviation, left anterior fascicular block"
    if v > 90:
        return "right axis deviation, left posterior fascicular block"
    return None


def _tapse(v: float) -> str | None:
    return "reduced TAPSE, right ventricular systolic dysfunction" if v < 17 else None


def _rvef(v: float) -> str | None:
    return "reduced right ventricular ejection fraction, RV dysfunction" if v < 45 else None


def _e_e_prime(v: float) -> str | None:
    return "E/e' elevated, raised LV filling pressure, diastolic dysfunction" if v > 14 else None


def _lavi(v: float) -> str | None:
    return "enlarged left atrium, LA volume index, diastolic dysfunction" if v > 34 else None


def _wall(v: float) -> str | None:
    return "maximal LV wall thickness 15 mm or more, hypertrophic cardiomyopathy" if v >= 15 else None


def _gls(v: float) -> str | None:
    # GLS is negative; a less negative value is worse.
    return "reduced global longitudinal strain, subclinical LV dysfunction" if v > -16 else None


CONCEPTS: tuple[Concept, ...] = (
    Concept("lvef", "LVEF", ("hf", "echo", "cmr"), ("lvef", "ef", "lv_ef", "ejection_fraction"), _lvef,
            "abnormal left ventricular ejection fraction", 10,
            ("lvef", "lv_ef", "ef", "lv_ejection_fraction", "ejection_fraction", "lvef_biplane", "lvef_simpson")),
    Concept("qtc", "QTc", ("ecg", "qt"), ("qtc", "qtc_bazett", "qtc_fridericia", "qtc_framingham", "qt_interval"), _qtc,
            "abnormal corrected QT interval", 10,
            ("qtc_fridericia", "qtc_bazett", "qtc_framingham", "qtc", "qtc_hodges")),
    Concept("qrs", "QRS", ("ecg", "conduction"), ("qrs_duration", "qrs"), _qrs, "abnormal QRS duration", 20,
            ("qrs_duration", "qrs")),
    Concept("pr", "PR", ("ecg", "conduction"), ("pr_interval", "pr"), _pr, "abnormal PR interval", 20,
            ("pr_interval", "pr")),
    Concept("rate", "heart rate", ("ecg",), ("heart_rate", "ventricular_rate", "hr"), _rate, "abnormal heart rate", 30,
            ("heart_rate", "ventricular_rate", "hr", "rr_rate")),
    Concept("qrs_axis", "QRS axis", ("ecg", "conduction"), ("qrs_axis",), _qrs_axis, "QRS axis deviation", 40,
            ("qrs_axis",)),
    Concept("tapse", "TAPSE", ("echo", "imaging-quantification"), ("tapse",), _tapse, "abnormal TAPSE", 30, ("tapse",)),
    Concept("rvef", "RVEF", ("cmr", "imaging-quantification"), ("rvef", "rv_ef"), _rvef, "abnormal RV ejection fraction", 30,
            ("rvef", "rv_ef", "rv_ejection_fraction")),
    Concept("e_e_prime", "E/e'", ("echo",), ("e_e_prime", "e_over_e_prime", "average_e_e_prime"), _e_e_prime,
            "abnormal E/e' ratio, diastolic function", 30,
            ("e_e_prime", "e_over_e_prime", "average_e_e_prime", "e_e_prime_average")),
    Concept("lavi", "LAVI", ("echo", "imaging-quantification"), ("lavi", "la_volume_index"), _lavi,
            "abnormal left atrial volume index", 30, ("lavi", "la_volume_index", "lav_index")),
    Concept("wall", "max wall thickness", ("cardiomyopathy", "echo", "cmr"),
            ("max_wall_thickness", "ivs", "ivsd", "lv_wall_thickness"), _wall, "increased LV wall thickness", 30,
            ("max_wall_thickness", "ivs", "ivsd", "ivs_thickness", "lv_wall_thickness", "septal_thickness")),
    Concept("gls", "GLS", ("echo", "imaging-quantification"), ("gls", "lv_gls"), _gls, "abnormal global longitudinal strain", 30,
            ("gls", "lv_gls", "global_longitudinal_strain")),
    Concept("lv_mass", "LV mass index", ("imaging-quantification", "echo", "cmr"), ("lv_mass_index", "lvmi", "lv_mass"),
            None, "increased LV mass index, left ventricular hypertrophy reference values", 40,
            ("lv_mass_index", "lvmi", "lv_mass", "lvm_index")),
    Concept("lv_volume", "LV volume", ("imaging-quantification", "echo", "cmr"),
            ("lvedvi", "lvesvi", "lvedv", "lvesv"), None, "abnormal LV volume, chamber quantification reference values", 40,
            ("lvedv", "lvesv", "lvedvi", "lvesvi", "lv_edv", "lv_esv", "lv_edvi", "lv_esvi")),
)

# Statement name -> (concept key, search terms). Statements with no entry
# are searched by their label.
STATEMENT_TERMS: dict[str, tuple[str, str]] = {
    "atrial_fibrillation": ("af", "atrial fibrillation: CHA2DS2-VA stroke risk, oral anticoagulation, rate and rhythm control"),
    "atrial_flutter": ("flutter", "atrial flutter → anticoagulation, ablation"),
    "first_degree_av_block": ("pr", "first-degree AV block, PR >200 ms"),
    "second_degree_av_block": ("avb2", "second-degree AV block, Mobitz, pacing indication"),
    "third_degree_av_block": ("avb3", "complete heart block, third-degree AV block, pacing indication"),
    "lbbb": ("lbbb", "complete left bundle branch block: QRS 120 ms or more, broad notched R in I, aVL, V5–V6"),
    "rbbb": ("rbbb", "complete right bundle branch block: QRS 120 ms or more, rsR' in V1, wide S in I and V6"),
    "incomplete_rbbb": ("irbbb", "incomplete right bundle branch block criteria"),
    "incomplete_lbbb": ("ilbbb", "incomplete left bundle branch block criteria"),
    "lafb": ("lafb", "left anterior fascicular block criteria"),
    "lpfb": ("lpfb", "left posterior fascicular block criteria"),
    "nonspecific_ivcd": ("ivcd", "nonspecific intraventricular conduction disturbance"),
    "long_qtc": ("qtc", "prolonged QTc, long QT syndrome"),
    "short_qtc": ("qtc", "short QT interval"),
    "st_elevation": ("ste", "ST-segment elevation → acute myocardial ischaemia, STEMI criteria"),
    "st_depression": ("std", "ST-segment depression → myocardial ischaemia"),
    "pathological_q_waves": ("q", "pathological Q waves → prior myocardial infarction"),
    "lvh_voltage": ("lvh", "ECG left ventricular hypertrophy voltage criteria"),
    "low_qrs_voltage": ("lowv", "low QRS voltage"),
    "left_axis_deviation": ("qrs_axis", "left axis deviation"),
    "right_axis_deviation": ("qrs_axis", "right axis deviation"),
    "sinus_bradycardia": ("rate", "sinus bradycardia <50 bpm, sinus node dysfunction"),
    "sinus_tachycardia": ("rate", "sinus tachycardia >100 bpm"),
    "pvc": ("pvc", "premature ventricular complexes, ventricular ectopy"),
    "pac": ("pac", "premature atrial complexes"),
    "hfref": ("lvef", "heart failure with reduced ejection fraction → therapy"),
    "lv_systolic_dysfunction": ("lvef", "left ventricular systolic dysfunction, reduced LVEF → heart failure therapy"),
    "late_gadolinium_enhancement": ("lge", "late gadolinium enhancement, myocardial scar, cardiomyopathy"),
}

# Companion queries for cross-modality synthesis (agent/synthesis.py): a
# finding that takes part in a rule also asks for the rule's passage, but
# only when it comes from the rule's side (the finding's 'modality') and the
# partner modality was supplied — an ECG alone never asks about CRT, and a
# finding that does not say where it came from asks nothing extra.
# statement name (or prefix ending in '*') -> [(own modality, partner modalities, concept key, query text)].
IMAGING_MODALITIES = ("echo", "cmr", "kspace")
CRT_QUERY = "cardiac resynchronization therapy CRT: LBBB with QRS 150 ms or more and LVEF 35% or less in sinus rhythm"
CRT_MID_QUERY = "CRT should be considered: LBBB morphology with QRS 130–149 ms and LVEF 35% or less"
CRT_NON_LBBB_QUERY = "CRT should be considered for a non-LBBB QRS of 150 ms or more with LVEF 35% or less in sinus rhythm"
CRT_NON_LBBB_MID_QUERY = "CRT may be considered for a non-LBBB QRS of 130–149 ms with LVEF 35% or less in sinus rhythm"
QT_WIDE_QRS_QUERY = "QT interval in ventricular conduction defects: wide QRS bundle-branch block lengthens QT, adjust for QRS duration"
LVH_IMAGING_QUERY = "ECG left ventricular hypertrophy criteria accuracy compared with echocardiographic or CMR LV mass"
Companion = tuple[str, tuple[str, ...], str, str]
SYNTHESIS_TERMS: dict[str, list[Companion]] = {
    "lbbb": [("ecg", IMAGING_MODALITIES, "crt", CRT_QUERY), ("ecg", IMAGING_MODALITIES, "crt_mid", CRT_MID_QUERY),
             ("ecg", (), "qt_wide_qrs", QT_WIDE_QRS_QUERY)],
    "rbbb": [("ecg", IMAGING_MODALITIES, "crt_non_lbbb", CRT_NON_LBBB_QUERY), ("ecg", IMAGING_MODALITIES, "crt_non_lbbb_mid", CRT_NON_LBBB_MID_QUERY),
             ("ecg", (), "qt_wide_qrs", QT_WIDE_QRS_QUERY)],
    "nonspecific_ivcd": [("ecg", IMAGING_MODALITIES, "crt_non_lbbb", CRT_NON_LBBB_QUERY),
                         ("ecg", IMAGING_MODALITIES, "crt_non_lbbb_mid", CRT_NON_LBBB_MID_QUERY), ("ecg", (), "qt_wide_qrs", QT_WIDE_QRS_QUERY)],
    "atrial_fibrillation": [("ecg", IMAGING_MODALITIES, "af_reduced_ef",
                             "AF rate control drugs when LVEF is 40% or lower: beta-blockers, digoxin, avoid non-dihydropyridine calcium-channel blockers"),
                            ("ecg", IMAGING_MODALITIES, "af_ablation_hf", "AF catheter ablation in heart failure with reduced ejection fraction")],
    "lvh_voltage": [("ecg", IMAGING_MODALITIES, "lvh_imaging", LVH_IMAGING_QUERY)],
    "lv_mass_index_increased": [("cmr", ("ecg",), "lvh_imaging", LVH_IMAGING_QUERY), ("echo", ("ecg",), "lvh_imaging", LVH_IMAGING_QUERY)],
    "pathological_q_waves*": [("ecg", IMAGING_MODALITIES, "prior_mi",
                               "prior myocardial infarction criteria: pathological Q waves, or imaging evidence of loss of viable myocardium")],
}  # fmt: skip


def synthesis_terms(name: str) -> list[Companion]:
    exact = SYNTHESIS_TERMS.get(name)
    if exact is not None:
        return exact
    return next((v for k, v in SYNTHESIS_TERMS.items() if k.endswith("*") and name.startswith(k[:-1])), [])


def _companions(name: str, own: str, modalities: list[str] | None) -> list[FindingQuery]:
    have = {str(m).lower() for m in (modalities or [])}
    return [FindingQuery(text, name, concept) for side, partners, concept, text in synthesis_terms(name)
            if own == side and (not partners or have & set(partners))]  # fmt: skip


_BY_NAME: dict[str, Concept] = {}
for _c in CONCEPTS:
    for _n in _c.names:
        _BY_NAME[_n] = _c


def normalise_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name or "").strip().lower()).strip("_")


def _number(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if v == v and v not in (float("inf"), float("-inf")) else None


def _quantity(value: float, unit: str | None) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".") if abs(value - round(value)) > 1e-9 else f"{round(value)}"
    u = UNIT_TEXT.get(unit or "", unit or "")
    if not u:
        return text
    return f"{text}{u}" if u == "%" else f"{text} {u}"


def _measurement_query(f: dict) -> tuple[FindingQuery, int] | None:
    name = normalise_name(f.get("name", ""))
    value = _number(f.get("value"))
    flag = str(f.get("flag") or "").lower()
    concept = _BY_NAME.get(name)
    label = str(f.get("label") or name.replace("_", " ")).strip()
    if value is None:
        return None
    if concept is None:
        if flag not in ABNORMAL_FLAGS:
            return None
        word = {"high": "increased", "low": "reduced"}.get(flag, "abnormal")
        text = f"{label} {_quantity(value, f.get('unit'))} → {word} {label}"
        return FindingQuery(text, name, name, (), (name,)), 60
    terms = concept.interpret(value) if concept.interpret else None
    if terms is None and flag in ABNORMAL_FLAGS:
        terms = concept.flagged
    if terms is None:
        return None
    text = f"{concept.short} {_quantity(value, f.get('unit'))} → {terms}"
    return FindingQuery(text, name, concept.key, concept.topics, tuple(dict.fromkeys((name, *concept.aliases)))), concept.priority


def _statement_query(f: dict) -> tuple[FindingQuery, int] | None:
    status = str(f.get("status") or "present").lower()
    name = normalise_name(f.get("name", ""))
    if status != "present" or name in NORMAL_STATEMENTS:
        return None
    label = str(f.get("label") or name.replace("_", " ")).strip()
    if name in STATEMENT_TERMS:
        concept, terms = STATEMENT_TERMS[name]
        # The statement's label first: it is what the expert concluded.
        text = terms if label.lower() in terms.lower() else f"{label}: {terms}"
        return FindingQuery(text, name, concept), 55  # a measured value beats it for a shared concept
    if not label:
        return None
    return FindingQuery(label, name, name), 70


def queries_from_findings(findings: list[dict], modalities: list[str] | None = None, max_queries: int = 12) -> list[FindingQuery]:
    """One query per abnormal concept, most specific first.

    When a measurement and a statement share a concept (QTc 510 ms and
    "prolonged QTc"), the measurement's query is kept: it carries the value.
    A present statement that takes part in a cross-modality synthesis rule
    (agent/synthesis.py) adds the rule's passage query when the finding's
    own 'modality' is the rule's side and the partner modality is among
    `modalities` (an ECG's LBBB with echo or CMR supplied → the CRT query).
    """
    best: dict[str, tuple[int, int, FindingQuery]] = {}
    for order, f in enumerate(findings or []):
        if not isinstance(f, dict):
            continue
        kind = str(f.get("kind") or "").lower()
        made = _measurement_query(f) if kind == "measurement" else _statement_query(f) if kind == "statement" else None
        if made is None:
            continue
        query, priority = made
        candidates = [(priority, query)]
        if kind == "statement":
            # after every finding's own query: a companion never displaces one
            candidates += [(SYNTHESIS_PRIORITY, q) for q in _companions(query.finding, str(f.get("modality") or "").lower(), modalities)]
        for prio, q in candidates:
            current = best.get(q.concept)
            if current is None or (prio, order) < (current[0], current[1]):
                best[q.concept] = (prio, order, q)
    ranked = sorted(best.values(), key=lambda t: (t[0], t[1]))
    return [q for _, _, q in ranked][:max_queries]
