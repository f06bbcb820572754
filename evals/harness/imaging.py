"""Image metrics a suite computes from a tool's artifacts and the case's truth.

Why from artifacts: the report carries numbers (EF, PSNR) but not how well
the pixels match; the segmentation NIfTI the CMR tool writes and the
reconstructed cine the recon tool writes are on disk, so the harness can
score them against the simulator's truth without reaching into the tools.
The metric code is the experts' own evaluation code (evals/cmr_eval.py:
MONAI Dice/HD95; experts/recon/metrics.py: fastMRI PSNR/SSIM/NMSE), so the
numbers agree with the per-expert evaluations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CMR_CLASSES = {1: "LV", 2: "MYO", 3: "RV"}


def _mask_artifact(report, modality: str = "cmr") -> Path | None:
    for sec in report.sections:
        if sec.modality.value != modality:
            continue
        for a in sec.artifacts:
            if a.kind == "mask" and a.path.endswith((".nii", ".nii.gz")):
                return Path(a.path)
    return None


def _recon_artifact(report) -> Path | None:
    for sec in report.sections:
        if sec.modality.value != "kspace":
            continue
        for a in sec.artifacts:
            if a.kind == "image" and a.title.startswith("Reconstructed cine") and Path(a.path).is_file():
                return Path(a.path)
    return None


def load_cmr_mask(path: Path) -> np.ndarray:
    """The CMR tool's NIfTI export, (x, y, slice, phase) → (phase, slice, row, col)."""
    import nibabel as nib

    data = np.asarray(nib.load(str(path)).dataobj)
    if data.ndim == 3:
        data = data[..., None]
    return np.ascontiguousarray(data.transpose(3, 2, 1, 0)).astype(np.uint8)


def segmentation_scores(pred: np.ndarray, truth: np.ndarray, spacing_mm: tuple[float, float], phases: list[int]) -> dict:
    """Dice and HD95 (mm) per structure over the given phases (all slices)."""
    import warnings

    from evals.cmr_eval import overlap

    if pred.shape != truth.shape:
        return {"error": f"mask shape {pred.shape} differs from truth {truth.shape}"}
    p = np.concatenate([pred[t] for t in phases])
    g = np.concatenate([truth[t] for t in phases])
    out: dict = {"dice": {}, "hd95_mm": {}}
    with warnings.catch_warnings():  # MONAI deprecation notices, not ours to fix
        warnings.simplefilter("ignore", FutureWarning)
        scores = overlap(p, g, spacing_mm, classes=tuple(CMR_CLASSES))
    for name, (dice, hd) in scores.items():
        out["dice"][name] = float(np.mean(dice))
        finite = hd[np.isfinite(hd)]
        if finite.size:
            out["hd95_mm"][name] = float(finite.mean())
    return out


def cmr_segmentation(report, truth_file: Path, modality: str = "cmr") -> dict:
    """Score the CMR mask artifact against `truth_file` (npz with labels
    (T, Z, H, W), pixel_mm, ed, es)."""
    mask = _mask_artifact(report, modality)
    if mask is None or not mask.is_file():
        return {"error": "no segmentation artifact in the report"}
    with np.load(truth_file) as z:
        truth = z["labels"]
        spacing = tuple(float(x) for x in np.atleast_1d(z["pixel_mm"]))[:2]
        if len(spacing) == 1:
            spacing = (spacing[0], spacing[0])
        phases = sorted({int(z["ed"]), int(z["es"])})
    return segmentation_scores(load_cmr_mask(mask), truth, spacing, phases)  # type: ignore[arg-type]


def load_recon_nifti(path: Path) -> np.ndarray:
    """The recon tool's cine, (rows, cols, slice, frame) → (frame, slice, rows, cols)."""
    import nibabel as nib

    data = np.asarray(nib.load(str(path)).dataobj, dtype=np.float32)
    if data.ndim == 3:
        data = data[..., None]
    return np.ascontiguousarray(data.transpose(3, 2, 0, 1))


def reconstruction_quality(report, truth_file: Path) -> dict:
    """PSNR/SSIM/NMSE of the reconstructed cine against the fully sampled
    reference saved by the suite (fastMRI definitions)."""
    from experts.recon.metrics import compare

    art = _recon_artifact(report)
    if art is None:
        return {"error": "no reconstructed cine artifact in the report"}
    rec = load_recon_nifti(art)
    ref = np.load(truth_file).astype(np.float32)
    if ref.shape != rec.shape:
        return {"error": f"reconstruction shape {rec.shape} differs from reference {ref.shape}"}
    q = compare(ref, rec)
    return {"psnr_db": q.psnr_db, "ssim": q.ssim, "nmse": q.nmse}


def case_imaging(case, report) -> dict:
    """Image metrics for the truth files a case declares (empty when none)."""
    out: dict = {}
    if report is None:
        return out
    t = case.spec.truth
    if t.segmentation:
        mod = "cmr"
        try:
            out["segmentation"] = cmr_segmentation(report, case.folder / t.segmentation, mod)
        except Exception as exc:  # a metric failure is recorded, not fatal
            out["segmentation"] = {"error": f"{type(exc).__name__}: {exc}"}
    if t.reconstruction:
        try:
            out["reconstruction"] = reconstruction_quality(report, case.folder / t.reconstruction)
        except Exception as exc:
            out["reconstruction"] = {"error": f"{type(exc).__name__}: {exc}"}
    return out
