"""Speed of `cmr_analyze` on a 10-slice x 25-phase cine (the issue's target:
<= 10 s on CPU).

A simulated 208x208 stack is written as 250 DICOM files, then the tool is
called twice in this process: cold (imports MONAI, loads the weights) and
warm. Each stage is timed -- wall clock and this process's CPU time (with
one thread, CPU time is what the wall time would be on an idle core) --
and every wall time is also printed as a ratio to a fixed baseline workload
(a float32 256x256 convolution stack run in this same process), so runs on
machines of different speed, or a loaded shared machine, compare.

    .venv/bin/python benchmarks/cmr_speed.py [--threads 1] [--repeats 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def baseline_seconds() -> float:
    """A fixed CPU workload: 10 x (conv of 16x1x256x256 with 16 3x3 filters)."""
    import torch

    x = torch.rand(16, 1, 256, 256)
    w = torch.rand(16, 1, 3, 3)
    torch.nn.functional.conv2d(x, w, padding=1)  # warm-up
    t0 = time.perf_counter()
    for _ in range(10):
        torch.nn.functional.conv2d(x, w, padding=1)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from experts.cmr.sim_files import write_dicom_series
    from experts.cmr.simulate import Acquisition, simulate_study

    acq = Acquisition(pixel_mm=1.7, rows=208, cols=208, n_phases=25, n_slices=10, first_w_mm=-8.0, thickness_mm=8.0, gap_mm=1.0)
    sim = simulate_study(4242, acq=acq)
    tmp = Path(tempfile.mkdtemp(prefix="cmr-speed-"))
    paths = write_dicom_series(sim, tmp / "series")
    base = baseline_seconds()
    print(f"stack: {sim.stack.n_slices} slices x {sim.stack.n_phases} phases, {acq.rows}x{acq.cols} px; {len(paths)} DICOM files")
    print(f"torch threads: {torch.get_num_threads()}; baseline workload {base:.3f} s")

    from experts.cmr import plots
    from experts.cmr.export import write_dicom_seg, write_nifti
    from experts.cmr.io_dicom import read_dicom_cine
    from experts.cmr.quantify import quantify
    from experts.cmr.segment import segment_stack
    from experts.cmr.tool import CMRTool, _default_segmenter
    from experts.core.tool import ToolRequest
    from experts.core.types import Modality, PatientContext, StudyInput

    study = StudyInput(study_id="cmr-1", modality=Modality.CMR, files=[str(p) for p in paths], display_names=[p.name for p in paths], meta={"format": "dicom"})
    rows = []
    for i in range(args.repeats):
        stages: dict[str, tuple[float, float]] = {}

        def timed(name, fn, *a):
            w, c = time.perf_counter(), time.process_time()
            out = fn(*a)
            stages[name] = (time.perf_counter() - w, time.process_time() - c)
            return out

        def exports(stack, res, fn, out):
            out.mkdir()
            plots.montage(stack, res.labels, fn, out / "m.png")
            plots.volume_curve(stack, fn, out / "c.png")
            write_nifti(res.labels, stack, out / "s.nii.gz")
            for ph in sorted({fn.ed, fn.es}):
                write_dicom_seg(res.labels, stack, ph, out / f"s{ph}.dcm", "cmr_analyze", "bench")

        seg = timed("load model", _default_segmenter)
        stack = timed("read DICOM", read_dicom_cine, study.files, study.display_names)
        res = timed("segment", segment_stack, stack, seg)
        fn = timed("quantify", quantify, res.labels, stack)
        timed("plots+exports", exports, stack, res, fn, tmp / f"out{i}")
        request = ToolRequest(study=study, patient=PatientContext(), output_dir=str(tmp / f"tool{i}"))
        result = timed("tool.run()", CMRTool().run, request)
        rows.append(stages)
        label = "cold" if i == 0 else "warm"
        print(f"\nrun {i + 1} ({label}); the stages first, then one whole tool.run():")
        for k, (w, c) in stages.items():
            print(f"  {k:<14} wall {w:7.2f} s   cpu {c:7.2f} s   {w / base:7.1f} x baseline")
    best_wall = min(r["tool.run()"][0] for r in rows)
    best_cpu = min(r["tool.run()"][1] for r in rows)
    n = sim.stack.n_slices * sim.stack.n_phases
    print(f"\nbest tool.run(): wall {best_wall:.2f} s, cpu {best_cpu:.2f} s for {n} images (target 10 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
