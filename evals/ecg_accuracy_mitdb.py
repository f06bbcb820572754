"""R-peak detection and beat classification against MIT-BIH reference annotations.

Beats are matched within 150 ms (the ANSI/AAMI EC57 window); reference
symbols are mapped to the AAMI classes N, S, V, F, Q. Reports per record and
pooled: R-peak sensitivity and PPV, heart-rate error (bpm, from matched
R-peak counts over the analysed span), and V / S sensitivity and PPV.

    .venv/bin/python evals/ecg_accuracy_mitdb.py [--records 100 101 ...] [--minutes 30]

Records default to examples/ecg/mitdb-100 plus every record in
../shared/data/ecg/mitdb.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

AAMI = {**{c: "N" for c in "NLRej"}, **{c: "S" for c in "AaJS"}, **{c: "V" for c in "VE"}, "F": "F", "/": "Q", "f": "Q", "Q": "Q"}


def record_dirs() -> list[tuple[Path, str]]:
    out = [(REPO / "examples" / "ecg" / "mitdb-100", "100")]
    shared = REPO.parent / "shared" / "data" / "ecg" / "mitdb"
    if shared.is_dir():
        out += [(shared, p.stem) for p in sorted(shared.glob("*.hea"))]
    return out


def evaluate(folder: Path, record: str, minutes: float) -> dict:
    import wfdb

    from experts.core.types import PatientContext, Source
    from experts.ecg.io import load_study
    from experts.ecg.pipeline import AnalysisConfig, analyze_record
    from tests.ecg.helpers import wfdb_study

    rec = load_study(wfdb_study(folder, record), max_seconds=minutes * 60)
    an = analyze_record(rec, PatientContext(), "mit", Source(tool="eval", version="0"), AnalysisConfig(make_plot=False))
    peaks = an.beats.r_peaks
    labels = an.beat_labels.labels if an.beat_labels is not None else np.full(peaks.size, "N")
    ann = wfdb.rdann(str(folder / record), "atr", sampto=rec.n_samples)
    ref = [(s, AAMI[c]) for s, c in zip(ann.sample, ann.symbol) if c in AAMI]
    rs = np.array([s for s, _ in ref])
    rc = np.array([c for _, c in ref])
    tol = int(0.15 * rec.fs)
    matched = np.zeros(rs.size, dtype=bool)
    pairs = []
    fp = 0
    j = np.searchsorted(rs, peaks)
    for k, p in enumerate(peaks):
        cands = [c for c in (j[k] - 1, j[k]) if 0 <= c < rs.size and not matched[c] and abs(rs[c] - p) <= tol]
        if cands:
            c = min(cands, key=lambda c: abs(rs[c] - p))
            matched[c] = True
            pairs.append((k, c))
        else:
            fp += 1
    out = {"record": record, "tp": len(pairs), "fp": fp, "fn": int((~matched).sum())}
    span = (rs[-1] - rs[0]) / rec.fs
    out["hr_ref"] = 60.0 * (rs.size - 1) / span
    out["hr_tool"] = next((m.value for m in an.measurements.items.values() if m.name == "heart_rate"), float("nan"))
    for cls in "VS":
        out[f"{cls}_tp"] = sum(1 for k, c in pairs if labels[k] == cls and rc[c] == cls)
        out[f"{cls}_called"] = sum(1 for k, c in pairs if labels[k] == cls)
        out[f"{cls}_ref"] = sum(1 for k, c in pairs if rc[c] == cls)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", nargs="*")
    ap.add_argument("--minutes", type=float, default=30.0)
    args = ap.parse_args()
    rows = []
    for folder, rec in record_dirs():
        if args.records and rec not in args.records:
            continue
        r = evaluate(folder, rec, args.minutes)
        rows.append(r)
        se = r["tp"] / max(r["tp"] + r["fn"], 1)
        ppv = r["tp"] / max(r["tp"] + r["fp"], 1)
        print(f"{rec}: R-peak Se {se:.4f} PPV {ppv:.4f} (FN {r['fn']}, FP {r['fp']}); HR tool {r['hr_tool']:.1f} vs ref {r['hr_ref']:.1f}; "
              f"V {r['V_tp']}/{r['V_ref']} (called {r['V_called']}), S {r['S_tp']}/{r['S_ref']} (called {r['S_called']})", flush=True)
    tp, fp, fn = (sum(r[k] for r in rows) for k in ("tp", "fp", "fn"))
    print(f"\npooled over {len(rows)} records: R-peak Se {tp / (tp + fn):.4f} PPV {tp / (tp + fp):.4f}")
    hr_err = np.array([abs(r["hr_tool"] - r["hr_ref"]) for r in rows])
    print(f"|HR error|: median {np.median(hr_err):.2f} bpm, max {hr_err.max():.2f} bpm, records within 1 bpm: {(hr_err <= 1).sum()}/{len(rows)}")
    for cls in "VS":
        t, c, rf = (sum(r[f"{cls}_{k}"] for r in rows) for k in ("tp", "called", "ref"))
        print(f"{cls} beats: Se {t / max(rf, 1):.3f} PPV {t / max(c, 1):.3f} ({t} of {rf} reference, {c} called)")


if __name__ == "__main__":
    main()
