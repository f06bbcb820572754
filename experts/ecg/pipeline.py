"""The analysis, step by step: record → quality → beats → rhythm →
measurements → rules → result.

Why separate from `tool.py`: the tool is the typed boundary the agent
sees (options, description); this module is the analysis, callable on an
`ECGRecord` from tests, evals and benchmarks without a StudyInput.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from experts.core.types import (
    Artifact,
    ExpertResult,
    Modality,
    PatientContext,
    Quality,
    Source,
    Statement,
)
from experts.ecg.beats import BeatDetection, detect_beats
from experts.ecg.classify import BeatLabels, classify_beats
from experts.ecg.episodes import AF_IRREGULARITY, AF_MAX_P_FRACTION, WINDOW_BEATS, RhythmEpisodes, find_episodes
from experts.ecg.criteria_table import build_rules
from experts.ecg.delineate import Fiducials, delineate
from experts.ecg.intervals import QT_GLOBAL_MIN_LEADS, add_global_measurements, add_lead_measurements, heart_rate_reference
from experts.ecg.median_beat import MedianBeat, build_median_beat
from experts.ecg.waves import LeadWaves, measure_all
from experts.ecg.measure import MeasurementSet
from experts.ecg.atrial_activity import AtrialActivity
from experts.ecg.av_conduction import AVConduction, analyse_av
from experts.ecg.pr_reliability import PRReliability, assess_pr
from experts.ecg.qt_reliability import QTReliability, assess_qt
from experts.ecg.quality import RecordQuality, assess_record, bad_segments
from experts.ecg.record import ECGRecord
from experts.ecg.rhythm import PLAUSIBLE_HR, PWaveFinding, RRStats, p_wave_presence, rr_stats
from experts.ecg.rules import evaluate


AMPLITUDE_CATEGORIES = {"axis", "voltage", "hypertrophy", "ischaemia"}


@dataclass
class AnalysisConfig:
    qtc_formula: str = "framingham"
    make_plot: bool = True
    output_dir: Path | None = None


@dataclass
class Analysis:
    """Everything computed, for the result and for evals/plots."""

    record: ECGRecord
    quality: RecordQuality
    beats: BeatDetection | None = None
    rr: RRStats | None = None
    p_wave: PWaveFinding | None = None
    median_beat: MedianBeat | None = None
    beat_labels: BeatLabels | None = None
    episodes: RhythmEpisodes | None = None
    fiducials: Fiducials | None = None
    qt_reliability: QTReliability | None = None
    pr_reliability: PRReliability | None = None
    atrial_activity: AtrialActivity | None = None
    av: AVConduction | None = None
    pacing: object | None = None  # pacing.PacingFinding
    waves: dict[str, LeadWaves] = field(default_factory=dict)
    measurements: MeasurementSet | None = None
    statements: list[Statement] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    verdict: str = "usable"
    reasons: list[str] = field(default_factory=list)


def _rhythm_lead(record: ECGRecord, quality: RecordQuality) -> str | None:
    """Lead for P-wave polarity: II (or monitor MLII), where a sinus P wave is upright."""
    for name in ("II", "MLII"):
        if record.has(name) and quality.leads[name].usable:
            return name
    return None


def analyze_record(
    record: ECGRecord, patient: PatientContext, study_id: str, source: Source, config: AnalysisConfig
) -> Analysis:
    quality = assess_record(record)
    an = Analysis(record=record, quality=quality, verdict=quality.verdict, reasons=list(quality.reasons))
    ms = MeasurementSet(study_id, source, record.source_file, quality="usable")
    an.measurements = ms

    if quality.verdict != "non_diagnostic":
        an.beats = detect_beats(record, quality)
        an.rr = rr_stats(an.beats.r_peaks, record.fs)
        if an.rr is None:
            an.verdict = "non_diagnostic"
            an.reasons.insert(
                0,
                f"fewer than 3 QRS complexes were found in {record.duration_s:.1f} s: the leads carry no usable ECG, beat detection "
                "failed, or the sampling rate in the file is wrong",
            )
        elif not (PLAUSIBLE_HR[0] <= an.rr.heart_rate <= PLAUSIBLE_HR[1]):
            an.verdict = "non_diagnostic"
            an.reasons.insert(
                0,
                f"the detected ventricular rate ({an.rr.heart_rate:.0f}/min) is outside {PLAUSIBLE_HR[0]:g}–{PLAUSIBLE_HR[1]:g}/min: "
                "beat detection failed or the sampling rate in the file is wrong",
            )
    ms.quality = "usable" if an.verdict == "usable" else ("limited" if an.verdict == "limited" else "non_diagnostic")

    if an.rr is not None and an.verdict != "non_diagnostic":
        _rhythm_measurements(an, ms)
        _morphology_measurements(an, ms, patient)
        if an.median_beat is None:  # otherwise done inside, before the QT check needs it
            _av_relationship(an, ms)

    implausible = _implausible_timing(ms)
    if implausible and an.verdict != "non_diagnostic":
        an.verdict = "non_diagnostic"
        an.reasons.insert(0, implausible)
        # every number depends on the time axis: none of them can be reported
        ms.items.clear()
        an.warnings.append("No measurement is reported: the time axis of the recording is not trustworthy (see quality).")
    if an.verdict != "non_diagnostic":
        rules = build_rules(config.qtc_formula)
        if not quality.amplitudes_reliable:
            rules = [r for r in rules if r.category not in AMPLITUDE_CATEGORIES]
            an.warnings.append(
                "Amplitude-based criteria (axis, voltage, hypertrophy, ST and Q waves) were not applied because the limb leads "
                "are internally inconsistent (see quality)."
            )
        result = evaluate(rules, ms.items, patient, study_id, source)
        an.statements = result.statements
        _label_paced_intervals(an, ms, study_id)
        _limit_qt_in_af(an, ms, study_id)
    an.warnings.extend(ms.warnings)
    if config.make_plot and config.output_dir is not None:
        _plot(an, study_id, ms, config.output_dir)
    return an


PACED_INTERVALS = ("qrs_duration", "qt_interval", "qtc_bazett", "qtc_fridericia", "qtc_framingham", "qrs_axis", "t_axis", "pr_interval")
QT_NAMES = ("qt_interval", "qtc_bazett", "qtc_fridericia", "qtc_framingham")
PACED_NO_RANGE = "native reference range not applicable to paced complexes (no normal/abnormal flag)"
AF_QT_MIN_BURDEN = 50.0  # % of the record in AF-like rhythm from which QT/QTc are limited even without an AF statement


def _median_beat_paced(an: Analysis) -> tuple[int, int]:
    """(beats of the median beat that follow a ventricular pacing spike, beats in the median beat)."""
    mb, pf, beats = an.median_beat, an.pacing, an.beats
    if mb is None or pf is None or beats is None:
        return 0, 0
    paced_r = beats.r_peaks[np.asarray(getattr(pf, "v_paced_beats", []), dtype=int)]
    tol = 0.03 * an.record.fs  # the median beat re-aligns each beat by ≤ 20 ms
    used = np.asarray(mb.beats_used)
    n = int(sum(1 for u in used if paced_r.size and np.min(np.abs(paced_r - u)) <= tol))
    return n, int(used.size)


def _label_paced_intervals(an: Analysis, ms: MeasurementSet, study_id: str) -> None:
    """On a ventricular-paced rhythm the intervals stay measured but say they are of paced complexes.

    Their native reference ranges (and flags) are removed: PR, QRS, QTc and axis limits are for native conduction. When
    not every beat of the median beat follows a visible pacing spike, the label says the median beat is mixed."""
    if not any(st.id == f"{study_id}.ventricular_paced_rhythm" and st.status == "present" for st in an.statements):
        return
    n_paced, n_used = _median_beat_paced(an)
    mixed = n_used > 0 and n_paced < n_used
    tag = (f" (paced rhythm; mixed median beat: {n_paced} of {n_used} beats follow a visible pacing spike)" if mixed
           else " (paced complexes)")
    for name in PACED_INTERVALS:
        m = ms.items.get(name)
        if m is None:
            continue
        how = ("median beat of paced and other beats: the others have the dominant QRS shape but no pacing spike was seen before "
               "them, so this may mix paced with native or fusion complexes" if mixed
               else "measured on ventricular-paced beats: describes the paced QRS/T, not native conduction")
        loc = m.evidence.location
        if mixed and loc:
            loc = f"{loc} ({n_paced} after a ventricular pacing spike)"
        ms.items[name] = m.model_copy(update={
            "label": m.label + tag,
            "method": m.method + "; " + how + "; " + PACED_NO_RANGE,
            "reference_range": None,
            "flag": None,
            "evidence": m.evidence.model_copy(update={"location": loc}),
        })
    an.warnings.append("Ventricular-paced rhythm: QRS duration, PR, QT/QTc and axes describe paced complexes and are not compared "
                       "with native reference ranges; conduction, LVH-voltage, AV-block and ischaemia criteria and sinus rhythm "
                       "are reported as indeterminate."
                       + (f" Only {n_paced} of the {n_used} beats of the median beat follow a visible pacing spike." if mixed else ""))


def _limit_qt_in_af(an: Analysis, ms: MeasurementSet, study_id: str) -> None:
    """QT/QTc during atrial fibrillation: the RR varies beat to beat, so a median-beat QT and its rate correction are
    unreliable. QT/QTc become `limited`, their flag is withdrawn and the reference says why (criteria_table.QT_IN_AF_WHY)."""
    from experts.ecg.criteria_table import QT_IN_AF_WHY

    af = any(st.id == f"{study_id}.atrial_fibrillation" and st.status in ("present", "indeterminate") for st in an.statements)
    burden = ms.value("af_burden")
    if not af and not (burden is not None and burden >= AF_QT_MIN_BURDEN):
        return
    done = False
    for name in QT_NAMES:
        m = ms.items.get(name)
        if m is None:
            continue
        rr = m.reference_range
        if rr is not None:
            pop = (rr.population + "; " if rr.population else "") + "not applied during atrial fibrillation (RR varies)"
            rr = rr.model_copy(update={"population": pop})
        ms.items[name] = m.model_copy(update={
            "label": m.label + " (atrial fibrillation: limited)" if "(atrial fibrillation" not in m.label else m.label,
            "method": m.method + "; limited: " + QT_IN_AF_WHY,
            "quality": "limited" if m.quality == "usable" else m.quality,
            "flag": None,
            "reference_range": rr,
        })
        done = True
    if done:
        an.warnings.append("QT/QTc during atrial fibrillation are limited: the RR interval varies from beat to beat, so the "
                           "median-beat QT and its rate correction are unreliable; they are not classified normal or abnormal.")


def _plot(an: Analysis, study_id: str, ms: MeasurementSet, output_dir: Path) -> None:
    from experts.ecg.plot import render_printout

    def fmt(name: str, label: str) -> str:
        m = ms.items.get(name)
        return f"{label} {m.with_unit()}" if m else ""

    parts = [fmt("heart_rate", "HR"), fmt("pr_interval", "PR"), fmt("qrs_duration", "QRS"), fmt("qt_interval", "QT"),
             fmt("qrs_axis", "QRS axis")]
    title = f"{an.record.source_file} — " + ", ".join(p for p in parts if p)
    path = Path(output_dir) / f"{study_id}_ecg12.png"
    try:
        render_printout(an.record, path, an.median_beat, an.fiducials, title=title)
    except Exception as exc:  # a plot must never sink the analysis
        an.warnings.append(f"The ECG printout could not be drawn ({type(exc).__name__}: {exc}).")
        return
    an.artifacts.append(Artifact(kind="plot", title=printout_caption(an.record), path=str(path), media_type="image/png"))


def printout_caption(record: ECGRecord) -> str:
    """The figure caption by the leads actually drawn (a 1-lead record is not a 12-lead printout)."""
    n = len(record.lead_names)
    if n == 1:
        return f"Single-lead ECG strip ({record.lead_names[0]}) with median beat"
    return f"{n}-lead ECG printout with median beats"


def _single_unnamed_lead(record: ECGRecord) -> bool:
    """One ECG channel whose name maps to no standard or monitor lead (CinC
    2017's 'ECG', a handheld recorder's export): its orientation is unknown."""
    from experts.ecg.io.load import KNOWN_LEADS

    return len(record.lead_names) == 1 and record.lead_names[0] not in KNOWN_LEADS


def _rhythm_measurements(an: Analysis, ms: MeasurementSet) -> None:
    rec, rr, beats = an.record, an.rr, an.beats
    assert rr is not None and beats is not None
    leads = beats.leads_used
    span = rr.span_s
    where = f"{rr.n_beats} beats"
    ms.add("heart_rate", "Heart rate (ventricular)", rr.heart_rate, "/min",
           f"60000 / mean RR; R-peaks by {beats.method}", leads=leads, span_s=span, location=where, reference_range=heart_rate_reference())
    ms.add("rr_mean", "Mean RR interval", rr.rr_mean_ms, "ms", "mean of successive R-R intervals", leads=leads, span_s=span, location=where)
    ms.add("rr_sdnn", "RR interval standard deviation (SDNN)", rr.rr_sdnn_ms, "ms", "sample SD of R-R intervals (all beats)",
           leads=leads, span_s=span, location=where)
    ms.add("rr_rmssd", "RMS of successive RR differences (RMSSD)", rr.rr_rmssd_ms, "ms", "root mean square of successive R-R differences",
           leads=leads, span_s=span, location=where)
    ms.add("rr_cv", "RR coefficient of variation", rr.rr_cv * 100.0, "%", "SDNN / mean RR", leads=leads, span_s=span, location=where, decimals=1)
    ms.add("rr_min", "Shortest RR interval", rr.rr_min_ms, "ms", "minimum R-R interval", leads=leads, span_s=span, location=where)
    ms.add("rr_max", "Longest RR interval", rr.rr_max_ms, "ms", "maximum R-R interval", leads=leads, span_s=span, location=where)
    ms.add("beat_count", "QRS complexes detected", float(rr.n_beats), "1", f"R-peaks by {beats.method}", leads=leads, span_s=span)

    lead = _rhythm_lead(rec, an.quality)
    pw = None
    if lead is None:
        # P-wave presence (not polarity) still informs the AF decision
        pw = p_wave_presence(rec.lead(beats.reference_lead), rec.fs, beats.r_peaks, beats.reference_lead)
        if _single_unnamed_lead(rec) and pw is not None and pw.n_beats > 0:
            an.p_wave = pw
            ref = beats.reference_lead
            method = ("P-wave template 240 ms ending 20 ms before QRS onset; a beat counts when r ≥ 0.5 and amplitude ≥ half the "
                      "template's (single unnamed lead: shape consistency only, polarity not interpretable)")  # fmt: skip
            ms.add("p_wave_beats_single_lead", "Beats with a P wave of constant shape (single unnamed lead)", pw.fraction_with_p * 100.0,
                   "%", method, leads=[ref], span_s=span, location=f"{pw.n_beats} beats", decimals=0)  # fmt: skip
            an.warnings.append(
                f"Only one unnamed lead ({ref}): P-wave polarity cannot be judged, so sinus origin rests on a P wave of constant "
                "shape before the QRS complexes (an ectopic atrial rhythm would look the same)."
            )
        else:
            an.warnings.append("Lead II is not available or not usable: P-wave polarity (and hence sinus origin) was not assessed.")
    else:
        pw = p_wave_presence(rec.lead(lead), rec.fs, beats.r_peaks, lead)
        an.p_wave = pw
        if pw is None or pw.n_beats == 0:
            an.warnings.append("P waves could not be assessed (too few beats or too fast a rate).")
        else:
            method = "P-wave template 240 ms ending 20 ms before QRS onset; a beat counts when r ≥ 0.5 and amplitude ≥ half the template's"
            ms.add("p_wave_beats", f"QRS complexes preceded by a P-wave-shaped deflection (lead {lead} template)",
                   pw.fraction_with_p * 100.0, "%", method,
                   leads=[lead], span_s=span, location=f"{pw.n_beats} beats", decimals=0)
            ms.add("p_wave_amplitude", f"P-wave amplitude (lead {lead})", pw.template_amplitude_mv, "mV",
                   "signed peak of the median-beat P-wave template relative to the PR segment", leads=[lead], span_s=span,
                   location="median beat", decimals=2)
    _atrial_waves(an, ms)
    _ectopy_and_episodes(an, ms, pw)
    _pacing(an, ms)


def _pacing(an: Analysis, ms: MeasurementSet) -> None:
    """Pacemaker spikes on the signal as read (before any filter) and the beats they capture (pacing.py)."""
    from experts.ecg.pacing import MIN_FS, analyse_pacing

    rec, beats, rr = an.record, an.beats, an.rr
    assert beats is not None and rr is not None
    usable = [n for n in rec.lead_names if an.quality.leads[n].usable]
    if not usable:
        return
    sub = rec.subset(usable)
    pf = analyse_pacing(sub.signals, sub.lead_names, sub.fs, beats.r_peaks)
    an.pacing = pf
    if sub.fs < MIN_FS or len(pf.leads) < 2:
        an.warnings.append(f"Pacing was not assessed: a pacing spike must be seen in several leads at once at ≥ {MIN_FS:g} Hz "
                           f"(here {len(pf.leads)} lead(s) at {sub.fs:g} Hz).")
        return
    n = len(beats.r_peaks)
    span, leads = rr.span_s, pf.leads
    how = ("spike = one-sample jump ≥ 0.05 mV and ≥ 8× the lead's sample-to-sample noise that turns back at once (or is held by the "
           "recorder), or a 1–2 sample deflection gone 3 samples later, in ≥ 3 independent leads (both of 2) at the same sample, "
           f"on the unfiltered signal at {sub.fs:g} Hz")
    ms.add("pacing_spike_count", "Pacing spikes", float(len(pf.spikes)), "1", how, leads=leads, span_s=span)
    ms.add("pacing_v_paced_beats", "Ventricular-paced beats", float(len(pf.v_paced_beats)), "1",
           "QRS complexes whose R peak follows a ventricular pacing spike (QRS slope within 60 ms of it) by ≤ 400 ms; " + how,
           leads=leads, span_s=span, location=f"{n} beats")
    ms.add("pacing_v_paced_fraction", "Ventricular-paced beats (share)", 100.0 * len(pf.v_paced_beats) / n, "%",
           "ventricular-paced beats / QRS complexes", leads=leads, span_s=span, location=f"{n} beats")
    ms.add("pacing_a_paced_beats", "Atrial-paced beats", float(len(pf.a_paced_beats)), "1",
           "QRS complexes 80–400 ms after an atrial pacing spike (no steep slope within 60 ms of it); " + how,
           leads=leads, span_s=span, location=f"{n} beats")
    ms.add("pacing_a_paced_fraction", "Atrial-paced beats (share)", 100.0 * len(pf.a_paced_beats) / n, "%",
           "atrial-paced beats / QRS complexes", leads=leads, span_s=span, location=f"{n} beats")
    if pf.spike_qrs_ms:
        ms.add("pacing_spike_qrs_interval", "Ventricular spike to QRS onset", float(np.median(pf.spike_qrs_ms)), "ms",
               "median, spike to the first multi-lead slope ≥ 30 % of the record's steepest (searched from 10 ms, after the "
               "spike's own after-potential, so 10 ms means ≤ 10 ms)", leads=leads, span_s=span)
        ms.add("pacing_spike_r_interval", "Ventricular spike to detected R peak", float(np.median(pf.spike_r_ms)), "ms",
               "median", leads=leads, span_s=span)
    if pf.spike_p_ms:
        ms.add("pacing_atrial_spike_r_interval", "Atrial spike to next R peak (paced AV delay)", float(np.median(pf.spike_p_ms)), "ms",
               "median", leads=leads, span_s=span)
    vs = np.array([s for s, k in zip(pf.spikes, pf.kinds) if k == "V"])
    gaps = np.diff(vs) / sub.fs if len(vs) >= 2 else np.array([])
    gaps = gaps[gaps <= 1.3 * rr.rr_mean_ms / 1000.0]  # spikes on neighbouring beats only (a spike lost in between is not a slower rate)
    if len(gaps) >= 2:
        ms.add("pacing_spike_rate", "Ventricular pacing spike rate", 60.0 / float(np.median(gaps)), "/min",
               f"60 / median interval between ventricular spikes on neighbouring beats ({len(gaps)} intervals)", leads=leads, span_s=span)
    if len(pf.spikes):
        ms.add("pacing_spike_amplitude", "Pacing spike amplitude", float(np.median(pf.amplitude_mv)), "mV",
               "median over spikes of the median jump over the leads that show it", leads=leads, span_s=span, decimals=2)
        ms.add("pacing_spike_leads", "Leads showing each pacing spike", float(np.median(pf.leads_per_spike)), "1",
               f"median over spikes, of {pf.n_leads} independent leads", leads=leads, span_s=span)


def _atrial_waves(an: Analysis, ms: MeasurementSet) -> None:
    """Flutter-like periodic atrial waves between the QRS complexes (atrial_activity.py)."""
    from experts.ecg.atrial_activity import periodic_atrial_activity

    rec, rr, beats = an.record, an.rr, an.beats
    assert rr is not None and beats is not None
    usable = {n: rec.lead(n) for n in rec.lead_names if an.quality.leads[n].usable}
    aa = periodic_atrial_activity(usable, rec.fs, beats.r_peaks)
    if aa is None:
        return
    an.atrial_activity = aa
    method = ("autocorrelation of the QRS-blanked 2–30 Hz signal: waves repeating at lag L, 2L and 3L, the same L in ≥ 2 of "
              "II, III, aVF, aVL, V1 (± 12 ms)")
    span = rr.span_s
    ms.add("atrial_wave_rate", "Rate of continuous periodic atrial waves", aa.rate_per_min, "/min", method, leads=aa.leads, span_s=span)
    ms.add("atrial_wave_periodicity", "Periodicity of the atrial waves (smallest autocorrelation at L, 2L, 3L)", aa.periodicity, "1",
           method, leads=aa.leads, span_s=span, decimals=2)
    ms.add("atrial_ventricular_rate_ratio", "Atrial wave rate / ventricular rate", aa.rate_per_min / rr.heart_rate, "1",
           "atrial_wave_rate divided by heart_rate", leads=aa.leads, span_s=span, decimals=1)
    ratio = aa.rate_per_min / rr.heart_rate
    if 1.5 <= ratio < 2.5 and 200.0 <= aa.rate_per_min <= 350.0:
        an.warnings.append(
            f"Regular waves at {aa.rate_per_min:.0f}/min, about two per QRS complex, in {', '.join(aa.leads)}: atrial flutter with "
            "2:1 conduction is possible, but a sinus or atrial tachycardia (P and T waves) repeats the same way, so no flutter "
            "statement is made; review the tracing."
        )


def _av_relationship(an: Analysis, ms: MeasurementSet) -> None:
    """Per-beat P waves against the QRS complexes (av_conduction.py): the
    measurements behind the second- and third-degree AV-block rules. Uses the
    median beat's QRS onset and T end for the QRS-T cancellation when known."""
    rec, rr, beats = an.record, an.rr, an.beats
    if rr is None or beats is None:
        return
    usable = {n: rec.lead(n) for n in rec.lead_names if an.quality.leads[n].usable}
    mb, fid = an.median_beat, an.fiducials
    on = t_end = None
    if mb is not None and fid is not None and fid.qrs_on is not None:
        on = (mb.r_index - fid.qrs_on) / rec.fs
        t_end = (fid.t_end - mb.r_index) / rec.fs if fid.t_end is not None else None
    av = analyse_av(usable, rec.fs, beats.r_peaks, on, t_end)
    if av is None:
        return
    an.av = av
    span, leads = rr.span_s, av.leads
    how = ("QRS-T cancelled by the median beat, P waves = peaks of the 1–20 Hz residual energy of the leads shown, one shape "
           "(correlation ≥ 0.5); each QRS's P wave is the last one 50–450 ms before its onset")
    where = f"{av.p_count} P waves, {av.qrs_count} QRS"
    add = lambda name, label, value, unit, decimals=0: ms.add(name, label, value, unit, how, leads=leads, span_s=span,  # noqa: E731
                                                              location=where, decimals=decimals)
    add("av_atrial_rate", "Atrial (P-wave) rate", av.atrial_rate, "/min")
    add("av_atrial_ventricular_ratio", "Atrial rate / ventricular rate", av.atrial_ventricular_ratio, "1", 2)
    # labels carry no numbers (the windows are in the method): a number with a unit in a
    # label reads like a measurement in the report's prose
    add("av_conducted_ratio", "Atrial waves followed by a QRS within the conduction window (share of atrial waves)",
        100.0 * av.conducted_ratio, "%")
    if av.pq_ms:
        add("av_pq_min", "Shortest P–QRS interval (P peak to QRS onset)", min(av.pq_ms), "ms")
        add("av_pq_max", "Longest P–QRS interval (P peak to QRS onset)", max(av.pq_ms), "ms")
        add("av_pq_range", "Range of the P–QRS interval across beats", av.pq_range_ms, "ms")
    add("av_nonconducted_p", "Non-conducted P waves (in a long RR)", float(av.nonconducted), "1")
    add("av_max_consecutive_conducted", "Longest run of consecutively conducted P waves", float(av.max_consecutive_conducted), "1")
    add("av_pq_shortening", "P–QRS shortening across a dropped beat (median)", av.pq_drop_ms, "ms")
    add("av_pq_progression", "P–QRS lengthening within a conducted group before a drop (median)", av.pq_progression_ms, "ms")
    add("av_two_to_one_fraction", "RR intervals with two P waves, only the second conducted", 100.0 * av.two_to_one_fraction, "%")
    add("av_atrial_regularity", "PP intervals that are 1–3 atrial cycles (±12 %)", 100.0 * av.atrial_regularity, "%")
    add("av_p_on_st_t", "P waves found on the ST segment or T wave", float(av.p_on_st_t), "1")
    add("av_p_locked_fraction", "P waves recurring at the same distance after the next QRS (locked to the QRS)",
        100.0 * av.locked_fraction, "%")
    add("av_blocked_p_similarity", "Non-conducted vs conducted P waves (correlation of their mean shapes)", av.blocked_similarity, "1", 2)
    add("av_p_consistency", "P-wave shape consistency (median correlation with the template)", av.p_consistency, "1", 2)
    add("av_p_snr", "P-wave template / residual noise", av.p_snr, "1", 1)
    _periodic_waves_explained_by_p(an, ms, av)


ONE_TO_ONE = {"ratio": (0.9, 1.1), "conducted": 0.9, "pq_range_ms": 40.0, "consistency": 0.8}


def _periodic_waves_explained_by_p(an: Analysis, ms: MeasurementSet, av: AVConduction) -> None:
    """Flutter-like periodicity that one P wave per QRS explains is not flutter.

    Why: at 70–90/min with a long PR, a sinus P wave, its T wave and the next
    P wave are nearly evenly spaced and of similar shape, so the QRS-blanked
    autocorrelation (atrial_activity.py) repeats at L, 2L, 3L like flutter
    waves (README session 2b). When the discrete P-wave analysis finds one P
    wave of one shape per QRS, each at a constant P–QRS interval (thresholds
    in ONE_TO_ONE, operational), the periodic waves are P and T waves: the
    flutter measurements are withdrawn and a warning says so."""
    aa = an.atrial_activity
    if aa is None or an.rr is None or aa.rate_per_min < 2.5 * an.rr.heart_rate:
        return  # only where the flutter rule could fire (≥ 2.5 waves per QRS); the 2:1 warning stays as it is
    lo, hi = ONE_TO_ONE["ratio"]
    if not (lo <= av.atrial_ventricular_ratio <= hi and av.conducted_ratio >= ONE_TO_ONE["conducted"]
            and av.pq_ms and av.pq_range_ms <= ONE_TO_ONE["pq_range_ms"] and av.p_consistency >= ONE_TO_ONE["consistency"]):
        return
    for name in ("atrial_wave_rate", "atrial_wave_periodicity", "atrial_ventricular_rate_ratio"):
        ms.items.pop(name, None)
    an.atrial_activity = None
    an.warnings[:] = [w for w in an.warnings if not w.startswith("Regular waves at ")]
    an.warnings.append(
        f"Periodic waves at {aa.rate_per_min:.0f}/min in {', '.join(aa.leads)} are explained by one P wave per QRS at a constant "
        f"P–QRS interval ({min(av.pq_ms):.0f}–{max(av.pq_ms):.0f} ms) with its T wave, so they are not taken as flutter waves."
    )


def _ectopy_and_episodes(an: Analysis, ms: MeasurementSet, pw: PWaveFinding | None) -> None:
    rec, rr, beats = an.record, an.rr, an.beats
    assert rr is not None and beats is not None
    sig = np.vstack([rec.lead(n) for n in beats.leads_used])
    p_beats = pw.per_beat if pw is not None else None
    bad = bad_segments(sig, rec.fs)
    if bad.any():
        an.warnings.append(
            f"Artefact (flat line, clipping or motion) in {int(bad.sum())} of {bad.size} seconds of the rhythm leads; "
            "beats there were not classified and no rhythm episode was called there."
        )
        if bad.mean() > 0.5 and an.verdict == "usable":
            an.verdict = "limited"
            an.reasons.append(f"artefact in {bad.mean():.0%} of the record")
    # first pass without prematurity-based S calls, to see whether the whole rhythm is irregular
    labels = classify_beats(sig, rec.fs, beats.r_peaks, irregular_rhythm=False, bad=bad)
    episodes = find_episodes(beats.r_peaks, rec.fs, labels.labels, p_beats, bad, rec.duration_s, labels.wide)
    if episodes.af_burden > 50.0:
        labels = classify_beats(sig, rec.fs, beats.r_peaks, irregular_rhythm=True, bad=bad)
        episodes = find_episodes(beats.r_peaks, rec.fs, labels.labels, p_beats, bad, rec.duration_s, labels.wide)
    an.beat_labels, an.episodes = labels, episodes
    n = max(labels.labels.size, 1)
    span, leads = rr.span_s, beats.leads_used
    cls = "by QRS shape (correlation with the dominant beat) and prematurity against the local RR"
    ms.add("pvc_count", "Ventricular ectopic beats", float(labels.count("V")), "1", cls, leads=leads, span_s=span)
    ms.add("pvc_burden", "Ventricular ectopic burden", 100.0 * labels.count("V") / n, "%", cls, leads=leads, span_s=span, decimals=1)
    ms.add("pac_count", "Supraventricular ectopic beats", float(labels.count("S")), "1", cls, leads=leads, span_s=span)
    ms.add("pac_burden", "Supraventricular ectopic burden", 100.0 * labels.count("S") / n, "%", cls, leads=leads, span_s=span, decimals=1)
    if episodes.irregularity is not None:
        ms.add("rr_irregularity", "RR irregularity (median |ΔRR| / median RR)", 100.0 * episodes.irregularity, "%",
               "successive RR differences, intervals next to ectopic beats excluded", leads=leads, span_s=span, decimals=1)
    ms.add("af_burden", "Time in atrial-fibrillation-like rhythm", episodes.af_burden, "%",
           f"{WINDOW_BEATS}-beat windows with RR irregularity > {AF_IRREGULARITY:.0%} and a P wave before < {AF_MAX_P_FRACTION:.0%} of beats",
           leads=leads, span_s=span, decimals=0)
    if rec.is_twelve_lead() and rec.duration_s <= 30.0:
        ms.add("af_twelve_lead_tracing", "Share of the 12-lead tracing in AF-like rhythm", episodes.af_burden, "%",
               "as af_burden, for a standard 12-lead ECG", leads=leads, span_s=span, decimals=0)
    if episodes.af:
        longest = max(episodes.af, key=lambda e: e.duration_s)
        ms.add("af_longest_episode", "Longest atrial-fibrillation-like episode", longest.duration_s, "s",
               "merged AF windows", leads=leads, span_s=(longest.start_s, longest.end_s), decimals=0)
        if len(episodes.af) > 1 or episodes.af_burden < 95:
            an.warnings.append("AF-like episodes: " + ", ".join(f"{e.start_s:.0f}–{e.end_s:.0f} s" for e in episodes.af[:10]) + ".")
    if episodes.ventricular_runs:
        run = max(episodes.ventricular_runs, key=lambda e: e.beats)
        ms.add("ventricular_run_beats", "Longest run of consecutive ventricular beats", float(run.beats), "1",
               "consecutive beats classified ventricular", leads=leads, span_s=(run.start_s, run.end_s))
        ms.add("ventricular_run_rate", "Rate of the longest ventricular run", run.rate, "/min", "beats in the run over its duration",
               leads=leads, span_s=(run.start_s, run.end_s))
        ms.add("ventricular_run_duration", "Duration of the longest ventricular run", run.end_s - run.start_s, "s", "first to last beat of the run",
               leads=leads, span_s=(run.start_s, run.end_s), decimals=1)
    if episodes.signal_loss:
        an.warnings.append(
            f"{len(episodes.signal_loss)} gap(s) > 3 s between detected beats fall on artefact (signal loss), not counted as pauses."
        )
    if episodes.pauses:
        longest = max(episodes.pauses, key=lambda e: e.duration_s)
        an.warnings.append(f"{len(episodes.pauses)} pause(s) > 3 s; the longest at {longest.start_s:.1f}–{longest.end_s:.1f} s.")


QRS_MAX_MS = 200.0  # the delineation search limit: a QRS this wide was not found, it was cut off
QT_RANGE_MS = (200.0, 700.0)


def _implausible_timing(ms: MeasurementSet) -> str | None:
    """Intervals outside human physiology mean the time axis is wrong (the
    file's sampling rate) or the 'beats' are not QRS complexes. Milder
    sampling-rate errors (2–4×) can still look physiological and are not
    caught here."""
    qrs, qt = ms.value("qrs_duration"), ms.value("qt_interval")
    problems = []
    if qrs is not None and qrs >= QRS_MAX_MS:
        problems.append(f"QRS {qrs:.0f} ms")
    if qt is not None and not (QT_RANGE_MS[0] <= qt <= QT_RANGE_MS[1]):
        problems.append(f"QT {qt:.0f} ms")
    if not problems:
        return None
    return (f"measured timing is outside human physiology ({', '.join(problems)}): the sampling rate in the file is probably "
            "wrong, or the detected complexes are not QRS complexes")


def _morphology_measurements(an: Analysis, ms: MeasurementSet, patient: PatientContext) -> None:
    """Median beat of the usable leads → global fiducials → intervals, axes,
    per-lead amplitudes and ST levels."""
    rec, beats = an.record, an.beats
    assert beats is not None
    usable = [n for n in rec.lead_names if an.quality.leads[n].usable]
    excluded = [n for n in rec.lead_names if n not in usable]
    if excluded:
        an.warnings.append(f"Lead(s) {', '.join(excluded)} excluded from the median beat (poor signal quality).")
    sub = rec.subset(usable)
    mb = build_median_beat(sub.signals, sub.lead_names, sub.fs, beats.r_peaks)
    if mb is None:
        an.warnings.append("Too few clean dominant beats for a median beat: intervals and morphology were not measured.")
        return
    an.median_beat = mb
    fid = delineate(mb)
    an.fiducials = fid
    _av_relationship(an, ms)
    an.warnings.extend(f"Median beat: {n}." for n in fid.notes)
    an.waves = measure_all(mb, fid) if fid.qrs_on is not None and fid.qrs_off is not None else {}
    report_qt = True
    if fid.qrs_on is not None and fid.qrs_off is not None and fid.t_end is not None:
        an.qt_reliability = assess_qt(mb, fid)
        aa = an.atrial_activity
        if aa is not None and an.rr is not None and aa.rate_per_min >= 1.5 * an.rr.heart_rate:
            # flutter-like waves run through the T wave, so its end cannot be told from the next atrial wave
            an.qt_reliability.measurable = False
            an.qt_reliability.reasons.append(f"continuous atrial waves at {aa.rate_per_min:.0f}/min overlie the T wave")
        report_qt = an.qt_reliability.measurable
        if not report_qt:
            an.warnings.append(
                "QT not measurable: " + "; ".join(an.qt_reliability.reasons) + ". QT, QTc and QT-based statements are not reported."
            )
    report_pr = True
    if fid.p_on is not None and fid.qrs_on is not None:
        an.pr_reliability = assess_pr(mb, fid)
        report_pr = an.pr_reliability.measurable
        if not report_pr:
            an.warnings.append("PR not measurable: " + "; ".join(an.pr_reliability.reasons) + ". PR and PR-based statements are not reported.")
    add_global_measurements(ms, mb, fid, an.waves, patient.sex, report_qt=report_qt, report_pr=report_pr)
    if report_qt and fid.t_end is not None and len(fid.leads) < QT_GLOBAL_MIN_LEADS:
        an.warnings.append(
            f"QT was measured on {len(fid.leads)} independent lead(s) ({', '.join(fid.leads)}), not a full 12-lead set: it can "
            "only under-estimate the global QT, so a short QTc is not assessed (a long QTc still is)."
        )
    if an.waves:
        add_lead_measurements(ms, mb, an.waves, rec.derived_leads)


def to_result(an: Analysis, tool: str, version: str, study_id: str, inputs: list[str]) -> ExpertResult:
    return ExpertResult(
        tool=tool,
        version=version,
        modality=Modality.ECG,
        study_id=study_id,
        inputs=inputs,
        measurements=list(an.measurements.items.values()) if an.measurements else [],
        statements=an.statements,
        quality=Quality(verdict=an.verdict, reasons=an.reasons),
        artifacts=an.artifacts,
        warnings=an.warnings,
    )


__all__ = ["AnalysisConfig", "Analysis", "analyze_record", "to_result"]
