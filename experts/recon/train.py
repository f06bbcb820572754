"""Train the embedded cine VarNet (`weights/varnet_cine_small.pt`).

Why this recipe: the default network must be retrainable by anyone from
what the project generates, in under ten minutes on one CPU thread, and
still beat the classical baselines on cine. So:
- images: the recon expert's own cine phantoms (`phantom.py`), plus the
  real Sunnybrook cine magnitudes (public domain, CC0) of patients
  SC-HF-I-1 and SC-HF-I-2 when ../shared/data is present; SC-HF-I-4 and
  phantom seeds >= 1000 are held out for evaluation;
- acquisitions: `simulate.py` — smooth synthetic phase, 8 birdcage coils,
  complex noise, CMRxRecon-style equispaced time-interleaved masks at
  R = 4/8/10 with ACS (24 lines per 192 columns, scaled to the crop) or
  variable-density random masks;
- small 96×96 crops and 2 frames per step keep a step cheap; the network
  (5 cascades, 12-channel 3-level U-Nets) keeps fastMRI's module layout;
- cine view sharing: the cascades start from k-space whose unsampled lines
  are copied from the nearest frame that sampled them (sliding window,
  `init = "view_sharing_nearest"` in the sidecar JSON); the data-consistency
  term keeps the measured lines.

Usage (the command that produced the committed weights is in MODEL_CARD.md):
    .venv/bin/python -m experts.recon.train --minutes 9 --seed 0
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "weights" / "varnet_cine_small.pt"
ARCH = {"num_cascades": 5, "sens_chans": 4, "sens_pools": 3, "chans": 12, "pools": 3}
CROP = 96
FRAMES_PER_STEP = 2
TRAIN_SUNNYBROOK = ("SC-HF-I-1", "SC-HF-I-2")
HELDOUT_SUNNYBROOK = "SC-HF-I-4"
HELDOUT_PHANTOM_SEEDS = (1000, 1001)


def shared_data_dir() -> Path | None:
    import os

    env = os.environ.get("CARDIO_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [HERE.parents[2] / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


def image_bank(n_phantoms: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
    """Magnitude cine slices (x, y, t) to draw training crops from."""
    from experts.recon.phantom import make_cine_phantom
    from experts.recon.sunnybrook import load_dicom_cine

    bank: list[np.ndarray] = []
    seen: list[str] = []
    for i in range(n_phantoms):
        ph = make_cine_phantom(matrix=CROP, frames=16, slices=1, seed=seed * 100_000 + i, pixel_mm=2.2)
        bank.append(ph.images[:, :, 0])
    seen.append(f"{n_phantoms} phantom cine slices (96×96, 16 frames, seeds {seed * 100_000}..{seed * 100_000 + n_phantoms - 1})")
    root = shared_data_dir()
    if root is not None:
        for patient in TRAIN_SUNNYBROOK:
            folder = root / "cmr" / "sunnybrook" / patient / "dicom"
            if folder.is_dir():
                cine = load_dicom_cine(folder)
                for z in range(cine.images.shape[2]):
                    bank.append(cine.images[:, :, z])
                seen.append(f"Sunnybrook {patient}: {cine.images.shape[2]} slices × {cine.images.shape[3]} frames (real magnitude, CC0)")
    return bank, seen


def random_sample(bank: list[np.ndarray], rng: np.random.Generator, init: str = "view_sharing_nearest"):
    """One simulated undersampled cine crop → tensors for FRAMES_PER_STEP frames."""
    import torch

    from experts.recon.kspace import view_shared_kspace
    from experts.recon.simulate import fully_sampled_study, undersample

    cine = bank[rng.integers(len(bank))]
    h, w, _ = cine.shape
    if h > CROP:  # real images: crop around the centre, where the heart is
        cx = h // 2 + rng.integers(-h // 8, h // 8 + 1)
        cy = w // 2 + rng.integers(-w // 8, w // 8 + 1)
        cine = cine[cx - CROP // 2 : cx + CROP // 2, cy - CROP // 2 : cy + CROP // 2]
    if rng.random() < 0.5:
        cine = cine[::-1]
    if rng.random() < 0.5:
        cine = np.swapaxes(cine, 0, 1)
    full = fully_sampled_study(
        np.ascontiguousarray(cine)[:, :, None, :], coils=8, seed=int(rng.integers(1 << 31)), noise_level=float(rng.uniform(0.003, 0.02))
    )
    acs = int(round(24 * CROP / 192))
    if rng.random() < 0.75:
        us = undersample(full, int(rng.choice([4, 8, 10])), pattern="equispaced", acs=acs)
    else:
        us = undersample(full, float(rng.uniform(2.5, 6.0)), pattern="random", acs=acs, seed=int(rng.integers(1 << 31)))
    scale = float(np.percentile(us.reference, 99)) or 1.0
    ksp = us.kspace[:, 0] / scale
    shared_all = view_shared_kspace(us.kspace, us.mask)[:, 0] / scale if init == "view_sharing_nearest" else ksp
    frames = rng.choice(us.frames, size=FRAMES_PER_STEP, replace=False)
    mask = us.mask[frames, 0]
    shared = shared_all[frames]
    to_t = lambda a: torch.view_as_real(torch.from_numpy(np.ascontiguousarray(a, dtype=np.complex64)))  # noqa: E731
    return (
        to_t(ksp[frames]),
        torch.from_numpy(np.ascontiguousarray(mask))[:, None, :, :, None],
        to_t(shared),
        torch.from_numpy(us.reference[frames, 0] / scale),
        us.acs_lines(),
    )


def heldout_studies(matrix: int = 128, frames: int = 12):
    """Small held-out cines: two phantoms and (when present) one real slice."""
    from experts.recon.phantom import make_cine_phantom
    from experts.recon.simulate import fully_sampled_study
    from experts.recon.sunnybrook import centre_crop, load_dicom_cine

    out = []
    for s in HELDOUT_PHANTOM_SEEDS:
        ph = make_cine_phantom(matrix=matrix, frames=frames, slices=1, seed=s)
        out.append((f"phantom seed {s}", fully_sampled_study(ph.images, coils=8, seed=s + 1)))
    root = shared_data_dir()
    if root is not None:
        folder = root / "cmr" / "sunnybrook" / HELDOUT_SUNNYBROOK / "dicom"
        if folder.is_dir():
            cine = load_dicom_cine(folder)
            z = cine.images.shape[2] // 2
            img = centre_crop(cine.images[:, :, z : z + 1, :frames], matrix)
            out.append((f"Sunnybrook {HELDOUT_SUNNYBROOK} slice {z}", fully_sampled_study(img, coils=8, seed=7)))
    return out


def evaluate(weights: Path) -> list[dict]:
    from experts.recon.methods import reconstruct
    from experts.recon.methods.common import ReconParams
    from experts.recon.metrics import compare
    from experts.recon.simulate import undersample

    rows = []
    for name, full in heldout_studies():
        for r in (4, 8):
            us = undersample(full, r)
            for method in ("zero_filled", "varnet"):
                out = reconstruct(us, method, ReconParams(weights=str(weights)))
                q = compare(full.reference, out.images)
                rows.append({"data": name, "R": r, "method": method, "psnr_db": round(q.psnr_db, 2), "ssim": round(q.ssim, 4), "nmse": round(q.nmse, 4)})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--minutes", type=float, default=9.0, help="wall-clock budget for the training loop")
    ap.add_argument("--max-steps", type=int, default=4000)
    ap.add_argument("--phantoms", type=int, default=48)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--from-weights", type=Path, default=None, help="start from these weights (same architecture) instead of random")
    ap.add_argument(
        "--init",
        choices=("zero_filled", "view_sharing_nearest"),
        default="view_sharing_nearest",  # what the committed weights were trained with
        help="cascade start: zero-filled k-space (fastMRI; keeps each frame's own timing) or nearest-frame view sharing "
        "(higher PSNR, but blurs motion across frames and lowers LVEF: see README)",
    )
    args = ap.parse_args(argv)

    import torch

    from experts.recon.models.varnet import VarNet

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    started = time.time()
    bank, seen = image_bank(args.phantoms, args.seed)
    print(f"image bank: {len(bank)} cine slices ({time.time() - started:.0f} s)", flush=True)
    model = VarNet(**ARCH)
    if args.from_weights:
        state = torch.load(args.from_weights, map_location="cpu", weights_only=True)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        seen.append(f"fine-tuned from {args.from_weights.name} (sha256 {__import__('experts.core.tool', fromlist=['sha256_file']).sha256_file(args.from_weights)[:12]})")
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    budget = args.minutes * 60.0
    losses: list[float] = []
    step = 0
    loop_start = time.time()
    while step < args.max_steps and time.time() - loop_start < budget:
        frac = min((time.time() - loop_start) / budget, step / args.max_steps)
        for g in opt.param_groups:  # cosine decay over the budget, whichever ends first
            g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
        k, m, init, target, acs = random_sample(bank, rng, args.init)
        out = model(k, m, acs, init)
        loss = torch.nn.functional.l1_loss(out, target)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {np.mean(losses[-50:]):.4f} ({time.time() - loop_start:.0f} s)", flush=True)
    model.eval()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # float16 storage halves the committed file; loading casts back to float32.
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, args.out)
    config = {
        "architecture": ARCH,
        "init": args.init,
        "steps": step,
        "train_seconds": round(time.time() - loop_start, 1),
        "crop": CROP,
        "frames_per_step": FRAMES_PER_STEP,
        "loss": "L1 on RSS magnitude (scaled by the reference 99th percentile)",
        "final_loss_mean_last_100": round(float(np.mean(losses[-100:])), 5) if losses else None,
        "data_seen": seen,
        "command": "python -m experts.recon.train " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
    }
    args.out.with_suffix(".json").write_text(json.dumps(config, indent=1))
    print(f"saved {args.out} after {step} steps", flush=True)
    if not args.no_eval:
        config["heldout"] = evaluate(args.out)
        args.out.with_suffix(".json").write_text(json.dumps(config, indent=1))


if __name__ == "__main__":
    main()
