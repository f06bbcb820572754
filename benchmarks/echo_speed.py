"""How long the echo expert takes on a 112x112, 128-frame clip (target <= 3 s on CPU).

    .venv/bin/python -m benchmarks.echo_speed [--repeats 3] [--threads 1]

The clip is simulated (112x112 scan-converted sector, 50 frames/s) and
written as an MJPEG AVI, the container EchoNet-Dynamic's videos use, so the
timing includes decoding. Stages are timed separately (read, fan crop,
U-Net, contours/volumes, beats, findings, plots) and the whole tool call
with and without plots.

Because the machine is shared, every timing is also printed as a ratio to a
fixed reference workload (a 512x512 float32 matrix product, 20 times)
measured in the same process just before: that ratio is comparable across
runs when the absolute seconds are not.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def reference_seconds() -> float:
    a = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)
    t = time.perf_counter()
    for _ in range(20):
        a = (a @ a) / 512.0
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from experts.core.tool import ToolRequest
    from experts.core.types import Modality, StudyInput
    from experts.echo.analysis import analyse_clip
    from experts.echo.findings import build_findings
    from experts.echo.io import read_clip
    from experts.echo.plots import plot_curve, plot_ed_es
    from experts.echo.segment import EmbeddedUNet
    from experts.echo.simulate import sample_params, simulate_clip
    from experts.echo.tool import EchoTool
    from experts.echo.writers import write_video
    from experts.core.types import PatientContext, Source

    tmp = Path(tempfile.mkdtemp(prefix="echo_bench_"))
    p = sample_params(6_000_000, n_frames=128, fps=50.0, heart_rate_bpm=75.0, width_px=112, height_px=112)
    sim = simulate_clip(p)
    avi = write_video(sim.frames, sim.fps, tmp / "bench_112x112x128.avi")
    segmenter = EmbeddedUNet()
    tool = EchoTool()
    study = StudyInput(study_id="echo-1", modality=Modality.ECHO, files=[str(avi)], display_names=[avi.name], meta={"format": "video"})

    # warm-up (imports, first-call allocations)
    tool.run(ToolRequest(study=study, output_dir=str(tmp / "warm"), options={"pixel_spacing_mm": sim.spacing_mm}))

    stages: dict[str, list[float]] = {}
    ref = []
    for r in range(args.repeats):
        ref.append(reference_seconds())
        t0 = time.perf_counter()
        clip = read_clip(avi, avi.name, "video")
        t1 = time.perf_counter()
        an = analyse_clip(clip, segmenter, user_spacing_mm=sim.spacing_mm)
        t2 = time.perf_counter()
        build_findings(an, "echo-1", avi.name, Source(tool="echo_analyze", version="bench"), PatientContext())
        t3 = time.perf_counter()
        plot_ed_es(an, tmp / f"ed_es_{r}.png", "bench")
        plot_curve(an, tmp / f"curve_{r}.png", "bench")
        t4 = time.perf_counter()
        for key, dt in (("read AVI", t1 - t0), ("analyse (crop + U-Net + volumes + beats)", t2 - t1), ("findings", t3 - t2), ("plots", t4 - t3)):
            stages.setdefault(key, []).append(dt)
        t5 = time.perf_counter()
        tool.run(ToolRequest(study=study, output_dir=str(tmp / f"np{r}"), options={"make_plot": False, "pixel_spacing_mm": sim.spacing_mm}))
        t6 = time.perf_counter()
        tool.run(ToolRequest(study=study, output_dir=str(tmp / f"p{r}"), options={"make_plot": True, "pixel_spacing_mm": sim.spacing_mm}))
        t7 = time.perf_counter()
        stages.setdefault("tool call, no plots", []).append(t6 - t5)
        stages.setdefault("tool call, with plots", []).append(t7 - t6)

    ref_s = statistics.median(ref)
    print(f"clip: 112x112, 128 frames, 50 frames/s (AVI/MJPEG); torch threads: {args.threads}; repeats: {args.repeats}")
    print(f"reference workload (20 x 512^2 matmul): {ref_s:.3f} s")
    print(f"{'stage':45s} {'median s':>9s} {'x reference':>12s}")
    for key, vals in stages.items():
        med = statistics.median(vals)
        print(f"{key:45s} {med:9.3f} {med / ref_s:12.1f}")
    # The timing only counts if the whole path ran (view check, beats, EF):
    # a clip rejected early would be fast for the wrong reason.
    ef = f"{an.ef_mean:.1f}%" if an.ef_mean is not None else "none"
    print(f"analysed clip: verdict {an.quality.verdict}, {len(an.beats)} beats, EF {ef} (true {sim.ef_true:.1f}%), view apical: {an.view.apical if an.view else None}")
    tool_s = statistics.median(stages["tool call, with plots"])
    print(f"target: tool call <= 3 s -> {'met' if tool_s <= 3.0 else 'NOT met'} ({tool_s:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
