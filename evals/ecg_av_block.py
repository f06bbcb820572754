"""Second- and third-degree AV block: detection on known truth, false calls on normal records.

Why one script for all of it: an AV-block rule is only useful if it finds
the blocks *and* stays silent on sinus rhythm, so both are counted in one
run and reported side by side.

    .venv/bin/python evals/ecg_av_block.py --db synthetic|ludb|cinc2017|mitdb|all [-v]

- synthetic: `experts/ecg/synthetic.py` records with exact truth — complete
  block (`dissociated_atrial_rate`), 2:1, Mobitz I (3:2, 4:3), Mobitz II
  (3:2, 4:3) over several rates and seeds, and sinus rhythm 50–110/min
  with PR 160 and 260 ms (false calls).
- ludb: all 200 records. Groups: "III degree AV-block" (5, all ventricular-
  paced), "I degree AV block", sinus rhythm without AV block or pacing
  (normal-sinus), all others.
- cinc2017: the 600 single-lead records by label (N, A, O, ~).
- mitdb: the MIT-BIH records in ../shared (none has a BII episode).

Prints, per group, how many records got each AV-block statement as
`present` and as `indeterminate`; `-v` lists the records with any such
statement and their measured AV values.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "ecg"

AV_KEYS = ("third_degree_av_block", "second_degree_av_block_2_to_1", "mobitz_i_av_block", "mobitz_ii_av_block")
SHOW = ("heart_rate", "av_atrial_rate", "av_atrial_ventricular_ratio", "av_pq_min", "av_pq_max", "av_nonconducted_p",
        "av_atrial_regularity", "av_p_consistency", "av_p_snr", "rr_cv")


def _av_statements(statements) -> dict[str, str]:
    return {s.id.split(".", 1)[1]: s.status for s in statements if s.id.split(".", 1)[1] in AV_KEYS}


def _values(measurements) -> str:
    items = {m.name: m for m in measurements} if isinstance(measurements, list) else measurements
    return ", ".join(f"{k} {items[k].value:.2f}" for k in SHOW if k in items)


class Tally:
    def __init__(self) -> None:
        self.n: Counter = Counter()
        self.calls: dict[str, Counter] = defaultdict(Counter)
        self.lines: list[str] = []

    def add(self, group: str, name: str, av: dict[str, str], values: str) -> None:
        self.n[group] += 1
        for k, st in av.items():
            if st in ("present", "indeterminate"):
                self.calls[group][(k, st)] += 1
        if any(st in ("present", "indeterminate") for st in av.values()):
            self.lines.append(f"  {group:28s} {name:28s} {av}  [{values}]")

    def report(self, title: str, verbose: bool) -> None:
        print(f"\n== {title}")
        for g in sorted(self.n):
            c = self.calls[g]
            pres = sum(v for (k, st), v in c.items() if st == "present")
            ind = sum(v for (k, st), v in c.items() if st == "indeterminate")
            detail = ", ".join(f"{k} {st} {v}" for (k, st), v in sorted(c.items()))
            print(f"{g:28s} n={self.n[g]:4d}  AV-block present {pres}, indeterminate {ind}" + (f"  ({detail})" if detail else ""))
        if verbose and self.lines:
            print("\n".join(self.lines))


def synthetic(verbose: bool) -> None:
    from experts.ecg.synthetic import synthesize
    from tests.ecg.test_qt_reliability import analyse

    cases = []
    for seed in range(3):
        for vent, atr in ((35, 75), (40, 80), (40, 90), (45, 100), (50, 70)):
            cases.append(("third_degree_av_block", dict(hr=vent, dissociated_atrial_rate=atr, qt_ms=440.0, seed=seed)))
        for atr in (70, 90, 110):
            cases.append(("second_degree_av_block_2_to_1", dict(hr=atr, av_block="2:1", seed=seed)))
            cases.append(("mobitz_i_av_block", dict(hr=atr, av_block="mobitz1", conduction=4, seed=seed)))
            cases.append(("mobitz_i_av_block", dict(hr=atr, av_block="mobitz1", conduction=3, wenckebach_increments_ms=(120.0,), seed=seed)))
            cases.append(("mobitz_ii_av_block", dict(hr=atr, av_block="mobitz2", conduction=4, seed=seed)))
            cases.append(("mobitz_ii_av_block", dict(hr=atr, av_block="mobitz2", conduction=3, seed=seed)))
        for hr in (50, 70, 90, 110):
            for pr in (160, 260):
                cases.append(("sinus", dict(hr=hr, pr_ms=pr, seed=seed)))
    t = Tally()
    correct = Counter()
    for truth, kw in cases:
        an = analyse(*synthesize(**kw)[:2])
        av = _av_statements(an.statements)
        t.add(truth, str(kw), av, _values(an.measurements.items))
        if truth == "sinus":
            correct[truth] += not any(st == "present" for st in av.values())
        else:
            correct[truth] += av.get(truth) == "present" and sum(st == "present" for st in av.values()) == 1
    t.report("synthetic (truth = group)", verbose)
    for g in sorted(t.n):
        what = "no AV-block call" if g == "sinus" else "exactly the true statement present"
        print(f"  {g:28s} {what}: {correct[g]}/{t.n[g]}")


def _run(folder: Path, record: str, context: dict | None = None):
    from evals.ecg_accuracy_statements import run_tool

    return run_tool(folder, record, context)


def ludb(verbose: bool) -> None:
    root = DATA / "ludb"
    t = Tally()
    for row in sorted(csv.DictReader(open(root / "ludb.csv", newline="", encoding="utf-8")), key=lambda r: int(r["ID"])):
        rid = row["ID"]
        hea = (root / "data" / f"{rid}.hea").read_text(errors="replace")
        dx = " ".join(line for line in hea.splitlines() if line.startswith("#"))
        if "III degree AV-block" in dx:
            g = "III degree AV-block"
        elif "I degree AV block" in dx:
            g = "I degree AV block"
        elif "Rhythm: Sinus" in dx and "pacing" not in dx.lower() and "AV" not in dx:
            g = "sinus, no AV block/pacing"
        else:
            g = "other"
        res = _run(root / "data", rid)
        if isinstance(res, Exception):
            t.add(g, rid, {}, f"error {res}")
            continue
        t.add(g, rid, _av_statements(res.statements), _values(res.measurements))
    t.report("LUDB (all 200)", verbose)


def cinc2017(verbose: bool) -> None:
    root = DATA / "cinc2017"
    t = Tally()
    for rec, label in sorted(csv.reader(open(root / "REFERENCE.csv", newline=""))):
        res = _run(root, rec)
        if isinstance(res, Exception):
            t.add(label, rec, {}, "error")
            continue
        t.add(label, rec, _av_statements(res.statements), _values(res.measurements))
    t.report("CinC 2017 (600 single-lead, by label)", verbose)


def mitdb(verbose: bool) -> None:
    from evals.ecg_accuracy_mitdb import record_dirs

    t = Tally()
    for folder, rec in record_dirs():
        res = _run(folder, rec)
        if isinstance(res, Exception):
            t.add("MIT-BIH", rec, {}, "error")
            continue
        t.add("MIT-BIH", rec, _av_statements(res.statements), _values(res.measurements))
    t.report("MIT-BIH (30 min each)", verbose)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["synthetic", "ludb", "cinc2017", "mitdb", "all"], default="all")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    for name, fn in (("synthetic", synthetic), ("ludb", ludb), ("cinc2017", cinc2017), ("mitdb", mitdb)):
        if args.db in (name, "all"):
            fn(args.verbose)
    print(f"\n{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
