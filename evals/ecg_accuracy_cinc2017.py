"""Atrial-fibrillation calls against the PhysioNet/CinC Challenge 2017 labels.

The shared sample holds 600 single-lead records (N normal, A AF, O other
rhythm, ~ noisy). The AF thresholds were chosen on the odd-numbered records
(sorted by name); results are printed for odd, even and all. A record counts
as an AF call when the tool says "Atrial fibrillation" present, or
indeterminate (AF-like rhythm shorter than the ESC 30-s criterion).

    .venv/bin/python evals/ecg_accuracy_cinc2017.py [--data ../shared/data/ecg/cinc2017] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "ecg" / "cinc2017")
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()
    from experts.core.errors import InputError
    from experts.core.tool import ToolRequest
    from experts.ecg.tool import ECGTool
    from tests.ecg.helpers import wfdb_study

    ref = dict(csv.reader(open(args.data / "REFERENCE.csv")))
    items = sorted(ref.items())[: args.limit] if args.limit else sorted(ref.items())
    tool = ECGTool()
    calls: list[tuple[int, str, str]] = []
    t0 = time.time()
    for i, (rec, label) in enumerate(items):
        try:
            res = tool.run(ToolRequest(study=wfdb_study(args.data, rec), output_dir="/tmp/cardio-eval-cinc2017", options={"make_plot": False}))
            st = {s.id.split(".", 1)[1]: s.status for s in res.statements}
            call = "non_diagnostic" if res.quality.verdict == "non_diagnostic" else st.get("atrial_fibrillation", "not evaluated")
        except InputError:
            call = "input error"
        calls.append((i, label, call))
    print(f"{len(calls)} records, {time.time() - t0:.0f} s")
    for name, subset in (("odd (tuning)", [c for c in calls if c[0] % 2 == 1]), ("even (held out)", [c for c in calls if c[0] % 2 == 0]), ("all", calls)):
        af = [c for c in subset if c[1] == "A"]
        is_call = lambda c: c[2] in ("present", "indeterminate")  # noqa: E731
        line = f"{name:16s} AF sensitivity {sum(map(is_call, af)) / max(len(af), 1):.3f} (n={len(af)})"
        for cls, title in (("N", "normal"), ("O", "other rhythm"), ("~", "noisy")):
            grp = [c for c in subset if c[1] == cls]
            line += f" | false AF calls in {title}: {sum(map(is_call, grp))}/{len(grp)}"
        print(line)
    from collections import Counter

    print("call counts by label:", {lab: dict(Counter(c[2] for c in calls if c[1] == lab)) for lab in "ANO~"})


if __name__ == "__main__":
    main()
