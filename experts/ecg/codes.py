"""Curated code tables: LOINC for ECG measurements, SNOMED CT for findings.

Why curated and small: a wrong code is worse than none (it silently
mis-files a result in an EHR). Only codes we are sure of are listed; every
other measurement or finding carries no code. The SNOMED CT codes are
those the PhysioNet/CinC Challenge 2020 used for the same ECG statements
(its dx_mapping_scored/unscored tables).
"""

from __future__ import annotations

from experts.core.types import Code

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"

# measurement name -> (LOINC code, LOINC display)
LOINC_ECG: dict[str, tuple[str, str]] = {
    "heart_rate": ("8867-4", "Heart rate"),
    "pr_interval": ("8625-6", "P-R Interval"),
    "qrs_duration": ("8633-0", "QRS duration"),
    "qt_interval": ("8634-8", "Q-T interval"),
    "qtc_bazett": ("8636-3", "Q-T interval corrected"),
    "qtc_fridericia": ("8636-3", "Q-T interval corrected"),
    "qtc_framingham": ("8636-3", "Q-T interval corrected"),
    "p_axis": ("8626-4", "P wave axis"),
    "qrs_axis": ("8632-2", "QRS axis"),
    "t_axis": ("8638-9", "T wave axis"),  # check digit verified (8638-1 is not a valid LOINC code)
}

# statement key -> (SNOMED CT code, display)
SNOMED_ECG: dict[str, tuple[str, str]] = {
    "sinus_rhythm": ("426783006", "Sinus rhythm"),
    "sinus_bradycardia": ("426177001", "Sinus bradycardia"),
    "sinus_tachycardia": ("427084000", "Sinus tachycardia"),
    "sinus_arrhythmia": ("427393009", "Sinus arrhythmia"),
    "atrial_fibrillation": ("164889003", "Atrial fibrillation"),
    "atrial_flutter": ("164890007", "Atrial flutter"),
    "first_degree_av_block": ("270492004", "First degree atrioventricular block"),
    "second_degree_av_block_2_to_1": ("195042002", "2nd degree AV block"),
    "mobitz_i_av_block": ("54016002", "Mobitz type I Wenckebach atrioventricular block"),
    "mobitz_ii_av_block": ("28189009", "Mobitz type II atrioventricular block"),
    "third_degree_av_block": ("27885002", "Complete heart block"),
    "lbbb": ("164909002", "Left bundle branch block"),
    "rbbb": ("59118001", "Right bundle branch block"),
    "incomplete_rbbb": ("713426002", "Incomplete right bundle branch block"),
    "incomplete_lbbb": ("251120003", "Incomplete left bundle branch block"),
    "lafb": ("445118002", "Left anterior fascicular block"),
    "lpfb": ("445211001", "Left posterior fascicular block"),
    "nonspecific_ivcd": ("698252002", "Nonspecific intraventricular conduction disorder"),
    "left_axis_deviation": ("39732003", "Left axis deviation"),
    "right_axis_deviation": ("47665007", "Right axis deviation"),
    "lvh_voltage": ("164873001", "Left ventricular hypertrophy"),
    "low_qrs_voltage": ("251146004", "Low QRS voltages"),
    "long_qtc": ("111975006", "Prolonged QT interval"),
    "st_elevation": ("164931005", "ST elevation"),
    "st_depression": ("429622005", "ST depression"),
    "pathological_q_waves": ("164917005", "Q wave abnormal"),
    "pvc": ("17338001", "Ventricular premature beats"),
    "pac": ("284470004", "Premature atrial contraction"),
    # CinC 2020 scored class "pacing rhythm" (PR); used for ventricular pacing only (the class CinC labelled with it)
    "ventricular_paced_rhythm": ("10370003", "Pacing rhythm"),
}


def loinc(name: str) -> Code | None:
    entry = LOINC_ECG.get(name)
    return Code(system=LOINC, code=entry[0], display=entry[1]) if entry else None


def snomed(key: str) -> Code | None:
    entry = SNOMED_ECG.get(key)
    return Code(system=SNOMED, code=entry[0], display=entry[1]) if entry else None
