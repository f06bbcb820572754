"""Speed of the ECG expert, in CPU seconds after imports.

Targets (issue 3): a 10-s 12-lead ECG in ≤ 1 s; the 30-min two-lead MIT-BIH
record 100 in ≤ 15 s. Each case is also timed against a baseline in the same
process — neurokit2's standard `ecg_process` on one lead of the same record —
so the ratio is comparable across machines.

    .venv/bin/python benchmarks/ecg_speed.py [--repeat 3] [--plot]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def cpu(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--plot", action="store_true", help="include drawing the PNG printout")
    args = ap.parse_args()

    import neurokit2 as nk
    import torch

    torch.set_num_threads(1)
    from experts.core.tool import ToolRequest
    from experts.ecg.tool import ECGTool
    from tests.ecg.helpers import wfdb_study

    tool = ECGTool()
    out = "/tmp/cardio-bench-ecg"
    cases = [
        ("10-s 12-lead (LUDB 1, 500 Hz)", wfdb_study(REPO / "examples/ecg/ludb-1", "1"), 1.0),
        ("30-min 2-lead (MIT-BIH 100, 360 Hz)", wfdb_study(REPO / "examples/ecg/mitdb-100", "100"), 15.0),
    ]
    # warm-up: imports, filter design caches, matplotlib font cache
    tool.run(ToolRequest(study=cases[0][1], output_dir=out, options={"make_plot": args.plot}))
    from experts.ecg.io import load_study

    for name, study, target in cases:
        if study is None:
            continue
        rec = load_study(study)
        lead = rec.lead("II") if rec.has("II") else rec.lead("MLII")
        t_tool = cpu(lambda: tool.run(ToolRequest(study=study, output_dir=out, options={"make_plot": args.plot})), args.repeat)
        t_base = cpu(lambda: nk.ecg_process(lead, sampling_rate=int(rec.fs)), args.repeat)
        verdict = "meets" if t_tool <= target else "MISSES"
        print(f"{name}: tool {t_tool:.2f} s CPU (target ≤ {target:g} s: {verdict}); "
              f"neurokit2 ecg_process on one lead {t_base:.2f} s; ratio {t_tool / max(t_base, 1e-9):.2f}")


if __name__ == "__main__":
    main()
