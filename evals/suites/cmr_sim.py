"""cmr-sim: simulated short-axis cine stacks as DICOM series, with the
simulator's labels as truth.

Anatomy and function come from the CMR expert's own draws
(`experts.cmr.simulate.random_heart`: small to dilated hearts, EF 12–75%),
the acquisition from `random_acquisition` made lighter (12 phases, at most
128×128 at ≥1.6 mm, no supersampling) so a case takes seconds. Seeds from
960,000: neither the training stacks (100,000+) nor the expert's own
evaluation (900,000+) use them. Truth volumes are quantified with the
expert's quantification on the simulator labels (the same rules as the
prediction), so the error measured is the segmentation's; statements are
expected from the truth values and the expert's cited thresholds.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from evals.harness.case import write_case
from evals.harness.suite import BuildContext, BuildResult

DESCRIPTION = "simulated short-axis cine (DICOM) with label truth: LV/RV volumes, EF, mass, Dice/HD95"
SEED_BASE = 960_000
DEFAULT_SIZE, FULL_SIZE = 6, 40
# Agreement tolerances (harness choice, of the order of CMR inter-observer differences)
TOL = {"lvef": 5.0, "rvef": 7.0, "lv_edv": 15.0, "lv_esv": 12.0, "lv_mass": 20.0}
HFREF_MAX, HFPEF_MIN = 40.0, 50.0  # ESC HF 2021 categories, as the expert cites them


def simulate(seed: int, lv_ef: float | None = None, dilated: bool | None = None):
    """One stack from the expert's random heart (optionally forcing EF, a
    dilated LV, or — dilated=False — a normal-size heart with a normal
    wall) with a light acquisition."""
    from experts.cmr.simulate import random_acquisition, random_heart, simulate_study

    rng = np.random.default_rng(seed)
    heart = random_heart(rng)
    if dilated is True:
        heart = replace(heart, lv_radius_mm=max(heart.lv_radius_mm, 36.0), lv_length_mm=max(heart.lv_length_mm, 98.0))
    elif dilated is False:
        heart = replace(heart, lv_radius_mm=min(heart.lv_radius_mm, 26.0), lv_length_mm=min(heart.lv_length_mm, 85.0), wall_mm=8.0,
                        apex_wall_mm=6.0, rv_ef=max(heart.rv_ef, 0.55))
    if lv_ef is not None:
        heart = replace(heart, lv_ef=lv_ef)
    acq = random_acquisition(rng, heart, n_phases=12)
    acq = replace(acq, rows=min(acq.rows, 128), cols=min(acq.cols, 128), supersample=1, subplanes=1, pixel_mm=max(acq.pixel_mm, 1.6))
    return simulate_study(seed, heart=heart, acq=acq)


def patient(seed: int) -> dict:
    rng = np.random.default_rng(seed + 17)
    sex = "female" if rng.random() < 0.5 else "male"
    height = float(rng.uniform(155, 175) if sex == "female" else rng.uniform(165, 190))
    return {"age": float(rng.integers(25, 80)), "sex": sex, "height_cm": round(height), "weight_kg": round(float(rng.uniform(55, 95)))}


def expectations(truth: dict, pat: dict) -> dict:
    """Measurements and statements a correct CMR tool reports for these truth values."""
    from experts.cmr.reference import reference_range

    ms = [{"name": k, "value": round(truth[k], 1), "tolerance": TOL[k], "unit": "%" if "ef" in k else ("g" if k == "lv_mass" else "mL"),
           "modality": "cmr"} for k in TOL if k in truth]  # fmt: skip
    ef = round(truth["lvef"])
    st = [
        {"id": "lvef_reduced_range", "status": "present" if ef <= HFREF_MAX else "absent", "modality": "cmr"},
        {"id": "lvef_mildly_reduced_range", "status": "present" if HFREF_MAX < ef < HFPEF_MIN else "absent", "modality": "cmr"},
    ]
    rr = reference_range("lvef", pat.get("sex"))
    if rr is not None and rr.low is not None:
        st.append({"id": "lvef_below_reference", "status": "present" if truth["lvef"] < rr.low else "absent", "modality": "cmr"})
    bsa = (pat["height_cm"] * pat["weight_kg"] / 3600.0) ** 0.5
    rr = reference_range("lv_mass_index", pat.get("sex"))
    if rr is not None and rr.high is not None:
        st.append({"id": "lv_mass_index_increased", "status": "present" if truth["lv_mass"] / bsa > rr.high else "absent", "modality": "cmr"})
    return {"measurements": ms, "statements": st}


def write_truth(sim, folder: Path) -> tuple[dict, str]:
    from experts.cmr.quantify import quantify

    fn = quantify(sim.labels, sim.stack)
    (folder / "truth").mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "truth" / "labels.npz", labels=sim.labels.astype(np.uint8), pixel_mm=np.array(sim.stack.pixel_spacing_mm),
                        ed=fn.ed, es=fn.es)  # fmt: skip
    return dict(fn.values), "truth/labels.npz"


def build_case(ctx: BuildContext, case_id: str, seed: int, lv_ef: float | None = None, dilated: bool | None = None,
               extra: dict | None = None) -> Path:  # fmt: skip
    from experts.cmr.sim_files import write_dicom_series

    folder = ctx.work_dir / case_id
    sim = simulate(seed, lv_ef, dilated)
    write_dicom_series(sim, folder / "cine", patient_sex="O")
    truth, seg = write_truth(sim, folder)
    pat = patient(seed)
    exp = expectations(truth, pat)
    spec = {"id": case_id, "description": f"simulated cine, LVEF {truth['lvef']:.0f}%, LV EDV {truth['lv_edv']:.0f} mL",
            "tags": ["cmr", "simulated"], "source": f"experts.cmr.simulate seed {seed} (label truth)", "inputs": ["cine"], "context": pat,
            "expected": {"modalities": ["cmr"], **exp}, "must_not": {"modalities": ["ecg", "echo", "kspace"]},
            "truth": {"segmentation": seg}}  # fmt: skip
    for k, v in (extra or {}).items():
        spec[k] = v
    write_case(folder, spec)
    return folder


def build(ctx: BuildContext) -> BuildResult:
    res = BuildResult()
    try:
        import experts.cmr.simulate  # noqa: F401
    except ModuleNotFoundError as exc:
        res.skipped.append(("cmr-sim", f"the CMR expert is not in this build ({exc.name})"))
        return res
    n = ctx.size(DEFAULT_SIZE, FULL_SIZE)
    for i in range(n):
        case_id = f"cmr-{i:03d}"
        if ctx.wants(case_id):
            res.cases.append(build_case(ctx, case_id, SEED_BASE + i))
    if n < FULL_SIZE:
        res.notes.append(f"reduced size: {n} of {FULL_SIZE} simulated stacks (--full for all)")
    return res
