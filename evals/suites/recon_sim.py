"""recon-sim: simulated multi-coil cine k-space, undersampled, with the
fully sampled reference as truth.

Each case takes a short-axis cine from the CMR expert's simulator (a few
mid-ventricular slices so a case stays small), turns it into multi-coil
k-space with the reconstruction expert's own acquisition model
(`experts.recon.simulate.fully_sampled_study`: smooth phase, birdcage
coils, noise) and undersamples it CMRxRecon-style (`undersample`:
equispaced lines, 12 ACS per 96 columns, time-interleaved) at R = 4 or 8. The .npz holds
the reference, as CMRxRecon/fastMRI training files do, so the tool reports
PSNR/SSIM and the LVEF difference between reconstruction and reference;
the harness re-computes PSNR/SSIM from the reconstructed cine it wrote
(fastMRI definitions, experts/recon/metrics.py). Seeds from 970,000 (the
VarNet trained on recon phantoms < 4.8M and Sunnybrook SC-HF-I-1/-2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evals.harness.case import write_case
from evals.harness.suite import BuildContext, BuildResult

DESCRIPTION = "simulated multi-coil cine k-space at R=4/8 with the fully sampled reference: PSNR/SSIM, LVEF preservation"
SEED_BASE = 970_000
DEFAULT_SIZE, FULL_SIZE = 4, 16
SLICES, MATRIX, COILS = 3, 96, 4
ACS = 12  # lines per 96 columns: the recon expert's convention (24 per 192)
# Floors that catch a broken reconstruction, not a ranking: about the level of
# zero filling on the expert's held-out phantoms (MODEL_CARD: 26.7-28 dB,
# SSIM 0.81 at R 4-8); simulated CMR cines with texture and noise score lower.
FLOORS = {4: {"psnr": 25.0, "ssim": 0.70}, 8: {"psnr": 23.0, "ssim": 0.65}}


def make_kspace(seed: int, rate: int):
    """(undersampled KSpaceStudy, simulated stack) for one case."""
    from dataclasses import replace

    from evals.suites.cmr_sim import simulate
    from experts.recon.simulate import fully_sampled_study, undersample

    sim = simulate(seed)
    st = sim.stack
    t, z, h, w = st.images.shape
    mid = z // 2
    zs = list(range(max(0, mid - SLICES // 2), min(z, mid - SLICES // 2 + SLICES)))
    r0, c0 = (h - MATRIX) // 2, (w - MATRIX) // 2
    if r0 < 0 or c0 < 0:
        raise ValueError(f"stack {h}×{w} is smaller than the {MATRIX}² matrix")
    images = st.images[:, zs, r0 : r0 + MATRIX, c0 : c0 + MATRIX]  # (T, Z, rows, cols)
    spacing = (float(st.pixel_spacing_mm[0]), float(st.pixel_spacing_mm[1]), float(sim.acq.thickness_mm + sim.acq.gap_mm))
    rr_ms = 60000.0 / (st.heart_rate_bpm or 60.0)
    full = fully_sampled_study(images.transpose(2, 3, 1, 0), coils=COILS, seed=seed, noise_level=0.005, spacing_mm=spacing,
                               frame_interval_ms=rr_ms / t)  # fmt: skip
    under = undersample(full, rate, acs=ACS)
    return replace(under), sim


def build_case(ctx: BuildContext, case_id: str, seed: int, rate: int) -> Path:
    from experts.recon.writers import write_npz

    folder = ctx.work_dir / case_id
    folder.mkdir(parents=True, exist_ok=True)
    kdata, _sim = make_kspace(seed, rate)
    write_npz(kdata, folder / f"cine_R{rate}.npz", with_reference=True)
    (folder / "truth").mkdir(exist_ok=True)
    np.save(folder / "truth" / "reference.npy", kdata.reference.astype(np.float32))
    floors = FLOORS[rate]
    spec = {
        "id": case_id,
        "description": f"simulated cine k-space, {COILS} coils, {SLICES} slices, {MATRIX}², R={rate} (equispaced, {ACS} ACS)",
        "tags": ["kspace", "simulated", f"R{rate}"],
        "source": f"evals/suites/cmr_sim.simulate seed {seed} → experts.recon.simulate (fully sampled reference in the file)",
        "inputs": [f"cine_R{rate}.npz"],
        "expected": {
            "modalities": ["kspace", "cmr"],
            "measurements": [
                {"name": "acceleration", "value": round(kdata.acceleration(), 2), "tolerance": 0.05, "unit": "1"},
                {"name": "psnr", "min": floors["psnr"], "unit": "dB"},
                {"name": "ssim", "min": floors["ssim"], "unit": "1"},
                {"name": "lvef_abs_diff", "max": 5.0, "unit": "%"},
            ],
        },
        "must_not": {"modalities": ["ecg", "echo"]},
        "truth": {"reconstruction": "truth/reference.npy"},
    }
    write_case(folder, spec)
    return folder


def build(ctx: BuildContext) -> BuildResult:
    res = BuildResult()
    try:
        import experts.cmr.simulate  # noqa: F401
        import experts.recon.simulate  # noqa: F401
    except ModuleNotFoundError as exc:
        res.skipped.append(("recon-sim", f"the reconstruction or CMR expert is not in this build ({exc.name})"))
        return res
    n = ctx.size(DEFAULT_SIZE, FULL_SIZE)
    for i in range(n):
        rate = 4 if i % 2 == 0 else 8
        case_id = f"recon-{i:03d}-R{rate}"
        if ctx.wants(case_id):
            res.cases.append(build_case(ctx, case_id, SEED_BASE + i, rate))
    if n < FULL_SIZE:
        res.notes.append(f"reduced size: {n} of {FULL_SIZE} k-space cases (--full for all)")
    return res
