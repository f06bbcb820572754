"""The diagnostic criteria, as data. Order matters: a rule may require or
exclude statements decided by rows above it.

Read each rule as "present when all `all_of` rows hold (and at least one
`any_of` row, if any)". Rows without a guideline reference are this
tool's operational definitions (e.g. how many beats must show a P wave)
and say so in their note.
"""

from __future__ import annotations

from experts.ecg.guidelines import REFS
from experts.ecg.rules import Cond, Rule

OPERATIONAL = "operational threshold of this tool (not a guideline value)"

P_BEFORE_QRS = Cond("p_wave_beats", ">=", {"any": 80.0}, "%", None, "P wave before ≥80% of QRS complexes; " + OPERATIONAL)
P_UPRIGHT_II = Cond("p_wave_amplitude", ">", {"any": 0.0}, "mV", None, "sinus P wave is upright in lead II; " + OPERATIONAL)

RULES: list[Rule] = [
    Rule(
        key="sinus_bradycardia",
        label="Sinus bradycardia",
        category="rhythm",
        all_of=(P_BEFORE_QRS, P_UPRIGHT_II, Cond("heart_rate", "<", {"any": 50.0}, "/min", REFS["sinus_bradycardia"])),
        explanation="Sinus P waves precede the QRS complexes and the rate is below the bradycardia limit.",
    ),
    Rule(
        key="sinus_tachycardia",
        label="Sinus tachycardia",
        category="rhythm",
        all_of=(P_BEFORE_QRS, P_UPRIGHT_II, Cond("heart_rate", ">", {"any": 100.0}, "/min", REFS["sinus_tachycardia"])),
        explanation="Sinus P waves precede the QRS complexes and the rate is above the tachycardia limit.",
    ),
    Rule(
        key="sinus_rhythm",
        label="Sinus rhythm",
        category="rhythm",
        all_of=(
            P_BEFORE_QRS,
            P_UPRIGHT_II,
            Cond("heart_rate", ">=", {"any": 50.0}, "/min", REFS["sinus_bradycardia"]),
            Cond("heart_rate", "<=", {"any": 100.0}, "/min", REFS["sinus_tachycardia"]),
        ),
        excludes=("sinus_bradycardia", "sinus_tachycardia"),
        explanation="Sinus P waves precede the QRS complexes at a rate between the bradycardia and tachycardia limits.",
    ),
]
