"""Batch throughput (cases/minute) with 1 and 2 local workers and through Ray.

The batch is ≥ 50 mixed cases (tests/batch/make_cases.py), reused round
robin: six bundled PhysioNet WFDB records from 8 s to 30 min, the DICOM
12-lead ECG and the real apical-four-chamber echo clip of pydicom's test
data, and a simulated short-axis cine DICOM series (CMR) — plus five
deliberately bad cases. `--mix ecg` keeps the ECG records only. Every configuration runs the same batch into a
fresh output folder, with every output format (json, html, pdf, fhir, sr),
so the number includes worker start-up and model loading as a user sees it.
The 1-worker run is the baseline measured in the same process; the scaling
ratio (2 workers / 1 worker) is what carries across machines. The load
average before and after each run is printed, because on a shared machine
other processes take cores away from the workers.

    .venv/bin/python benchmarks/batch_throughput.py [--cases 50] [--engines local1 local2 ray2] [--rounds 1]
        [--mix mixed|ecg] [--retrieval] [--formats json,html,pdf,fhir,sr] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run_one(label: str, source: Path, out: Path, engine: str, workers: int, formats: tuple[str, ...], retrieval: bool) -> dict:
    from agent.batch.run import run_batch
    from agent.batch.settings import BatchSettings

    settings = BatchSettings(out_dir=str(out), formats=formats, retrieval=retrieval, timeout_s=900)
    load_before = os.getloadavg()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    outcome = run_batch(source, settings, engine=engine, workers=workers, quiet=True)
    total = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_after = os.getloadavg()
    # CPU seconds of the (reaped) local worker processes: a load-independent cost per case.
    # Ray workers are not our children, so this stays empty for the Ray engine.
    child_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    row = {
        "run": label, "engine": engine, "workers": workers, "cases": outcome.ran, "ok": outcome.ok, "failed": outcome.failed,
        "engine_wall_s": outcome.wall_s, "total_wall_s": round(total, 2), "cases_per_minute": outcome.cases_per_minute,
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in load_after],
        "worker_cpu_s_per_case": round(child_cpu / max(outcome.ran, 1), 2) if engine == "local" else None,
    }  # fmt: skip
    print(f"{label:8s} {outcome.ran:3d} cases ({outcome.ok} ok, {outcome.failed} failed)  engine {outcome.wall_s:7.1f} s  "
          f"{outcome.cases_per_minute:6.2f} cases/min   (total incl. validation+tables {total:6.1f} s; "
          f"load avg {load_before[0]:.1f} -> {load_after[0]:.1f}"
          + (f"; worker CPU {row['worker_cpu_s_per_case']:.2f} s/case" if row["worker_cpu_s_per_case"] is not None else "") + ")", flush=True)  # fmt: skip
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=50, help="good cases (five bad ones are added)")
    ap.add_argument("--engines", nargs="+", default=["local1", "local2", "ray2"], choices=["local1", "local2", "ray1", "ray2"])
    ap.add_argument("--mix", choices=["mixed", "ecg"], default="mixed",
                    help="mixed (default): ECG records plus pydicom's real echo clip and a simulated CMR DICOM series; ecg: ECG records only")
    ap.add_argument("--formats", default="json,html,pdf,fhir,sr")
    ap.add_argument("--retrieval", action="store_true", help="include guideline retrieval (default off: it measures the corpus, not the batch)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat every configuration, interleaved (order reversed every other round); medians reported")
    ap.add_argument("--keep", type=Path, help="write the outputs here instead of a temp folder")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    from tests.batch.make_cases import MIXED_RECORDS, RECORDS, make_case_folders

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cardio-batch-bench-"))
    os.environ.setdefault("CARDIO_HOME", str(base / "home"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    source = base / "in"
    ids = make_case_folders(source, args.cases, records=MIXED_RECORDS if args.mix == "mixed" else RECORDS)
    print(f"{len(ids)} cases in {source} ({args.cases} good, {args.mix}, {len(ids) - args.cases} bad); "
          f"{os.cpu_count()} CPUs; formats {args.formats}; retrieval {'on' if args.retrieval else 'off'}", flush=True)  # fmt: skip
    formats = tuple(f for f in args.formats.split(",") if f)
    rows = []
    for r in range(args.rounds):  # configurations interleaved, so background load hits all alike
        order = args.engines if r % 2 == 0 else list(reversed(args.engines))
        for label in order:
            engine, workers = ("ray" if label.startswith("ray") else "local"), int(label[-1])
            rows.append(run_one(label, source, base / f"out-{label}-{r}", engine, workers, formats, args.retrieval))
    medians = {label: statistics.median(x["cases_per_minute"] for x in rows if x["run"] == label) for label in args.engines}
    print("median cases/min: " + ", ".join(f"{k} {v:.2f}" for k, v in medians.items()))
    if medians.get("local1"):
        for label, v in medians.items():
            if label != "local1":
                print(f"scaling {label} / local1: {v / medians['local1']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"cases": len(ids), "runs": rows, "median_cases_per_minute": medians}, indent=2))
    print(f"outputs: {base}")


if __name__ == "__main__":
    main()
