"""Cross-modality synthesis: what two studies say together.

Why a table of rules: each expert reports its own modality, but the
clinical question often sits between them (LBBB on the ECG + LVEF ≤35% on
imaging → the CRT criteria). Each rule below states, in code, which
findings it needs from which modality, the guideline passages it cites and
the words it writes. A rule fires only on tool outputs of supplied,
diagnostic studies; it never assumes what the tools cannot know (symptoms,
treatment history) but names it as a condition.

Grounding: every number in a rule's text is either a measurement of the
case (cited by id) or a threshold written as a threshold ('≤ 35%', '150 ms
or more') that a cited guideline passage or a cited statement's criterion
states — exactly what `agent.verifier` traces. The words avoid diagnostic
concepts no cited statement supports (no 'heart failure' from an LVEF
category). A rule whose passage was not retrieved either states the facts
without advice or stays silent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.report import ImpressionItem, ModalitySection
from experts.core.types import Measurement, Modality, Statement
from retrieval.types import GuidelinePassage

IMAGING = (Modality.ECHO, Modality.CMR)
# Class of recommendation → the verb the guideline uses for it.
CLASS_VERB = {"I": "is recommended", "IIa": "should be considered", "IIb": "may be considered"}
# Statements that put an LVEF below the normal range or in the reduced range.
LOW_EF_STATEMENTS = ("lvef_reduced", "lvef_reduced_range", "lv_systolic_dysfunction", "lvef_below_reference")
REDUCED_EF_STATEMENTS = ("lvef_reduced", "lvef_reduced_range")
WIDE_QRS_STATEMENTS = ("lbbb", "rbbb", "nonspecific_ivcd")
SINUS_STATEMENTS = ("sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia")


# ---------------------------------------------------------------- case facts
@dataclass
class CaseFacts:
    """The tool outputs a rule may rest on: diagnostic sections only."""

    sections: list[ModalitySection]
    passages: dict[str, GuidelinePassage]

    def usable(self, modality: Modality) -> list[ModalitySection]:
        return [s for s in self.sections if s.modality == modality and s.quality.verdict != "non_diagnostic"]

    def supplied(self, modality: Modality) -> bool:
        return bool(self.usable(modality))

    def present(self, modality: Modality, *names: str, prefix: bool = False) -> list[Statement]:
        out = []
        for s in self.usable(modality):
            for st in s.statements:
                base = st.id.split(".", 1)[-1]
                hit = any(base.startswith(n) for n in names) if prefix else base in names
                if hit and st.status == "present":
                    out.append(st)
        return out

    def measurement(self, modality: Modality, name: str) -> Measurement | None:
        for s in self.usable(modality):
            for m in s.measurements:
                if m.name == name:
                    return m
        return None

    def imaging_lvefs(self) -> list[tuple[ModalitySection, Measurement]]:
        """Every LVEF an imaging study measured (one per study: the tool's headline 'lvef')."""
        out = []
        for mod in IMAGING:
            for s in self.usable(mod):
                m = next((m for m in s.measurements if m.name == "lvef"), None)
                if m is not None:
                    out.append((s, m))
        return out

    def retrieved(self, ids: tuple[str, ...], limit: int = 3) -> list[GuidelinePassage]:
        """The rule's passages the retrieve step actually returned, in the rule's order."""
        return [self.passages[i] for i in ids if i in self.passages and self.passages[i].collection == "guidelines"][:limit]


@dataclass
class Synthesis:
    """One fired rule: its impression item and what it silences."""

    rule: str
    item: ImpressionItem
    # statement id -> passage-id prefixes whose 'guideline context' no longer
    # applies once this rule has spoken (LQTS passages for a QTc over a wide QRS)
    suppress_context: dict[str, tuple[str, ...]] = field(default_factory=dict)


RuleFn = Callable[[CaseFacts], list[Synthesis]]


@dataclass(frozen=True)
class SynthesisRule:
    """A row of the table: documentation and the function that applies it."""

    key: str
    needs: str  # which findings from which modality, in words
    cites: tuple[str, ...]  # guideline passage ids, preferred first
    apply: RuleFn


def _where(section: ModalitySection) -> str:
    return section.modality.display.lower() if section.modality == Modality.ECHO else section.modality.display


def _ef_phrase(lvefs: list[tuple[ModalitySection, Measurement]]) -> str:
    return " and ".join(f"LVEF {m.with_unit()} on {_where(s)}" for s, m in lvefs)


def _lower_first(label: str) -> str:
    """'Right bundle branch block' → 'right …', but 'ST depression' stays (an abbreviation)."""
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def _ids(items: list) -> list[str]:
    return list(dict.fromkeys(x.id for x in items))


# ---------------------------------------------------------------- CRT
@dataclass(frozen=True)
class CrtRow:
    """One CRT recommendation of the 2021 ESC pacing/CRT guideline (sinus rhythm), with its
    companions in the ESC 2021 HF and AHA/ACC/HFSA 2022 HF guidelines."""

    lbbb: bool
    qrs_min: float
    qrs_max: float | None  # exclusive
    cites: tuple[str, ...]


CRT_LVEF_MAX = 35.0  # '35% or less' in every passage below
CRT_TABLE: tuple[CrtRow, ...] = (
    CrtRow(True, 150, None, ("esc-pacing-2021-crt-lbbb-150", "esc-hf-2021-crt-lbbb-150", "aha-hf-2022-crt-lbbb-150")),
    CrtRow(True, 130, 150, ("esc-pacing-2021-crt-lbbb-130-149", "esc-hf-2021-crt-lbbb-130-149", "aha-hf-2022-crt-lbbb-120-149-or-nonlbbb-150")),
    CrtRow(False, 150, None, ("esc-pacing-2021-crt-non-lbbb-150", "esc-hf-2021-crt-non-lbbb-150", "aha-hf-2022-crt-lbbb-120-149-or-nonlbbb-150")),
    CrtRow(False, 130, 150, ("esc-pacing-2021-crt-non-lbbb-130-149", "esc-hf-2021-crt-non-lbbb-130-149")),
)


def _crt(facts: CaseFacts) -> list[Synthesis]:
    if not (facts.supplied(Modality.ECG) and any(facts.supplied(m) for m in IMAGING)):
        return []
    qrs = facts.measurement(Modality.ECG, "qrs_duration")
    sinus = facts.present(Modality.ECG, *SINUS_STATEMENTS)
    af = facts.present(Modality.ECG, "atrial_fibrillation", "atrial_flutter")
    lvefs = facts.imaging_lvefs()
    # every imaging LVEF must meet the threshold: discordant studies are the EF rule's to report
    if qrs is None or not sinus or af or not lvefs or any(m.value > CRT_LVEF_MAX for _, m in lvefs):
        return []
    lbbb = facts.present(Modality.ECG, "lbbb")
    row = next((r for r in CRT_TABLE if r.lbbb == bool(lbbb) and qrs.value >= r.qrs_min and (r.qrs_max is None or qrs.value < r.qrs_max)), None)
    if row is None:
        return []
    passages = facts.retrieved(row.cites)
    if not passages:
        return []  # the combination is stated by the findings themselves; advice needs the passage
    lead = passages[0]
    morph = lbbb if lbbb else facts.present(Modality.ECG, "rbbb", "nonspecific_ivcd")
    if lbbb:
        shape = lbbb[0].label
    elif morph:
        shape = f"Non-LBBB QRS morphology ({_lower_first(morph[0].label)})"
    else:
        shape = "Non-LBBB QRS morphology"
    band = f"≥ {row.qrs_min:g} ms" if row.qrs_max is None else f"≥ {row.qrs_min:g} ms, ≤ {row.qrs_max - 1:g} ms"
    verb = CLASS_VERB.get(lead.recommendation_class or "", "is addressed")
    text = (
        f"{shape} with QRS duration {qrs.with_unit()} ({band}) in sinus rhythm, together with {_ef_phrase(lvefs)} (≤ {CRT_LVEF_MAX:g}%), "
        f"meets the ECG and imaging criteria for cardiac resynchronization therapy in the {lead.citation()}. "
        f"CRT {verb} only when these findings come with symptoms despite optimal medical therapy; "
        "symptoms and treatment history are not assessed by the tools, so the indication depends on clinical confirmation of both."
    )
    sts = [*(lbbb or morph), sinus[0], *facts.present(Modality.ECHO, *REDUCED_EF_STATEMENTS), *facts.present(Modality.CMR, *REDUCED_EF_STATEMENTS)]
    item = ImpressionItem(text=text, statement_ids=_ids(sts), measurement_ids=_ids([qrs, *(m for _, m in lvefs)]),
                          passage_ids=_ids(passages), kind="recommendation")  # fmt: skip
    return [Synthesis("crt", item)]


# ---------------------------------------------------------------- AF + reduced EF
AF_HFREF_CLAUSES: dict[str, str] = {
    "esc-af-2024-rate-drugs-by-lvef": "for rate control at an LVEF of 40% or lower the guideline uses beta-blockers and/or digoxin rather than "
                                      "non-dihydropyridine calcium-channel blockers",
    "acc-af-2023-nondhp-ccb-hfref": "non-dihydropyridine calcium-channel blockers should not be used for rate control when LVEF is below 40%",
    "esc-af-2024-ablation-tachycardiomyopathy": "catheter ablation (rhythm control) is recommended when AF is thought to have caused the LV "
                                                "dysfunction, to reverse it",
    "acc-af-2023-ablation-hfref": "in selected patients on guideline-directed therapy, catheter ablation improves symptoms, "
                                  "ventricular function and outcomes",
}  # fmt: skip
AF_HFREF_GROUPS = (("esc-af-2024-rate-drugs-by-lvef", "acc-af-2023-nondhp-ccb-hfref"),
                   ("esc-af-2024-ablation-tachycardiomyopathy", "acc-af-2023-ablation-hfref"))  # fmt: skip
AF_EF_MAX = 40.0


def _af_reduced_ef(facts: CaseFacts) -> list[Synthesis]:
    af = facts.present(Modality.ECG, "atrial_fibrillation")
    lvefs = facts.imaging_lvefs()
    if not af or not lvefs or any(m.value > AF_EF_MAX for _, m in lvefs):
        return []
    # one rate-control and one rhythm-control passage: the first retrieved of each pair
    passages = [ps[0] for group in AF_HFREF_GROUPS if (ps := facts.retrieved(group, limit=1))]
    if not passages:
        return []
    clauses = "; ".join(AF_HFREF_CLAUSES[p.id] for p in passages)
    ef_sts = facts.present(Modality.ECHO, *REDUCED_EF_STATEMENTS) + facts.present(Modality.CMR, *REDUCED_EF_STATEMENTS)
    text = (
        f"Atrial fibrillation together with {_ef_phrase(lvefs)} (40% or lower) puts rate and rhythm control in the reduced-LVEF setting: "
        f"{clauses}. The choice between rate and rhythm control depends on symptoms and history, which the tools do not assess."
    )
    item = ImpressionItem(text=text, statement_ids=_ids([*af, *ef_sts]), measurement_ids=_ids([m for _, m in lvefs]),
                          passage_ids=_ids(passages), kind="recommendation")  # fmt: skip
    return [Synthesis("af_reduced_ef", item)]


# ---------------------------------------------------------------- LVH concordance
def _lvh_concordant(facts: CaseFacts) -> list[Synthesis]:
    ecg_lvh = facts.present(Modality.ECG, "lvh_voltage")
    mass = [st for mod in IMAGING for st in facts.present(mod, "lv_mass_index_increased")]
    if not ecg_lvh or not mass:
        return []
    ms = [m for mod in IMAGING if (m := facts.measurement(mod, "lv_mass_index")) is not None]
    where = " and ".join(f"{m.label} {m.with_unit()}" for m in ms) or mass[0].label.lower()
    passages = facts.retrieved(("ecg-p5-lvh-criteria-accuracy",))
    text = f"{ecg_lvh[0].label} is concordant with the imaging measurement ({where}): both studies point to left ventricular hypertrophy."
    if passages:
        text += (" ECG voltage criteria are specific but insensitive compared with imaging LV mass, so the imaging mass is the "
                 "stronger evidence of the two.")  # fmt: skip
    item = ImpressionItem(text=text, statement_ids=_ids([*ecg_lvh, *mass]), measurement_ids=_ids(ms), passage_ids=_ids(passages), kind="note")
    return [Synthesis("lvh_concordant", item)]


def _lvh_discordant(facts: CaseFacts) -> list[Synthesis]:
    """Increased imaging mass with ECG voltage criteria evaluated and not met."""
    no_ecg_lvh = [st for s in facts.usable(Modality.ECG) for st in s.statements
                  if st.id.endswith(".lvh_voltage") and st.status == "absent"]  # fmt: skip
    mass = [st for mod in IMAGING for st in facts.present(mod, "lv_mass_index_increased")]
    passages = facts.retrieved(("ecg-p5-lvh-criteria-accuracy",))
    # a conduction defect changes QRS voltage: its own passage, not this rule
    if not no_ecg_lvh or not mass or not passages or facts.present(Modality.ECG, *WIDE_QRS_STATEMENTS):
        return []
    ms = [m for mod in IMAGING if (m := facts.measurement(mod, "lv_mass_index")) is not None]
    where = " and ".join(f"{m.label} {m.with_unit()}" for m in ms) or mass[0].label.lower()
    text = (f"The imaging study measured an increased LV mass ({where}) while the ECG did not meet voltage criteria for left "
            "ventricular hypertrophy; ECG voltage criteria are specific but insensitive compared with imaging LV mass, so voltage "
            "criteria that are not met do not exclude the increased mass.")  # fmt: skip
    item = ImpressionItem(text=text, statement_ids=_ids([*no_ecg_lvh, *mass]), measurement_ids=_ids(ms), passage_ids=_ids(passages), kind="note")
    return [Synthesis("lvh_discordant", item)]


# ---------------------------------------------------------------- Q waves + low EF
def _prior_mi(facts: CaseFacts) -> list[Synthesis]:
    q = facts.present(Modality.ECG, "pathological_q_waves", prefix=True)
    if not q or facts.present(Modality.ECG, "lbbb"):  # LBBB confounds Q waves (UDMI-4)
        return []
    low = [st for mod in IMAGING for st in facts.present(mod, *LOW_EF_STATEMENTS)]
    lvefs = [(s, m) for s, m in facts.imaging_lvefs() if any(st.id.startswith(s.study_id + ".") for st in low)]
    if not low or not lvefs:
        return []
    passages = facts.retrieved(("udmi4-prior-mi-criteria", "udmi4-pathological-q-waves"), limit=2)
    text = (f"{q[0].label} together with {_ef_phrase(lvefs)}, below the normal range, are consistent with a myocardial infarction; "
            "the ECG and the LVEF alone do not date it.")  # fmt: skip
    st_changes = facts.present(Modality.ECG, "st_elevation", "st_depression", prefix=True)
    if st_changes:
        text += f" The same ECG shows {_lower_first(st_changes[0].label)}, so an acute or evolving event is possible."
    if passages:
        text += (" The Universal Definition accepts prior infarction from pathological Q waves once other causes of Q waves are "
                 "excluded, or from imaging evidence of lost viable myocardium in a coronary distribution; the tools did not assess "
                 "regional wall motion or scar.")  # fmt: skip
    item = ImpressionItem(text=text, statement_ids=_ids([*q, *st_changes[:1], *low]), measurement_ids=_ids([m for _, m in lvefs]),
                          passage_ids=_ids(passages), kind="note")  # fmt: skip
    return [Synthesis("prior_mi", item)]


# ---------------------------------------------------------------- QTc over a wide QRS
LQTS_PASSAGES = ("esc-va-2022-lqts",)


def _qtc_wide_qrs(facts: CaseFacts) -> list[Synthesis]:
    long_qt = facts.present(Modality.ECG, "long_qtc")
    wide = facts.present(Modality.ECG, *WIDE_QRS_STATEMENTS)
    qrs = facts.measurement(Modality.ECG, "qrs_duration")
    passages = facts.retrieved(("ecg-p4-qt-adjust-for-qrs-duration",))
    if not long_qt or not wide or qrs is None or not passages:
        return []
    thr = next((c.threshold for c in wide[0].criteria if c.measurement_id == qrs.id and c.operator in (">=", ">")), None)
    band = f" (≥ {thr:g} ms)" if thr is not None else ""
    text = (
        f"{long_qt[0].label} is measured over a wide QRS: {_lower_first(wide[0].label)} with QRS duration {qrs.with_unit()}{band}. "
        "A wide QRS lengthens the QT through slower depolarization, so the QTc overstates repolarization and should be interpreted "
        "with an adjustment for QRS duration; long QT syndrome criteria do not apply as such."
    )
    item = ImpressionItem(text=text, statement_ids=_ids([*long_qt, wide[0]]), measurement_ids=[qrs.id], passage_ids=_ids(passages),
                          kind="recommendation")  # fmt: skip
    return [Synthesis("qtc_wide_qrs", item, suppress_context={st.id: LQTS_PASSAGES for st in long_qt})]


# ---------------------------------------------------------------- QTc + reduced EF
def _qtc_reduced_ef(facts: CaseFacts) -> list[Synthesis]:
    long_qt = facts.present(Modality.ECG, "long_qtc")
    lvefs = facts.imaging_lvefs()
    if not long_qt or facts.present(Modality.ECG, *WIDE_QRS_STATEMENTS) or not lvefs or any(m.value > AF_EF_MAX for _, m in lvefs):
        return []
    ef_sts = facts.present(Modality.ECHO, *REDUCED_EF_STATEMENTS) + facts.present(Modality.CMR, *REDUCED_EF_STATEMENTS)
    text = (
        f"{long_qt[0].label} occurs together with {_ef_phrase(lvefs)} (40% or lower). The guideline index holds no passage on "
        "acquired QT prolongation with a low LVEF, so this report states both findings side by side without advice."
    )
    item = ImpressionItem(text=text, statement_ids=_ids([*long_qt, *ef_sts]), measurement_ids=_ids([m for _, m in lvefs]), kind="note")
    return [Synthesis("qtc_reduced_ef", item)]


# ---------------------------------------------------------------- EF disagreement
EF_DISAGREEMENT_POINTS = 10.0


def _ef_disagreement(facts: CaseFacts) -> list[Synthesis]:
    lvefs = facts.imaging_lvefs()
    if len(lvefs) < 2:
        return []
    lo = min(lvefs, key=lambda t: t[1].value)
    hi = max(lvefs, key=lambda t: t[1].value)
    if hi[1].value - lo[1].value <= EF_DISAGREEMENT_POINTS:
        return []
    pair = " versus ".join(f"{m.with_unit()} on {_where(s)} ({s.study_id}, {m.source.tool})" for s, m in (lo, hi))
    text = (
        f"LVEF disagrees between the imaging studies: {pair}. The values are reported side by side and not averaged; which one "
        "to rely on needs review of both studies (image quality, rhythm, loading conditions)."
    )
    item = ImpressionItem(text=text, measurement_ids=[lo[1].id, hi[1].id], kind="note")
    return [Synthesis("ef_disagreement", item)]


SYNTHESIS_RULES: tuple[SynthesisRule, ...] = (
    SynthesisRule("ef_disagreement", "two imaging studies (echo and/or CMR) whose LVEF differ by more than 10 points", (), _ef_disagreement),
    SynthesisRule("crt", "ECG: sinus rhythm, QRS ≥130 ms (LBBB or not), no AF; imaging: every LVEF ≤35%",
                  tuple(i for r in CRT_TABLE for i in r.cites), _crt),
    SynthesisRule("af_reduced_ef", "ECG: atrial fibrillation; imaging: every LVEF ≤40%", tuple(AF_HFREF_CLAUSES), _af_reduced_ef),
    SynthesisRule("lvh_concordant", "ECG: LVH by voltage; imaging: increased indexed LV mass", ("ecg-p5-lvh-criteria-accuracy",),
                  _lvh_concordant),
    SynthesisRule("lvh_discordant", "ECG: LVH voltage criteria evaluated and not met, no wide QRS; imaging: increased indexed LV mass",
                  ("ecg-p5-lvh-criteria-accuracy",), _lvh_discordant),
    SynthesisRule("prior_mi", "ECG: pathological Q waves (no LBBB); imaging: LVEF reduced or below normal",
                  ("udmi4-prior-mi-criteria", "udmi4-pathological-q-waves"), _prior_mi),
    SynthesisRule("qtc_wide_qrs", "ECG: prolonged QTc with LBBB, RBBB or IVCD (QT read over a wide QRS)",
                  ("ecg-p4-qt-adjust-for-qrs-duration",), _qtc_wide_qrs),
    SynthesisRule("qtc_reduced_ef", "ECG: prolonged QTc (narrow QRS); imaging: every LVEF ≤40%", (), _qtc_reduced_ef),
)  # fmt: skip


# Passages that speak only of a combination (CRT needs QRS *and* LVEF; the QT
# adjustment needs a prolonged QTc *and* a wide QRS; ECG-versus-imaging LVH
# accuracy needs both studies): shown only when their rule fires, never as
# 'guideline context' of one finding.
COMBINATION_ONLY: frozenset[str] = frozenset(
    {i for r in CRT_TABLE for i in r.cites} | {"ecg-p4-qt-adjust-for-qrs-duration", "ecg-p5-lvh-criteria-accuracy"}
)


def synthesize(sections: list[ModalitySection], passages: list[GuidelinePassage]) -> list[Synthesis]:
    """Apply every rule to the case; the fired rules' items, in table order."""
    facts = CaseFacts(sections=sections, passages={p.id: p for p in passages})
    return [s for rule in SYNTHESIS_RULES for s in rule.apply(facts)]
