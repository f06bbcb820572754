"""Reconstruction speed for one 2-D cine slice (8 coils, 192×192, 20 frames) on CPU.

Every method runs on the same simulated R=8 acquisition (equispaced, 24 ACS
lines, time-interleaved), interleaved per repeat so background load hits all
methods alike, and is reported as wall and CPU seconds (median over repeats)
beside the zero-filled baseline measured in the same process: the ratios
hold on any machine even when absolute seconds move with load. Targets
(issue 6): CS ≤ 30 s, network ≤ 10 s.

    .venv/bin/python benchmarks/recon_speed.py [--repeat 3] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGETS_S = {"cs": 30.0, "varnet": 10.0}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--methods", nargs="+", default=["zero_filled", "sense", "cs", "varnet"])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    import torch

    from experts.recon.methods import reconstruct
    from experts.recon.phantom import make_cine_phantom
    from experts.recon.simulate import fully_sampled_study, undersample

    if args.threads:
        torch.set_num_threads(args.threads)
    ph = make_cine_phantom(matrix=192, frames=20, slices=1, seed=2024)
    study = undersample(fully_sampled_study(ph.images, coils=8, seed=1), 8, acs=24)
    # Warm-up on a 2-frame cut of the same acquisition: imports, FFT plans and
    # weight loading are paid once, without a full extra run per method.
    from dataclasses import replace

    small = replace(study, kspace=study.kspace[:2], mask=study.mask[:2], reference=None)
    for m in args.methods:
        reconstruct(small, m)
    times: dict[str, dict[str, list[float]]] = {m: {"wall": [], "cpu": []} for m in args.methods}
    for _ in range(args.repeat):
        for m in args.methods:
            w, c = time.perf_counter(), time.process_time()
            reconstruct(study, m)
            times[m]["wall"].append(time.perf_counter() - w)
            times[m]["cpu"].append(time.process_time() - c)
            print(f"  run {m}: wall {times[m]['wall'][-1]:.2f} s, CPU {times[m]['cpu'][-1]:.2f} s", flush=True)
    base = statistics.median(times["zero_filled"]["wall"]) if "zero_filled" in times else None
    report = {"shape": "8 coils × 192 × 192 × 20 frames, R=8 (effective %.1f)" % study.acceleration(), "torch_threads": torch.get_num_threads(), "methods": {}}
    print(report["shape"], f"torch threads {torch.get_num_threads()}")
    print(f"{'method':<12}{'wall s':>9}{'CPU s':>9}{'× zero-filled':>15}  target")
    for m in args.methods:
        wall = statistics.median(times[m]["wall"])
        cpu = statistics.median(times[m]["cpu"])
        ratio = wall / base if base else float("nan")
        target = TARGETS_S.get(m)
        verdict = "" if target is None else f"≤ {target:g} s: wall {'ok' if wall <= target else 'MISSED'}, CPU {'ok' if cpu <= target else 'MISSED'}"
        print(f"{m:<12}{wall:>9.2f}{cpu:>9.2f}{ratio:>15.1f}  {verdict}")
        report["methods"][m] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "ratio_to_zero_filled": round(ratio, 1)}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
