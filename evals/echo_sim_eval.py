"""Score the echo expert on held-out simulated clips with known truth.

    .venv/bin/python -m evals.echo_sim_eval --clips 40 --noise-clips 12 --out out/echo_eval

Held-out means: seeds from 3,000,000 (training used 0..N and validation
1,000,000+), and `HELDOUT_RANGES` (wider EF, heart-rate, frame-rate, depth,
noise, RV-size ranges than training). Every clip goes through the full
pipeline as a scanner export would: the fan is placed on a 4:3 screen
with burnt-in text, a depth marker and a green ECG sweep, and the expert
must find the sector itself. Spacing and frame rate are given as a DICOM
header would give them.

Metrics per method (embedded U-Net, classical threshold + active contour):
* Dice of the LV mask at the clip's own resolution, all frames;
* EF (beat-averaged, method of discs): MAE, bias, Pearson r vs truth;
* EDV/ESV MAE (mL);
* ED / ES frame error: for each true ES frame, and each true ED frame that
  opens a complete ejection in the clip, the distance to the nearest
  detected one (frames), and the share of true events with none within
  half a cycle (missed);
* heart rate error against the rate of the beats inside the clip;
* share of clips where no beat was found (no EF reported);
* a robustness curve: the same metrics with thermal noise forced to each
  level of `--noise-levels`.
Writes `results.json` and `summary.md` under --out.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HELDOUT_SEED_BASE = 3_000_000
NOISE_SEED_BASE = 4_000_000
PSAX_SEED_BASE = 6_000_000


def _display_clip(sim, seed: int):
    from experts.echo.clip import EchoClip
    from experts.echo.simulate import embed_in_display

    h, w = sim.frames.shape[1:]
    canvas = (max(240, h + 60), max(320, w + 100))
    rgb, offset = embed_in_display(sim, canvas_hw=canvas, offset_rc=(30, (canvas[1] - w) // 2))
    clip = EchoClip(rgb, f"sim-{seed}", "dicom", fps=sim.fps, fps_source="simulated Frame Time", spacing_mm=None)
    from experts.echo.clip import UltrasoundRegion

    r0, c0 = offset
    clip.region = UltrasoundRegion(c0, r0, c0 + w - 1, r0 + h - 1, sim.spacing_mm, sim.spacing_mm, 1)
    truth = np.zeros((sim.frames.shape[0],) + canvas, bool)
    truth[:, r0 : r0 + h, c0 : c0 + w] = sim.lv_mask
    return clip, truth


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    s = a.sum() + b.sum()
    return float(2 * np.logical_and(a, b).sum() / s) if s else 1.0


def _event_errors(true: list[int], pred: list[int], half_cycle: float) -> tuple[list[int], int]:
    errs, missed = [], 0
    for t in true:
        if not pred:
            missed += 1
            continue
        d = min(abs(t - p) for p in pred)
        if d <= half_cycle:
            errs.append(d)
        else:
            missed += 1
    return errs, missed


def score_clip(sim, seed: int, segmenter) -> dict:
    from experts.echo.analysis import analyse_clip

    clip, truth = _display_clip(sim, seed)
    t0 = time.perf_counter()
    an = analyse_clip(clip, segmenter)
    runtime = time.perf_counter() - t0
    pred = an.original_masks()
    dices = [_dice(pred[i], truth[i]) for i in range(len(truth)) if truth[i].any()]
    half = 0.5 * sim.fps * 60.0 / sim.heart_rate_in_clip
    ed_pred = [b.ed for b in an.beats]
    es_pred = [b.es for b in an.beats]
    # ED events that open a complete ejection in the clip (the expert only
    # reports ED as the start of a beat); every ES in the clip.
    true_ed = [ed for ed, _ in sim.beats()]
    ed_err, ed_miss = _event_errors(true_ed, sorted(set(an.cycles.ed_frames if an.cycles else ed_pred)), half)
    es_err, es_miss = _event_errors(sim.es_frames, sorted(set(an.cycles.es_frames if an.cycles else es_pred)), half)
    v = sim.volumes_ml
    # Score what the tool reports: a non-diagnostic clip yields no EF or volumes.
    reported = an.quality.verdict != "non_diagnostic" and bool(an.beats)
    return {
        "seed": seed,
        "runtime_s": runtime,
        "dice": float(np.mean(dices)) if dices else None,
        "ef_true": sim.ef_true,
        "ef_pred": an.ef_mean if reported else None,
        "ef_area_length": an.ef_al_mean if reported else None,
        "edv_err": [b.edv - v[b.ed] for b in an.beats] if an.has_mm and reported else [],
        "esv_err": [b.esv - v[b.es] for b in an.beats] if an.has_mm and reported else [],
        "ed_err": ed_err,
        "es_err": es_err,
        "ed_missed": ed_miss,
        "es_missed": es_miss,
        "n_true_ed": len(true_ed),
        "n_true_es": len(sim.es_frames),
        "hr_true": sim.heart_rate_in_clip,
        "hr_pred": an.heart_rate_bpm,
        "quality": an.quality.verdict,
        "reasons": an.quality.reasons,
        "view_elongation": an.view.elongation if an.view else None,
        "view_axis_deg": an.view.axis_from_beam_deg if an.view else None,
        "view_rule_fired": bool(an.view and an.view.apical is False),
        "noise": sim.params.noise,
    }


def score_non_apical(sim, seed: int, segmenter) -> dict:
    """A simulated short-axis clip: the expert must not report an EF."""
    from experts.echo.analysis import analyse_clip

    clip, _ = _display_clip(sim, seed)
    an = analyse_clip(clip, segmenter)
    ef = an.ef_mean if an.quality.verdict != "non_diagnostic" and an.beats else None
    return {
        "seed": seed,
        "quality": an.quality.verdict,
        "ef_reported": ef,
        "view_rule_fired": bool(an.view and an.view.apical is False),
        "view_elongation": an.view.elongation if an.view else None,
        "view_axis_deg": an.view.axis_from_beam_deg if an.view else None,
        "reasons": an.quality.reasons,
    }


def summarise(rows: list[dict]) -> dict:
    dice = [r["dice"] for r in rows if r["dice"] is not None]
    pairs = [(r["ef_true"], r["ef_pred"]) for r in rows if r["ef_true"] is not None and r["ef_pred"] is not None]
    no_ef = sum(1 for r in rows if r["ef_true"] is not None and r["ef_pred"] is None)
    t = np.array([p[0] for p in pairs])
    p = np.array([p[1] for p in pairs])
    ed = [e for r in rows for e in r["ed_err"]]
    es = [e for r in rows for e in r["es_err"]]
    n_ed = sum(r["n_true_ed"] for r in rows)
    n_es = sum(r["n_true_es"] for r in rows)
    edv = [abs(e) for r in rows for e in r["edv_err"]]
    esv = [abs(e) for r in rows for e in r["esv_err"]]
    hr = [abs(r["hr_pred"] - r["hr_true"]) for r in rows if r["hr_pred"] is not None]
    out = {
        "clips": len(rows),
        "dice_mean": float(np.mean(dice)) if dice else None,
        "dice_median": float(np.median(dice)) if dice else None,
        "ef_n": len(pairs),
        "ef_not_reported": no_ef,
        "ef_mae": float(np.mean(np.abs(p - t))) if len(pairs) else None,
        "ef_bias": float(np.mean(p - t)) if len(pairs) else None,
        "ef_pearson_r": float(np.corrcoef(t, p)[0, 1]) if len(pairs) > 2 else None,
        "edv_mae_ml": float(np.mean(edv)) if edv else None,
        "esv_mae_ml": float(np.mean(esv)) if esv else None,
        "ed_frame_mae": float(np.mean(ed)) if ed else None,
        "es_frame_mae": float(np.mean(es)) if es else None,
        "ed_missed_share": (sum(r["ed_missed"] for r in rows) / n_ed) if n_ed else None,
        "es_missed_share": (sum(r["es_missed"] for r in rows) / n_es) if n_es else None,
        "hr_mae_bpm": float(np.mean(hr)) if hr else None,
        "runtime_s_mean": float(np.mean([r["runtime_s"] for r in rows])),
        "quality": {q: sum(1 for r in rows if r["quality"] == q) for q in ("usable", "limited", "non_diagnostic")},
        "view_rule_fired": sum(1 for r in rows if r.get("view_rule_fired")),
        "view_elongation_min": min((r["view_elongation"] for r in rows if r.get("view_elongation") is not None), default=None),
        "view_axis_deg_max": max((r["view_axis_deg"] for r in rows if r.get("view_axis_deg") is not None), default=None),
    }
    return out


def _fmt(x, nd=2):
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--noise-clips", type=int, default=12)
    ap.add_argument("--noise-levels", type=float, nargs="*", default=[0.01, 0.05, 0.1, 0.2, 0.3, 0.45])
    ap.add_argument("--psax-clips", type=int, default=12, help="simulated short-axis clips (must get no EF)")
    ap.add_argument("--methods", nargs="*", default=["unet", "classical"])
    ap.add_argument("--weights", type=Path, default=None, help="U-Net weights (default: the committed ones)")
    ap.add_argument("--out", type=Path, default=Path("out/echo_eval"))
    args = ap.parse_args(argv)

    import torch

    from experts.echo.segment import ClassicalSegmenter, EmbeddedUNet
    from experts.echo.simulate import HELDOUT_RANGES, sample_params, simulate_clip

    torch.set_num_threads(1)
    segmenters = {}
    if "unet" in args.methods:
        segmenters["unet"] = EmbeddedUNet(args.weights)
    if "classical" in args.methods:
        segmenters["classical"] = ClassicalSegmenter()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    rows: dict[str, list[dict]] = {k: [] for k in segmenters}
    non_apical: dict[str, list[dict]] = {k: [] for k in segmenters}
    for i in range(args.psax_clips):
        seed = PSAX_SEED_BASE + i
        sim = simulate_clip(sample_params(seed, HELDOUT_RANGES, view="psax", n_frames=64))
        for name, seg in segmenters.items():
            non_apical[name].append(score_non_apical(sim, seed, seg))
        print(f"short-axis clip {i + 1}/{args.psax_clips} " + " ".join(f"{k}: {v[-1]['quality']} EF {_fmt(v[-1]['ef_reported'], 1)}" for k, v in non_apical.items()), flush=True)
    for i in range(args.clips):
        seed = HELDOUT_SEED_BASE + i
        sim = simulate_clip(sample_params(seed, HELDOUT_RANGES))
        for name, seg in segmenters.items():
            rows[name].append(score_clip(sim, seed, seg))
        print(f"clip {i + 1}/{args.clips} " + " ".join(f"{k}: EF {_fmt(v[-1]['ef_pred'], 1)} (true {_fmt(v[-1]['ef_true'], 1)}) Dice {_fmt(v[-1]['dice'], 3)}" for k, v in rows.items()), flush=True)

    curve: dict[str, list[dict]] = {k: [] for k in segmenters}
    for level in args.noise_levels:
        per = {k: [] for k in segmenters}
        for i in range(args.noise_clips):
            seed = NOISE_SEED_BASE + i
            p = replace(sample_params(seed, HELDOUT_RANGES), noise=level)
            sim = simulate_clip(p)
            for name, seg in segmenters.items():
                per[name].append(score_clip(sim, seed, seg))
        for name in segmenters:
            s = summarise(per[name])
            curve[name].append({"noise": level, **{k: s[k] for k in ("dice_mean", "ef_mae", "ef_not_reported", "es_frame_mae", "ed_frame_mae")}})
        print(f"noise {level}: " + " ".join(f"{k}: Dice {_fmt(c[-1]['dice_mean'], 3)} EF MAE {_fmt(c[-1]['ef_mae'], 1)}" for k, c in curve.items()), flush=True)

    result = {
        "command": "python -m evals.echo_sim_eval " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "heldout_seeds": f"{HELDOUT_SEED_BASE}..{HELDOUT_SEED_BASE + args.clips - 1}",
        "noise_seeds": f"{NOISE_SEED_BASE}..{NOISE_SEED_BASE + args.noise_clips - 1}",
        "summary": {k: summarise(v) for k, v in rows.items()} if args.clips else {},
        "non_apical": {
            k: {
                "clips": len(v),
                "ef_reported": sum(1 for r in v if r["ef_reported"] is not None),
                "view_rule_fired": sum(1 for r in v if r["view_rule_fired"]),
                "quality": {q: sum(1 for r in v if r["quality"] == q) for q in ("usable", "limited", "non_diagnostic")},
                "elongation_range": [min((r["view_elongation"] for r in v if r["view_elongation"] is not None), default=None), max((r["view_elongation"] for r in v if r["view_elongation"] is not None), default=None)],
                "per_clip": v,
            }
            for k, v in non_apical.items()
        },
        "noise_curve": curve,
        "per_clip": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (args.out / "results.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    lines = ["| metric | " + " | ".join(segmenters) + " |", "|---|" + "---|" * len(segmenters)]
    keys = ["clips", "dice_mean", "dice_median", "ef_n", "ef_not_reported", "ef_mae", "ef_bias", "ef_pearson_r", "edv_mae_ml", "esv_mae_ml", "ed_frame_mae", "es_frame_mae", "ed_missed_share", "es_missed_share", "hr_mae_bpm", "runtime_s_mean", "view_rule_fired", "view_elongation_min", "view_axis_deg_max"]
    for k in keys if args.clips else []:
        lines.append(f"| {k} | " + " | ".join(_fmt(result["summary"][m][k], 3) for m in segmenters) + " |")
    lines += ["", "Noise robustness (Dice / EF MAE / clips without EF):", "", "| noise | " + " | ".join(segmenters) + " |", "|---|" + "---|" * len(segmenters)]
    for j, level in enumerate(args.noise_levels):
        lines.append(f"| {level} | " + " | ".join(f"{_fmt(curve[m][j]['dice_mean'], 3)} / {_fmt(curve[m][j]['ef_mae'], 1)} / {curve[m][j]['ef_not_reported']}" for m in segmenters) + " |")
    if args.psax_clips:
        lines += ["", "Simulated short-axis clips (no EF may be reported):", ""]
        for m, v in result["non_apical"].items():
            lines.append(f"* {m}: {v['ef_reported']} of {v['clips']} with an EF; view rule fired on {v['view_rule_fired']}; verdicts {v['quality']}")
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"total {result['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
