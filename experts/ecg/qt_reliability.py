"""Is the QT interval of this median beat measurable?

Why a separate check: the T-wave end is the least certain fiducial of the
ECG. It is a slow wave ending on a flat baseline, so a low T wave, a noisy
tracing or a single lead where the T wave is nearly isoelectric makes the
velocity threshold fire early and QT comes out short. On normal CinC 2017
single-lead (AliveCor) records that produced a "short QTc" statement in 45
of 168 records. A QT-based statement (long or short QTc) is only as good as
the T-wave end, so the QT is reported only when

1. the T wave stands clear of the noise left in the median beat
   (`T_SNR_MIN`, spatial T amplitude / residual noise of the median), and
2. the T-wave end does not move when the beats change: the medians of the
   even- and odd-numbered beats are delineated independently and their
   T ends must agree within `T_END_AGREEMENT_MS` (with too few beats for
   two halves the agreement cannot be shown, and QT is not reported), and
3. on a single lead, additionally, the T wave is at least
   `SINGLE_LEAD_T_MIN_MV` tall: one lead shows the end of repolarisation
   only where its own T wave ends, and a flat T in that lead hides the
   later end seen in other leads (AHA/ACCF/HRS 2009 Part IV measures QT
   from the earliest QRS onset to the latest T end across leads).

Otherwise the tool says "QT not measurable" with the reason, and no QTc
statement is made. Thresholds are operational (not guideline values),
chosen on the tuning half of CinC 2017 normal records and the odd LUDB
records; see experts/ecg/README.md for the measured effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from experts.ecg.delineate import Fiducials, delineate
from experts.ecg.filters import lowpass
from experts.ecg.median_beat import MedianBeat

T_SNR_MIN = 8.0
T_END_AGREEMENT_MS = 20.0
SINGLE_LEAD_T_MIN_MV = 0.1


@dataclass
class QTReliability:
    measurable: bool
    t_amplitude_mv: float | None = None  # spatial T amplitude above the PR level, slow band
    t_snr: float | None = None
    t_end_spread_ms: float | None = None  # |T end (even beats) − T end (odd beats)|
    reasons: list[str] = field(default_factory=list)


def _t_amplitude_and_noise(mb: MedianBeat, fid: Fiducials) -> tuple[float, float]:
    fs = mb.fs
    idx = [mb.lead_names.index(n) for n in fid.leads]
    ws = lowpass(mb.waves[idx], fs, 25.0)
    on = fid.qrs_on
    pr_level = ws[:, max(0, on - int(0.012 * fs)) : max(1, on - int(0.004 * fs) + 1)].mean(axis=1, keepdims=True)
    lo = fid.qrs_off + int(0.06 * fs)
    hi = fid.t_end if fid.t_end is not None and fid.t_end > lo + 2 else min(ws.shape[1], lo + int(0.3 * fs))
    amp = float(np.max(np.sqrt(np.sum((ws[:, lo:hi] - pr_level) ** 2, axis=0)))) if hi > lo else 0.0
    noise = 0.0
    if mb.noise_sd is not None and hi > lo:
        noise = float(np.mean(np.sqrt(np.sum(mb.noise_sd[idx, lo:hi] ** 2, axis=0))))
    return amp, noise


def _half_t_ends(mb: MedianBeat) -> list[int | None]:
    assert mb.halves is not None
    return [delineate(replace(mb, waves=h, halves=None, noise_sd=None)).t_end for h in mb.halves]


def assess_qt(mb: MedianBeat, fid: Fiducials) -> QTReliability:
    """Decide whether QT may be reported from this median beat and its fiducials."""
    if fid.qrs_on is None or fid.qrs_off is None or fid.t_end is None:
        return QTReliability(False, reasons=["the T-wave end was not found on the median beat"])
    amp, noise = _t_amplitude_and_noise(mb, fid)
    snr = amp / noise if noise > 0 else None
    out = QTReliability(True, t_amplitude_mv=amp, t_snr=snr)
    if snr is not None and snr < T_SNR_MIN:
        out.reasons.append(f"the T wave ({amp:.2f} mV) is only {snr:.1f}× the noise left in the median beat (< {T_SNR_MIN:g}×)")
    if len(fid.leads) == 1 and amp < SINGLE_LEAD_T_MIN_MV:
        out.reasons.append(
            f"single lead with a low T wave ({amp:.2f} mV < {SINGLE_LEAD_T_MIN_MV:g} mV): its T end may precede the end of "
            "repolarisation in other leads"
        )
    if mb.halves is None:
        out.reasons.append(f"too few clean beats ({mb.n_beats}) to check that the T-wave end is reproducible")
    else:
        ends = _half_t_ends(mb)
        if any(e is None for e in ends):
            out.reasons.append("the T-wave end was not found on the median of half of the beats")
        else:
            spread = abs(ends[0] - ends[1]) / mb.fs * 1000.0
            out.t_end_spread_ms = spread
            if spread > T_END_AGREEMENT_MS:
                out.reasons.append(
                    f"the T-wave end moves by {spread:.0f} ms between the medians of the even- and odd-numbered beats "
                    f"(> {T_END_AGREEMENT_MS:g} ms)"
                )
    out.measurable = not out.reasons
    return out


__all__ = ["QTReliability", "assess_qt", "T_SNR_MIN", "T_END_AGREEMENT_MS", "SINGLE_LEAD_T_MIN_MV"]
