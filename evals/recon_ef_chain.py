"""Is LVEF preserved after undersampling → reconstruction → CMR expert?

For each held-out cine stack, simulated multi-coil k-space (synthetic phase,
8 birdcage coils, noise; `experts.recon.simulate`) is undersampled with
CMRxRecon-style equispaced masks (24 ACS lines, time-interleaved) at R = 4
and 8 and passed to the `recon_reconstruct` tool exactly as the agent would
(ToolRequest → ExpertResult, with the fully sampled reference in the file).
The tool runs the CMR expert (`cmr_analyze`) on both the reconstruction and
the reference and reports |ΔLVEF|. Stacks:
- `sunnybrook:SC-HF-I-4` — real cine (held out from VarNet training),
  centre-cropped to 192×192; its expert-contour EF (slice summation of the
  manual endocardial contours at ED and ES) is printed as an outside anchor;
- `cmrsim:SEED` — the CMR expert's simulator, whose label EF is exact.

    .venv/bin/python evals/recon_ef_chain.py --diagnose 970003 970011 [--methods ...]   # where EF changes (see diagnose())
    .venv/bin/python evals/recon_ef_chain.py [--cases sunnybrook:SC-HF-I-4 cmrsim:6000] [--rates 4 8]
        [--methods zero_filled sense cs varnet] [--matrix 192] [--phases 20] [--slices 10] [--coils 8] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MATRIX = 192
PIXEL_MM = 1.4  # CMR simulator default: 192 × 1.4 mm = 269 mm field of view
PHASES = 20
SLICES = 10


def shared_data() -> Path | None:
    import os

    env = os.environ.get("CARDIO_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


def contour_ef(patient_dir: Path, instance_index: dict[int, tuple[int, int]], slice_mm: float, pixel_mm: tuple[float, float]) -> float | None:
    """LVEF from the Sunnybrook manual endocardial contours (slice summation)."""
    areas: dict[tuple[int, int], float] = {}
    for f in sorted((patient_dir / "i-contours").glob("IM-0001-*-icontour-manual.txt")):
        inst = int(f.name.split("-")[2])
        if inst not in instance_index:
            continue
        pts = np.loadtxt(f)
        x, y = pts[:, 0] * pixel_mm[1], pts[:, 1] * pixel_mm[0]
        areas[instance_index[inst]] = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    by_slice: dict[int, list[tuple[int, float]]] = {}
    for (z, t), a in areas.items():
        by_slice.setdefault(z, []).append((t, a))
    ed = es = 0.0
    for items in by_slice.values():
        if len(items) < 2:
            continue
        vals = [a for _, a in items]
        ed += max(vals) * slice_mm
        es += min(vals) * slice_mm
    return 100.0 * (ed - es) / ed if ed > 0 else None


def _signed(warnings: list[str]) -> float | None:
    """The tool states the signed LVEF difference in a warning ("(+1.2 points; ...")."""
    import re

    for w in warnings:
        hit = re.search(r"\(([+-]\d+(?:\.\d+)?) points;", w)
        if hit:
            return float(hit.group(1))
    return None


def load_stack(spec: str):
    """→ (name, magnitude (x, y, z, t), spacing, frame interval, truth EF or None, truth label)."""
    kind, _, rest = spec.partition(":")
    if kind == "sunnybrook":
        root = shared_data()
        if root is None or not (root / "cmr" / "sunnybrook" / rest).is_dir():
            return None
        from experts.recon.sunnybrook import centre_crop, load_dicom_cine

        pdir = root / "cmr" / "sunnybrook" / rest
        cine = load_dicom_cine(pdir / "dicom")
        ef = contour_ef(pdir, cine.instance_index, cine.spacing_mm[2], cine.spacing_mm[:2])
        return spec, centre_crop(cine.images, MATRIX), cine.spacing_mm, cine.frame_interval_ms, ef, "expert contours"
    if kind == "cmrsim":
        try:
            from experts.cmr.simulate import Acquisition, label_volumes, random_heart, simulate_study
        except ImportError:
            return None
        rng = np.random.default_rng(int(rest))
        acq = Acquisition(rows=MATRIX, cols=MATRIX, pixel_mm=PIXEL_MM, n_phases=PHASES, n_slices=SLICES, supersample=1, subplanes=1)
        sim = simulate_study(int(rest), heart=random_heart(rng), acq=acq)
        lv = label_volumes(sim.labels, sim.stack)["lv"]
        ef = 100.0 * (lv.max() - lv.min()) / lv.max()
        imgs = np.transpose(sim.stack.images, (2, 3, 1, 0))
        return spec, imgs, (acq.pixel_mm, acq.pixel_mm, acq.thickness_mm + acq.gap_mm), 60000.0 / acq.heart_rate_bpm / acq.n_phases, ef, "simulator labels"
    raise ValueError(spec)


def diagnose(seeds: list[int], methods: list[str]) -> list[dict]:
    """Where does LVEF change? For recon-sim suite cases (evals/suites/recon_sim.py:
    3 mid slices, 96², 12 phases, 4 coils), segment the simulator's own
    images with the CMR expert's segmenter and quantifier and compare, per
    method, ED/ES phases, EDV/ESV and EF with the reference and with the
    simulator labels. Direct calls, no NIfTI round trip: this isolates the
    reconstruction from the file hand-over."""
    from dataclasses import replace

    import torch

    from evals.suites.recon_sim import SEED_BASE, make_kspace
    from experts.cmr.quantify import quantify
    from experts.cmr.segment import segment_stack
    from experts.cmr.simulate import label_volumes
    from experts.cmr.tool import CMROptions, _segmenter
    from experts.recon.methods import reconstruct
    from experts.recon.metrics import compare

    torch.set_num_threads(1)
    seg = _segmenter(CMROptions())
    rows = []
    for seed in seeds:
        rate = 4 if (seed - SEED_BASE) % 2 == 0 else 8  # the suite's own rule
        us, sim = make_kspace(seed, rate)
        z = sim.stack.images.shape[1]
        zs = list(range(z // 2 - 1, z // 2 + 2))  # the suite's 3 mid slices
        r0 = (sim.stack.images.shape[2] - us.matrix[0]) // 2
        c0 = (sim.stack.images.shape[3] - us.matrix[1]) // 2
        stack = replace(sim.stack, images=us.reference, slice_positions_mm=np.asarray(sim.stack.slice_positions_mm)[zs])
        labels = sim.labels[:, zs, r0 : r0 + us.matrix[0], c0 : c0 + us.matrix[1]]
        truth = label_volumes(labels, stack)["lv"]
        truth_ef = 100.0 * (truth.max() - truth.min()) / truth.max()
        series = {"reference": us.reference} | {m: reconstruct(us, m).images for m in methods}
        ref_ef = None
        for name, imgs in series.items():
            st = replace(stack, images=imgs.astype(np.float32))
            fn = quantify(segment_stack(st, seg).labels, st)
            ef = fn.values.get("lvef")
            ref_ef = ef if name == "reference" else ref_ef
            q = None if name == "reference" else compare(us.reference, imgs)
            row = {
                "seed": seed, "R": rate, "series": name, "ed": fn.ed, "es": fn.es,
                "edv_ml": round(fn.values.get("lv_edv", float("nan")), 1), "esv_ml": round(fn.values.get("lv_esv", float("nan")), 1),
                "lvef": None if ef is None else round(ef, 1), "minus_reference": None if ef is None or ref_ef is None else round(ef - ref_ef, 1),
                "truth_ef": round(truth_ef, 1), "truth_ed": int(truth.argmax()), "truth_es": int(truth.argmin()),
                "psnr_db": None if q is None else round(q.psnr_db, 2),
            }  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    global MATRIX, PIXEL_MM, PHASES, SLICES
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="+", default=["sunnybrook:SC-HF-I-4", "cmrsim:6000", "cmrsim:6001"])
    ap.add_argument("--rates", nargs="+", type=int, default=[4, 8])
    ap.add_argument("--methods", nargs="+", default=["zero_filled", "sense", "cs", "varnet"])
    ap.add_argument("--out", type=Path, default=Path("recon_ef_out"))
    ap.add_argument("--matrix", type=int, default=MATRIX, help="in-plane matrix (smaller runs faster; pixel size grows to keep the field of view)")
    ap.add_argument("--phases", type=int, default=PHASES, help="cine frames of the simulator stacks")
    ap.add_argument("--slices", type=int, default=SLICES, help="short-axis slices of the simulator stacks")
    ap.add_argument("--coils", type=int, default=8)
    ap.add_argument("--diagnose", nargs="+", type=int, default=None, metavar="SEED",
                    help="instead: per-method ED/ES, EDV/ESV, EF on recon-sim suite seeds (e.g. 970003 970010 970011)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.diagnose:
        args.out.mkdir(parents=True, exist_ok=True)
        rows = diagnose(args.diagnose, args.methods)
        (args.out / "recon_ef_diagnose.json").write_text(json.dumps(rows, indent=1))
        return
    PIXEL_MM = PIXEL_MM * MATRIX / args.matrix
    MATRIX, PHASES, SLICES = args.matrix, args.phases, args.slices

    from experts.core.tool import ToolRequest
    from experts.core.types import Modality, StudyInput
    from experts.recon.simulate import fully_sampled_study, undersample
    from experts.recon.tool import ReconTool
    from experts.recon.writers import write_npz

    args.out.mkdir(parents=True, exist_ok=True)
    tool = ReconTool()
    rows = []
    for spec in args.cases:
        loaded = load_stack(spec)
        if loaded is None:
            print(f"skip {spec}: data or module unavailable", flush=True)
            continue
        name, images, spacing, dt, truth_ef, truth_kind = loaded
        print(f"{name}: {images.shape}, truth EF {truth_ef:.1f}% ({truth_kind})" if truth_ef else name, flush=True)
        full = fully_sampled_study(images, coils=args.coils, seed=17, noise_level=0.01, spacing_mm=spacing, frame_interval_ms=dt)
        for r in args.rates:
            us = undersample(full, r, acs=round(24 * MATRIX / 192))  # CMRxRecon: 24 ACS lines per ~192 columns
            slug = name.replace(":", "_")
            path = write_npz(us, args.out / f"{slug}_R{r}.npz")
            for method in args.methods:
                study = StudyInput(study_id=f"{slug}-R{r}-{method}", modality=Modality.KSPACE, files=[str(path)], display_names=[path.name], meta={"format": "npz"})
                t0 = time.perf_counter()
                res = tool.run(ToolRequest(study=study, output_dir=str(args.out / f"{slug}_R{r}_{method}"), options={"method": method}))
                m = {x.name: x.value for x in res.measurements}
                row = {
                    "case": name, "R": r, "R_effective": m.get("acceleration"), "method": method,
                    "psnr_db": m.get("psnr"), "ssim": m.get("ssim"), "nmse": m.get("nmse"),
                    "lvef_reference": m.get("lvef_reference"), "lvef_abs_diff": m.get("lvef_abs_diff"),
                    "truth_ef": None if truth_ef is None else round(truth_ef, 1), "truth": truth_kind,
                    "quality": res.quality.verdict, "seconds": round(time.perf_counter() - t0, 1),
                    "lvef_recon_minus_reference": _signed(res.warnings),
                    "warnings": [w for w in res.warnings if "LVEF" in w],
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    (args.out / "recon_ef_chain.json").write_text(json.dumps(rows, indent=1))
    print("\n| case | R (eff.) | method | PSNR dB | SSIM | LVEF ref % | LVEF recon − ref | truth EF % |\n|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['R']} ({r['R_effective']}) | {r['method']} | {r['psnr_db']} | {r['ssim']} | {r['lvef_reference']} | "
              f"{r['lvef_recon_minus_reference']} | {r['truth_ef']} |")


if __name__ == "__main__":
    main()
