"""echo-sim: simulated apical four-chamber clips with known volumes.

Clips come from the echo expert's simulator with its held-out parameter
ranges (`HELDOUT_RANGES`: EF 10–80%, wider heart rate, depth, noise than
training), narrower than a scanner's and two and a half cycles long so a case
runs in seconds,
placed on a scanner-like display (burnt-in text, ECG sweep) and written as
an ultrasound DICOM with the region calibration, exactly as the expert's
own evaluation does. Seeds from 3,500,000 (training used < 1,000,000 and
validation 1,000,000+; the expert's evaluation 3,000,000–3,000,999 and
4,000,000+). The tool exports no masks, so Dice is left to
evals/echo_sim_eval.py; here: EF/volumes/rate agreement and the EF
category and size statements, expected from the truth with the
expert's cited thresholds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evals.harness.case import write_case
from evals.harness.suite import BuildContext, BuildResult

DESCRIPTION = "simulated apical 4-chamber clips (ultrasound DICOM) with volume truth: LVEF, EDV/ESV, EF categories"
SEED_BASE = 3_500_000
DEFAULT_SIZE, FULL_SIZE = 6, 40
NON_APICAL_SEED_BASE = 3_600_000
NON_APICAL_DEFAULT, NON_APICAL_FULL = 1, 6
EF_TOL, HR_TOL = 7.0, 5.0


def volume_tolerance(truth_ml: float) -> float:
    return max(15.0, 0.2 * truth_ml)  # single-plane discs vs the simulator's 3-D truth: a loose band


def simulate(seed: int, **overrides):
    from experts.echo.simulate import HELDOUT_RANGES, sample_params, simulate_clip

    rng = np.random.default_rng(seed)
    kw = {"width_px": int(rng.integers(112, 161))}
    kw.update(overrides)
    if "n_frames" not in kw:  # two and a half cardiac cycles, as a scanner loop of 2-3 beats
        p = sample_params(seed, HELDOUT_RANGES, **kw)
        kw["n_frames"] = int(np.clip(np.ceil(2.5 * p.fps * 60.0 / p.heart_rate_bpm), 48, 128))
    return simulate_clip(sample_params(seed, HELDOUT_RANGES, **kw))


def write_dicom(sim, path: Path) -> Path:
    from experts.echo.simulate import embed_in_display
    from experts.echo.writers import write_us_dicom

    h, w = sim.frames.shape[1:]
    canvas = (max(240, h + 60), max(320, w + 100))
    r0, c0 = 30, (canvas[1] - w) // 2
    rgb, (r0, c0) = embed_in_display(sim, canvas_hw=canvas, offset_rc=(r0, c0))
    return write_us_dicom(rgb, sim.fps, path, spacing_mm=sim.spacing_mm, region_bbox=(c0, r0, c0 + w - 1, r0 + h - 1), photometric="RGB")


def patient(seed: int) -> dict:
    rng = np.random.default_rng(seed + 29)
    sex = "female" if rng.random() < 0.5 else "male"
    return {"age": float(rng.integers(25, 85)), "sex": sex, "height_cm": round(float(rng.uniform(155, 190))),
            "weight_kg": round(float(rng.uniform(55, 100)))}  # fmt: skip


def truth_values(sim) -> dict:
    v = np.asarray(sim.volumes_ml)
    edv = float(np.mean([v[i] for i in sim.ed_frames])) if sim.ed_frames else float(v.max())
    esv = float(np.mean([v[i] for i in sim.es_frames])) if sim.es_frames else float(v.min())
    return {"lvef": float(sim.ef_true), "lv_edv": edv, "lv_esv": esv, "heart_rate": float(sim.params.heart_rate_bpm)}


def expectations(t: dict, pat: dict) -> dict:
    from experts.echo import guidelines as G

    ms = [
        {"name": "lvef", "value": round(t["lvef"], 1), "tolerance": EF_TOL, "unit": "%", "modality": "echo"},
        {"name": "lv_edv", "value": round(t["lv_edv"], 1), "tolerance": round(volume_tolerance(t["lv_edv"]), 1), "unit": "mL", "modality": "echo"},
        {"name": "lv_esv", "value": round(t["lv_esv"], 1), "tolerance": round(volume_tolerance(t["lv_esv"]), 1), "unit": "mL", "modality": "echo"},
        {"name": "heart_rate", "value": round(t["heart_rate"], 1), "tolerance": HR_TOL, "unit": "/min", "modality": "echo"},
    ]
    ef = round(t["lvef"])
    st = [
        {"id": "lvef_reduced", "status": "present" if ef <= G.HFREF_MAX else "absent", "modality": "echo"},
        {"id": "lvef_mildly_reduced", "status": "present" if G.HFREF_MAX < ef < G.HFPEF_MIN else "absent", "modality": "echo"},
        {"id": "lvef_preserved", "status": "present" if ef >= G.HFPEF_MIN else "absent", "modality": "echo"},
    ]
    sex = pat.get("sex")
    if sex in G.LVEF_NORMAL:
        st.append({"id": "lv_systolic_dysfunction", "status": "present" if ef < G.LVEF_NORMAL[sex][0] else "absent", "modality": "echo"})
        bsa = (pat["height_cm"] * pat["weight_kg"] / 3600.0) ** 0.5
        st.append({"id": "lv_dilated", "status": "present" if t["lv_edv"] / bsa > G.EDV_INDEX_NORMAL[sex][1] else "absent", "modality": "echo"})
    return {"measurements": ms, "statements": st}


def build_case(ctx: BuildContext, case_id: str, seed: int, **overrides) -> Path:
    folder = ctx.work_dir / case_id
    folder.mkdir(parents=True, exist_ok=True)
    sim = simulate(seed, **overrides)
    write_dicom(sim, folder / "a4c.dcm")
    t = truth_values(sim)
    pat = patient(seed)
    write_case(folder, {
        "id": case_id, "description": f"simulated A4C, EF {t['lvef']:.0f}%, EDV {t['lv_edv']:.0f} mL, HR {t['heart_rate']:.0f}/min",
        "tags": ["echo", "simulated"], "source": f"experts.echo.simulate HELDOUT_RANGES seed {seed} (volume truth)", "inputs": ["a4c.dcm"],
        "context": pat, "expected": {"modalities": ["echo"], **expectations(t, pat)}, "must_not": {"modalities": ["ecg", "cmr", "kspace"]},
    })  # fmt: skip
    return folder


def build_non_apical_case(ctx: BuildContext, case_id: str, seed: int) -> Path:
    """A simulated parasternal short-axis clip: single-plane EF needs an
    apical view, so the expert must abstain (no LVEF, no EF category)."""
    folder = ctx.work_dir / case_id
    folder.mkdir(parents=True, exist_ok=True)
    sim = simulate(seed, view="psax", n_frames=64)
    write_dicom(sim, folder / "psax.dcm")
    write_case(folder, {
        "id": case_id, "description": "simulated parasternal short-axis clip: no apical view, so no EF may be reported",
        "tags": ["echo", "simulated", "bad-input"], "source": f"experts.echo.simulate view=psax HELDOUT_RANGES seed {seed}",
        "inputs": ["psax.dcm"], "context": patient(seed),
        "expected": {"modalities": ["echo"], "abstain": ["echo"]},
        "must_not": {"modalities": ["ecg", "cmr", "kspace"], "measurements": ["lvef", "lv_edv", "lv_esv"],
                     "statements": ["lvef_reduced", "lvef_mildly_reduced", "lvef_preserved"]},
    })  # fmt: skip
    return folder


def build(ctx: BuildContext) -> BuildResult:
    res = BuildResult()
    try:
        import experts.echo.simulate  # noqa: F401
        import experts.echo.writers  # noqa: F401
    except ModuleNotFoundError as exc:
        res.skipped.append(("echo-sim", f"the echo expert is not in this build ({exc.name})"))
        return res
    n = ctx.size(DEFAULT_SIZE, FULL_SIZE)
    for i in range(n):
        case_id = f"echo-{i:03d}"
        if ctx.wants(case_id):
            res.cases.append(build_case(ctx, case_id, SEED_BASE + i))
    k = ctx.size(NON_APICAL_DEFAULT, NON_APICAL_FULL)
    for i in range(k):
        case_id = f"echo-psax-{i:03d}"
        if ctx.wants(case_id):
            res.cases.append(build_non_apical_case(ctx, case_id, NON_APICAL_SEED_BASE + i))
    if n < FULL_SIZE:
        res.notes.append(f"reduced size: {n} of {FULL_SIZE} simulated apical clips and {k} of {NON_APICAL_FULL} short-axis clips (--full for all)")
    return res
