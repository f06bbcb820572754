"""Per-lead wave measurements on the median beat, given global fiducials.

Why per lead on the median beat: voltage criteria (Sokolow-Lyon, Cornell,
low voltage), Q-wave and ST criteria and bundle-branch morphology are
defined lead by lead, while their timing frame (QRS onset, J point, T end)
is global. Amplitudes are taken from the PR-segment level of each lead,
the isoelectric reference the AHA/ACCF/HRS recommendations use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from experts.ecg.delineate import Fiducials
from experts.ecg.median_beat import MedianBeat

DEFLECTION_MV = 0.025  # below this a lead is considered at baseline
RPRIME_DIP_MV = 0.10  # an R' needs a dip of at least this between the two R peaks


@dataclass
class LeadWaves:
    lead: str
    baseline_mv: float
    p_amplitude: float | None  # signed extreme in the P window
    q_amplitude: float  # depth of the initial negative deflection (≥ 0)
    q_duration_ms: float
    r_amplitude: float  # ≥ 0
    s_amplitude: float  # depth of the negative deflection after R (≥ 0)
    s_duration_ms: float
    r_prime_amplitude: float  # 0 when no R'
    r_peak_time_ms: float  # QRS onset to the peak of R (or R')
    qrs_p2p: float
    qs_complex: bool
    st_j: float
    st_j60: float | None
    t_amplitude: float | None
    qrs_area: float  # mV·ms
    p_area: float | None
    t_area: float | None


def measure_lead(x: np.ndarray, name: str, fid: Fiducials, fs: float) -> LeadWaves:
    ms = lambda v: int(round(v * fs / 1000.0))  # noqa: E731
    to_ms = 1000.0 / fs
    on, off = int(fid.qrs_on), int(fid.qrs_off)  # type: ignore[arg-type]
    baseline = float(np.mean(x[max(0, on - ms(16)) : max(1, on - ms(4))]))
    y = x - baseline
    q = y[on : off + 1]
    # lead's own onset: first clear deflection after the global onset
    big = np.nonzero(np.abs(q) > DEFLECTION_MV)[0]
    lead_on = int(big[0]) if big.size else 0
    r_i = int(np.argmax(q))
    r_amp = max(0.0, float(q[r_i]))
    qs = r_amp < 0.05 and float(q.min()) < -0.1
    # Q: the initial deflection when it is negative
    q_amp, q_dur = 0.0, 0.0
    if q[lead_on] < 0 or (big.size and q[big[0]] < 0):
        pos = np.nonzero(q[lead_on:] > 0)[0]
        end = lead_on + (int(pos[0]) if pos.size else q.size - lead_on)
        if qs:
            end = q.size
        q_amp = float(-q[lead_on:end].min()) if end > lead_on else 0.0
        q_dur = (end - lead_on) * to_ms
    # S: the negative deflection after R
    s_amp, s_dur = 0.0, 0.0
    if not qs and r_i < q.size - 1:
        after = q[r_i:]
        s_amp = max(0.0, float(-after.min()))
        s_dur = float(np.sum(after < -DEFLECTION_MV)) * to_ms if s_amp > DEFLECTION_MV else 0.0
    # R': a second positive peak after a dip of ≥ 0.1 mV
    r_prime = 0.0
    rpt_i = r_i
    peaks, _ = find_peaks(q, height=0.05, prominence=0.05)
    if peaks.size >= 2:
        for a, b in zip(peaks[:-1], peaks[1:]):
            dip = float(q[a:b].min())
            if dip < min(q[a], q[b]) - RPRIME_DIP_MV and dip < 0.5 * min(q[a], q[b]):
                r_prime = float(q[b])
                rpt_i = int(b)
    r_peak_time = rpt_i * to_ms if r_amp > 0.05 else 0.0
    j = off
    st_j = float(y[j])
    j60 = j + ms(60)
    st_j60 = float(y[j60]) if j60 < y.size and (fid.t_end is None or j60 < fid.t_end) else None
    t_amp = t_area = None
    if fid.t_end is not None and fid.t_end - j > ms(80):
        tw = y[j + ms(40) : fid.t_end + 1]
        t_amp = float(tw[np.argmax(np.abs(tw))])
        t_area = float(np.sum(y[j : fid.t_end + 1])) * to_ms
    p_amp = p_area = None
    if fid.p_on is not None and fid.p_off is not None and fid.p_off > fid.p_on:
        pw = y[fid.p_on : fid.p_off + 1]
        p_amp = float(pw[np.argmax(np.abs(pw))])
        p_area = float(np.sum(pw)) * to_ms
    return LeadWaves(
        lead=name,
        baseline_mv=baseline,
        p_amplitude=p_amp,
        q_amplitude=q_amp,
        q_duration_ms=q_dur,
        r_amplitude=r_amp,
        s_amplitude=s_amp,
        s_duration_ms=s_dur,
        r_prime_amplitude=r_prime,
        r_peak_time_ms=r_peak_time,
        qrs_p2p=float(q.max() - q.min()),
        qs_complex=bool(qs),
        st_j=st_j,
        st_j60=st_j60,
        t_amplitude=t_amp,
        qrs_area=float(np.sum(q)) * to_ms,
        p_area=p_area,
        t_area=t_area,
    )


def measure_all(mb: MedianBeat, fid: Fiducials) -> dict[str, LeadWaves]:
    if fid.qrs_on is None or fid.qrs_off is None:
        return {}
    return {n: measure_lead(mb.waves[i], n, fid, mb.fs) for i, n in enumerate(mb.lead_names)}


def frontal_axis(area_i: float, area_avf: float) -> float:
    """Frontal-plane axis (degrees, −180..180] from net areas in I (0°) and
    aVF (+90°). In Einthoven's equilateral-triangle model lead I records the
    horizontal component and aVF √3/2 of the vertical one, hence the 2/√3."""
    return float(np.degrees(np.arctan2(2.0 / np.sqrt(3.0) * area_avf, area_i)))
