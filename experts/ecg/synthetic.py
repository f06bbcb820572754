"""Synthetic 12-lead ECGs with exactly known P, QRS and T boundaries.

Why our own generator: interval accuracy needs a truth that no annotator
disagrees with. Each wave here has compact support (it is exactly zero
outside its interval), so the global onset and offset — the first and
last sample at which any lead leaves zero — are known to the sample.
Wave shapes follow the piecewise model of Dolinský et al. ("Model for
generating simple synthetic ECG signals", Acta Electrotechnica et
Informatica 18(3), 2018: raised-cosine P, linear Q, half-sine R); the
twelve leads are projections of a dipole that points in a different
direction for each wave segment (septal Q, main R, terminal S, P, T).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# lead vectors in (x: left, y: inferior, z: anterior); limb leads follow
# Einthoven/Goldberger exactly (III = II − I, aVR = −(I+II)/2, ...)
_X, _Y, _Z = np.eye(3)
_I = _X
_II = 0.5 * _X + np.sqrt(3) / 2 * _Y
LEAD_VECTORS = {
    "I": _I,
    "II": _II,
    "III": _II - _I,
    "aVR": -(_I + _II) / 2,
    "aVL": _I - _II / 2,
    "aVF": _II - _I / 2,
}
for _name, _deg in zip(["V1", "V2", "V3", "V4", "V5", "V6"], [120, 100, 80, 60, 30, 0]):
    _a = np.radians(_deg)
    LEAD_VECTORS[_name] = np.cos(_a) * _X + np.sin(_a) * _Z
LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


@dataclass
class SyntheticTruth:
    pr_ms: float
    qrs_ms: float
    qt_ms: float
    rr_ms: float
    p_duration_ms: float
    r_peaks: np.ndarray  # sample index of each beat's QRS onset + 40 % of QRS (the main R)
    p_onsets: np.ndarray | None = None  # every P wave's onset (av_block / dissociated records)
    conducted: np.ndarray | None = None  # per P wave: followed by its QRS (av_block records)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def _beat_template(fs: float, pr: float, qrs: float, qt: float, p_dur: float, amp: dict) -> tuple[np.ndarray, int, int]:
    """One beat (3 × n dipole components) starting at P onset; returns it,
    the QRS-onset index and the R-peak index."""
    ms = lambda v: int(round(v * fs / 1000.0))  # noqa: E731
    n = ms(pr + qt) + 1
    d = np.zeros((3, n))
    # P: raised cosine, support [0, p_dur)
    k = np.arange(ms(p_dur))
    d[:, : k.size] += np.outer(amp["p_dir"], amp["p"] * np.sin(np.pi * k / k.size) ** 2)
    q0 = ms(pr)
    nq = ms(qrs)
    # QRS: septal q (15 %), main R (50 %), terminal S (35 %); each half-sine, contiguous
    parts = [("q_dir", 0.15, amp["q"]), ("r_dir", 0.50, amp["r"]), ("s_dir", 0.35, amp["s"])]
    start = q0
    r_idx = q0
    for key, frac, a in parts:
        m = max(2, int(round(frac * nq)))
        kk = np.arange(m)
        d[:, start : start + m] += np.outer(amp[key], a * np.sin(np.pi * kk / m))
        if key == "r_dir":
            r_idx = start + m // 2
        start += m
    qrs_end = start
    # T: asymmetric raised cosine ending exactly at QRS onset + QT
    t_end = q0 + ms(qt)
    t_len = int(0.55 * (t_end - qrs_end))
    t_start = t_end - t_len
    u = (np.arange(t_len) / t_len) ** 0.8  # slower rise, faster fall
    d[:, t_start:t_end] += np.outer(amp["t_dir"], amp["t"] * np.sin(np.pi * u) ** 2)
    return d, q0, r_idx


def synthesize(
    fs: float = 500.0,
    duration_s: float = 10.0,
    hr: float = 70.0,
    pr_ms: float = 160.0,
    qrs_ms: float = 90.0,
    qt_ms: float = 400.0,
    p_duration_ms: float = 100.0,
    noise_mv: float = 0.01,
    wander_mv: float = 0.05,
    rr_jitter: float = 0.02,
    seed: int = 0,
    flutter_rate: float | None = None,
    flutter_mv: float = 0.15,
    dissociated_atrial_rate: float | None = None,
    av_block: str | None = None,
    conduction: int = 4,
    wenckebach_increments_ms: tuple[float, ...] = (120.0, 60.0, 30.0),
) -> tuple[np.ndarray, list[str], SyntheticTruth]:
    """12 leads × samples in mV, the lead names, and the truth.

    `flutter_rate` (/min): no P waves; instead a continuous sawtooth atrial
    wave at that rate (slow descent, fast return, no isoelectric interval)
    whose dipole points superiorly, so it is negative in II, III and aVF as
    in typical (counter-clockwise) flutter. `hr` is then the ventricular rate;
    set it to flutter_rate / k for a fixed k:1 block.

    `dissociated_atrial_rate` (/min): complete AV dissociation (third-degree
    AV block): P waves at that rate, independent of the QRS complexes, which
    come at `hr` (the escape rate); PR then varies from beat to beat.

    `av_block` (second-degree AV block; `hr` is then the *atrial* rate):
    "2:1" conducts every other P wave at `pr_ms`; "mobitz2" conducts
    `conduction` − 1 of every `conduction` P waves at a constant `pr_ms`;
    "mobitz1" (Wenckebach, `conduction`:`conduction` − 1) starts each group
    at `pr_ms` and lengthens it by `wenckebach_increments_ms` (decreasing
    increments, as in the classic pattern) before the blocked P wave.
    """
    if av_block is not None:
        return _second_degree(fs, duration_s, hr, pr_ms, qrs_ms, qt_ms, p_duration_ms, noise_mv, wander_mv, rr_jitter, seed,
                              av_block, conduction, wenckebach_increments_ms)
    rng = np.random.default_rng(seed)
    amp = _amplitudes(rng)  # same draws in the same order as before it was shared
    p_amp = amp["p"]
    p_onsets: list[int] = []
    if flutter_rate is not None or dissociated_atrial_rate is not None:
        amp["p"] = 0.0
    beat, q0, r_off = _beat_template(fs, pr_ms, qrs_ms, qt_ms, p_duration_ms, amp)
    n = int(duration_s * fs)
    dip = np.zeros((3, n))
    rr_mean = 60000.0 / hr
    t = int(0.3 * fs)
    r_peaks = []
    while t + beat.shape[1] < n:
        dip[:, t : t + beat.shape[1]] += beat
        r_peaks.append(t + r_off)
        t += int(round(rr_mean * (1 + rng.normal(0, rr_jitter)) * fs / 1000.0))
    tt = np.arange(n) / fs
    if dissociated_atrial_rate is not None:
        k = np.arange(int(round(p_duration_ms * fs / 1000.0)))
        p_wave = np.outer(amp["p_dir"], p_amp * np.sin(np.pi * k / k.size) ** 2)
        t_p = rng.uniform(0.0, 0.5) * fs
        while t_p + p_wave.shape[1] < n:
            i = int(round(t_p))
            dip[:, i : i + p_wave.shape[1]] += p_wave
            p_onsets.append(i)
            t_p += 60.0 / dissociated_atrial_rate * fs * (1 + rng.normal(0, 0.01))
    if flutter_rate is not None:
        phase = (tt * flutter_rate / 60.0 + rng.uniform()) % 1.0
        saw = np.where(phase < 0.8, 1.0 - 2.0 * phase / 0.8, -1.0 + 2.0 * (phase - 0.8) / 0.2)  # 80 % descent, 20 % return
        dip += np.outer(_unit([0.1, -0.9, 0.3]), flutter_mv * saw)
    M = np.vstack([LEAD_VECTORS[name] for name in LEADS])
    sig = M @ dip
    sig += wander_mv * np.sin(2 * np.pi * 0.3 * tt + rng.uniform(0, 2 * np.pi))[None, :]
    sig += rng.normal(0, noise_mv, size=sig.shape)
    truth = SyntheticTruth(pr_ms=pr_ms, qrs_ms=(int(round(0.15 * qrs_ms * fs / 1000)) + int(round(0.5 * qrs_ms * fs / 1000)) + int(round(0.35 * qrs_ms * fs / 1000))) * 1000.0 / fs,
                           qt_ms=qt_ms, rr_ms=rr_mean, p_duration_ms=p_duration_ms, r_peaks=np.asarray(r_peaks),
                           p_onsets=np.asarray(p_onsets) if dissociated_atrial_rate is not None else None)
    return sig, list(LEADS), truth


def _amplitudes(rng: np.random.Generator) -> dict:
    return {
        "p": rng.uniform(0.10, 0.25), "q": rng.uniform(0.10, 0.30), "r": rng.uniform(0.8, 1.8), "s": rng.uniform(0.3, 0.9),
        "t": rng.uniform(0.2, 0.5),
        "p_dir": _unit([0.6, 0.7, 0.2] + rng.normal(0, 0.1, 3)),
        "q_dir": _unit([-0.5, 0.1, 0.8] + rng.normal(0, 0.1, 3)),
        "r_dir": _unit([0.8, 0.5, -0.2] + rng.normal(0, 0.15, 3)),
        "s_dir": _unit([-0.4, -0.5, -0.7] + rng.normal(0, 0.1, 3)),
        "t_dir": _unit([0.7, 0.5, 0.3] + rng.normal(0, 0.1, 3)),
    }


def _second_degree(fs, duration_s, atrial_rate, pr_ms, qrs_ms, qt_ms, p_duration_ms, noise_mv, wander_mv, rr_jitter, seed,
                   kind, conduction, increments):
    """Sinus P waves at `atrial_rate`, each conducted (P + QRS-T at its PR)
    or blocked (P alone) by the pattern `kind`; see `synthesize`."""
    if kind not in ("2:1", "mobitz1", "mobitz2"):
        raise ValueError(f"unknown av_block {kind!r}")
    rng = np.random.default_rng(seed)
    amp = _amplitudes(rng)
    n = int(duration_s * fs)
    dip = np.zeros((3, n))
    group = 2 if kind == "2:1" else conduction
    pp = 60.0 / atrial_rate * fs
    t = 0.3 * fs
    r_peaks, p_onsets, conducted = [], [], []
    i = 0
    while True:
        pos = i % group
        blocked = pos == group - 1
        pr = pr_ms + (sum(increments[: pos]) if kind == "mobitz1" else 0.0)
        if blocked:
            beat, _, _ = _beat_template(fs, pr_ms, qrs_ms, qt_ms, p_duration_ms, amp)
            p_only = np.zeros_like(beat)
            k = int(round(p_duration_ms * fs / 1000.0))
            p_only[:, :k] = beat[:, :k]
            beat, r_off = p_only, None
        else:
            beat, _, r_off = _beat_template(fs, pr, qrs_ms, qt_ms, p_duration_ms, amp)
        s = int(round(t))
        if s + beat.shape[1] >= n:
            break
        dip[:, s : s + beat.shape[1]] += beat
        p_onsets.append(s)
        conducted.append(not blocked)
        if r_off is not None:
            r_peaks.append(s + r_off)
        t += pp * (1 + rng.normal(0, rr_jitter))
        i += 1
    tt = np.arange(n) / fs
    M = np.vstack([LEAD_VECTORS[name] for name in LEADS])
    sig = M @ dip
    sig += wander_mv * np.sin(2 * np.pi * 0.3 * tt + rng.uniform(0, 2 * np.pi))[None, :]
    sig += rng.normal(0, noise_mv, size=sig.shape)
    nq = [int(round(f * qrs_ms * fs / 1000)) for f in (0.15, 0.5, 0.35)]
    truth = SyntheticTruth(pr_ms=pr_ms, qrs_ms=sum(nq) * 1000.0 / fs, qt_ms=qt_ms, rr_ms=float(np.mean(np.diff(r_peaks))) * 1000.0 / fs,
                           p_duration_ms=p_duration_ms, r_peaks=np.asarray(r_peaks), p_onsets=np.asarray(p_onsets),
                           conducted=np.asarray(conducted))
    return sig, list(LEADS), truth


def add_pacing_spikes(sig: np.ndarray, at: np.ndarray | list[int], amplitude_mv: float = 1.0,
                      direction: tuple[float, float, float] = (0.6, -0.7, 0.4)) -> np.ndarray:
    """A copy of `sig` (12 leads, LEADS order) with a pacemaker stimulus at each sample in `at`: one sample of
    `amplitude_mv` along `direction` (projected on each lead, so some leads show it small) and a recharge of a
    third of it, opposite, on the next sample — what a < 1 ms pulse leaves at 500 Hz."""
    out = np.array(sig, dtype=float, copy=True)
    M = np.vstack([LEAD_VECTORS[name] for name in LEADS])
    proj = M @ (_unit(direction) * amplitude_mv)
    for s in at:
        s = int(s)
        if 0 <= s < out.shape[1] - 1:
            out[:, s] += proj
            out[:, s + 1] -= proj / 3.0
    return out
