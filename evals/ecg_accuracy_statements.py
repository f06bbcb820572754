"""Statement accuracy of the ECG expert on LUDB and CinC 2017, fast.

Same truth as the `ecg-real` eval suite (the expectations come from
`evals/suites/ecg_real.py`, so the two cannot drift apart), but the tool is
called directly instead of through the agent, which makes a tuning loop
over 100 records take a minute or two instead of twenty.

Tuning / held-out discipline: LUDB odd record ids and the first half of
CinC 2017's REFERENCE.csv (sorted) are for decisions; LUDB even ids and the
second half of CinC 2017 are held out (`--subset tune|held-out|all`).

    .venv/bin/python evals/ecg_accuracy_statements.py --db ludb --subset held-out [--dump out.csv]
    .venv/bin/python evals/ecg_accuracy_statements.py --db cinc2017 --subset held-out

Prints, per expected statement, sensitivity (present labels the tool called
present) and specificity (absent labels the tool did not call present), with
how many present labels the tool left indeterminate; `--dump` writes one row
per record and statement for inspection.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "ecg"


def run_tool(folder: Path, record: str, context: dict | None = None):
    from experts.core.errors import InputError
    from experts.core.tool import ToolRequest
    from experts.core.types import PatientContext
    from experts.ecg.tool import ECGTool
    from tests.ecg.helpers import wfdb_study

    patient = PatientContext(**(context or {}))
    try:
        return ECGTool().run(
            ToolRequest(study=wfdb_study(folder, record), patient=patient, output_dir="/tmp/cardio-eval-statements", options={"make_plot": False})
        )
    except InputError as exc:
        return exc


def statement_keys(result) -> tuple[set[str], set[str]]:
    """(present keys, indeterminate keys) without the study-id prefix."""
    if isinstance(result, Exception):
        return set(), set()
    present = {s.id.split(".", 1)[1] for s in result.statements if s.status == "present"}
    indet = {s.id.split(".", 1)[1] for s in result.statements if s.status == "indeterminate"}
    return present, indet


def _matches(expect: dict, keys: set[str]) -> bool:
    pats = expect.get("any_of") or [expect["id"]]
    return any(fnmatch.fnmatchcase(k, p) for k in keys for p in pats)


def ludb_cases(subset: str) -> list[tuple[str, Path, str, list[dict], dict]]:
    from evals.suites.ecg_real import ludb_expectations

    root = DATA / "ludb"
    rows = sorted(csv.DictReader(open(root / "ludb.csv", newline="", encoding="utf-8")), key=lambda r: int(r["ID"]))
    out = []
    for row in rows:
        rid = int(row["ID"])
        if (subset == "tune" and rid % 2 == 0) or (subset == "held-out" and rid % 2 == 1):
            continue
        sex = {"f": "female", "m": "male"}.get(row["Sex"].strip().lower())
        age = row["Age"].strip()
        ctx = {"sex": sex} if sex else {}
        if age.isdigit():
            ctx["age_years"] = float(age)
        out.append((f"ludb-{rid}", root / "data", str(rid), ludb_expectations(row), ctx))
    return out


def cinc2017_cases(subset: str) -> list[tuple[str, Path, str, list[dict], dict]]:
    root = DATA / "cinc2017"
    ref = sorted(csv.reader(open(root / "REFERENCE.csv", newline="")))
    half = len(ref) // 2
    chosen = ref[:half] if subset == "tune" else ref[half:] if subset == "held-out" else ref
    out = []
    for rec, label in chosen:
        st = [{"id": "atrial_fibrillation", "status": "present" if label == "A" else "absent"}]
        if label == "N":
            st.append({"any_of": ["sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia"], "name": "sinus (any rate)", "status": "present"})
        out.append((f"cinc2017-{rec}-{label}", root, rec, st, {}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["ludb", "cinc2017"], default="ludb")
    ap.add_argument("--subset", choices=["tune", "held-out", "all"], default="held-out")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--dump", type=Path, default=None)
    args = ap.parse_args()
    cases = (ludb_cases if args.db == "ludb" else cinc2017_cases)(args.subset)
    if args.limit:
        cases = cases[: args.limit]
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])  # tp, fn, tn, fp, indeterminate-when-present
    rows = []
    t0 = time.time()
    errors = 0
    for case_id, folder, rec, expects, ctx in cases:
        res = run_tool(folder, rec, ctx)
        errors += isinstance(res, Exception)
        present, indet = statement_keys(res)
        for e in expects:
            name = e.get("name") or e["id"]
            got = _matches(e, present)
            s = stats[name]
            if e["status"] == "present":
                s[0 if got else 1] += 1
                s[4] += (not got) and _matches(e, indet)
            else:
                s[3 if got else 2] += 1
            rows.append({"case": case_id, "statement": name, "expected": e["status"], "got_present": got, "indeterminate": _matches(e, indet)})
    dt = time.time() - t0
    print(f"{args.db} {args.subset}: {len(cases)} records, {errors} input errors, {dt:.0f} s\n")
    print("| statement | sensitivity | specificity | present left indeterminate |\n|---|---|---|---|")
    for name in sorted(stats):
        tp, fn, tn, fp, ind = stats[name]
        se = f"{tp / (tp + fn):.2f} ({tp}/{tp + fn})" if tp + fn else "—"
        sp = f"{tn / (tn + fp):.2f} ({tn}/{tn + fp})" if tn + fp else "—"
        print(f"| {name} | {se} | {sp} | {ind} |")
    if args.dump:
        with open(args.dump, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
