"""A small corpus written for the tests, in the fixed corpus format.

Why not the real corpus: the tests must check ranking and filters against
entries whose content we control, and must run before (or without) the
full corpus. Thresholds are the published ones, paraphrased.
"""

from __future__ import annotations

from pathlib import Path

QT_FILE = """# Sample: ventricular arrhythmias (test corpus)
---
id: t-va-lqts-diagnosis
guideline: 2022 ESC Guidelines for the management of patients with ventricular arrhythmias and the prevention of sudden cardiac death
society: ESC
year: 2022
section: "7.2.1 Long QT syndrome: diagnosis"
recommendation_class: I
evidence_level: C
topics: [ecg, qt]
measurements: [qtc]
---
Long QT syndrome is diagnosed when the corrected QT interval is 480 ms or longer on repeated
12-lead ECGs, or when an LQTS risk score above 3 is present, in the absence of a secondary cause.
---
id: t-va-qtc-500-risk
guideline: 2022 ESC Guidelines for the management of patients with ventricular arrhythmias and the prevention of sudden cardiac death
society: ESC
year: 2022
section: "7.2.1 Long QT syndrome: risk"
recommendation_class: null
evidence_level: null
topics: [ecg, qt]
measurements: [qtc]
---
A QTc of 500 ms or more marks a high risk of torsades de pointes and arrhythmic events; QT-prolonging
drugs should be avoided and electrolytes corrected.
---
id: t-va-icd-secondary
guideline: 2022 ESC Guidelines for the management of patients with ventricular arrhythmias and the prevention of sudden cardiac death
society: ESC
year: 2022
section: "5.3 Secondary prevention"
recommendation_class: I
evidence_level: A
topics: [hf]
measurements: []
---
An implantable cardioverter-defibrillator is recommended after resuscitated cardiac arrest due to
ventricular fibrillation or haemodynamically non-tolerated ventricular tachycardia without a reversible cause.
"""

HF_FILE = """---
id: t-hf-definition-hfref
guideline: 2021 ESC Guidelines for the diagnosis and treatment of acute and chronic heart failure
society: ESC
year: 2021
section: "3.1 Definition of heart failure"
recommendation_class:
evidence_level:
topics: [hf, echo]
measurements: [lvef]
---
Heart failure with reduced ejection fraction (HFrEF) is defined by symptoms and signs of heart failure
with an LVEF of 40% or less; an LVEF of 41-49% defines mildly reduced ejection fraction (HFmrEF).
---
id: t-hf-sglt2
guideline: 2021 ESC Guidelines for the diagnosis and treatment of acute and chronic heart failure
society: ESC
year: 2021
section: "5.3 Drugs recommended in all patients with HFrEF"
recommendation_class: I
evidence_level: A
topics: [hf]
measurements: [lvef]
---
Dapagliflozin or empagliflozin is recommended for patients with HFrEF to reduce the risk of heart
failure hospitalisation and death, together with an ACE inhibitor or ARNI, a beta-blocker and an MRA.
---
id: t-hf-crt-lbbb
guideline: 2021 ESC Guidelines for the diagnosis and treatment of acute and chronic heart failure
society: ESC
year: 2021
section: "6.2 Cardiac resynchronization therapy"
recommendation_class: I
evidence_level: A
topics: [hf, conduction, ecg]
measurements: [lvef, qrs_duration]
---
Cardiac resynchronisation therapy is recommended for symptomatic patients in sinus rhythm with a QRS
duration of 150 ms or more and left bundle branch block morphology and an LVEF of 35% or less despite
optimal medical therapy.
"""

AF_FILE = """---
id: t-af-anticoag
guideline: 2024 ESC Guidelines for the management of atrial fibrillation
society: ESC
year: 2024
section: "5.1 Assessment of thromboembolic risk: CHA2DS2-VA"
recommendation_class: I
evidence_level: C
topics: [af]
measurements: []
---
Oral anticoagulation is recommended for patients with clinical atrial fibrillation and a CHA2DS2-VA
score of 2 or more to prevent ischaemic stroke and thromboembolism.
---
id: t-af-diagnosis
guideline: 2024 ESC Guidelines for the management of atrial fibrillation
society: ESC
year: 2024
section: "3.2 Diagnostic criteria for AF"
recommendation_class: I
evidence_level: A
topics: [af, ecg]
measurements: [heart_rate]
---
Confirming atrial fibrillation requires an ECG showing irregularly irregular RR intervals without
distinct repeating P waves, lasting 30 seconds on a single-lead tracing or the whole 12-lead ECG.
---
id: t-ecg-bradycardia
guideline: "AHA/ACCF/HRS Recommendations for the Standardization and Interpretation of the Electrocardiogram: Part I"
society: AHA/ACCF/HRS
year: 2007
section: Sinus rhythm and rate
recommendation_class:
evidence_level:
topics: [ecg]
measurements: [heart_rate]
---
A sinus rate below 50 beats per minute is called sinus bradycardia and a rate above 100 beats per
minute sinus tachycardia.
---
"""

SAMPLE_FILES = {"esc-va-2022.md": QT_FILE, "esc-hf-2021.md": HF_FILE, "esc-af-2024.md": AF_FILE}
SAMPLE_IDS = [
    "t-va-lqts-diagnosis", "t-va-qtc-500-risk", "t-va-icd-secondary",
    "t-hf-definition-hfref", "t-hf-sglt2", "t-hf-crt-lbbb",
    "t-af-anticoag", "t-af-diagnosis", "t-ecg-bradycardia",
]


def write_sample_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SAMPLE_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "README.md").write_text("# Not corpus\n---\nid: not-an-entry\n---\nignored\n", encoding="utf-8")
    return folder
