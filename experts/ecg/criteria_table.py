"""The diagnostic criteria, as data. Order matters: a rule may require or
exclude statements decided by rows above it.

Read each rule as "present when all `all_of` rows hold (and at least one
`any_of` row, if any)". Rows without a guideline reference are this
tool's operational definitions (e.g. how many beats must show a P wave,
what amplitude counts as "a q wave is present") and say so in their note.
The thresholds themselves are the cited ones.
"""

from __future__ import annotations

from experts.ecg.guidelines import REFS
from experts.ecg.rules import Cond, LeadCond, Rule, TerritoryRule

OPERATIONAL = "operational threshold of this tool (not a guideline value)"

P_BEFORE_QRS = Cond("p_wave_beats", ">=", {"any": 80.0}, "%", None, "P wave before ≥80% of QRS complexes; " + OPERATIONAL)
P_UPRIGHT_II = Cond("p_wave_amplitude", ">", {"any": 0.0}, "mV", None, "sinus P wave is upright in lead II; " + OPERATIONAL)
P_SINGLE_LEAD = Cond(
    "p_wave_beats_single_lead", ">=", {"any": 60.0}, "%", None,
    "one unnamed lead only (e.g. a handheld recorder), so P-wave polarity cannot be judged: a P wave of constant shape before "
    "≥60% of QRS complexes (beat-to-beat noise hides some P waves; chosen on the first half of CinC 2017) is taken as sinus; "
    + OPERATIONAL,
)
SINUS = ("sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia")


def _q_absent(lead: str) -> Cond:
    return Cond(f"q_amplitude_{lead}", "<", {"any": 0.05}, "mV", REFS["lbbb"], f"no q wave in {lead} (q < 0.05 mV; amplitude is " + OPERATIONAL + ")")


def _sinus_rules(p_conds: tuple[Cond, ...], how: str) -> list[Rule]:
    """Sinus bradycardia / tachycardia / rhythm with the given P-wave
    evidence. Two sets exist: lead II (presence and polarity) and the
    single-unnamed-lead fallback; their measurements never coexist, so at
    most one set is evaluated on a record."""
    return [
        Rule(
            key="sinus_bradycardia", label="Sinus bradycardia", category="rhythm",
            all_of=p_conds + (Cond("heart_rate", "<", {"any": 50.0}, "/min", REFS["sinus_bradycardia"]),),
            # with second- or third-degree AV block the slow ventricular rate is the block's, not the sinus node's
            excludes=("atrial_fibrillation", "atrial_flutter", "atrial_paced_rhythm") + AV_BLOCKS,
            indeterminate_with=SINUS_IF_VPACED,
            explanation="Sinus P waves precede the QRS complexes and the rate is below the bradycardia limit" + how + ".",
        ),
        Rule(
            key="sinus_tachycardia", label="Sinus tachycardia", category="rhythm",
            all_of=p_conds + (Cond("heart_rate", ">", {"any": 100.0}, "/min", REFS["sinus_tachycardia"]),),
            excludes=("atrial_fibrillation", "atrial_flutter", "atrial_paced_rhythm"),
            indeterminate_with=SINUS_IF_VPACED,
            explanation="Sinus P waves precede the QRS complexes and the rate is above the tachycardia limit" + how + ".",
        ),
        Rule(
            key="sinus_rhythm", label="Sinus rhythm", category="rhythm",
            all_of=p_conds + (
                Cond("heart_rate", ">=", {"any": 50.0}, "/min", REFS["sinus_bradycardia"]),
                Cond("heart_rate", "<=", {"any": 100.0}, "/min", REFS["sinus_tachycardia"]),
            ),
            excludes=("sinus_bradycardia", "sinus_tachycardia", "atrial_fibrillation", "atrial_flutter", "atrial_paced_rhythm"),
            indeterminate_with=SINUS_IF_VPACED,
            explanation="Sinus P waves precede the QRS complexes at a rate between the bradycardia and tachycardia limits" + how + ".",
        ),
    ]


AV_BLOCKS = ("third_degree_av_block", "second_degree_av_block_2_to_1", "mobitz_i_av_block", "mobitz_ii_av_block")
# how clearly the individual P waves were seen (av_conduction.py): below these the pattern is reported as indeterminate
AV_EVIDENCE = (
    Cond("av_p_consistency", ">=", {"any": 0.7}, "1", None,
         "P waves of one shape: median correlation with their template ≥ 0.7; " + OPERATIONAL),
    Cond("av_p_snr", ">=", {"any": 5.0}, "1", None, "P-wave template ≥ 5× the residual noise SD; " + OPERATIONAL),
    Cond("beat_count", ">=", {"any": 5.0}, "1", None, "at least 5 QRS complexes; " + OPERATIONAL),
)
BLOCKED_LIKE_CONDUCTED = Cond(
    "av_blocked_p_similarity", ">=", {"any": 0.8}, "1", REFS["second_degree_avb"],
    "the non-conducted P waves have the shape and size of the conducted ones (correlation of the mean shapes ≥ 0.8, amplitude "
    "within 0.5–2×, is " + OPERATIONAL + ")")
ATRIAL_REGULAR = Cond("av_atrial_regularity", ">=", {"any": 80.0}, "%", REFS["third_degree_avb"],
                      "P waves at their own constant rate (≥ 80 % of PP intervals are 1–3 atrial cycles ± 12 % is " + OPERATIONAL + ")")


# Shared by the Mobitz I and Mobitz II rules.
NONCONDUCTED_P = Cond("av_nonconducted_p", ">=", {"any": 1.0}, "1", REFS["second_degree_avb"], "a non-conducted P wave in a long RR")
NOT_TWO_TO_ONE = Cond("av_max_consecutive_conducted", ">=", {"any": 2.0}, "1", REFS["second_degree_avb"],
                      "at least two consecutive conducted P waves (not a 2:1 pattern)")


def av_block_rules() -> list[Rule]:
    """Second- and third-degree AV block from the per-beat P/QRS relationship
    (av_conduction.py). Each needs a regular atrial rhythm of one P-wave
    shape; weak P-wave evidence makes it indeterminate (AV_EVIDENCE)."""
    excl = ("atrial_flutter",)  # evaluated before AF: a regular atrial rhythm with a block pattern is not AF
    return [
        Rule(
            key="third_degree_av_block", label="Third-degree (complete) AV block", category="conduction",
            all_of=(
                Cond("av_atrial_ventricular_ratio", ">", {"any": 1.1}, "1", REFS["third_degree_avb"],
                     "atrial rate faster than the ventricular rate (the 10 % margin is " + OPERATIONAL + ")"),
                ATRIAL_REGULAR,
                Cond("av_pq_range", ">=", {"any": 120.0}, "ms", REFS["third_degree_avb"],
                     "P waves independent of the QRS: the P–QRS interval varies by ≥ 120 ms across beats; " + OPERATIONAL),
                Cond("av_two_to_one_fraction", "<", {"any": 80.0}, "%", REFS["second_degree_avb"],
                     "not a fixed 2:1 pattern; " + OPERATIONAL),
                Cond("av_p_locked_fraction", "<", {"any": 50.0}, "%", REFS["third_degree_avb"],
                     "AV dissociation: fewer than half the P waves recur at the same distance (± 25 ms) after the next QRS "
                     "(P waves that drive the QRS, or beat-locked T-wave remnants, do); " + OPERATIONAL),
                Cond("rr_cv", "<=", {"any": 10.0}, "%", REFS["third_degree_avb"],
                     "regular escape rhythm (RR coefficient of variation ≤ 10 %; group beating of Mobitz I is irregular); "
                     + OPERATIONAL),
            ),
            evidence=AV_EVIDENCE,
            indeterminate_with=IF_VPACED,
            excludes=excl,
            explanation="P waves at a regular rate faster than, and independent of, a regular ventricular (escape) rhythm: AV "
            "dissociation with no conducted P wave. Indeterminate when the P waves are not seen clearly.",
        ),
        Rule(
            key="second_degree_av_block_2_to_1", label="Second-degree AV block with 2:1 conduction", category="conduction",
            all_of=(
                Cond("av_two_to_one_fraction", ">=", {"any": 80.0}, "%", REFS["second_degree_avb"],
                     "≥ 80 % of RR intervals hold two P waves of which only the second is conducted; " + OPERATIONAL),
                Cond("av_atrial_ventricular_ratio", ">=", {"any": 1.8}, "1", REFS["second_degree_avb"], "two P waves per QRS; " + OPERATIONAL),
                Cond("av_atrial_ventricular_ratio", "<=", {"any": 2.2}, "1", REFS["second_degree_avb"], "two P waves per QRS; " + OPERATIONAL),
                Cond("av_pq_range", "<=", {"any": 40.0}, "ms", REFS["second_degree_avb"],
                     "the conducted P waves have a constant P–QRS interval (range ≤ 40 ms is " + OPERATIONAL + ")"),
                BLOCKED_LIKE_CONDUCTED,
                ATRIAL_REGULAR,
            ),
            evidence=AV_EVIDENCE,
            indeterminate_with=IF_VPACED,
            excludes=excl + ("third_degree_av_block",),
            explanation="Every other P wave is not conducted. Mobitz type I or II cannot be decided from a 2:1 pattern, so neither "
            "is named.",
        ),
        Rule(
            key="mobitz_i_av_block", label="Second-degree AV block, Mobitz type I (Wenckebach)", category="conduction",
            all_of=(
                NONCONDUCTED_P,
                Cond("av_pq_progression", ">=", {"any": 40.0}, "ms", REFS["second_degree_avb"],
                     "P–QRS interval lengthens progressively before the non-conducted P wave (median ≥ 40 ms per group is "
                     + OPERATIONAL + ")"),
                Cond("av_pq_shortening", ">=", {"any": 40.0}, "ms", REFS["second_degree_avb"],
                     "the P–QRS interval after the dropped beat is shorter than the one before it (≥ 40 ms is " + OPERATIONAL + ")"),
                NOT_TWO_TO_ONE,
                BLOCKED_LIKE_CONDUCTED,
                ATRIAL_REGULAR,
            ),
            evidence=AV_EVIDENCE,
            indeterminate_with=IF_VPACED,
            excludes=excl + ("third_degree_av_block", "second_degree_av_block_2_to_1"),
            explanation="Progressive PR lengthening before a P wave that is not conducted, shortest PR after the pause.",
        ),
        Rule(
            key="mobitz_ii_av_block", label="Second-degree AV block, Mobitz type II", category="conduction",
            all_of=(
                NONCONDUCTED_P,
                Cond("av_pq_range", "<=", {"any": 30.0}, "ms", REFS["second_degree_avb"],
                     "constant P–QRS interval before and after the blocked P wave (range ≤ 30 ms is " + OPERATIONAL + ")"),
                NOT_TWO_TO_ONE,
                BLOCKED_LIKE_CONDUCTED,
                ATRIAL_REGULAR,
            ),
            evidence=AV_EVIDENCE,
            indeterminate_with=IF_VPACED,
            excludes=excl + ("third_degree_av_block", "second_degree_av_block_2_to_1", "mobitz_i_av_block"),
            explanation="A P wave is suddenly not conducted while the PR of the conducted beats stays constant.",
        ),
    ]


VPACED = "ventricular_paced_rhythm"
# why a native-conduction criterion does not apply on ventricular-paced beats
PACED_WHY = (
    "paced rhythm: the QRS complexes are ventricular-paced, so QRS width, shape, voltage and the P–QRS relationship reflect the "
    "pacing site and the programmed delay, not the patient's own conduction (pacing-spike detection, see pacing.py)"
)
IF_VPACED = ((VPACED, PACED_WHY),)
# sinus statements next to ventricular pacing: the P wave before each QRS may be the one the pacemaker tracks
SINUS_IF_VPACED = ((VPACED,
                    "ventricular-paced rhythm: a P wave before each paced QRS is what atrial-sensed (P-synchronous) pacing "
                    "produces — at most ventricular pacing tracking sinus P waves — so the P–QRS pairing does not show sinus "
                    "conduction and sinus rhythm is not stated (the atrial rhythm is not classified)"),)
# QT/QTc during atrial fibrillation: the RR interval changes from beat to beat
QT_IN_AF_WHY = (
    "atrial fibrillation: the RR interval varies from beat to beat, so QT and its rate correction on a median beat with one "
    "median RR are unreliable (the AHA/ACCF/HRS 2009 Part IV passages in the corpus give QTc limits and rate-correction "
    "formulae but no method for AF; treating QTc in AF as limited is " + OPERATIONAL + ")"
)


def paced_rules() -> list[Rule]:
    """Pacemaker spikes found on the raw signal (pacing.py). Evaluated first: the conduction, voltage, AV-block and
    ischaemia rules below turn indeterminate on ventricular-paced rhythm."""
    v_rows = (
        Cond("pacing_v_paced_beats", ">=", {"any": 3.0}, "1", REFS["paced_rhythm"],
             "QRS complexes that start at once (≤ 60 ms) after a pacing spike seen in ≥ 3 independent leads; ≥ 3 beats is "
             + OPERATIONAL),
        Cond("pacing_v_paced_fraction", ">=", {"any": 25.0}, "%", REFS["paced_rhythm"],
             "share of the QRS complexes preceded by a ventricular pacing spike; ≥ 25 % is " + OPERATIONAL),
        Cond("pacing_spike_qrs_interval", "<=", {"any": 60.0}, "ms", REFS["paced_rhythm"],
             "capture: steep QRS slope within 60 ms of the spike (median; the first 10 ms are the spike's own after-potential) is "
             + OPERATIONAL),
    )
    return [
        Rule(
            key=VPACED, label="Ventricular-paced rhythm", category="rhythm",
            all_of=v_rows,
            explanation="Pacing spikes, each followed at once by a (wide) QRS complex, precede a substantial share of the "
            "beats; the paced fraction, spike rate and spike–QRS interval are in the criteria and measurements. Conduction, "
            "LVH-voltage, AV-block and ischaemia criteria are not applied to paced beats (indeterminate).",
        ),
        Rule(
            # spikes seen on only a few beats: a regular wide-QRS rhythm supports pacing but never proves it
            key=VPACED, label="Ventricular-paced rhythm (possible)", category="rhythm",
            all_of=(
                Cond("pacing_v_paced_beats", ">=", {"any": 1.0}, "1", REFS["paced_rhythm"],
                     "at least one QRS complex right after a pacing spike; " + OPERATIONAL),
                Cond("qrs_duration", ">=", {"any": 120.0}, "ms", REFS["lbbb"], "wide QRS, as paced complexes are"),
                Cond("rr_cv", "<=", {"any": 3.0}, "%", None,
                     "fixed rate, as a programmed pacing rate is (RR coefficient of variation ≤ 3 % is " + OPERATIONAL + ")"),
            ),
            evidence=v_rows[:2],
            excludes=(VPACED,),
            explanation="A regular wide-QRS rhythm with pacing spikes visible on only a few beats: supporting evidence of "
            "ventricular pacing, not enough to call it (spikes are often filtered out of a recording).",
        ),
        Rule(
            key="atrial_paced_rhythm", label="Atrial-paced rhythm", category="rhythm",
            all_of=(
                Cond("pacing_a_paced_beats", ">=", {"any": 3.0}, "1", REFS["paced_rhythm"],
                     "QRS complexes 80–400 ms after a pacing spike that is followed by a low-slope (P) wave, not at once by a "
                     "QRS; ≥ 3 beats is " + OPERATIONAL),
                Cond("pacing_a_paced_fraction", ">=", {"any": 25.0}, "%", REFS["paced_rhythm"],
                     "share of the QRS complexes preceded by an atrial pacing spike; ≥ 25 % is " + OPERATIONAL),
            ),
            explanation="Pacing spikes followed by an atrial (P) wave and, after the AV delay, a QRS complex.",
        ),
        Rule(
            key="av_sequential_paced_rhythm", label="AV sequential (dual-chamber) paced rhythm", category="rhythm",
            all_of=(
                Cond("pacing_a_paced_beats", ">=", {"any": 3.0}, "1", REFS["paced_rhythm"], "atrial pacing spikes; " + OPERATIONAL),
                Cond("pacing_v_paced_beats", ">=", {"any": 3.0}, "1", REFS["paced_rhythm"], "ventricular pacing spikes; " + OPERATIONAL),
            ),
            requires=(VPACED, "atrial_paced_rhythm"),
            explanation="Atrial and ventricular pacing spikes in the same tracing.",
        ),
    ]


def rhythm_rules() -> list[Rule]:
    return [
        *paced_rules(),
        Rule(
            key="atrial_flutter", label="Atrial flutter", category="rhythm",
            all_of=(
                Cond("atrial_wave_periodicity", ">=", {"any": 0.5}, "1", REFS["atrial_flutter"],
                     "regular atrial waves continuing between the QRS complexes without an isoelectric baseline (autocorrelation ≥ 0.5 "
                     "at the wave period and its 2nd and 3rd multiples, in two inferior/V1 leads, is " + OPERATIONAL + ")"),
                Cond("atrial_wave_rate", ">=", {"any": 200.0}, "/min", None, "flutter-wave rate band 200–350/min; " + OPERATIONAL),
                Cond("atrial_wave_rate", "<=", {"any": 350.0}, "/min", None, "flutter-wave rate band 200–350/min; " + OPERATIONAL),
                Cond("atrial_ventricular_rate_ratio", ">=", {"any": 2.5}, "1", None,
                     "on average ≥ 2.5 atrial waves per QRS complex (3:1, 4:1 or variable block): with fixed 2:1 conduction the waves "
                     "are locked to the QRS and a P–T pair of sinus tachycardia repeats the same way; " + OPERATIONAL),
            ),
            explanation="Continuous regular atrial (flutter) waves at 200–350/min between the QRS complexes, conducted with 3:1 or "
            "higher or variable block; flutter with 1:1 or fixed 2:1 conduction is not recognised (a warning names the 2:1 pattern).",
        ),
        *av_block_rules(),
        Rule(
            key="atrial_fibrillation", label="Atrial fibrillation", category="rhythm",
            all_of=(
                Cond("rr_irregularity", ">", {"any": 6.0}, "%", REFS["af"], "irregular RR intervals (median |ΔRR| > 6% of RR is " + OPERATIONAL + ")"),
                Cond("af_burden", ">", {"any": 0.0}, "%", REFS["af"], "windows with irregular RR and no repeating P waves"),
            ),
            any_of=(
                Cond("af_longest_episode", ">=", {"any": 30.0}, "s", REFS["af_duration"], "≥30 s on a single-lead tracing"),
                Cond("af_twelve_lead_tracing", ">=", {"any": 90.0}, "%", REFS["af_duration"], "the entire 12-lead ECG (≥90% of it is " + OPERATIONAL + ")"),
            ),
            excludes=("atrial_flutter",) + AV_BLOCKS,
            report_absent=True,
            indeterminate_if_short=True,
            explanation="Irregularly irregular RR intervals without distinct repeating P waves, long enough to meet the ESC documentation criterion "
            "(indeterminate when the AF-like rhythm is shorter than that).",
        ),
        *_sinus_rules((P_BEFORE_QRS, P_UPRIGHT_II), ""),
        *_sinus_rules((P_SINGLE_LEAD,), " (single unnamed lead: P-wave shape consistency, not polarity)"),
        Rule(
            key="pause", label="Pause longer than 3 s", category="rhythm",
            all_of=(Cond("rr_max", ">", {"any": 3000.0}, "ms", REFS["sinus_pause"]),),
            explanation="The longest interval between two QRS complexes exceeds 3 s.",
        ),
        Rule(
            key="nsvt", label="Nonsustained ventricular tachycardia", category="rhythm",
            all_of=(
                Cond("ventricular_run_beats", ">=", {"any": 3.0}, "1", REFS["nsvt"]),
                Cond("ventricular_run_rate", ">", {"any": 100.0}, "/min", REFS["nsvt"]),
                Cond("ventricular_run_duration", "<", {"any": 30.0}, "s", REFS["nsvt"]),
            ),
            explanation="A run of consecutive ventricular beats faster than 100/min lasting under 30 s.",
        ),
        Rule(
            key="pvc", label="Premature ventricular complexes", category="rhythm",
            all_of=(Cond("pvc_count", ">=", {"any": 1.0}, "1", None, "at least one beat classified ventricular; " + OPERATIONAL),),
            explanation="Beats whose QRS shape differs from the dominant beat (count and burden in the criteria).",
        ),
        Rule(
            key="pac", label="Premature atrial complexes", category="rhythm",
            all_of=(Cond("pac_count", ">=", {"any": 1.0}, "1", None, "at least one premature beat of dominant shape; " + OPERATIONAL),),
            excludes=("atrial_fibrillation", "atrial_flutter") + AV_BLOCKS,
            explanation="Premature beats with the dominant QRS shape (count and burden in the criteria).",
        ),
        Rule(
            key="first_degree_av_block", label="First-degree AV block", category="conduction",
            all_of=(Cond("pr_interval", ">", {"any": 200.0}, "ms", REFS["first_degree_avb"]),),
            requires_any=SINUS,
            excludes=AV_BLOCKS,
            indeterminate_with=IF_VPACED,
            explanation="Each sinus P wave is conducted with a PR interval above 200 ms.",
        ),
    ]


def conduction_rules() -> list[Rule]:
    rbbb_morph_any = (
        Cond("r_prime_amplitude_V1", ">", {"any": 0.0}, "mV", REFS["rbbb"], "rsr′/rsR′/rSR′ in V1"),
        Cond("r_prime_amplitude_V2", ">", {"any": 0.0}, "mV", REFS["rbbb"], "rsr′/rsR′/rSR′ in V2"),
        Cond("r_peak_time_V1", ">", {"any": 50.0}, "ms", REFS["rbbb"], "R-peak time in V1 > 50 ms"),
    )
    rbbb_s = (
        Cond("s_duration_I", ">", {"any": 40.0}, "ms", REFS["rbbb"], "S wave > 40 ms in I"),
        Cond("s_duration_V6", ">", {"any": 40.0}, "ms", REFS["rbbb"], "S wave > 40 ms in V6"),
    )
    return [
        Rule(
            key="lbbb", label="Left bundle branch block", category="conduction",
            all_of=(
                Cond("qrs_duration", ">=", {"any": 120.0}, "ms", REFS["lbbb"]),
                Cond("r_peak_time_V6", ">", {"any": 60.0}, "ms", REFS["lbbb"], "R-peak time > 60 ms in V5–V6"),
                _q_absent("I"), _q_absent("V6"),
            ),
            indeterminate_with=IF_VPACED,
            explanation="QRS ≥120 ms with delayed R-peak time in the left precordial leads and no septal q waves in I and V6.",
        ),
        Rule(
            key="rbbb", label="Right bundle branch block", category="conduction",
            all_of=(Cond("qrs_duration", ">=", {"any": 120.0}, "ms", REFS["rbbb"]),) + rbbb_s,
            any_of=rbbb_morph_any,
            excludes=("lbbb",),
            indeterminate_with=IF_VPACED,
            explanation="QRS ≥120 ms with terminal R′ or delayed R-peak time in V1–V2 and broad S waves in I and V6.",
        ),
        Rule(
            key="incomplete_rbbb", label="Incomplete right bundle branch block", category="conduction",
            all_of=(
                Cond("qrs_duration", ">=", {"any": 110.0}, "ms", REFS["incomplete_rbbb"]),
                Cond("qrs_duration", "<", {"any": 120.0}, "ms", REFS["incomplete_rbbb"]),
            ) + rbbb_s,
            any_of=rbbb_morph_any,
            excludes=("lbbb", "rbbb"),
            indeterminate_with=IF_VPACED,
            explanation="QRS 110–119 ms with the right bundle branch block morphology.",
        ),
        Rule(
            key="incomplete_lbbb", label="Incomplete left bundle branch block", category="conduction",
            all_of=(
                Cond("qrs_duration", ">=", {"any": 110.0}, "ms", REFS["incomplete_lbbb"]),
                Cond("qrs_duration", "<", {"any": 120.0}, "ms", REFS["incomplete_lbbb"]),
                Cond("r_peak_time_V6", ">", {"any": 60.0}, "ms", REFS["incomplete_lbbb"], "R-peak time > 60 ms in V4–V6"),
                _q_absent("I"), _q_absent("V6"),
            ),
            excludes=("lbbb", "rbbb", "incomplete_rbbb"),
            indeterminate_with=IF_VPACED,
            explanation="QRS 110–119 ms with delayed left precordial R-peak time and no septal q waves.",
        ),
        Rule(
            key="nonspecific_ivcd", label="Nonspecific intraventricular conduction delay", category="conduction",
            all_of=(Cond("qrs_duration", ">", {"any": 110.0}, "ms", REFS["ivcd"]),),
            excludes=("lbbb", "rbbb", "incomplete_rbbb", "incomplete_lbbb"),
            indeterminate_with=IF_VPACED,
            explanation="QRS longer than 110 ms without the morphology of either bundle branch block.",
        ),
        Rule(
            key="lafb", label="Left anterior fascicular block", category="conduction",
            all_of=(
                Cond("qrs_axis", "<=", {"any": -45.0}, "deg", REFS["lafb"]),
                Cond("qrs_axis", ">=", {"any": -90.0}, "deg", REFS["lafb"]),
                Cond("q_amplitude_aVL", ">", {"any": 0.0}, "mV", REFS["lafb"], "qR pattern in aVL"),
                Cond("r_peak_time_aVL", ">=", {"any": 45.0}, "ms", REFS["lafb"]),
                Cond("qrs_duration", "<", {"any": 120.0}, "ms", REFS["lafb"]),
            ),
            indeterminate_with=IF_VPACED,
            explanation="Frontal axis between −45° and −90° with qR in aVL, delayed aVL R-peak time and QRS < 120 ms.",
        ),
        Rule(
            key="lpfb", label="Left posterior fascicular block", category="conduction",
            all_of=(
                Cond("qrs_axis", ">=", {"any": 90.0}, "deg", REFS["lpfb"]),
                Cond("qrs_axis", "<=", {"any": 180.0}, "deg", REFS["lpfb"]),
                Cond("q_amplitude_III", ">", {"any": 0.0}, "mV", REFS["lpfb"], "qR pattern in III"),
                Cond("q_amplitude_aVF", ">", {"any": 0.0}, "mV", REFS["lpfb"], "qR pattern in aVF"),
                Cond("qrs_duration", "<", {"any": 120.0}, "ms", REFS["lpfb"]),
            ),
            indeterminate_with=IF_VPACED,
            explanation="Frontal axis between 90° and 180° with qR in III and aVF and QRS < 120 ms (exclude right ventricular hypertrophy and lateral infarction clinically).",
        ),
        Rule(
            key="left_axis_deviation", label="Left axis deviation", category="axis",
            all_of=(Cond("qrs_axis", "<=", {"any": -30.0}, "deg", REFS["lad"]), Cond("qrs_axis", ">=", {"any": -90.0}, "deg", REFS["lad"])),
            explanation="Frontal QRS axis between −30° and −90°.",
        ),
        Rule(
            key="right_axis_deviation", label="Right axis deviation", category="axis",
            any_of=(Cond("qrs_axis", ">=", {"any": 90.0}, "deg", REFS["rad"]), Cond("qrs_axis", "<=", {"any": -150.0}, "deg", REFS["rad"])),
            all_of=(),
            explanation="Frontal QRS axis between +90° and −150° (through 180°).",
        ),
    ]


def voltage_rules() -> list[Rule]:
    return [
        Rule(
            key="lvh_voltage", label="Left ventricular hypertrophy by voltage criteria", category="hypertrophy",
            all_of=(),
            any_of=(
                Cond("sokolow_lyon", ">", {"any": 3.5}, "mV", REFS["sokolow_lyon"]),
                Cond("cornell_voltage", ">", {"male": 2.8, "female": 2.0}, "mV", REFS["cornell"]),
            ),
            excludes=("lbbb",),
            indeterminate_with=IF_VPACED,
            explanation="Sokolow-Lyon or sex-specific Cornell voltage above its limit (voltage alone; echocardiography decides).",
        ),
        Rule(
            key="low_qrs_voltage", label="Low QRS voltage", category="voltage",
            all_of=(),
            any_of=(
                Cond("qrs_amplitude_limb_max", "<", {"any": 0.5}, "mV", REFS["low_voltage"], "all limb leads < 0.5 mV"),
                Cond("qrs_amplitude_precordial_max", "<", {"any": 1.0}, "mV", REFS["low_voltage"], "all precordial leads < 1.0 mV"),
            ),
            explanation="QRS amplitude below 0.5 mV in every limb lead or below 1.0 mV in every precordial lead.",
        ),
    ]


def qt_rules(qtc_formula: str) -> list[Rule]:
    m = f"qtc_{qtc_formula}"
    return [
        Rule(
            key="long_qtc", label="Prolonged QTc", category="repolarisation",
            all_of=(Cond(m, ">=", {"male": 450.0, "female": 460.0}, "ms", REFS["qtc"], f"QTc by {qtc_formula.capitalize()}"),),
            indeterminate_with=((VPACED, "paced rhythm: the wide paced QRS lengthens the QT through slower depolarisation; QT must be "
                                 "adjusted for QRS duration or judged from the JT interval (AHA/ACCF/HRS 2009 Part IV)"),
                                ("atrial_fibrillation", QT_IN_AF_WHY)),
            explanation="QTc at or above the sex-specific limit (QT prolongation from a wide QRS must be judged clinically).",
        ),
        Rule(
            key="short_qtc", label="Short QTc", category="repolarisation",
            all_of=(
                Cond(m, "<=", {"any": 390.0}, "ms", REFS["qtc"], f"QTc by {qtc_formula.capitalize()}"),
                Cond("qt_lead_count", ">=", {"any": 8.0}, "1", REFS["qt_global"],
                     "QT taken across the 8 independent leads of a 12-lead ECG: on fewer leads the latest T end may be missed "
                     "and QT is biased short (8 leads is " + OPERATIONAL + ")"),
            ),
            indeterminate_with=(("atrial_fibrillation", QT_IN_AF_WHY),),
            explanation="QTc at or below 390 ms, measured across a full 12-lead set.",
        ),
    ]


UDMI_GROUPS = {
    "lateral": ("I", "aVL"),
    "inferior": ("II", "III", "aVF"),
    "anterior": ("V1", "V2", "V3", "V4", "V5", "V6"),
}
Q_GROUPS = {
    "lateral": ("I", "aVL"),
    "inferior": ("II", "aVF"),
    "anterior": ("V2", "V3", "V4", "V5", "V6"),
}


# Part VI, "Anatomically contiguous leads": neighbours in the Cabrera order aVL, I, −aVR, II, aVF, III and V1…V6
ST_DEPRESSION_GROUPS = {
    "lateral": ("aVL", "I"),
    "inferior": ("II", "aVF", "III"),
    "anterior": ("V1", "V2", "V3", "V4", "V5", "V6"),
}
ALL_12 = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def ischaemia_rules() -> list[TerritoryRule]:
    ste_v23 = {"male_under_40": 0.25, "male_40_plus": 0.20, "female": 0.15}
    std_v23 = {"V2": {"any": -0.05}, "V3": {"any": -0.05}}
    return [
        TerritoryRule(
            key="st_elevation", label="ST elevation meeting the Universal Definition amplitude criteria", category="ischaemia",
            groups=UDMI_GROUPS,
            lead_conds=(
                LeadCond("st_j_{lead}", ">=", {"any": 0.1}, "mV", REFS["st_elevation"], "at the J point; ≥1 mm except V2–V3",
                         by_lead={"V2": ste_v23, "V3": ste_v23}),
            ),
            excludes=("lbbb", "lvh_voltage"),
            contiguous=False,
            secondary_to=(("ventricular_paced_rhythm", ALL_12, "ventricular pacing"),),
            explanation="J-point ST elevation in two contiguous leads. Whether it is new needs a prior ECG; the criterion does not apply with LBBB or LVH.",
        ),
        TerritoryRule(
            key="st_depression", label="ST depression meeting the AHA/ACCF/HRS and Universal Definition criteria", category="ischaemia",
            groups=ST_DEPRESSION_GROUPS,
            lead_conds=(
                LeadCond("st_j_{lead}", "<=", {"any": -0.1}, "mV", REFS["st_depression_thresholds"],
                         "ST depression ≥0.1 mV at the J point (V2–V3: ≥0.05 mV)", by_lead=std_v23),
                LeadCond("st_j60_{lead}", "<=", {"any": -0.1}, "mV", None,
                         "still at or below the lead's threshold at J+60 ms (horizontal or downsloping); " + OPERATIONAL, by_lead=std_v23),
            ),
            contiguous=True,
            excludes=("lvh_voltage",),
            secondary_to=(
                ("rbbb", ("V1", "V2", "V3"), "right bundle branch block"),
                ("lbbb", ALL_12, "left bundle branch block"),
                ("ventricular_paced_rhythm", ALL_12, "ventricular pacing"),
            ),
            explanation="Horizontal or downsloping ST depression in two anatomically contiguous leads (new or not needs a prior ECG). "
            "With bundle-branch block or pacing, ST-T changes in the leads the conduction defect affects are secondary and are not "
            "counted.",
        ),
        TerritoryRule(
            key="pathological_q_waves", label="Pathological Q waves (prior infarction pattern)", category="ischaemia",
            groups=Q_GROUPS,
            lead_conds=(
                LeadCond("q_duration_{lead}", ">=", {"any": 30.0}, "ms", REFS["q_waves"], "Q ≥ 30 ms (V2–V3: > 20 ms)",
                         by_lead={"V2": {"any": 21.0}, "V3": {"any": 21.0}}),
                LeadCond("q_amplitude_{lead}", ">=", {"any": 0.1}, "mV", REFS["q_waves"], "Q ≥ 0.1 mV deep; V2–V3: any Q (≥0.05 mV to count as a Q is " + OPERATIONAL + ")",
                         by_lead={"V2": {"any": 0.05}, "V3": {"any": 0.05}}),
            ),
            excludes=("lbbb", "lvh_voltage"),
            secondary_to=(("ventricular_paced_rhythm", ALL_12, "ventricular pacing"),),
            secondary_what="Q wave",
            explanation="Q waves of infarct size in two leads of one contiguous group (or QS complexes); not applicable with LBBB or LVH.",
            snomed_key="pathological_q_waves",
        ),
    ]


def build_rules(qtc_formula: str = "framingham") -> list:
    """The whole table, in evaluation order."""
    return rhythm_rules() + conduction_rules() + voltage_rules() + qt_rules(qtc_formula) + ischaemia_rules()


RULES = build_rules()
