"""What the ECG expert concludes on the real records in ../shared/data/ecg,
next to each database's own label.

Three parts:
 1. the single records (MIT-BIH 100, PTB s0010_re, MAC test01_00s, CinC 2015
    a103l / v102s false alarms, MIMIC 03700181): a table of label vs tool;
 2. CinC 2020 (28 12-lead records with SNOMED CT `#Dx`): per SNOMED code the
    tool can emit, how often the tool and the label agree;
 3. LUDB (200 records): rhythm and conduction labels vs the tool's statements.

    .venv/bin/python evals/ecg_accuracy_records.py [--part 1 2 3]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "ecg"

SINGLE = [
    ("100", "MIT-BIH: normal sinus rhythm; 33 APC, 1 PVC"),
    ("s0010_re", "PTB: acute infero-lateral myocardial infarction (81 y F)"),
    ("test01_00s", "MAC: healthy 25-year-old man"),
    ("a103l", "CinC 2015: 'Asystole' alarm, adjudicated FALSE"),
    ("v102s", "CinC 2015: 'Ventricular tachycardia' alarm, adjudicated FALSE"),
    ("03700181", "MIMIC: ICU monitoring, no diagnostic label"),
]


def run(folder: Path, record: str):
    from experts.core.errors import InputError
    from experts.core.tool import ToolRequest
    from experts.ecg.tool import ECGTool
    from tests.ecg.helpers import wfdb_study

    try:
        return ECGTool().run(ToolRequest(study=wfdb_study(folder, record), output_dir="/tmp/cardio-eval-records", options={"make_plot": False}))
    except InputError as exc:
        return exc


def summary(res) -> str:
    if isinstance(res, Exception):
        return f"input error: {res}"
    present = [s.label for s in res.statements if s.status == "present"]
    indet = [s.label for s in res.statements if s.status == "indeterminate"]
    m = {x.name: x for x in res.measurements}
    hr = f"HR {m['heart_rate'].value:.0f}/min" if "heart_rate" in m else "no rate"
    txt = f"[{res.quality.verdict}] {hr}; " + ("; ".join(present) or "no finding present")
    if indet:
        txt += "; indeterminate: " + "; ".join(indet)
    return txt


def part1() -> None:
    print("## Single records\n\n| record | database label | tool |\n|---|---|---|")
    for rec, label in SINGLE:
        print(f"| {rec} | {label} | {summary(run(DATA, rec))} |")


def part2() -> None:
    from experts.ecg.codes import SNOMED_ECG

    ours = {code: key for key, (code, _) in SNOMED_ECG.items()}
    # the Challenge scores these pairs as one diagnosis
    same = {"59118001": "713427006", "713427006": "59118001", "17338001": "427172004", "427172004": "17338001", "284470004": "63593006", "63593006": "284470004"}
    counts = defaultdict(lambda: [0, 0, 0])  # tp, label only, tool only
    folder = DATA / "cinc2020"
    print("\n## CinC 2020 (12-lead, SNOMED CT labels)\n")
    for hea in sorted(folder.glob("*.hea")):
        text = hea.read_text(errors="replace")
        m = re.search(r"#\s*Dx:\s*([\d,\s]+)", text)
        label_codes = {c.strip() for c in (m.group(1).split(",") if m else []) if c.strip()}
        label_codes |= {same[c] for c in list(label_codes) if c in same}
        res = run(folder, hea.stem)
        tool_codes = set()
        if not isinstance(res, Exception):
            for s in res.statements:
                if s.status == "present" and s.code is not None:
                    tool_codes.add(s.code.code)
        print(f"- {hea.stem}: label {sorted(c for c in label_codes if c in ours) or '—'}; tool {sorted(tool_codes) or '—'}; {summary(res)}")
        for code in ours:
            lab, got = code in label_codes, code in tool_codes
            if lab and got:
                counts[code][0] += 1
            elif lab:
                counts[code][1] += 1
            elif got:
                counts[code][2] += 1
    print("\n| finding | SNOMED | both | label only | tool only |\n|---|---|---|---|---|")
    for code, (tp, fn, fp) in sorted(counts.items(), key=lambda kv: -sum(kv[1])):
        if tp + fn + fp:
            print(f"| {SNOMED_ECG[ours[code]][1]} | {code} | {tp} | {fn} | {fp} |")


LUDB_MAP = {
    "Sinus rhythm": "sinus_rhythm", "Sinus bradycardia": "sinus_bradycardia", "Sinus tachycardia": "sinus_tachycardia",
    "Atrial fibrillation": "atrial_fibrillation", "I degree AV block": "first_degree_av_block",
    "Complete right bundle branch block": "rbbb", "Incomplete right bundle branch block": "incomplete_rbbb",
    "Complete left bundle branch block": "lbbb", "Incomplete left bundle branch block": "incomplete_lbbb",
    "Left anterior hemiblock": "lafb", "Left ventricular hypertrophy": "lvh_voltage",
}


def part3() -> None:
    folder = DATA / "ludb" / "data"
    rows = list(csv.DictReader(open(DATA / "ludb" / "ludb.csv", newline="")))
    counts = defaultdict(lambda: [0, 0, 0])
    verdicts = defaultdict(int)
    for row in rows:
        labels_text = " | ".join(str(v) for v in row.values())
        res = run(folder, row["ID"].strip())
        present = set()
        if not isinstance(res, Exception):
            verdicts[res.quality.verdict] += 1
            present = {s.id.split(".", 1)[1] for s in res.statements if s.status == "present"}
        for text, key in LUDB_MAP.items():
            lab = re.search(r"(?<![A-Za-z])" + re.escape(text), labels_text, re.I) is not None
            if text == "Sinus rhythm":
                lab = bool(re.search(r"(^|\|)\s*Sinus rhythm", labels_text))
            got = key in present
            counts[key][0 if lab and got else 1 if lab else 2 if got else 0] += 1 if (lab or got) else 0
    print(f"\n## LUDB (200 records; quality verdicts {dict(verdicts)})\n")
    print("Amplitude criteria are off for records whose limb leads fail the Einthoven check (see the tool's quality reasons).\n")
    print("| LUDB label | tool statement | both | label only | tool only |\n|---|---|---|---|---|")
    for text, key in LUDB_MAP.items():
        tp, fn, fp = counts[key]
        print(f"| {text} | {key} | {tp} | {fn} | {fp} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", type=int, nargs="*", default=[1, 2, 3])
    args = ap.parse_args()
    for p in args.part:
        {1: part1, 2: part2, 3: part3}[p]()


if __name__ == "__main__":
    main()
