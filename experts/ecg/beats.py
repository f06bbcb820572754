"""R-peak detection across leads.

Why more than one lead: a single lead loses beats to noise bursts or to a
QRS axis perpendicular to it. We run neurokit2's detector (Makowski et al.
2021, the gradient-based 'neurokit' method) on the best-ranked leads and
keep a beat when the leads agree, so one noisy lead can neither add nor
remove beats. R positions are then refined to the extremum of the
band-passed signal in the reference lead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experts.ecg.quality import RecordQuality
from experts.ecg.record import ECGRecord

AGREEMENT_WINDOW_S = 0.10  # detections within 100 ms are the same beat
REFRACTORY_S = 0.20


@dataclass
class BeatDetection:
    r_peaks: np.ndarray  # sample indices
    reference_lead: str
    leads_used: list[str]
    method: str


def clean_lead(x: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    return np.asarray(nk.ecg_clean(x, sampling_rate=int(round(fs)), method="neurokit"), dtype=float)


def _detect_one(x: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    try:
        _, info = nk.ecg_peaks(x, sampling_rate=int(round(fs)), method="neurokit", correct_artifacts=False)
    except Exception:  # neurokit raises on signals without any peak
        return np.array([], dtype=int)
    return np.asarray(info.get("ECG_R_Peaks", []), dtype=int)


def _refine(peaks: np.ndarray, x: np.ndarray, fs: float) -> np.ndarray:
    """Move each peak to the largest |deflection| within ±50 ms."""
    half = max(1, int(0.05 * fs))
    out = []
    for p in peaks:
        lo, hi = max(0, p - half), min(x.size, p + half + 1)
        out.append(lo + int(np.argmax(np.abs(x[lo:hi]))))
    out = np.unique(np.asarray(out, dtype=int))
    # enforce a refractory period after refinement
    keep: list[int] = []
    refr = int(REFRACTORY_S * fs)
    for p in out:
        if keep and p - keep[-1] < refr:
            if abs(x[p]) > abs(x[keep[-1]]):
                keep[-1] = int(p)
            continue
        keep.append(int(p))
    return np.asarray(keep, dtype=int)


def detect_beats(record: ECGRecord, quality: RecordQuality, max_leads: int = 3) -> BeatDetection:
    """R-peaks by multi-lead vote (a beat needs a majority of the leads used)."""
    ranked = sorted(quality.usable_leads(), key=lambda n: quality.leads[n].score, reverse=True)
    ranked = [n for n in ranked if n not in record.derived_leads] or ranked
    leads = ranked[:max_leads]
    if not leads:
        return BeatDetection(np.array([], dtype=int), "", [], "none")
    fs = record.fs
    cleaned = {n: clean_lead(record.lead(n), fs) for n in leads}
    detections = {n: _detect_one(cleaned[n], fs) for n in leads}
    ref = leads[0]
    if len(leads) == 1:
        peaks = detections[ref]
    else:
        tol = int(AGREEMENT_WINDOW_S * fs)
        allp = np.sort(np.concatenate([detections[n] for n in leads]))
        need = len(leads) // 2 + 1
        peaks_list: list[int] = []
        i = 0
        while i < allp.size:
            j = i
            while j + 1 < allp.size and allp[j + 1] - allp[i] <= tol:
                j += 1
            cluster = allp[i : j + 1]
            # count distinct leads contributing to the cluster
            votes = sum(1 for n in leads if np.any(np.abs(detections[n] - np.median(cluster)) <= tol))
            if votes >= need:
                peaks_list.append(int(np.median(cluster)))
            i = j + 1
        peaks = np.asarray(peaks_list, dtype=int)
    peaks = _refine(peaks, cleaned[ref], fs) if peaks.size else peaks
    method = f"neurokit2 ecg_peaks (method 'neurokit') on {', '.join(leads)}" + (", majority vote" if len(leads) > 1 else "")
    return BeatDetection(r_peaks=peaks, reference_lead=ref, leads_used=leads, method=method)
