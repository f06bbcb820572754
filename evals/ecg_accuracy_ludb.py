"""Global PR / QRS / QT of the ECG expert against LUDB's cardiologists.

Truth: LUDB v1.0.1 (Kalyakulina et al. 2020) annotates P, QRS and T onset,
peak and offset in each of the 12 leads. For each annotated beat we take
the earliest onset and the latest offset across leads (the same global
definition the expert uses) — by default the second earliest/latest, so
one lead's stray mark does not decide (`--strict` for the extreme) — then
the median over beats of the record.
The expert's value comes from its multi-lead median beat.

    .venv/bin/python evals/ecg_accuracy_ludb.py [--data ../shared/data/ecg/ludb/data] [--subset odd|even|all] [--csv out.csv]

Prints bias ± SD, MAE and the 90th percentile of |error| per interval, and
the number of records where the expert or the truth had no value.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "data" / "ecg" / "ludb" / "data"
LEADS = ["i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"]


def ludb_truth(record_path: Path, strict: bool = False) -> dict[str, float]:
    """Median over beats of global PR, QRS, QT (ms) from the 12 lead annotations.

    Global boundaries are the earliest onset and latest offset across the
    annotated leads. By default the *second* earliest/latest is used, so one
    lead's stray annotation (LUDB has a few T ends 50–100 ms past the others)
    does not define the record; `strict=True` uses the extreme lead.
    """
    import wfdb

    waves: dict[str, list[tuple[int, int, int]]] = {"p": [], "N": [], "t": []}
    for lead in LEADS:
        ann = wfdb.rdann(str(record_path), lead)
        s, sym = list(ann.sample), list(ann.symbol)
        for i in range(1, len(sym) - 1):
            if sym[i] in waves and sym[i - 1] == "(" and sym[i + 1] == ")":
                waves[sym[i]].append((int(s[i - 1]), int(s[i]), int(s[i + 1])))
    fs = 500.0
    k = 0 if strict else 1

    def first(vals: list[int]) -> int:
        v = sorted(vals)
        return v[min(k, len(v) - 1)]

    def last(vals: list[int]) -> int:
        v = sorted(vals)
        return v[max(len(v) - 1 - k, 0)]

    qrs = sorted(waves["N"], key=lambda w: w[1])
    # cluster QRS annotations of the 12 leads into beats (peaks within 60 ms)
    beats: list[list[tuple[int, int, int]]] = []
    for w in qrs:
        if beats and w[1] - np.median([b[1] for b in beats[-1]]) <= 0.06 * fs:
            beats[-1].append(w)
        else:
            beats.append([w])
    pr, qd, qt = [], [], []
    for b in beats:
        if len(b) < 6:  # annotated in too few leads to be a global boundary
            continue
        on, off, pk = first([w[0] for w in b]), last([w[2] for w in b]), float(np.median([w[1] for w in b]))
        qd.append((off - on) / fs * 1000)
        ps = [w for w in waves["p"] if 0 < pk - w[1] < 0.45 * fs]
        if len(ps) >= 3:
            pr.append((on - first([w[0] for w in ps])) / fs * 1000)
        ts = [w for w in waves["t"] if 0 < w[1] - pk < 0.7 * fs]
        if len(ts) >= 3:
            qt.append((last([w[2] for w in ts]) - on) / fs * 1000)
    out = {}
    for name, vals in (("pr", pr), ("qrs", qd), ("qt", qt)):
        if vals:
            out[name] = float(np.median(vals))
    return out


def load_record(record_path: Path):
    """The record as the tool reads it (same reader, so LUDB's range-normalised
    per-lead gains are put on one common scale, see experts/ecg/io/gain_repair.py)."""
    from experts.ecg.io import load_study
    from tests.ecg.helpers import wfdb_study

    return load_study(wfdb_study(record_path.parent, record_path.name))


def expert_intervals(record_path: Path, params=None) -> dict[str, float]:
    from experts.ecg.beats import detect_beats
    from experts.ecg.delineate import delineate
    from experts.ecg.median_beat import build_median_beat
    from experts.ecg.pr_reliability import assess_pr
    from experts.ecg.qt_reliability import assess_qt
    from experts.ecg.quality import assess_record

    record = load_record(record_path)
    q = assess_record(record)
    beats = detect_beats(record, q)
    usable = [n for n in record.lead_names if q.leads[n].usable]
    sub = record.subset(usable)
    mb = build_median_beat(sub.signals, sub.lead_names, sub.fs, beats.r_peaks)
    if mb is None:
        return {}
    f = delineate(mb, params)
    out = {}
    if f.qrs_on is not None and f.qrs_off is not None:
        out["qrs"] = (f.qrs_off - f.qrs_on) / mb.fs * 1000
        # likewise PR only when the P onset is reproducible (pr_reliability.py)
        if f.p_on is not None and assess_pr(mb, f).measurable:
            out["pr"] = (f.qrs_on - f.p_on) / mb.fs * 1000
        # the tool reports QT only when the T-wave end passes its reliability check: score what the tool reports
        if f.t_end is not None and assess_qt(mb, f).measurable:
            out["qt"] = (f.t_end - f.qrs_on) / mb.fs * 1000
    return out


def summarise(rows: list[dict], name: str) -> str:
    pairs = [(r[f"{name}_expert"], r[f"{name}_truth"]) for r in rows if f"{name}_expert" in r and f"{name}_truth" in r]
    missing_expert = sum(1 for r in rows if f"{name}_truth" in r and f"{name}_expert" not in r)
    if not pairs:
        return f"{name.upper():4s} no pairs"
    e = np.array([a - b for a, b in pairs])
    return (
        f"{name.upper():4s} n={len(pairs):3d}  bias {e.mean():+6.1f} ± {e.std(ddof=1):5.1f} ms   MAE {np.abs(e).mean():5.1f} ms   "
        f"median|e| {np.median(np.abs(e)):5.1f}   P90|e| {np.percentile(np.abs(e), 90):5.1f} ms   "
        f"(truth present, expert missing: {missing_expert})"
    )


def run(data: Path, subset: str, params=None, verbose: bool = False, strict: bool = False) -> list[dict]:
    ids = sorted(int(p.stem) for p in data.glob("*.hea"))
    if subset == "odd":
        ids = [i for i in ids if i % 2 == 1]
    elif subset == "even":
        ids = [i for i in ids if i % 2 == 0]
    rows = []
    for i in ids:
        path = data / str(i)
        row: dict = {"record": i}
        for k, v in ludb_truth(path, strict=strict).items():
            row[f"{k}_truth"] = v
        try:
            for k, v in expert_intervals(path, params).items():
                row[f"{k}_expert"] = v
        except Exception as exc:  # report, keep going
            row["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
        if verbose:
            print(row, flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--subset", choices=["odd", "even", "all"], default="all")
    ap.add_argument("--csv", type=Path)
    ap.add_argument("--strict", action="store_true", help="truth from the single earliest/latest lead (default: second)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    rows = run(args.data, args.subset, verbose=args.verbose, strict=args.strict)
    print(f"LUDB records: {len(rows)} ({args.subset}, truth {'strict min/max' if args.strict else '2nd earliest/latest lead'}); errors: {sum('error' in r for r in rows)}; {time.time() - t0:.0f} s")
    for name in ("pr", "qrs", "qt"):
        print(summarise(rows, name))
    if args.csv:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.csv, index=False)
        print(f"per-record values: {args.csv}")


if __name__ == "__main__":
    main()
