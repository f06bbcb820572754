"""Train the embedded short-axis segmentation model.

    .venv/bin/python -m experts.cmr.train            # defaults below, ~9 min on 1 CPU thread
    .venv/bin/python -m experts.cmr.train --sim-stacks 20 --iters 50 --out /tmp/x.pt   # smoke run

Data, all generated or public-domain:
- simulated bSSFP cine stacks from `experts.cmr.simulate` (LV pool,
  myocardium and RV with exact labels), seeds 100000+;
- real Sunnybrook Cardiac Data slices (CC0) of the patients NOT held out
  (default: SC-HF-I-1 and SC-HF-I-2; SC-HF-I-4 is kept out for evaluation),
  labelled by the experts' contours. They carry no RV label and, at ES, no
  epicardium, so the loss is the likelihood of the *set* of classes a pixel
  may belong to (e.g. "background or RV" outside the LV at ED), and Dice is
  computed only for classes a sample fully determines. Slices the experts
  left uncontoured beyond the contoured range (atrium, apical cap) enter as
  "no LV pool here" at the experts' ED and ES phases.

Every sample goes through `preprocess.GridMap` and `normalise` exactly as
at inference, with random rotation, mirroring, pixel size, centring error,
bias field, gamma and noise on top. Views alternate between the fine grid
(1.5 mm, centred near the heart) and the wide coarse grid (2.5 mm, centred
on the image) that inference uses to find the heart.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experts.cmr.labels import LV, MYO, RV
from experts.cmr.models import CHECKPOINT_FORMAT, DEFAULT_WEIGHTS, build_unet
from experts.cmr.preprocess import GridMap, InputConvention, normalise

FINE = InputConvention(size=128, pixel_spacing_mm=1.5, intensity="percentile_slice")
COARSE = InputConvention(size=128, pixel_spacing_mm=2.5, intensity="percentile_slice")
ARCH = {"channels": (16, 32, 64, 128, 256), "strides": (2, 2, 2, 2), "num_res_units": 1}
SUNNYBROOK_PATIENTS = ("SC-HF-I-1", "SC-HF-I-2", "SC-HF-I-4")
SIM_SEED_BASE = 100_000

# label modes: which classes an unlabelled pixel may belong to
MODE_FULL, MODE_ED_CONTOURS, MODE_ES_CONTOURS, MODE_NO_LV = 0, 1, 2, 3


@dataclass
class Image2D:
    image: np.ndarray  # (H, W) float32 native
    labels: np.ndarray  # (H, W) uint8 canonical
    spacing: tuple[float, float]
    heart: tuple[float, float]  # (row, col) of the stack's heart centre
    mode: int


def simulated_images(n_stacks: int, phases_per_stack: int, seed_base: int, log) -> list[Image2D]:
    from experts.cmr.simulate import contraction, random_acquisition, random_heart, simulate_study

    out: list[Image2D] = []
    for i in range(n_stacks):
        seed = seed_base + i
        rng = np.random.default_rng(seed)
        heart = random_heart(rng)
        acq = random_acquisition(rng, heart)
        acq.subplanes = 2
        if acq.pixel_mm < 1.3:  # the model works at 1.5 mm; finer rendering buys nothing here
            scale = acq.pixel_mm / 1.3
            acq.pixel_mm, acq.rows, acq.cols = 1.3, int(acq.rows * scale) // 2 * 2, int(acq.cols * scale) // 2 * 2
        # ED, ES and random phases in between
        taus = np.arange(acq.n_phases) / acq.n_phases
        es = int(np.argmax(contraction(taus, heart.tau_es)))
        others = rng.choice([p for p in range(acq.n_phases) if p not in (0, es)], size=max(0, phases_per_stack - 2), replace=False)
        phases = sorted({0, es, *[int(p) for p in others]})
        sim = simulate_study(seed, heart=heart, acq=acq, phases=phases)
        lab = sim.labels
        heart_px = np.argwhere(lab > 0)
        centre = tuple(heart_px[:, 2:].mean(axis=0)) if len(heart_px) else ((acq.rows - 1) / 2, (acq.cols - 1) / 2)
        for t in range(lab.shape[0]):
            for z in range(lab.shape[1]):
                out.append(
                    Image2D(sim.stack.images[t, z].astype(np.float16), lab[t, z], sim.stack.pixel_spacing_mm, centre, MODE_FULL)
                )
        if (i + 1) % 20 == 0:
            log(f"  simulated {i + 1}/{n_stacks} stacks ({len(out)} images)")
    return out


def sunnybrook_images(root: Path, patients: list[str], log) -> list[Image2D]:
    from experts.cmr.contours import load_sunnybrook_reference
    from experts.cmr.io_dicom import read_dicom_cine

    out: list[Image2D] = []
    for p in patients:
        d = root / p
        files = sorted(str(f) for f in (d / "dicom").glob("*.dcm"))
        stack = read_dicom_cine(files)
        ref = load_sunnybrook_reference(d, stack)
        pts = np.concatenate([np.argwhere(im.labels > 0) for im in ref.images])
        centre = tuple(pts.mean(axis=0))
        for im in ref.images:
            out.append(
                Image2D(
                    stack.images[im.phase, im.slice],
                    im.labels,
                    stack.pixel_spacing_mm,
                    centre,
                    MODE_ED_CONTOURS if im.has_epi else MODE_ES_CONTOURS,
                )
            )
        # slices the experts left uncontoured beyond the contoured range (atrium above the base,
        # the apical cap): no LV pool there by their judgement; myocardium and RV stay possible
        contoured = sorted({im.slice for im in ref.images})
        phases = sorted({im.phase for im in ref.images})
        negatives = [z for z in range(stack.n_slices) if z < contoured[0] or z > contoured[-1]]
        for z in negatives:
            for t in phases:
                out.append(Image2D(stack.images[t, z], np.zeros(stack.images.shape[2:], np.uint8), stack.pixel_spacing_mm, centre, MODE_NO_LV))
        log(f"  Sunnybrook {p}: {len(ref.images)} contoured images, {len(negatives) * len(phases)} uncontoured end-slice images")
    return out


def allowed_classes(labels, modes):
    """(N, H, W) labels + (N,) modes -> (N, 4, H, W) bool: classes a pixel may be."""
    import torch

    onehot = torch.nn.functional.one_hot(labels.long(), 4).permute(0, 3, 1, 2).bool()
    allowed = onehot.clone()
    bg = labels == 0
    m1 = (modes == MODE_ED_CONTOURS)[:, None, None] & bg
    allowed[:, RV] |= m1
    m2 = (modes == MODE_ES_CONTOURS)[:, None, None] & bg
    allowed[:, MYO] |= m2
    allowed[:, RV] |= m2
    m3 = (modes == MODE_NO_LV)[:, None, None] & bg
    allowed[:, MYO] |= m3
    allowed[:, RV] |= m3
    return allowed


def loss_fn(logits, labels, modes, dice_weight: float = 1.0):
    """Set-valued cross-entropy plus `dice_weight` x soft Dice.

    Why the weight is an option: soft-Dice training can bias the volume of
    small, uncertain structures (Bertels et al., Medical Image Analysis
    2021), and the embedded model overestimates LV mass. Tried in session 2
    (`--dice-weight 0 --iters 1200`, see MODEL_CARD.md): cross-entropy alone
    moved the simulated LV-mass bias only from +21 to +19 g and made RV
    volumes clearly worse, so Dice stays in the default loss."""
    import torch

    allowed = allowed_classes(labels, modes)
    logp = torch.log_softmax(logits, dim=1)
    nll = -(torch.logsumexp(logp.masked_fill(~allowed, -1e4), dim=1)).mean()
    if dice_weight <= 0:
        return nll
    probs = logp.exp()
    # Dice for classes the sample determines: all for simulated, LV (and MYO at ED) for contours
    determined = torch.zeros(labels.shape[0], 4, dtype=torch.bool)
    determined[modes == MODE_FULL, 1:] = True
    determined[modes == MODE_ED_CONTOURS, LV] = True
    determined[modes == MODE_ED_CONTOURS, MYO] = True
    determined[modes == MODE_ES_CONTOURS, LV] = True
    determined[modes == MODE_NO_LV, LV] = True
    target = torch.nn.functional.one_hot(labels.long(), 4).permute(0, 3, 1, 2).float()
    inter = (probs * target).sum(dim=(2, 3))
    denom = probs.sum(dim=(2, 3)) + target.sum(dim=(2, 3))
    dice = (2 * inter + 1.0) / (denom + 1.0)
    dice_loss = ((1 - dice) * determined).sum() / determined.sum().clamp_min(1)
    return nll + dice_weight * dice_loss


def make_batch(pool: list[Image2D], n: int, rng: np.random.Generator, coarse_p: float):
    import torch

    xs, ys, ms = [], [], []
    for _ in range(n):
        im = pool[int(rng.integers(len(pool)))]
        coarse = rng.random() < coarse_p
        conv = COARSE if coarse else FINE
        H, W = im.image.shape
        if coarse:
            jitter = rng.normal(0, 15.0, 2)
            centre = ((H - 1) / 2 + jitter[0] / im.spacing[0], (W - 1) / 2 + jitter[1] / im.spacing[1])
        else:
            jitter = rng.normal(0, 10.0, 2)
            centre = (im.heart[0] + jitter[0] / im.spacing[0], im.heart[1] + jitter[1] / im.spacing[1])
        gm = GridMap.for_stack((H, W), im.spacing, centre, conv)
        zoom = math.exp(rng.normal(0, 0.12))
        gm.step = (gm.step[0] * zoom, gm.step[1] * zoom)
        gm.angle = float(rng.uniform(0, 2 * np.pi))
        gm.flip = bool(rng.random() < 0.5)
        img = im.image.astype(np.float32)
        # smooth multiplicative bias before normalisation
        yy, xx = np.mgrid[-1 : 1 : H * 1j, -1 : 1 : W * 1j]
        img = img * np.exp(rng.normal(0, 0.15) * xx + rng.normal(0, 0.15) * yy).astype(np.float32)
        x = gm.to_model(img[None])
        y = gm.to_model(im.labels[None].astype(np.float32), mode="nearest")[0, 0].round().to(torch.uint8)
        x = normalise(x, conv)
        gamma = math.exp(rng.normal(0, 0.25))
        x = x.clamp_min(0) ** gamma
        x = x * rng.uniform(0.85, 1.15) + rng.normal(0, 0.05)
        x = x + torch.randn_like(x) * rng.uniform(0, 0.05)
        xs.append(x[0])
        ys.append(y)
        ms.append(im.mode)
    return torch.stack(xs), torch.stack(ys), torch.tensor(ms)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DEFAULT_WEIGHTS))
    ap.add_argument("--sunnybrook", default=str(Path(__file__).resolve().parents[3] / "shared" / "data" / "cmr" / "sunnybrook"))
    ap.add_argument("--holdout", nargs="*", default=["SC-HF-I-4"], help="Sunnybrook patients kept out of training")
    ap.add_argument("--sim-stacks", type=int, default=85)
    ap.add_argument("--phases-per-stack", type=int, default=4)
    ap.add_argument("--iters", type=int, default=1050)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--real-fraction", type=float, default=0.35, help="share of each batch drawn from Sunnybrook")
    ap.add_argument("--coarse-fraction", type=float, default=0.25)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dice-weight", type=float, default=1.0, help="weight of the soft-Dice term (0: cross-entropy only; see loss_fn)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-cpu-minutes", type=float, default=10.0, help="stop early (and say so) past this much CPU time")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    started = time.time()
    cpu0 = time.process_time()

    def cpu_min() -> float:
        return (time.process_time() - cpu0) / 60.0

    def log(msg: str) -> None:
        print(f"[wall {time.time() - started:6.1f}s cpu {cpu_min() * 60:6.1f}s] {msg}", flush=True)

    log(f"simulating {args.sim_stacks} stacks x {args.phases_per_stack} phases")
    sim = simulated_images(args.sim_stacks, args.phases_per_stack, SIM_SEED_BASE, log)
    real: list[Image2D] = []
    train_patients = [p for p in SUNNYBROOK_PATIENTS if p not in set(args.holdout)]
    sb_root = Path(args.sunnybrook)
    if sb_root.is_dir() and train_patients and args.real_fraction > 0:
        real = sunnybrook_images(sb_root, train_patients, log)
    else:
        log(f"no Sunnybrook data at {sb_root}: training on simulated stacks only")
        train_patients = []
    n_real = int(round(args.batch * args.real_fraction)) if real else 0

    net = build_unet(ARCH)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.iters, pct_start=0.1)
    net.train()
    done = 0
    running = None
    for it in range(args.iters):
        if cpu_min() > args.max_cpu_minutes:
            log(f"stopping at iteration {it}: CPU-time cap of {args.max_cpu_minutes} min reached")
            break
        xs, ys, ms = make_batch(sim, args.batch - n_real, rng, args.coarse_fraction)
        if n_real:
            xr, yr, mr = make_batch(real, n_real, rng, args.coarse_fraction)
            xs, ys, ms = torch.cat([xs, xr]), torch.cat([ys, yr]), torch.cat([ms, mr])
        loss = loss_fn(net(xs), ys, ms, args.dice_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        done = it + 1
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if done % 100 == 0:
            log(f"iter {done}/{args.iters} loss {running:.3f}")

    import monai

    elapsed = time.time() - started
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "name": "cardioagent-cmr-unet2d",
        "arch": {**ARCH, "spatial_dims": 2, "in_channels": 1, "out_channels": 4},
        "convention": FINE.to_dict(),
        "coarse_convention": COARSE.to_dict(),
        "labels": "canonical",
        "state_dict": {k: v.detach().half() for k, v in net.state_dict().items()},
        "training": {
            "command": "python -m experts.cmr.train " + " ".join(argv if argv is not None else sys.argv[1:]),
            "simulated_stacks": args.sim_stacks,
            "simulated_seeds": [SIM_SEED_BASE, SIM_SEED_BASE + args.sim_stacks - 1],
            "simulated_images": len(sim),
            "sunnybrook_patients": train_patients,
            "sunnybrook_images": len(real),
            "held_out_patients": list(args.holdout),
            "iterations": done,
            "batch": args.batch,
            "dice_weight": args.dice_weight,
            "wall_time_s": round(elapsed, 1),
            "cpu_time_s": round(cpu_min() * 60, 1),
            "threads": 1,
            "torch": str(torch.__version__),
            "monai": str(monai.__version__),
            "python": platform.python_version(),
            "final_loss": round(float(running or 0.0), 4),
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out)
    from experts.cmr.torchscript import export

    log(f"TorchScript copy for fast start-up: {export(out)}")
    log(f"saved {out} ({out.stat().st_size / 1e6:.1f} MB) after {done} iterations: {elapsed / 60:.1f} min wall, {cpu_min():.1f} min CPU")
    print(json.dumps(ckpt["training"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
