"""Global intervals, QTc, axes, and per-lead amplitudes / ST levels as
`Measurement`s.

Why one place: each number needs its evidence (the median beat of N beats,
the leads it came from, the time span of those beats) and a method string
that says how it was measured; writing them together keeps the wording and
provenance consistent.
"""

from __future__ import annotations

import math

import numpy as np

from experts.core.types import ReferenceRange
from experts.ecg.delineate import Fiducials
from experts.ecg.guidelines import REFS
from experts.ecg.measure import MeasurementSet
from experts.ecg.median_beat import MedianBeat
from experts.ecg.record import LIMB_LEADS, PRECORDIAL_LEADS
from experts.ecg.waves import LeadWaves, frontal_axis

QTC_FORMULAS = {
    "bazett": ("QTc Bazett", "QT / √RR (RR in s) — Bazett 1920"),
    "fridericia": ("QTc Fridericia", "QT / ∛RR (RR in s) — Fridericia 1920"),
    "framingham": ("QTc Framingham", "QT + 154 ms × (1 − RR) (RR in s) — Sagie et al. 1992"),
}


def qtc(qt_ms: float, rr_ms: float, formula: str) -> float:
    rr = rr_ms / 1000.0
    if formula == "bazett":
        return qt_ms / math.sqrt(rr)
    if formula == "fridericia":
        return qt_ms / rr ** (1.0 / 3.0)
    if formula == "framingham":
        return qt_ms + 154.0 * (1.0 - rr)
    raise ValueError(formula)


def qtc_reference(sex: str | None) -> ReferenceRange:
    high = {"male": 450.0, "female": 460.0}.get(sex or "", 460.0)
    pop = {"male": "adult men", "female": "adult women"}.get(sex or "", "adults (sex not given: the women's limit)")
    # ReferenceRange.classify flags value > high; the guideline's "≥" differs only at the exact value
    return ReferenceRange(low=390.0, high=high, unit="ms", population=pop, source=REFS["qtc"])


def heart_rate_reference() -> ReferenceRange:
    """Adult resting rate 50–100/min: the same limits as the sinus bradycardia (< 50, 2018 ACC/AHA/HRS) and sinus
    tachycardia (> 100, 2015 ACC/AHA/HRS) rules, so the flag and the rhythm statement never disagree."""
    return ReferenceRange(low=50.0, high=100.0, unit="/min", population="adults at rest", source=REFS["heart_rate"])


QT_GLOBAL_MIN_LEADS = 8  # the independent leads of a standard 12-lead ECG (I, II, V1–V6)


def add_global_measurements(
    ms: MeasurementSet, mb: MedianBeat, fid: Fiducials, waves: dict[str, LeadWaves], sex: str | None, report_qt: bool = True,
    report_pr: bool = True,
) -> None:
    """`report_qt` False: the T-wave end failed the reliability check
    (qt_reliability.py), so QT and QTc are left out rather than guessed;
    `report_pr` False likewise for the P onset (pr_reliability.py)."""
    fs = mb.fs
    to_ms = lambda a, b: (b - a) / fs * 1000.0  # noqa: E731
    span = (mb.start_s, mb.end_s)
    where = f"median beat of {mb.n_beats} beats"
    glob = fid.leads
    method_g = "global: earliest onset to latest offset across leads on the multi-lead median beat (spatial-velocity thresholds)"
    if fid.qrs_on is None or fid.qrs_off is None:
        ms.warnings.append("QRS boundaries could not be found on the median beat; intervals were not measured.")
        return
    ms.add("qrs_duration", "QRS duration", to_ms(fid.qrs_on, fid.qrs_off), "ms", method_g, leads=glob, span_s=span, location=where,
           reference_range=ReferenceRange(high=110.0, unit="ms", population="adults", source=REFS["ivcd"]))
    if fid.p_on is not None and report_pr:
        ms.add("pr_interval", "PR interval", to_ms(fid.p_on, fid.qrs_on), "ms", method_g, leads=glob, span_s=span, location=where,
               reference_range=ReferenceRange(low=120.0, high=200.0, unit="ms", population="adults", source=REFS["pr_short"]))
        if fid.p_off is not None:
            # the cited limit (P ≥ 120 ms, left atrial abnormality) is for lead II; a global P duration across leads runs longer
            ms.add("p_duration", "P-wave duration", to_ms(fid.p_on, fid.p_off), "ms", method_g, leads=glob, span_s=span, location=where,
                   reference_range=ReferenceRange(high=120.0, unit="ms", population="adults (limit stated for lead II; this is the global P)",
                                                  source=REFS["p_duration"]))
    if fid.t_end is not None and report_qt:
        qt = to_ms(fid.qrs_on, fid.t_end)
        ms.add("qt_interval", "QT interval", qt, "ms", method_g, leads=glob, span_s=span, location=where)
        # a QT from fewer leads can only be shorter than the global QT (the latest T end may lie in a lead not
        # recorded): the short-QTc rule needs the full independent set, see criteria_table.qt_rules
        ms.add("qt_lead_count", "Independent leads in the global QT measurement", float(len(glob)), "1",
               "leads whose median beats the QT onset and T end were taken across (III, aVR, aVL, aVF excluded as combinations of I and II)",
               leads=glob, span_s=span, location=where)
        rr = mb.rr_ms
        for key, (label, formula) in QTC_FORMULAS.items():
            ms.add(f"qtc_{key}", label, qtc(qt, rr, key), "ms", f"{formula}; QT from the median beat, RR = median RR of its beats ({rr:.0f} ms)",
                   leads=glob, span_s=span, location=where, reference_range=qtc_reference(sex))

    # axes from net areas in I and aVF
    if "I" in waves and "aVF" in waves:
        wi, wf = waves["I"], waves["aVF"]
        method_a = "frontal-plane axis from the net areas in leads I and aVF of the median beat (hexaxial, Einthoven triangle)"
        ax = ms.add("qrs_axis", "QRS axis", frontal_axis(wi.qrs_area, wf.qrs_area), "deg", method_a, leads=["I", "aVF"], span_s=span,
                    location=where, reference_range=ReferenceRange(low=-30.0, high=90.0, unit="deg", population="adults", source=REFS["qrs_axis"]))
        if ax is not None and (ax.value < -90.0 or ax.value > 180.0):
            ax.flag = "abnormal"  # −90…−180°: extreme (northwest) axis, neither plain "low" nor "high"
        if wi.p_area is not None and wf.p_area is not None and abs(wi.p_area) + abs(wf.p_area) > 0.5:
            ms.add("p_axis", "P axis", frontal_axis(wi.p_area, wf.p_area), "deg", method_a, leads=["I", "aVF"], span_s=span, location=where)
        if wi.t_area is not None and wf.t_area is not None and abs(wi.t_area) + abs(wf.t_area) > 1.0:
            ms.add("t_axis", "T axis", frontal_axis(wi.t_area, wf.t_area), "deg", method_a, leads=["I", "aVF"], span_s=span, location=where)


def add_lead_measurements(ms: MeasurementSet, mb: MedianBeat, waves: dict[str, LeadWaves], derived: list[str]) -> None:
    """Amplitudes, Q waves, ST levels and morphology features per standard lead."""
    span = (mb.start_s, mb.end_s)
    where = f"median beat of {mb.n_beats} beats"
    ref = "from the PR-segment level"
    for name, w in waves.items():
        if name not in LIMB_LEADS + PRECORDIAL_LEADS:
            continue
        note = " (lead derived from I and II)" if name in derived else ""
        kw = dict(leads=[name], span_s=span, location=where + note)
        ms.add(f"r_amplitude_{name}", f"R amplitude {name}", w.r_amplitude, "mV", f"largest positive QRS deflection {ref}", decimals=2, **kw)
        ms.add(f"s_amplitude_{name}", f"S amplitude {name}", w.s_amplitude, "mV", f"depth of the negative deflection after R {ref}", decimals=2, **kw)
        ms.add(f"q_amplitude_{name}", f"Q amplitude {name}", w.q_amplitude, "mV", f"depth of the initial negative deflection {ref}", decimals=2, **kw)
        ms.add(f"q_duration_{name}", f"Q duration {name}", w.q_duration_ms, "ms", "initial negative deflection, from the lead's first deflection to its zero crossing", **kw)
        ms.add(f"qrs_amplitude_{name}", f"QRS peak-to-peak amplitude {name}", w.qrs_p2p, "mV", "maximum minus minimum within the global QRS", decimals=2, **kw)
        ms.add(f"st_j_{name}", f"ST level at J {name}", w.st_j, "mV", f"level at the global J point (QRS offset) {ref}", decimals=2, **kw)
        if w.st_j60 is not None:
            ms.add(f"st_j60_{name}", f"ST level at J+60 ms {name}", w.st_j60, "mV", f"level 60 ms after the global J point {ref}", decimals=2, **kw)
        if w.t_amplitude is not None:
            ms.add(f"t_amplitude_{name}", f"T amplitude {name}", w.t_amplitude, "mV", f"signed T-wave extreme {ref}", decimals=2, **kw)
        if w.p_amplitude is not None:
            ms.add(f"p_amplitude_{name}", f"P amplitude {name}", w.p_amplitude, "mV", f"signed P-wave extreme {ref}", decimals=2, **kw)
        if name in ("I", "aVL", "V1", "V2", "V5", "V6"):
            ms.add(f"r_peak_time_{name}", f"R-peak time {name}", w.r_peak_time_ms, "ms", "global QRS onset to the peak of R (or R′)", **kw)
            ms.add(f"s_duration_{name}", f"S-wave duration {name}", w.s_duration_ms, "ms", "time below baseline after R within the QRS", **kw)
        if name in ("V1", "V2"):
            ms.add(f"r_prime_amplitude_{name}", f"R′ amplitude {name}", w.r_prime_amplitude, "mV",
                   "second positive QRS peak after a dip of ≥0.1 mV (rsr′/rSR′); 0 when absent", decimals=2, **kw)
    # composite voltage indices
    def amp(kind: str, lead: str) -> float | None:
        w = waves.get(lead)
        return None if w is None else getattr(w, kind)

    sv1, rv5, rv6 = amp("s_amplitude", "V1"), amp("r_amplitude", "V5"), amp("r_amplitude", "V6")
    if sv1 is not None and (rv5 is not None or rv6 is not None):
        ms.add("sokolow_lyon", "Sokolow-Lyon index (SV1 + RV5/V6)", sv1 + max(x for x in (rv5, rv6) if x is not None), "mV",
               "S in V1 plus the larger R in V5 or V6, median beat", leads=["V1", "V5", "V6"], span_s=span, location=where, decimals=2)
    ravl, sv3 = amp("r_amplitude", "aVL"), amp("s_amplitude", "V3")
    if ravl is not None and sv3 is not None:
        ms.add("cornell_voltage", "Cornell voltage (RaVL + SV3)", ravl + sv3, "mV", "R in aVL plus S in V3, median beat",
               leads=["aVL", "V3"], span_s=span, location=where, decimals=2)
    limb = [waves[n].qrs_p2p for n in LIMB_LEADS if n in waves]
    prec = [waves[n].qrs_p2p for n in PRECORDIAL_LEADS if n in waves]
    if len(limb) == 6:
        ms.add("qrs_amplitude_limb_max", "Largest QRS amplitude, limb leads", float(np.max(limb)), "mV",
               "largest peak-to-peak QRS amplitude among I, II, III, aVR, aVL, aVF", leads=list(LIMB_LEADS), span_s=span, location=where, decimals=2)
    if len(prec) == 6:
        ms.add("qrs_amplitude_precordial_max", "Largest QRS amplitude, precordial leads", float(np.max(prec)), "mV",
               "largest peak-to-peak QRS amplitude among V1–V6", leads=list(PRECORDIAL_LEADS), span_s=span, location=where, decimals=2)
