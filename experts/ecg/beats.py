"""R-peak detection across leads.

Why more than one lead: a single lead loses beats to noise bursts or to a
QRS axis perpendicular to it. We run neurokit2's detector (Makowski et al.
2021, the gradient-based 'neurokit' method) on the best-ranked leads, keep
a beat when most leads agree (three leads) or the best lead sees it (two
leads), and fill RR gaps from the other leads, so one noisy lead can
neither add nor remove beats. R positions are then refined to the extremum of the
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


MIN_PLAUSIBLE_RATE = 25.0  # /min; fewer detections mean the detector failed on this morphology


def _detect_one(x: np.ndarray, fs: float) -> np.ndarray:
    """neurokit2's default detector; when it returns an implausibly low
    rate (it can miss wide, negative QRS complexes entirely), Elgendi et
    al.'s (2010) two-moving-average detector, also in neurokit2."""
    import neurokit2 as nk

    minutes = x.size / fs / 60.0
    best = np.array([], dtype=int)
    for method in ("neurokit", "elgendi2010"):
        try:
            _, info = nk.ecg_peaks(x, sampling_rate=int(round(fs)), method=method, correct_artifacts=False)
        except Exception:  # neurokit raises on signals without any peak
            continue
        peaks = np.asarray(info.get("ECG_R_Peaks", []), dtype=int)
        if method != "neurokit" and _consistency(x, peaks, fs) < MIN_FALLBACK_CONSISTENCY:
            continue  # detections that do not repeat one shape are noise, not beats
        if peaks.size > best.size:
            best = peaks
        if peaks.size >= MIN_PLAUSIBLE_RATE * minutes:
            return peaks
    return best


MIN_FALLBACK_CONSISTENCY = 0.7


def _consistency(x: np.ndarray, peaks: np.ndarray, fs: float) -> float:
    """Median correlation of ±100 ms windows around the detections with
    their median: repeated QRS complexes score > 0.8, noise peaks < 0.5."""
    h = int(0.1 * fs)
    segs = [x[p - h : p + h] for p in peaks if p - h >= 0 and p + h <= x.size]
    if len(segs) < 5:
        return 0.0
    S = np.vstack(segs)
    S = S - S.mean(axis=1, keepdims=True)
    t = np.median(S, axis=0)
    d = np.linalg.norm(S, axis=1) * np.linalg.norm(t)
    return float(np.median((S @ t) / np.maximum(d, 1e-12)))


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


def _align_to_template(peaks: np.ndarray, x: np.ndarray, fs: float) -> np.ndarray:
    """Put every beat's fiducial on the same point of the QRS.

    Picking the largest deflection can land on the R wave in one beat and
    on the S or T wave in the next when they are of similar size (wide,
    negative complexes), which adds RR jitter that looks like an
    arrhythmia. Each beat is shifted (±60 ms) to best match the median QRS
    template, whose own largest deflection is the common fiducial."""
    half, shift = int(0.08 * fs), int(0.06 * fs)
    ok = (peaks - half - shift >= 0) & (peaks + half + shift < x.size)
    if ok.sum() < 5:
        return peaks
    template = np.median(np.vstack([x[p - half : p + half] for p in peaks[ok]]), axis=0)
    t = template - template.mean()
    offset = int(np.argmax(np.abs(template))) - half  # fiducial within the template
    out = peaks.copy()
    for k in np.nonzero(ok)[0]:
        p = peaks[k]
        best, best_s = -np.inf, 0
        for s in range(-shift, shift + 1):
            seg = x[p + s - half : p + s + half]
            c = float((seg - seg.mean()) @ t)
            if c > best:
                best, best_s = c, s
        out[k] = p + best_s + offset
    out = np.clip(out, 0, x.size - 1)
    # keep order and refractoriness
    keep = [int(out[0])]
    for q in out[1:]:
        if q - keep[-1] >= int(REFRACTORY_S * fs):
            keep.append(int(q))
    return np.asarray(keep, dtype=int)


def _fill_gaps(primary: np.ndarray, others: list[np.ndarray], fs: float) -> np.ndarray:
    """Keep the primary detections and add a beat seen by another lead
    inside an RR gap longer than 1.5× the local median RR, when it is at
    least 250 ms from its neighbours. A noisy or low-voltage stretch in
    one lead then loses no beats, while noise in the other lead adds none
    where the primary lead already shows a regular rhythm."""
    if primary.size < 2:
        merged = np.unique(np.concatenate([primary] + others)) if primary.size == 0 else primary
        return np.asarray(merged, dtype=int)
    extra = np.unique(np.concatenate(others)) if others else np.array([], dtype=int)
    tol = int(AGREEMENT_WINDOW_S * fs)

    def confirmed(p: int) -> bool:
        if extra.size == 0:
            return True
        j = int(np.searchsorted(extra, p))
        return any(0 <= c < extra.size and abs(int(extra[c]) - p) <= tol for c in (j - 1, j))

    # drop unconfirmed early detections (a tall T wave counted as a beat)
    keep = [primary[0]]
    rr_all = np.diff(primary)
    for k in range(1, primary.size):
        local = np.median(rr_all[max(0, k - 5) : k + 4])
        if primary[k] - keep[-1] < 0.6 * local and not confirmed(int(primary[k])):
            continue
        keep.append(primary[k])
    primary = np.asarray(keep, dtype=int)
    if primary.size < 2:
        return primary
    out = list(primary)
    rr = np.diff(primary)
    min_gap = int(0.25 * fs)
    for k in range(rr.size):
        local = np.median(rr[max(0, k - 4) : k + 5])
        if rr[k] > 1.5 * local:
            a, b = primary[k], primary[k + 1]
            cand = extra[(extra > a + min_gap) & (extra < b - min_gap)]
            last = a
            for c in cand:
                if c - last >= min_gap:
                    out.append(int(c))
                    last = c
    return np.asarray(sorted(out), dtype=int)


SLOPE_WINDOW_S = 0.04  # ± around a detection: the QRS upstroke lies within
MIN_SLOPE_FRACTION = 0.2  # of the dominant QRS's steepest slope (max over the detection leads)
MIN_AMPLITUDE_FRACTION = 0.35  # ... or of its peak-to-peak amplitude (±60 ms): slurred but large complexes stay


def max_slopes(x: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """Steepest |slope| (per sample) within ±40 ms of each detection."""
    h = max(1, int(SLOPE_WINDOW_S * fs))
    d = np.abs(np.diff(x, append=x[-1]))
    return np.array([d[max(0, p - h) : p + h + 1].max() if p < d.size else 0.0 for p in peaks])


def _drop_slow_deflections(peaks: np.ndarray, leads: list[np.ndarray], fs: float) -> np.ndarray:
    """Remove detections that are slow waves, not QRS complexes.

    Why: when P waves are not conducted (second- or third-degree AV block)
    the gaps between QRS complexes are long and the gradient detectors,
    whose thresholds adapt to the recent signal, also pick up the P (and
    sometimes T) waves, so the rate doubles. A P wave rises over ~50 ms, a
    QRS over ~20 ms at several times the amplitude: its steepest slope is
    typically < 15 % of the QRS's (a tall T wave's < 25 %). The dominant QRS
    slope of each lead is the median over the detections whose slope is at
    least 40 % of the 95th percentile (robust to P waves outnumbering the QRS
    complexes, and to a few artefact spikes). A detection's slope is the
    steepest over the detection leads in mV per sample (one common scale: a
    lead where the QRS is small but the P wave is not must not rescue a P
    wave); it is kept when that reaches 20 % of the dominant value, or when
    its peak-to-peak amplitude (±60 ms) reaches 35 % of the dominant QRS's
    (aberrant complexes can be slurred but are large; a P wave is ≤ 0.25 mV
    against a ≥ 0.8 mV QRS). `_dominant` picks the reference so that a
    single large ectopic beat does not."""
    if peaks.size < 3:
        return peaks
    s = np.max(np.vstack([max_slopes(x, peaks, fs) for x in leads]), axis=0)
    a = np.max(np.vstack([_peak_to_peak(x, peaks, fs) for x in leads]), axis=0)
    s_ref, a_ref = _dominant(s), _dominant(a)
    if s_ref <= 0 or a_ref <= 0:
        return peaks
    keep = (s >= MIN_SLOPE_FRACTION * s_ref) | (a >= MIN_AMPLITUDE_FRACTION * a_ref)
    return peaks[keep] if keep.sum() >= 2 else peaks


def _dominant(v: np.ndarray) -> float:
    """Typical value of the QRS complexes among the detections: the median of
    those ≥ 40 % of a high quantile. The quantile starts at the 95th and is
    lowered until that set holds ≥ 20 % of the detections, so one huge
    ectopic beat (LUDB 45: one PVC, ten sinus beats at 10 % of its slope)
    does not become the reference, while QRS complexes outnumbered up to
    4:1 by P waves still are."""
    for q in (0.95, 0.9, 0.8, 0.7, 0.6, 0.5):
        top = float(np.quantile(v, q))
        sel = v[v >= 0.4 * top]
        if sel.size >= max(2, 0.2 * v.size):
            return float(np.median(sel))
    return float(np.median(v))


def _peak_to_peak(x: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    h = max(1, int(0.06 * fs))
    return np.array([np.ptp(x[max(0, p - h) : p + h + 1]) for p in peaks])


def detect_beats(record: ECGRecord, quality: RecordQuality, max_leads: int = 3) -> BeatDetection:
    """R-peaks by multi-lead vote (a beat needs a majority of the leads used)."""
    # II / MLII first when usable: the conventional rhythm lead, with tall R
    # and small T in most people (other leads' T waves get double-counted)
    bonus = {"II": 2.0, "MLII": 2.0}
    ranked = sorted(quality.usable_leads(), key=lambda n: quality.leads[n].score * bonus.get(n, 1.0), reverse=True)
    ranked = [n for n in ranked if n not in record.derived_leads] or ranked
    leads = ranked[:max_leads]
    if not leads:
        return BeatDetection(np.array([], dtype=int), "", [], "none")
    fs = record.fs
    cleaned = {n: clean_lead(record.lead(n), fs) for n in leads}
    detections = {n: _detect_one(cleaned[n], fs) for n in leads}
    ref = leads[0]
    if len(leads) >= 2:
        # a lead whose detector counts T waves shows alternating short/long
        # RR; prefer the lead with the more regular series as the primary
        def jitter(n: str) -> float:
            rr = np.diff(detections[n])
            if rr.size < 3:
                return np.inf
            return float(np.median(np.abs(np.diff(rr))) / max(np.median(rr), 1))

        if jitter(leads[1]) < 0.5 * jitter(leads[0]):
            leads[0], leads[1] = leads[1], leads[0]
            ref = leads[0]
    if len(leads) == 1:
        peaks = detections[ref]
    elif len(leads) == 2:
        peaks = _fill_gaps(detections[ref], [detections[leads[1]]], fs)
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
            votes = sum(1 for n in leads if np.any(np.abs(detections[n] - np.median(cluster)) <= tol))
            if votes >= need:
                peaks_list.append(int(np.median(cluster)))
            i = j + 1
        peaks = _fill_gaps(np.asarray(peaks_list, dtype=int), [detections[n] for n in leads], fs)
    peaks = _drop_slow_deflections(peaks, [cleaned[n] for n in leads], fs)
    peaks = _refine(peaks, cleaned[ref], fs) if peaks.size else peaks
    peaks = _align_to_template(peaks, cleaned[ref], fs) if peaks.size >= 5 else peaks
    method = f"neurokit2 ecg_peaks (method 'neurokit') on {', '.join(leads)}" + (
        "" if len(leads) == 1 else (", gaps filled from the second lead" if len(leads) == 2 else ", majority vote, gaps filled")
    )
    return BeatDetection(r_peaks=peaks, reference_lead=ref, leads_used=leads, method=method)
