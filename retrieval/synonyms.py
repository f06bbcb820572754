"""Clinical abbreviations and spellings, folded so query and statement meet.

Why: clinicians type "HFrEF", "LBBB", "EF 30%", "ischemia", "lysis"; a
statement may say "heart failure with reduced ejection fraction",
"left bundle-branch block", "LVEF", "ischaemia", "fibrinolysis". BM25 only
matches tokens it sees, and the small MiniLM embedder knows few cardiology
abbreviations. Two principled, content-independent steps close that gap:

1. `fold_spelling` maps British to American spelling (ischaemia → ischemia,
   -isation → -ization). It is applied to every text BM25 sees, statement
   and query alike, so it can never favour one statement over another.
2. `expand` appends, for every abbreviation or long form found in a text,
   its counterpart ("LBBB" → "left bundle branch block"; "left bundle-branch
   block" or "left bundle block" → "LBBB"). Applied symmetrically to
   statements and queries for BM25. The dense embedder gets the raw text:
   spelling abbreviations out for MiniLM lowered its tune recall@5
   (0.831 → 0.824), so `spell_out_abbreviations` is kept for callers only.

The table lists standard cardiology abbreviations (as used in the ESC/ACC/AHA
guidelines themselves) and a few lay or colloquial names. It was written from
clinical usage, not from the question set; its effect was measured on the tune
split only (see retrieval/README.md).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Each group: names that mean the same thing. The first entry is the short
# form. Matching is case-insensitive on word boundaries; hyphens and spaces
# are interchangeable ("bundle-branch" = "bundle branch").
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    # rhythm and conduction
    ("AF", "atrial fibrillation"),
    ("AFL", "atrial flutter"),
    ("LBBB", "left bundle branch block", "left bundle block"),
    ("RBBB", "right bundle branch block", "right bundle block"),
    ("BBB", "bundle branch block"),
    ("LAFB", "left anterior fascicular block", "left anterior hemiblock"),
    ("LPFB", "left posterior fascicular block", "left posterior hemiblock"),
    ("IVCD", "intraventricular conduction disturbance", "intraventricular conduction delay"),
    ("AV block", "atrioventricular block", "heart block"),
    ("complete heart block", "third degree AV block", "complete AV block"),
    ("Wenckebach", "Mobitz type I", "Mobitz I"),
    ("Mobitz II", "Mobitz type II"),
    ("SND", "sinus node dysfunction", "sick sinus syndrome"),
    ("WPW", "Wolff Parkinson White", "preexcitation", "pre-excitation"),
    ("VT", "ventricular tachycardia"),
    ("VF", "ventricular fibrillation"),
    ("NSVT", "non-sustained ventricular tachycardia"),
    ("PVC", "premature ventricular complex", "premature ventricular contraction", "ventricular ectopic"),
    ("SCD", "sudden cardiac death"),
    ("LQTS", "long QT syndrome", "long QT"),
    ("SQTS", "short QT syndrome", "short QT"),
    ("CPVT", "catecholaminergic polymorphic ventricular tachycardia"),
    ("LVH", "left ventricular hypertrophy"),
    ("RVH", "right ventricular hypertrophy"),
    ("EP study", "electrophysiological study", "EPS"),
    # devices and procedures
    ("ICD", "implantable cardioverter defibrillator", "defibrillator"),
    ("CRT", "cardiac resynchronization therapy", "biventricular pacing"),
    # "pacemaker" alone is often the device a patient already has ("AHRE on
    # a dual-chamber pacemaker"), not an indication for pacing; only the
    # phrases that mean implanting one equal "permanent pacing". (Round 3,
    # tune split: overall hybrid recall@5 unchanged, BM25 MRR on the tune
    # queries that say "pacemaker" 0.52 -> 0.65; see retrieval/README.md.)
    ("permanent pacing", "permanent pacemaker", "pacemaker implantation", "pacemaker implant"),
    ("PCI", "percutaneous coronary intervention", "stent"),
    ("CABG", "coronary artery bypass grafting", "bypass surgery"),
    ("TAVI", "transcatheter aortic valve implantation", "TAVR", "transcatheter aortic valve replacement"),
    ("LAAO", "left atrial appendage occlusion", "left atrial appendage closure"),
    ("fibrinolysis", "thrombolysis", "lysis"),
    # ischaemia and infarction
    ("MI", "myocardial infarction", "infarct", "heart attack"),
    ("STEMI", "ST elevation myocardial infarction"),
    ("NSTEMI", "non ST elevation myocardial infarction"),
    ("NSTE-ACS", "non ST elevation acute coronary syndrome"),
    ("ACS", "acute coronary syndrome"),
    ("CCS", "chronic coronary syndrome", "stable angina"),
    ("CAD", "coronary artery disease"),
    ("MINOCA", "myocardial infarction with non obstructive coronary arteries"),
    ("CCTA", "coronary CT angiography"),
    ("hs-cTn", "high sensitivity troponin", "high sensitivity cardiac troponin"),
    ("URL", "upper reference limit"),
    # heart failure and cardiomyopathy
    ("HF", "heart failure"),
    ("HFrEF", "heart failure with reduced ejection fraction"),
    ("HFmrEF", "heart failure with mildly reduced ejection fraction"),
    ("HFpEF", "heart failure with preserved ejection fraction"),
    ("HFimpEF", "heart failure with improved ejection fraction"),
    ("LVEF", "left ventricular ejection fraction", "ejection fraction", "EF"),
    ("RVEF", "right ventricular ejection fraction"),
    ("HCM", "hypertrophic cardiomyopathy"),
    ("DCM", "dilated cardiomyopathy"),
    ("NDLVC", "non dilated left ventricular cardiomyopathy"),
    ("ARVC", "arrhythmogenic right ventricular cardiomyopathy"),
    ("RCM", "restrictive cardiomyopathy"),
    ("LVNC", "LV non-compaction", "left ventricular non compaction", "hypertrabeculation"),
    ("NYHA", "New York Heart Association"),
    ("GDMT", "guideline directed medical therapy", "OMT", "optimal medical therapy"),
    ("BNP", "natriuretic peptide"),
    # drugs
    ("OAC", "oral anticoagulation", "anticoagulant", "blood thinner"),
    ("DOAC", "direct oral anticoagulant", "NOAC", "apixaban", "rivaroxaban", "edoxaban", "dabigatran"),
    ("VKA", "vitamin K antagonist", "warfarin"),
    ("ARNI", "angiotensin receptor neprilysin inhibitor", "sacubitril valsartan", "ARNi"),
    ("ACEi", "ACE inhibitor", "angiotensin converting enzyme inhibitor"),
    ("ARB", "angiotensin receptor blocker"),
    ("MRA", "mineralocorticoid receptor antagonist", "spironolactone", "eplerenone"),
    ("SGLT2i", "SGLT2 inhibitor", "dapagliflozin", "empagliflozin"),
    ("DAPT", "dual antiplatelet therapy"),
    ("CCB", "calcium channel blocker"),
    # imaging and measurements
    ("TTE", "transthoracic echocardiography", "echocardiogram", "echo"),
    ("TOE", "transoesophageal echocardiography", "TEE"),
    ("CMR", "cardiac magnetic resonance", "cardiac MRI", "MRI"),
    ("LGE", "late gadolinium enhancement", "scar"),
    ("ECV", "extracellular volume"),
    ("GLS", "global longitudinal strain"),
    ("TAPSE", "tricuspid annular plane systolic excursion"),
    ("FAC", "fractional area change"),
    ("LAVI", "left atrial volume index", "LA volume index"),
    ("RWT", "relative wall thickness"),
    ("LVOT", "left ventricular outflow tract", "LV outflow tract"),
    ("TR velocity", "tricuspid regurgitation velocity", "TR jet"),
    ("IVC", "inferior vena cava"),
    ("LVIDd", "LV internal diastolic diameter", "LV end-diastolic diameter", "LVEDD"),
    ("LVEDV", "LV end-diastolic volume", "left ventricular end diastolic volume"),
    ("LVESV", "LV end-systolic volume", "left ventricular end systolic volume"),
    ("BSA", "body surface area"),
    ("PYP", "pyrophosphate", "bone scintigraphy"),
    ("HR", "heart rate"),
    ("ECG", "electrocardiogram", "EKG"),
)

# British → American spellings, by word stem (applied to whole words).
_SPELLING = (
    (re.compile(r"aemi", re.I), "emi"),          # ischaemia, anaemia, hypokalaemia
    (re.compile(r"\bhaem", re.I), "hem"),        # haemodynamic, haematocrit
    (re.compile(r"\boedem", re.I), "edem"),      # oedema
    (re.compile(r"\boesophag", re.I), "esophag"),
    (re.compile(r"\btransoesophag", re.I), "transesophag"),
    (re.compile(r"\bpaediat", re.I), "pediat"),
    (re.compile(r"(?<=[a-z])is(e|ed|es|ing|ation|ations)\b", re.I), r"iz\1"),
    (re.compile(r"\bcentre", re.I), "center"),
    (re.compile(r"\bmanoeuvre", re.I), "maneuver"),
)


def fold_spelling(text: str) -> str:
    """British spellings to American, identically for every text."""
    for pattern, repl in _SPELLING:
        text = pattern.sub(repl, text)
    return text


def _phrase_pattern(phrase: str) -> str:
    parts = re.split(r"[\s\-]+", phrase.strip())
    return r"(?<![A-Za-z0-9])" + r"[\s\-]+".join(re.escape(p) for p in parts) + r"(?![A-Za-z0-9])"


@lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[tuple[re.Pattern[str], str, str], ...], ...]:
    """Per group, (pattern, name, first word lower-cased) for each member,
    short form first. The first word is a cheap substring pre-check: the
    pattern cannot match unless it occurs, so most regexes never run."""
    return tuple(
        tuple(
            (re.compile(_phrase_pattern(name), re.I), name, re.split(r"[\s\-]+", name.strip())[0].lower())
            for name in dict.fromkeys(group)
        )
        for group in SYNONYM_GROUPS
    )


def synonyms_in(text: str) -> list[str]:
    """For each synonym group `text` mentions, the names to add.

    A group is represented by its canonical pair (short form, main long form):
    a text that uses the short form gains the long form; a text that uses any
    other name gains the short form. Lay names are not added to one another
    ("dapagliflozin" does not pull in "empagliflozin"), which keeps the
    expansion from flooding short queries with frequent terms. Measured on the
    tune split only: BM25 recall@5 0.911 -> 0.930 with this rule versus 0.927
    when every member of a group is added (retrieval/README.md).
    """
    added: dict[str, None] = {}
    lowered = text.lower()
    for members in _compiled():
        (short_pattern, short, short_word), main = members[0], members[1][1]
        for i, (pattern, name, first_word) in enumerate(members):
            if first_word not in lowered or not pattern.search(text):
                continue
            if i == 0:
                if main.lower() not in lowered:
                    added.setdefault(main, None)
            elif short_word not in lowered or not short_pattern.search(text):
                added.setdefault(short, None)
            break
    return list(added)


def expand(text: str) -> str:
    """`text` followed by the synonyms of what it mentions (for BM25)."""
    extra = synonyms_in(text)
    return f"{text} {' '.join(extra)}" if extra else text


@lru_cache(maxsize=1)
def _abbreviation_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    out = []
    for group in SYNONYM_GROUPS:
        short, long_form = group[0], group[1]
        # Only true abbreviations (upper-case letters in the short form), spelled out once.
        if any(c.isupper() for c in short):
            out.append((re.compile(_phrase_pattern(short)), long_form))
    return tuple(out)


def spell_out_abbreviations(text: str) -> str:
    """Query text with each abbreviation's long form added in parentheses
    ("LBBB" → "LBBB (left bundle branch block)") for the dense embedder.
    Case-sensitive, so English words ("af", "mi") are left alone."""
    for pattern, long_form in _abbreviation_patterns():
        text = pattern.sub(lambda m, lf=long_form: f"{m.group(0)} ({lf})", text, count=1)
    return text
