"""ST-depression (and paced-rhythm) statements on LUDB against the
cardiologists' labels in the .hea comments.

LUDB has no "ST depression" label, so this counts where the tool calls
ST depression: on records labelled ischaemia / STEMI / NSTEMI / scar /
non-specific repolarisation ("ischaemic or ST-T label"), on records with a
conduction defect that makes ST-T changes secondary (bundle-branch block,
pacing, LV hypertrophy/overload), and on records with none of these labels
(every call there is a false call). Also counts paced-rhythm statements
against LUDB's pacing labels (UNIpolar/BIpolar/Biventricular/atrial pacing).

    OMP_NUM_THREADS=1 .venv/bin/python evals/ecg_st_depression.py [--limit N] [-v]
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

ISCH = ("ischemia", "stemi", "scar formation", "non-specific repolarization")
SECONDARY = ("complete right bundle branch block", "complete left bundle branch block", "pacing", "left ventricular hypertrophy",
             "left ventricular overload")
GROUPS = {  # a record can be in several; "no_label" = in none of the others
    "ischaemic_label": ISCH,
    "complete_bbb": ("complete right bundle branch block", "complete left bundle branch block"),
    "paced": ("pacing",),
    "lvh_label": ("left ventricular hypertrophy", "left ventricular overload"),
}


def labels(hea: Path) -> list[str]:
    return [ln[1:].strip().lower() for ln in hea.read_text().splitlines() if ln.startswith("#") and not ln.startswith("#<")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    from evals.ecg_accuracy_statements import run_tool

    folder = DATA / "ludb" / "data"
    ids = sorted(int(p.stem) for p in folder.glob("*.hea"))[: args.limit]
    t0 = time.time()
    c: Counter = Counter()
    for i in ids:
        lab = labels(folder / f"{i}.hea")
        txt = " | ".join(lab)
        groups = [g for g, keys in GROUPS.items() if any(any(k in x and not x.startswith("incomplete") for k in keys) for x in lab)] or ["no_label"]
        paced = "pacing" in txt
        res = run_tool(folder, str(i))
        if isinstance(res, Exception):
            c["error"] += 1
            continue
        st = {s.id.split(".", 1)[1]: s for s in res.statements}
        std = {k: s for k, s in st.items() if k.startswith("st_depression")}
        pres = [k for k, s in std.items() if s.status == "present"]
        ind = [k for k, s in std.items() if s.status == "indeterminate"]
        for group in groups:
            c[f"{group}_n"] += 1
            c[f"{group}_present"] += bool(pres)
            c[f"{group}_indeterminate"] += bool(ind) and not pres
        vp = st.get("ventricular_paced_rhythm")
        ap_ = st.get("atrial_paced_rhythm")
        any_paced = any(s is not None and s.status == "present" for s in (vp, ap_))
        c["pacelbl_n" if paced else "nonpaced_n"] += 1
        c["pacelbl_called" if paced else "nonpaced_called"] += any_paced
        hr = next((m for m in res.measurements if m.name == "heart_rate"), None)
        if hr is not None:
            c[f"hr_flag_{hr.flag}"] += 1
        if args.v and (pres or ind or paced or any_paced):
            print(i, ",".join(groups), "paced" if paced else "", "ST dep present", [std[k].label for k in pres], "indet", ind,
                  "paced call" if any_paced else "", "|", "; ".join(x for x in lab if any(k in x for k in ISCH + SECONDARY + ("rhythm", "incomplete"))))
    print(f"LUDB {len(ids)} records, {time.time() - t0:.0f} s, errors {c['error']}")
    for g in ("no_label",) + tuple(GROUPS):
        print(f"ST depression {g:16s}: present {c[g + '_present']}/{c[g + '_n']}, indeterminate only {c[g + '_indeterminate']}")
    print(f"paced rhythm called: LUDB paced {c['pacelbl_called']}/{c['pacelbl_n']}, non-paced (false) {c['nonpaced_called']}/{c['nonpaced_n']}")
    print("heart-rate flags:", {k[8:]: v for k, v in sorted(c.items()) if k.startswith("hr_flag_")})


if __name__ == "__main__":
    main()
