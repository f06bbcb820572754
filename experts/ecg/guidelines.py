"""The guideline references behind every threshold, in one place.

Why one module: a threshold is only as good as its citation. Each
reference names the document, its year and the section (by title where
we are not certain of a section number), so a reviewer can check it.
"""

from __future__ import annotations

from experts.core.types import GuidelineRef

BRADY_2018 = "2018 ACC/AHA/HRS Guideline on the Evaluation and Management of Patients With Bradycardia and Cardiac Conduction Delay"
SVT_2015 = "2015 ACC/AHA/HRS Guideline for the Management of Adult Patients With Supraventricular Tachycardia"
AHA_PART1 = "AHA/ACCF/HRS Recommendations for the Standardization and Interpretation of the ECG, Part I: The Electrocardiogram and Its Technology (Kligfield et al.)"
AHA_PART2 = "AHA/ACCF/HRS Recommendations for the Standardization and Interpretation of the Electrocardiogram, Part II: Electrocardiography Diagnostic Statement List (Mason et al.)"
AHA_PART3 = "AHA/ACCF/HRS Recommendations for the Standardization and Interpretation of the ECG, Part III: Intraventricular Conduction Disturbances (Surawicz et al.)"
AHA_PART4 = "AHA/ACCF/HRS Recommendations for the Standardization and Interpretation of the ECG, Part IV: The ST Segment, T and U Waves, and the QT Interval (Rautaharju et al.)"
AHA_PART5 = "AHA/ACCF/HRS Recommendations for the Standardization and Interpretation of the ECG, Part V: ECG Changes Associated With Cardiac Chamber Hypertrophy (Hancock et al.)"
AHA_PART6 = "AHA/ACCF/HRS Recommendations for the Standardization and Interpretation of the ECG, Part VI: Acute Ischemia/Infarction (Wagner et al.)"
UDMI_2018 = "Fourth Universal Definition of Myocardial Infarction (ESC/ACC/AHA/WHF, Thygesen et al.)"
ESC_AF_2024 = "2024 ESC Guidelines for the management of atrial fibrillation (Van Gelder et al.)"
VA_2017 = "2017 AHA/ACC/HRS Guideline for Management of Patients With Ventricular Arrhythmias and the Prevention of Sudden Cardiac Death"
MINNESOTA = "The Minnesota Code Manual of Electrocardiographic Findings, 2nd ed. (Prineas, Crow, Zhang)"
SOKOLOW = "Sokolow M, Lyon TP. The ventricular complex in left ventricular hypertrophy as obtained by unipolar precordial and limb leads. Am Heart J"
CORNELL = "Casale PN et al. Electrocardiographic detection of left ventricular hypertrophy: development and prospective validation of improved criteria (Cornell voltage). J Am Coll Cardiol"

REFS: dict[str, GuidelineRef] = {
    "sinus_bradycardia": GuidelineRef(guideline=BRADY_2018, year=2018, section="Sinus node dysfunction: definitions (sinus bradycardia: sinus rate <50 bpm)"),
    "sinus_pause": GuidelineRef(guideline=BRADY_2018, year=2018, section="Sinus node dysfunction: definitions (sinus pause >3 s)"),
    "first_degree_avb": GuidelineRef(guideline=BRADY_2018, year=2018, section="Atrioventricular block: definitions (first-degree AV block: PR >200 ms)"),
    "second_degree_avb": GuidelineRef(guideline=BRADY_2018, year=2018, section="Atrioventricular block: definitions (second-degree AV block: Mobitz I progressive PR lengthening before a non-conducted P wave; Mobitz II constant PR; 2:1 block cannot be typed from the PR)"),
    "third_degree_avb": GuidelineRef(guideline=BRADY_2018, year=2018, section="Atrioventricular block: definitions (third-degree AV block: no conducted P waves, AV dissociation, atrial rate faster than the ventricular rate)"),
    "sinus_tachycardia": GuidelineRef(guideline=SVT_2015, year=2015, section="Relevant terms and definitions (sinus tachycardia: sinus rate >100 bpm)"),
    "lbbb": GuidelineRef(guideline=AHA_PART3, year=2009, section="Complete left bundle-branch block"),
    "rbbb": GuidelineRef(guideline=AHA_PART3, year=2009, section="Complete right bundle-branch block"),
    "incomplete_rbbb": GuidelineRef(guideline=AHA_PART3, year=2009, section="Incomplete right bundle-branch block"),
    "incomplete_lbbb": GuidelineRef(guideline=AHA_PART3, year=2009, section="Incomplete left bundle-branch block"),
    "lafb": GuidelineRef(guideline=AHA_PART3, year=2009, section="Left anterior fascicular block"),
    "lpfb": GuidelineRef(guideline=AHA_PART3, year=2009, section="Left posterior fascicular block"),
    "ivcd": GuidelineRef(guideline=AHA_PART3, year=2009, section="Nonspecific intraventricular conduction disturbance"),
    "qtc": GuidelineRef(guideline=AHA_PART4, year=2009, section="QT interval: recommendations (prolonged QTc ≥450 ms men, ≥460 ms women; short QTc ≤390 ms)"),
    "qt_global": GuidelineRef(guideline=AHA_PART1, year=2007, section="Global intervals from simultaneously recorded leads (QT from the earliest QRS onset to the latest T-wave end)"),
    "atrial_flutter": GuidelineRef(guideline=SVT_2015, year=2015, section="Relevant terms and definitions (atrial flutter: macroreentrant atrial tachycardia)"),
    "st_elevation": GuidelineRef(guideline=UDMI_2018, year=2018, section="ECG manifestations of acute myocardial ischaemia (ST elevation)"),
    "st_depression": GuidelineRef(guideline=UDMI_2018, year=2018, section="ECG manifestations of acute myocardial ischaemia (ST depression)"),
    "st_depression_thresholds": GuidelineRef(guideline=AHA_PART6, year=2009, section="Threshold values for ST-segment changes (ST depression: ≥0.05 mV in V2–V3, ≥0.1 mV in all other leads, at the J point, in two anatomically contiguous leads)"),
    "st_t_secondary": GuidelineRef(guideline=AHA_PART4, year=2009, section="ST segment and T wave (secondary ST-T changes of bundle-branch block, pacing, preexcitation, hypertrophy)"),
    "heart_rate": GuidelineRef(guideline=BRADY_2018, year=2018, section="Sinus node dysfunction: definitions (sinus bradycardia <50 bpm; 50–60 bpm frequent in healthy people); upper limit 100 bpm = sinus tachycardia, 2015 ACC/AHA/HRS SVT guideline"),
    "pr_short": GuidelineRef(guideline=AHA_PART3, year=2009, section="Ventricular preexcitation (short PR <120 ms); upper limit: first-degree AV block PR >200 ms, 2018 ACC/AHA/HRS bradycardia guideline"),
    "qrs_axis": GuidelineRef(guideline=AHA_PART3, year=2009, section="Frontal plane QRS axis (normal adult axis −30° to +90°)"),
    "p_duration": GuidelineRef(guideline=AHA_PART5, year=2009, section="Left atrial abnormality (P wave ≥120 ms in lead II)"),
    "q_waves": GuidelineRef(guideline=UDMI_2018, year=2018, section="ECG changes associated with prior myocardial infarction"),
    "af": GuidelineRef(guideline=ESC_AF_2024, year=2024, section="Diagnostic criteria for AF (irregularly irregular RR intervals, no distinct repeating P waves)"),
    "paced_rhythm": GuidelineRef(guideline=AHA_PART2, year=2007, section="Diagnostic statement list: pacemaker function statements (paced rhythms are a statement category of their own; spike and capture thresholds are operational)"),
    "paced_secondary": GuidelineRef(guideline=AHA_PART6, year=2009, section="Ischemia with conduction disturbances (LBBB, ventricular pacing: secondary ST-T changes obscure ischaemia)"),
    "paced_q_confounder": GuidelineRef(guideline=UDMI_2018, year=2018, section="Conditions that confound the ECG diagnosis of MI (Q waves and ST-T changes with paced rhythm)"),
    "lad": GuidelineRef(guideline=MINNESOTA, year=2010, section="Code 2-1: left axis deviation (QRS axis −30° through −90°)"),
    "rad": GuidelineRef(guideline=MINNESOTA, year=2010, section="Codes 2-2 and 2-3: right axis deviation (QRS axis +90° through −150°)"),
    "af_duration": GuidelineRef(guideline=ESC_AF_2024, year=2024, section="Diagnostic criteria for AF (entire 12-lead ECG or ≥30 s of a single-lead tracing)"),
    "nsvt": GuidelineRef(guideline=VA_2017, year=2017, section="Definitions (nonsustained VT: ≥3 consecutive ventricular beats at >100 bpm, terminating within 30 s)"),
    "low_voltage": GuidelineRef(guideline=MINNESOTA, year=2010, section="Code 9-1: low QRS amplitude"),
    "sokolow_lyon": GuidelineRef(guideline=SOKOLOW, year=1949, section="SV1 + RV5 or RV6 > 3.5 mV"),
    "cornell": GuidelineRef(guideline=CORNELL, year=1985, section="Cornell voltage RaVL + SV3 > 2.8 mV men, > 2.0 mV women"),
}
