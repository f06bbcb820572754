"""QT-based statements on records where the database says "normal": how
often does the tool claim a short or long QTc on a normal CinC 2017
single-lead (AliveCor) record?

Why this eval: CinC 2017 labels rhythm only, so its scoring never sees a
false "short QTc"; yet on noisy one-lead tracings a missed T-wave end makes
QT short and every such record gets a false finding. A normal-rhythm
record is not proof of a normal QTc, so this counts claims, not errors:
the rate should be near the population prevalence of QTc ≤ 390 ms or
≥ 450/460 ms (a few per cent), and every claim should rest on a
measurable T wave.

    .venv/bin/python evals/ecg_accuracy_qt_noise.py --subset tune [--dump out.csv]
    .venv/bin/python evals/ecg_accuracy_qt_noise.py --subset held-out

Tuning / held-out split as evals/ecg_accuracy_statements.py (first / second
half of the sorted REFERENCE.csv); only records labelled N are used.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ROOT = REPO.parent / "shared" / "data" / "ecg" / "cinc2017"


def normal_records(subset: str) -> list[str]:
    ref = sorted(csv.reader(open(ROOT / "REFERENCE.csv", newline="")))
    half = len(ref) // 2
    chosen = ref[:half] if subset == "tune" else ref[half:] if subset == "held-out" else ref
    return [rec for rec, label in chosen if label == "N"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subset", choices=["tune", "held-out", "all"], default="tune")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--dump", type=Path, default=None)
    args = ap.parse_args()

    from experts.core.errors import InputError
    from experts.core.tool import ToolRequest
    from experts.core.types import PatientContext
    from experts.ecg.tool import ECGTool
    from tests.ecg.helpers import wfdb_study

    recs = normal_records(args.subset)[: args.limit]
    counts: Counter[str] = Counter()
    rows = []
    t0 = time.time()
    for rec in recs:
        try:
            res = ECGTool().run(ToolRequest(study=wfdb_study(ROOT, rec), patient=PatientContext(), output_dir="/tmp/cardio-eval-qt",
                                            options={"make_plot": False}))
        except InputError:
            counts["input_error"] += 1
            continue
        m = {x.id.split(".", 1)[1]: x.value for x in res.measurements}
        present = {s.id.split(".", 1)[1] for s in res.statements if s.status == "present"}
        counts["records"] += 1
        counts["qt_reported"] += "qt_interval" in m
        counts["short_qtc"] += "short_qtc" in present
        counts["long_qtc"] += "long_qtc" in present
        counts["qt_not_measurable_warning"] += any("QT not measurable" in w or "QT was not reported" in w for w in res.warnings)
        rows.append({"record": rec, "verdict": res.quality.verdict, "qt": m.get("qt_interval"), "qtc": m.get("qtc_framingham"),
                     "hr": m.get("heart_rate"), "short": "short_qtc" in present, "long": "long_qtc" in present})
    dt = time.time() - t0
    n = max(counts["records"], 1)
    print(f"CinC 2017 {args.subset}, N records: {len(recs)} ({counts['input_error']} input errors), {dt:.0f} s")
    print(f"QT reported: {counts['qt_reported']}/{n}; short QTc: {counts['short_qtc']}/{n}; long QTc: {counts['long_qtc']}/{n}; "
          f"'QT not measurable' warnings: {counts['qt_not_measurable_warning']}")
    if args.dump and rows:
        with open(args.dump, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
