"""Reconstruction quality per method at 4× and 8× on held-out simulated cine.

Cases (none used for training or tuning the embedded VarNet / defaults):
- `phantom:SEED` — the recon expert's cine phantom (192×192, 20 frames, one
  slice), seeds 1000+ (VarNet training used phantom seeds 0–47; the SENSE/CS
  defaults were tuned on seed 100);
- `sunnybrook:PATIENT:SLICE` — real Sunnybrook cine magnitude (held-out
  patient SC-HF-I-4; training saw SC-HF-I-1/-2), centre-cropped to 192×192;
- `cmrsim:SEED` — the CMR expert's bSSFP cine simulator (mid slice), when
  that module is importable.

Each magnitude cine gets smooth synthetic phase, 8 birdcage coils and noise
(`experts.recon.simulate`), then CMRxRecon-style equispaced masks with 24 ACS
lines, time-interleaved, at nominal R (ACS not counted; the effective R is
reported too). Metrics follow fastMRI (PSNR, SSIM, NMSE over the whole
cine vs the fully sampled RSS image). Runtime is wall and CPU seconds.

    .venv/bin/python evals/recon_quality.py [--rates 4 8] [--methods zero_filled sense cs varnet]
        [--cases phantom:1000 sunnybrook:SC-HF-I-4:5] [--out DIR] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_CASES = [
    "phantom:1000",
    "phantom:1001",
    "phantom:1002",
    "sunnybrook:SC-HF-I-4:3",
    "sunnybrook:SC-HF-I-4:5",
    "sunnybrook:SC-HF-I-4:7",
    "cmrsim:5000",
]
MATRIX = 192
FRAMES = 20


def shared_data() -> Path | None:
    import os

    env = os.environ.get("CARDIO_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


def load_case(spec: str):
    """→ (name, magnitude (x, y, 1, t), spacing, frame interval) or None when unavailable."""
    kind, _, rest = spec.partition(":")
    if kind == "phantom":
        from experts.recon.phantom import make_cine_phantom

        ph = make_cine_phantom(matrix=MATRIX, frames=FRAMES, slices=1, seed=int(rest))
        return spec, ph.images, ph.spacing_mm, ph.frame_interval_ms
    if kind == "sunnybrook":
        root = shared_data()
        patient, _, sl = rest.partition(":")
        if root is None or not (root / "cmr" / "sunnybrook" / patient).is_dir():
            return None
        from experts.recon.sunnybrook import centre_crop, load_dicom_cine

        cine = load_dicom_cine(root / "cmr" / "sunnybrook" / patient / "dicom")
        z = int(sl)
        return spec, centre_crop(cine.images[:, :, z : z + 1, :FRAMES], MATRIX), cine.spacing_mm, cine.frame_interval_ms
    if kind == "cmrsim":
        try:
            from experts.cmr.simulate import Acquisition, random_heart, simulate_study
        except ImportError:
            return None
        rng = np.random.default_rng(int(rest))
        heart = random_heart(rng)
        acq = Acquisition(rows=MATRIX, cols=MATRIX, n_phases=FRAMES, n_slices=1, first_w_mm=35.0)
        sim = simulate_study(int(rest), heart=heart, acq=acq)
        imgs = np.transpose(sim.stack.images, (2, 3, 1, 0))  # (t, z, rows, cols) → (rows, cols, z, t)
        return spec, imgs, (acq.pixel_mm, acq.pixel_mm, acq.thickness_mm), 60000.0 / acq.heart_rate_bpm / FRAMES
    raise ValueError(f"unknown case {spec!r}")


def run(cases: list[str], rates: list[int], methods: list[str], out: Path) -> list[dict]:
    from experts.recon.methods import reconstruct
    from experts.recon.metrics import centre_crop, compare
    from experts.recon.plots import comparison_figure
    from experts.recon.simulate import fully_sampled_study, undersample

    rows: list[dict] = []
    figure_done = False
    for spec in cases:
        case = load_case(spec)
        if case is None:
            print(f"skip {spec}: data or module unavailable", flush=True)
            continue
        name, images, spacing, dt = case
        full = fully_sampled_study(images, coils=8, seed=zlib.crc32(spec.encode()) % 10_000, noise_level=0.01, spacing_mm=spacing, frame_interval_ms=dt)
        for r in rates:
            us = undersample(full, r, acs=24)
            outputs = {}
            for method in methods:
                wall, cpu = time.perf_counter(), time.process_time()
                rec = reconstruct(us, method)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                q = compare(full.reference, rec.images)
                roi = compare(centre_crop(full.reference, (MATRIX // 2, MATRIX // 2)), centre_crop(rec.images, (MATRIX // 2, MATRIX // 2)))
                outputs[method] = rec.images
                row = {
                    "case": name, "R": r, "R_effective": round(us.acceleration(), 2), "method": method,
                    "psnr_db": round(q.psnr_db, 2), "ssim": round(q.ssim, 4), "nmse": round(q.nmse, 5),
                    "roi_psnr_db": round(roi.psnr_db, 2), "roi_ssim": round(roi.ssim, 4), "roi_nmse": round(roi.nmse, 5),
                    "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
            if not figure_done and name.startswith("sunnybrook") and r == max(rates):
                t = 0
                panels = {("network" if m == "varnet" else m): outputs[m][t, 0] for m in methods}
                comparison_figure(panels, out / "recon_comparison.png", reference=full.reference[t, 0], title=f"{name}, R={r} (effective {us.acceleration():.1f}), frame {t}")
                figure_done = True
    return rows


def summarise(rows: list[dict], prefix: str = "") -> str:
    lines = [
        f"| R (eff.) | method | {prefix}PSNR dB | {prefix}SSIM | {prefix}NMSE | wall s | CPU s | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["R"], r["method"]) for r in rows}, key=lambda k: (k[0], ["zero_filled", "sense", "cs", "varnet"].index(k[1]) if k[1] in ["zero_filled", "sense", "cs", "varnet"] else 9))
    for rate, method in keys:
        sel = [r for r in rows if r["R"] == rate and r["method"] == method]
        eff = np.mean([r["R_effective"] for r in sel])

        def ms(k, fmt):
            v = np.array([r[prefix.lower().replace(" ", "_") + k] for r in sel], dtype=float)
            return f"{v.mean():{fmt}} ± {v.std():{fmt}}"

        lines.append(
            f"| {rate} ({eff:.1f}) | {method} | {ms('psnr_db', '.2f')} | {ms('ssim', '.3f')} | {ms('nmse', '.4f')} | "
            f"{np.median([r['wall_s'] for r in sel]):.1f} | {np.median([r['cpu_s'] for r in sel]):.1f} | {len(sel)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="+", default=DEFAULT_CASES)
    ap.add_argument("--rates", nargs="+", type=int, default=[4, 8])
    ap.add_argument("--methods", nargs="+", default=["zero_filled", "sense", "cs", "varnet"])
    ap.add_argument("--out", type=Path, default=Path("recon_eval_out"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = run(args.cases, args.rates, args.methods, args.out)
    table = summarise(rows) + "\n\nCentral half field of view (heart region):\n\n" + summarise(rows, prefix="ROI ")
    print(table)
    (args.json or args.out / "recon_quality.json").write_text(json.dumps({"rows": rows, "table": table}, indent=1))


if __name__ == "__main__":
    main()
