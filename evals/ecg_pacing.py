"""Paced-rhythm statements against database truth.

* LUDB (500 Hz, 12 leads): the `#` diagnosis lines name pacing (UNIpolar/BIpolar
  ventricular, atrial, Biventricular pacing: 9 records); "Wandering atrial
  pacemaker" is not pacing. Paced records called paced, false calls on the
  other 191, and what becomes of the conduction / ST statements on the paced ones.
* CinC 2017 (300 Hz, single lead, no pacing label): every paced call is counted
  (expected ~0; a 300 Hz single-lead recording rarely shows a spike in ≥ 3 leads,
  so the detector cannot fire there by construction — the count checks that).
* MIT-BIH (360 Hz, 2 leads): the paced records 102, 104, 107, 217 are reported
  if present in ../shared; the others are not paced (false calls).

    OMP_NUM_THREADS=1 .venv/bin/python evals/ecg_pacing.py [--db ludb cinc2017 mitdb] [--minutes 5] [-v]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "ecg"
PACED_KEYS = ("ventricular_paced_rhythm", "atrial_paced_rhythm", "av_sequential_paced_rhythm")
MITDB_PACED = {"102", "104", "107", "217"}


def paced_status(statements) -> tuple[bool, bool, dict[str, str]]:
    st = {s.id.split(".", 1)[1]: s.status for s in statements}
    present = any(st.get(k) == "present" for k in PACED_KEYS)
    indet = not present and any(st.get(k) == "indeterminate" for k in PACED_KEYS)
    return present, indet, st


def ludb(verbose: bool) -> None:
    from evals.ecg_accuracy_statements import run_tool

    folder = DATA / "ludb" / "data"
    c: Counter = Counter()
    for i in sorted(int(p.stem) for p in folder.glob("*.hea")):
        lab = [ln[1:].strip().lower() for ln in (folder / f"{i}.hea").read_text().splitlines() if ln.startswith("#")]
        paced = any("pacing" in x for x in lab)
        res = run_tool(folder, str(i))
        if isinstance(res, Exception):
            c["error"] += 1
            continue
        pres, ind, st = paced_status(res.statements)
        g = "paced" if paced else "nonpaced"
        c[f"{g}_n"] += 1
        c[f"{g}_present"] += pres
        c[f"{g}_indet"] += ind
        if paced:
            c["paced_nondiagnostic"] += not res.statements
            for k, s in st.items():
                if s == "present" and k.split("_")[0] in ("lbbb", "rbbb", "nonspecific", "incomplete", "lvh", "st", "pathological",
                                                           "third", "second", "mobitz", "first", "long"):
                    c["paced_native_present"] += 1
                    if verbose:
                        print(f"  {i}: {k} present on a paced record")
        if verbose and (paced or pres or ind):
            m = {x.name: x.value for x in res.measurements if x.name.startswith("pacing_")}
            print(i, "paced" if paced else "-", "called" if pres else ("indeterminate" if ind else "not called"),
                  {k: v for k, v in st.items() if "paced" in k}, {k: round(v, 1) for k, v in m.items()})
    print(f"LUDB paced records called paced: {c['paced_present']}/{c['paced_n']} (indeterminate {c['paced_indet']}, "
          f"non-diagnostic {c['paced_nondiagnostic']}); native conduction/ST/AV/QTc statements present on them: "
          f"{c['paced_native_present']}")
    print(f"LUDB non-paced records called paced (false): {c['nonpaced_present']}/{c['nonpaced_n']} "
          f"(indeterminate {c['nonpaced_indet']}); errors {c['error']}")


def cinc2017(verbose: bool) -> None:
    from evals.ecg_accuracy_statements import run_tool

    root = DATA / "cinc2017"
    recs = sorted(p.stem for p in root.glob("*.hea"))
    c: Counter = Counter()
    for r in recs:
        res = run_tool(root, r)
        if isinstance(res, Exception):
            c["error"] += 1
            continue
        pres, ind, _ = paced_status(res.statements)
        c["n"] += 1
        c["present"] += pres
        c["indet"] += ind
        if verbose and (pres or ind):
            print(r, "called" if pres else "indeterminate")
    print(f"CinC 2017 called paced (no record is labelled paced): {c['present']}/{c['n']} (indeterminate {c['indet']}); "
          f"errors {c['error']}")


def mitdb(minutes: float, verbose: bool) -> None:
    from experts.core.types import PatientContext, Source
    from experts.ecg.io import load_study
    from experts.ecg.pipeline import AnalysisConfig, analyze_record
    from tests.ecg.helpers import wfdb_study

    folder = DATA / "mitdb"
    recs = sorted(p.stem for p in folder.glob("*.hea"))
    missing = sorted(MITDB_PACED - set(recs))
    c: Counter = Counter()
    for r in recs:
        rec = load_study(wfdb_study(folder, r), max_seconds=minutes * 60)
        an = analyze_record(rec, PatientContext(), "mit", Source(tool="eval", version="0"), AnalysisConfig(make_plot=False))
        pres, ind, _ = paced_status(an.statements)
        g = "paced" if r in MITDB_PACED else "nonpaced"
        c[f"{g}_n"] += 1
        c[f"{g}_present"] += pres
        c[f"{g}_indet"] += ind
        if verbose:
            spikes = an.measurements.items.get("pacing_spike_count") if an.measurements else None
            print(r, g, "called" if pres else ("indeterminate" if ind else "-"), "spikes", spikes.value if spikes else None)
    print(f"MIT-BIH ({minutes:g} min each): paced records in ../shared: {c['paced_n']} (missing: {', '.join(missing) or 'none'}); "
          f"called {c['paced_present']}/{c['paced_n']}; non-paced called paced (false): {c['nonpaced_present']}/{c['nonpaced_n']} "
          f"(indeterminate {c['nonpaced_indet']})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", nargs="+", choices=["ludb", "cinc2017", "mitdb"], default=["ludb", "cinc2017", "mitdb"])
    ap.add_argument("--minutes", type=float, default=5.0, help="MIT-BIH minutes read per record")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    if "ludb" in args.db:
        ludb(args.v)
    if "cinc2017" in args.db:
        cinc2017(args.v)
    if "mitdb" in args.db:
        mitdb(args.minutes, args.v)
    print(f"{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
