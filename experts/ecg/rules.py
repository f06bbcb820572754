"""The rule engine: a data table of diagnostic criteria, evaluated on
measurements.

Why a table: each diagnosis is a list of (measurement, operator,
threshold, citation) rows that a cardiologist can read and audit without
reading code, and every statement we emit carries exactly the rows it was
decided by. Sex- and age-dependent thresholds are rows with several
thresholds; the engine picks the one for the patient and says when the
context was missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from experts.core.types import Criterion, GuidelineRef, Measurement, Operator, PatientContext, Source, Statement
from experts.ecg.codes import snomed


@dataclass(frozen=True)
class Cond:
    """One row: `measurement` (stable name) `op` threshold.

    `thresholds` maps a population key to a threshold: "any", "female",
    "male", "male_under_40", "male_40_plus". The most specific key matching
    the patient wins; when sex or age is missing, the threshold least
    likely to over-call is used and the criterion says so.
    """

    measurement: str
    op: Operator
    thresholds: dict[str, float]
    unit: str
    ref: GuidelineRef | None = None
    note: str | None = None


@dataclass(frozen=True)
class Rule:
    key: str
    label: str
    category: str
    all_of: tuple[Cond, ...]
    any_of: tuple[Cond, ...] = ()
    requires: tuple[str, ...] = ()  # statements that must be present first
    requires_any: tuple[str, ...] = ()  # at least one of these must be present
    excludes: tuple[str, ...] = ()  # statements that pre-empt this one
    report_absent: bool = False  # say "absent" explicitly (e.g. AF) when evaluated and not met
    indeterminate_if_short: bool = False  # all_of met but no any_of row (e.g. too short a tracing): indeterminate
    # rows on the quality of the evidence (e.g. how clearly P waves were seen): when the pattern
    # rows are met but one of these is not (or its measurement is missing), the statement is
    # `indeterminate`, never `present` — for findings where a false call is worse than none
    evidence: tuple[Cond, ...] = ()
    # (statement key, why): when that statement is present, this rule's pattern does not mean what it means on a native
    # rhythm (e.g. bundle-branch block criteria on ventricular-paced beats); met → `indeterminate` with the reason
    indeterminate_with: tuple[tuple[str, str], ...] = ()
    explanation: str = ""


@dataclass(frozen=True)
class LeadCond:
    """A per-lead row: `measurement` is a template such as 'st_j_{lead}'.
    `by_lead` overrides the thresholds for named leads (e.g. V2–V3)."""

    measurement: str
    op: Operator
    thresholds: dict[str, float]
    unit: str
    ref: GuidelineRef | None = None
    note: str | None = None
    by_lead: dict[str, dict[str, float]] = field(default_factory=dict)

    def for_lead(self, lead: str) -> Cond:
        return Cond(self.measurement.format(lead=lead), self.op, self.by_lead.get(lead, self.thresholds), self.unit, self.ref, self.note)


@dataclass(frozen=True)
class TerritoryRule:
    """Present when, in one lead group, at least `min_leads` leads meet all
    `lead_conds` — the "two contiguous leads" construction of the Universal
    Definition of MI. One statement per group that meets it."""

    key: str
    label: str
    category: str
    groups: dict[str, tuple[str, ...]]
    lead_conds: tuple[LeadCond, ...]
    min_leads: int = 2
    excludes: tuple[str, ...] = ()
    explanation: str = ""
    snomed_key: str | None = None
    # the `min_leads` leads must be neighbours in the group's order (Cabrera order for the limb leads,
    # V1…V6 for the chest leads), not just any two leads of the group
    contiguous: bool = False
    # (statement key, leads, why): when that statement is present, a finding in those leads follows from the
    # abnormal depolarisation (secondary ST-T change) and does not count; if the group met the rule only with
    # such leads, the statement is `indeterminate` with that reason instead of `present`
    secondary_to: tuple[tuple[str, tuple[str, ...], str], ...] = ()
    secondary_what: str = "ST-T change"  # what the secondary finding is called in the label and note


def _conservative(op: Operator, values: list[float]) -> float:
    """The threshold least likely to over-call: the highest for > / >=,
    the lowest for < / <=."""
    return max(values) if op in (">", ">=") else min(values)


def resolve_threshold(cond: Cond, patient: PatientContext) -> tuple[float, str | None]:
    """Threshold for this patient, and a note when the context was missing."""
    th = cond.thresholds
    specific = [k for k in th if k != "any"]
    if not specific:
        return th["any"], None
    if patient.sex == "male" and patient.age_years is not None:
        k = "male_under_40" if patient.age_years < 40 else "male_40_plus"
        if k in th:
            return th[k], None
    if patient.sex is not None and patient.sex in th:
        return th[patient.sex], None
    if patient.sex == "male":
        males = [th[k] for k in ("male_under_40", "male_40_plus") if k in th]
        if males:
            return _conservative(cond.op, males), "age not given: the threshold least likely to over-call was used"
    if patient.sex is not None and "any" in th:
        return th["any"], None
    return _conservative(cond.op, list(th.values())), "sex not given: the threshold least likely to over-call was used"


@dataclass
class EngineResult:
    statements: list[Statement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def evaluate(
    rules: list[Rule | TerritoryRule],
    measurements: dict[str, Measurement],
    patient: PatientContext,
    study_id: str,
    source: Source,
    only: set[str] | None = None,
) -> EngineResult:
    """Evaluate rules in table order (so `requires`/`excludes` may refer to
    earlier rules). A rule whose measurements are missing is skipped."""
    out = EngineResult()
    present: set[str] = set()
    for rule in rules:
        if only is not None and rule.key not in only:
            continue
        if any(r in present for r in rule.excludes):
            continue
        if isinstance(rule, TerritoryRule):
            for st in _evaluate_territory(rule, measurements, patient, study_id, source, present):
                if st.status == "present":
                    present.add(st.id.split(".", 1)[1])
                    present.add(rule.key)
                out.statements.append(st)
            continue
        if any(r not in present for r in rule.requires):
            continue
        if rule.requires_any and not any(r in present for r in rule.requires_any):
            continue
        needed = [c.measurement for c in rule.all_of]
        if any(n not in measurements for n in needed):
            continue
        if rule.any_of and not any(c.measurement in measurements for c in rule.any_of) and not rule.indeterminate_if_short:
            continue
        criteria: list[Criterion] = []
        notes: list[str] = []

        def check(c: Cond) -> bool:
            m = measurements[c.measurement]
            t, note = resolve_threshold(c, patient)
            met = Criterion.evaluate(m.value, c.op, t)
            joined = "; ".join(x for x in (c.note, note) if x) or None
            criteria.append(
                Criterion(measurement_id=m.id, operator=c.op, threshold=t, unit=c.unit, met=met, guideline=c.ref, note=joined)
            )
            if note:
                notes.append(note)
            return met

        all_met = all([check(c) for c in rule.all_of])
        any_conds = [c for c in rule.any_of if c.measurement in measurements]
        any_met = True if not rule.any_of else any([check(c) for c in any_conds])
        met = all_met and any_met
        weak = False
        if met and rule.evidence:
            for c in rule.evidence:
                if c.measurement in measurements:
                    weak |= not check(c)
                else:
                    weak = True
                    notes.append(f"{c.measurement} not measured")
        status = "present" if met and not weak else "absent"
        blocked = [why for key, why in rule.indeterminate_with if key in present] if met else []
        if blocked:
            notes.extend(blocked)
        if met and (weak or blocked):
            status = "indeterminate"
        elif met:
            present.add(rule.key)
        elif rule.indeterminate_if_short and all_met and criteria:
            status = "indeterminate"
        elif not rule.report_absent:
            continue
        out.statements.append(
            Statement(
                id=f"{study_id}.{rule.key}",
                label=rule.label,
                code=snomed(rule.key),
                status=status,
                category=rule.category,
                criteria=criteria,
                explanation=(rule.explanation + (" (" + "; ".join(sorted(set(notes))) + ")" if notes else "")) or None,
                source=source,
            )
        )
    return out


def _longest_run(leads: tuple[str, ...], met: set[str]) -> int:
    """Most met leads that are neighbours in the group's order."""
    best = run = 0
    for lead in leads:
        run = run + 1 if lead in met else 0
        best = max(best, run)
    return best


def _evaluate_territory(
    rule: TerritoryRule, measurements: dict[str, Measurement], patient: PatientContext, study_id: str, source: Source,
    present: set[str] | None = None,
) -> list[Statement]:
    out: list[Statement] = []
    present = present or set()
    secondary: dict[str, str] = {}  # lead -> why its ST-T change is secondary
    for key, sec_leads, why in rule.secondary_to:
        if key in present:
            for lead in sec_leads:
                secondary.setdefault(lead, why)
    for group, leads in rule.groups.items():
        criteria: list[Criterion] = []
        lead_criteria: dict[str, list[Criterion]] = {}
        notes: set[str] = set()
        met_leads: list[str] = []
        for lead in leads:
            conds = [lc.for_lead(lead) for lc in rule.lead_conds]
            if any(c.measurement not in measurements for c in conds):
                continue
            lead_crit = []
            for c in conds:
                m = measurements[c.measurement]
                t, note = resolve_threshold(c, patient)
                met = Criterion.evaluate(m.value, c.op, t)
                joined = "; ".join(x for x in (c.note, note) if x) or None
                lead_crit.append(Criterion(measurement_id=m.id, operator=c.op, threshold=t, unit=c.unit, met=met, guideline=c.ref, note=joined))
                if note:
                    notes.add(note)
            if all(c.met for c in lead_crit):
                met_leads.append(lead)
                lead_criteria[lead] = lead_crit

        def enough(ls: list[str]) -> bool:
            if rule.contiguous:
                return _longest_run(leads, set(ls)) >= rule.min_leads
            return len(ls) >= rule.min_leads

        primary = [lead for lead in met_leads if lead not in secondary]
        excluded = [lead for lead in met_leads if lead in secondary]
        if excluded:
            whys = sorted({secondary[lead] for lead in excluded})
            cite = ("(AHA/ACCF/HRS 2009 Part IV, secondary vs primary ST-T changes; Part VI, ischaemia with conduction disturbances)"
                    if rule.secondary_what == "ST-T change" else
                    "(Fourth Universal Definition of MI: Q waves and ST-T changes that mimic infarction occur with LBBB and paced rhythm)")
            notes.add(f"{', '.join(excluded)} not counted: {rule.secondary_what} there is secondary to {' and '.join(whys)} {cite}")
        def statement(counted: list[str], status: str, label_tail: str = "") -> Statement:
            for lead in counted:
                criteria.extend(lead_criteria[lead])
            return Statement(
                id=f"{study_id}.{rule.key}_{group}",
                label=f"{rule.label}, {group.replace('_', ' ')} leads ({', '.join(counted)}){label_tail}",
                code=snomed(rule.snomed_key or rule.key),
                status=status,
                category=rule.category,
                criteria=criteria,
                explanation=(rule.explanation + (" (" + "; ".join(sorted(notes)) + ")" if notes else "")) or None,
                source=source,
            )

        if secondary and not enough(primary) and enough(met_leads):
            out.append(statement(met_leads, "indeterminate",
                                 f": secondary {rule.secondary_what}, not assessable for ischaemia"))  # fmt: skip
        elif enough(primary):
            out.append(statement(primary, "present"))
    return out
