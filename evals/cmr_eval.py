"""Accuracy of the CMR expert: segmentation overlap and volume/EF/mass errors.

Two test sets:
1. Held-out simulated cine stacks (seeds 900000+, never used in training;
   training uses 100000+), full resolution with partial volume, bias, noise
   and slice shifts. Truth = the simulator's labels, quantified with the
   SAME rules as the prediction (disc summation, basal-slice rule, ED/ES
   from the curve), so the error is the segmentation's.
2. Sunnybrook Cardiac Data (real, ../shared/data/cmr/sunnybrook): Dice and
   HD95 of LV pool (ED and ES images) and myocardium (ED images) against
   the experts' contours; EDV/ESV/EF/LV mass against the contour-derived
   values, two ways:
   - "matched": the prediction on exactly the contoured slices at the
     experts' ED/ES phase of each slice (isolates segmentation error);
   - "automatic": the tool's own output (own ED/ES phases, own slice
     selection over the whole stack) -- what a user gets.
   Patients used in training are marked; the held-out one is reported
   separately.

    .venv/bin/python evals/cmr_eval.py [--sim 12] [--weights experts/cmr/weights/cmr_unet2d.pt] [--json out.json]
    .venv/bin/python evals/cmr_eval.py --cross-validate A.pt B.pt C.pt   # leave-one-patient-out on Sunnybrook

Prints per-structure Dice / HD95 (mean, and per case for Sunnybrook), and
MAE, Pearson r, Bland-Altman bias and 95 % limits for EDV, ESV, EF, mass.
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

DEFAULT_SB = REPO.parent / "shared" / "data" / "cmr" / "sunnybrook"
SIM_EVAL_SEED = 900_000
NAMES = {1: "LV", 2: "MYO", 3: "RV"}


def overlap(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, float], classes=(1, 2, 3)) -> dict[str, tuple[float, float]]:
    """Per class (Dice, HD95 mm) over a batch of 2-D images (N, H, W),
    with MONAI's metrics; images where the class is absent from both are
    skipped, absent from one gives Dice 0 and no HD95."""
    import torch
    from monai.metrics import compute_dice, compute_hausdorff_distance

    out = {}
    for c in classes:
        p = torch.from_numpy(pred == c)[:, None].float()
        t = torch.from_numpy(truth == c)[:, None].float()
        keep = (p.sum(dim=(1, 2, 3)) + t.sum(dim=(1, 2, 3))) > 0
        if not keep.any():
            continue
        p, t = p[keep], t[keep]
        dice = compute_dice(p, t, include_background=True, ignore_empty=False).flatten().numpy()
        both = ((p.sum(dim=(1, 2, 3)) > 0) & (t.sum(dim=(1, 2, 3)) > 0)).numpy()
        hd = np.full(len(dice), np.nan)
        if both.any():
            hd_vals = compute_hausdorff_distance(
                p[both], t[both], include_background=True, percentile=95, spacing=list(spacing)
            ).flatten().numpy()
            hd[both] = hd_vals
        out[NAMES[c]] = (dice, hd)
    return out


def agreement(pred: list[float], ref: list[float]) -> dict[str, float]:
    p, r = np.asarray(pred, float), np.asarray(ref, float)
    d = p - r
    res = {"n": int(len(d)), "mae": float(np.abs(d).mean()), "bias": float(d.mean())}
    if len(d) > 1:
        sd = float(d.std(ddof=1))
        res.update(loa_low=res["bias"] - 1.96 * sd, loa_high=res["bias"] + 1.96 * sd)
        if len(d) > 2 and p.std() > 0 and r.std() > 0:
            res["pearson_r"] = float(np.corrcoef(p, r)[0, 1])
    return res


def _fmt_agreement(name: str, a: dict, unit: str) -> str:
    r = f"{a['pearson_r']:.3f}" if "pearson_r" in a else "n/a"
    loa = f"[{a['loa_low']:+.1f}, {a['loa_high']:+.1f}]" if "loa_low" in a else ""
    return f"  {name:<8} n={a['n']:<3} MAE {a['mae']:6.1f} {unit:<3} bias {a['bias']:+6.1f} {loa:<18} r {r}"


def eval_simulated(n: int, seg, log) -> dict:
    from experts.cmr.quantify import quantify
    from experts.cmr.segment import segment_stack
    from experts.cmr.simulate import simulate_study

    dices: dict[str, list] = {"LV": [], "MYO": [], "RV": []}
    hds: dict[str, list] = {"LV": [], "MYO": [], "RV": []}
    vols: dict[str, tuple[list, list]] = {k: ([], []) for k in ("lv_edv", "lv_esv", "lvef", "lv_mass", "rv_edv", "rv_esv", "rvef")}
    times = []
    for i in range(n):
        sim = simulate_study(SIM_EVAL_SEED + i)
        t0 = time.perf_counter()
        res = segment_stack(sim.stack, seg)
        times.append((time.perf_counter() - t0, sim.stack.n_phases * sim.stack.n_slices))
        truth_fn = quantify(sim.labels, sim.stack)
        pred_fn = quantify(res.labels, sim.stack)
        for t in sorted({truth_fn.ed, truth_fn.es}):
            ov = overlap(res.labels[t], sim.labels[t], sim.stack.pixel_spacing_mm)
            for k, (d, h) in ov.items():
                dices[k].extend(d.tolist())
                hds[k].extend(h[np.isfinite(h)].tolist())
        for k in vols:
            if k in truth_fn.values and k in pred_fn.values:
                vols[k][0].append(pred_fn.values[k])
                vols[k][1].append(truth_fn.values[k])
        log(
            f"  sim {i}: EF truth {truth_fn.values.get('lvef', float('nan')):.0f} pred {pred_fn.values.get('lvef', float('nan')):.0f}; "
            f"EDV {truth_fn.values.get('lv_edv', float('nan')):.0f}/{pred_fn.values.get('lv_edv', float('nan')):.0f} mL"
        )
    return {
        "cases": n,
        "dice": {k: float(np.mean(v)) for k, v in dices.items() if v},
        "hd95_mm": {k: float(np.mean(v)) for k, v in hds.items() if v},
        "volumes": {k: agreement(*v) for k, v in vols.items() if v[0]},
        "seconds_per_image": float(sum(t for t, _ in times) / max(1, sum(n for _, n in times))),
    }


def eval_sunnybrook(root: Path, seg, held_out: set[str], log, only: set[str] | None = None) -> dict:
    from experts.cmr.contours import load_sunnybrook_reference, reference_volumes
    from experts.cmr.io_dicom import read_dicom_cine
    from experts.cmr.quantify import quantify
    from experts.cmr.segment import segment_stack

    out = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if only is not None and d.name not in only:
            continue
        stack = read_dicom_cine(sorted(str(f) for f in (d / "dicom").glob("*.dcm")))
        ref = load_sunnybrook_reference(d, stack)
        res = segment_stack(stack, seg)
        pred = res.labels
        ed_imgs = [im for im in ref.images if im.has_epi]
        all_idx = [(im.phase, im.slice) for im in ref.images]
        p_all = np.stack([pred[t, z] for t, z in all_idx])
        r_all = np.stack([im.labels for im in ref.images])
        lv = overlap(p_all, r_all, stack.pixel_spacing_mm, classes=(1,))["LV"]
        myo = overlap(
            np.stack([pred[im.phase, im.slice] for im in ed_imgs]), np.stack([im.labels for im in ed_imgs]), stack.pixel_spacing_mm, classes=(2,)
        )["MYO"]
        # matched volumes: prediction on the experts' slices and phases
        matched_ref = reference_volumes(ref, stack)
        from experts.cmr.contours import ContourImage, SunnybrookReference

        mimic = SunnybrookReference(
            [ContourImage(im.phase, im.slice, pred[im.phase, im.slice].copy(), im.has_epi) for im in ref.images]
        )
        # the experts' per-slice ED/ES choice is by epicardium presence; keep theirs
        matched_pred = _reference_volumes_with_choice(mimic, ref, stack)
        auto = quantify(pred, stack).values
        case = {
            "held_out": d.name in held_out,
            "located_by": res.located_by,
            "dice_lv": float(lv[0].mean()),
            "dice_lv_ed": float(np.mean([x for x, im in zip(lv[0], ref.images) if im.has_epi])),
            "dice_lv_es": float(np.mean([x for x, im in zip(lv[0], ref.images) if not im.has_epi])),
            "hd95_lv_mm": float(np.nanmean(lv[1])),
            "dice_myo_ed": float(myo[0].mean()),
            "hd95_myo_mm": float(np.nanmean(myo[1])),
            "reference": matched_ref,
            "matched": matched_pred,
            "automatic": {k: auto[k] for k in ("lv_edv", "lv_esv", "lvef", "lv_mass") if k in auto},
        }
        out[d.name] = case
        log(
            f"  {d.name}{' (held out)' if case['held_out'] else ' (training)'}: Dice LV {case['dice_lv']:.3f} "
            f"MYO {case['dice_myo_ed']:.3f}; EF ref {matched_ref['lvef']:.1f} matched {matched_pred.get('lvef', float('nan')):.1f} "
            f"auto {auto.get('lvef', float('nan')):.1f}"
        )
    return out


def _reference_volumes_with_choice(pred_ref, expert_ref, stack) -> dict[str, float]:
    """Contour-style volumes of the prediction, using the experts' ED/ES
    image of each slice (not the prediction's own areas) to pick phases."""
    from experts.cmr.contours import reference_volumes

    chosen = {}
    for z, (ed, es) in expert_ref.ed_es_per_slice().items():
        chosen[(ed.phase, z)] = True
        if es is not None:
            chosen[(es.phase, z)] = False
    for im in pred_ref.images:
        im.has_epi = chosen.get((im.phase, im.slice), im.has_epi)
    return reference_volumes(pred_ref, stack)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sim", type=int, default=12, help="held-out simulated stacks")
    ap.add_argument("--sunnybrook", default=str(DEFAULT_SB))
    ap.add_argument("--weights", default=None, help="checkpoint to evaluate (default: the embedded one)")
    ap.add_argument("--json", default=None)
    ap.add_argument(
        "--cross-validate",
        nargs="+",
        default=None,
        metavar="CKPT",
        help="checkpoints trained with different --holdout; each is scored only on its held-out Sunnybrook patient(s) and the results pooled",
    )
    args = ap.parse_args(argv)
    if args.cross_validate:
        return cross_validate([Path(p) for p in args.cross_validate], Path(args.sunnybrook), args.json)

    import torch

    torch.set_num_threads(1)
    from experts.cmr.models import DEFAULT_WEIGHTS, load_checkpoint

    seg = load_checkpoint(Path(args.weights) if args.weights else DEFAULT_WEIGHTS)
    held_out = set(seg.info.get("held_out_patients", []))
    started = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - started:6.1f}s] {msg}", flush=True)

    report: dict = {"weights": seg.name, "weights_sha256": seg.weights_sha256, "training": seg.info}
    if args.sim > 0:
        log(f"simulated held-out set: {args.sim} stacks")
        report["simulated"] = eval_simulated(args.sim, seg, log)
    sb = Path(args.sunnybrook)
    if sb.is_dir():
        log("Sunnybrook")
        report["sunnybrook"] = eval_sunnybrook(sb, seg, held_out, log)
    print()
    if "simulated" in report:
        s = report["simulated"]
        print(f"Simulated held-out ({s['cases']} stacks, ED+ES images):")
        print("  Dice " + "  ".join(f"{k} {v:.3f}" for k, v in s["dice"].items()) + "   HD95 mm " + "  ".join(f"{k} {v:.1f}" for k, v in s["hd95_mm"].items()))
        for k, a in s["volumes"].items():
            print(_fmt_agreement(k, a, "%" if k.endswith("ef") else ("g" if k == "lv_mass" else "mL")))
        print(f"  segmentation {1000 * s['seconds_per_image']:.1f} ms per image")
    if "sunnybrook" in report:
        print("Sunnybrook (experts' contours):")
        for name, c in report["sunnybrook"].items():
            tag = "HELD OUT" if c["held_out"] else "training"
            print(
                f"  {name} [{tag}] Dice LV {c['dice_lv']:.3f} (ED {c['dice_lv_ed']:.3f}, ES {c['dice_lv_es']:.3f}) HD95 {c['hd95_lv_mm']:.1f} mm; "
                f"MYO(ED) {c['dice_myo_ed']:.3f} HD95 {c['hd95_myo_mm']:.1f} mm"
            )
            for mode in ("matched", "automatic"):
                vals = c[mode]
                print(
                    f"      {mode:<9} " + "  ".join(
                        f"{k} {vals.get(k, float('nan')):.1f} (ref {c['reference'].get(k, float('nan')):.1f})" for k in ("lv_edv", "lv_esv", "lvef", "lv_mass")
                    )
                )
        for subset, keep in (("held-out", True), ("training", False)):
            cases = [c for c in report["sunnybrook"].values() if c["held_out"] == keep]
            if len(cases) > 1:
                _print_volume_agreement(cases, f"{subset} patients")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=float))
    return 0


def _print_volume_agreement(cases: list[dict], title: str) -> None:
    for mode in ("matched", "automatic"):
        print(f"  {title}, {mode}:")
        for k in ("lv_edv", "lv_esv", "lvef", "lv_mass"):
            pairs = [(c[mode][k], c["reference"][k]) for c in cases if k in c[mode] and k in c["reference"]]
            if pairs:
                print(_fmt_agreement(k, agreement(*zip(*pairs)), "%" if k == "lvef" else ("g" if k == "lv_mass" else "mL")))


def cross_validate(checkpoints: list[Path], root: Path, json_out: str | None) -> int:
    """Each Sunnybrook patient scored by a model that never saw it."""
    import torch

    torch.set_num_threads(1)
    from experts.cmr.models import load_checkpoint

    started = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - started:6.1f}s] {msg}", flush=True)

    pooled: dict[str, dict] = {}
    for ckpt in checkpoints:
        seg = load_checkpoint(ckpt)
        held = set(seg.info.get("held_out_patients", []))
        log(f"{ckpt.name}: held out {sorted(held)}")
        for name, case in eval_sunnybrook(root, seg, held, log, only=held).items():
            case["checkpoint"] = ckpt.name
            pooled[name] = case
    print("\nSunnybrook, each patient held out of its model's training:")
    for name, c in pooled.items():
        print(
            f"  {name} ({c['checkpoint']}): Dice LV {c['dice_lv']:.3f} HD95 {c['hd95_lv_mm']:.1f} mm; "
            f"MYO(ED) {c['dice_myo_ed']:.3f} HD95 {c['hd95_myo_mm']:.1f} mm"
        )
    if pooled:
        print(
            "  mean Dice LV {:.3f}, MYO {:.3f}; HD95 LV {:.1f} mm, MYO {:.1f} mm".format(
                np.mean([c["dice_lv"] for c in pooled.values()]),
                np.mean([c["dice_myo_ed"] for c in pooled.values()]),
                np.mean([c["hd95_lv_mm"] for c in pooled.values()]),
                np.mean([c["hd95_myo_mm"] for c in pooled.values()]),
            )
        )
        _print_volume_agreement(list(pooled.values()), f"{len(pooled)} held-out patients")
    if json_out:
        Path(json_out).write_text(json.dumps(pooled, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
