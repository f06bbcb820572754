"""Translate an `EchoAnalysis` into Measurements and Statements.

Rules kept here (and tested): every number carries its frames as evidence;
mL values appear only when pixel spacing is known; EF is compared with
guideline thresholds *as displayed* (rounded to whole percent), so a report
never shows "LVEF 40%" next to "mildly reduced"; a non-diagnostic clip
yields no measurements and no statements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experts.core.types import Code, Criterion, Evidence, Measurement, PatientContext, Source, Statement
from experts.echo import guidelines as G
from experts.echo.analysis import EchoAnalysis


@dataclass
class Findings:
    measurements: list[Measurement]
    statements: list[Statement]
    warnings: list[str]


def _frames_span(frames: list[int], fps: float | None) -> tuple[float, float] | None:
    if fps is None or not frames:
        return None
    return (round(min(frames) / fps, 3), round(max(frames) / fps, 3))


def build_findings(an: EchoAnalysis, study_id: str, display_name: str, source: Source, patient: PatientContext, extra_ef: dict | None = None) -> Findings:
    warnings: list[str] = []
    ms: list[Measurement] = []
    sts: list[Statement] = []
    if an.quality.verdict == "non_diagnostic" or not an.beats:
        return Findings(ms, sts, warnings)
    q = an.quality.verdict
    fps = an.clip.fps
    all_frames = sorted({f for b in an.beats for f in (b.ed, b.es)})
    beats_txt = "; ".join(f"beat {i + 1}: ED frame {b.ed}, ES frame {b.es}" for i, b in enumerate(an.beats))
    ev_all = Evidence(file=display_name, location=f"apical view, {beats_txt}", frames=all_frames, time_span_s=_frames_span(all_frames, fps))
    sex = patient.sex
    mm_note = "" if an.has_mm else " (computed in pixel units; EF is a ratio and needs no spacing)"

    def add(name: str, label: str, value: float, unit: str, method: str, evidence: Evidence, decimals: int = 0, rr=None) -> Measurement | None:
        if value is None or not np.isfinite(value):
            warnings.append(f"{label} could not be computed and is not reported")
            return None
        v = round(float(value), decimals)
        flag = rr.classify(v) if rr is not None else None
        m = Measurement(
            id=f"{study_id}.{name}", name=name, label=label, value=v, unit=unit, decimals=decimals,
            reference_range=rr, flag=flag, method=method, source=source, evidence=evidence, quality=q,
        )
        ms.append(m)
        return m

    n_beats = len(an.beats)
    avg = f"averaged over {n_beats} beat{'s' if n_beats > 1 else ''}"
    lvef = add(
        "lvef", "LV ejection fraction", an.ef_mean, "%",
        f"single-plane apical method of discs (20 discs) on the segmented LV cavity, (EDV-ESV)/EDV per beat, {avg}{mm_note}",
        ev_all, rr=G.reference_range(G.LVEF_NORMAL, sex, "%", G.ASE_EACVI_2015_LVEF),
    )
    add("lvef_area_length", "LV ejection fraction (area-length)", an.ef_al_mean, "%", f"single-plane area-length volumes (8A^2/(3 pi L)), {avg}", ev_all)
    if n_beats > 1:
        for i, b in enumerate(an.beats, start=1):
            ev = Evidence(file=display_name, location=f"apical view, beat {i}: ED frame {b.ed}, ES frame {b.es}", frames=[b.ed, b.es], time_span_s=_frames_span([b.ed, b.es], fps))
            add(f"lvef_beat{i}", f"LV ejection fraction, beat {i}", b.ef, "%", "single-plane apical method of discs, one beat", ev)

    if an.has_mm:
        edv = float(np.mean([b.edv for b in an.beats]))
        esv = float(np.mean([b.esv for b in an.beats]))
        ev_ed = Evidence(file=display_name, location="end-diastolic frames", frames=[b.ed for b in an.beats], time_span_s=_frames_span([b.ed for b in an.beats], fps))
        ev_es = Evidence(file=display_name, location="end-systolic frames", frames=[b.es for b in an.beats], time_span_s=_frames_span([b.es for b in an.beats], fps))
        sp = an.spacing.source
        add("lv_edv", "LV end-diastolic volume", edv, "mL", f"single-plane apical method of discs, {avg}; pixel spacing from {sp}", ev_ed, rr=G.reference_range(G.EDV_NORMAL, sex, "mL", G.ASE_EACVI_2015_LV_SIZE))
        add("lv_esv", "LV end-systolic volume", esv, "mL", f"single-plane apical method of discs, {avg}; pixel spacing from {sp}", ev_es, rr=G.reference_range(G.ESV_NORMAL, sex, "mL", G.ASE_EACVI_2015_LV_SIZE))
        add("lv_sv", "LV stroke volume", edv - esv, "mL", f"EDV - ESV by single-plane method of discs, {avg}", ev_all)
        add("lv_edv_area_length", "LV end-diastolic volume (area-length)", float(np.mean([b.edv_al for b in an.beats])), "mL", f"single-plane area-length, {avg}", ev_ed)
        add("lv_esv_area_length", "LV end-systolic volume (area-length)", float(np.mean([b.esv_al for b in an.beats])), "mL", f"single-plane area-length, {avg}", ev_es)
        add("lv_ed_length", "LV end-diastolic long-axis length", float(np.mean([b.ed_length for b in an.beats])), "mm", "apex to mitral-annulus midpoint on the segmented cavity", ev_ed)
        bsa = patient.bsa_m2()
        if bsa:
            add("lv_edv_index", "LV end-diastolic volume index", edv / bsa, "mL/m2", f"EDV / BSA (Mosteller, {bsa:.2f} m2)", ev_ed, rr=G.reference_range(G.EDV_INDEX_NORMAL, sex, "mL/m2", G.ASE_EACVI_2015_LV_SIZE))
            add("lv_esv_index", "LV end-systolic volume index", esv / bsa, "mL/m2", f"ESV / BSA (Mosteller, {bsa:.2f} m2)", ev_es, rr=G.reference_range(G.ESV_INDEX_NORMAL, sex, "mL/m2", G.ASE_EACVI_2015_LV_SIZE))
    else:
        warnings.append("LV volumes in mL are not reported: " + (an.spacing.notes[0] if an.spacing.notes else "pixel spacing unknown"))

    hr = an.heart_rate_bpm
    if hr is not None and 25 <= hr <= 250:
        frames = sorted(set(an.cycles.ed_frames) | set(an.cycles.es_frames)) if an.cycles else all_frames
        add("heart_rate", "Heart rate (from LV area cycles)", hr, "/min", f"60 x frame rate / mean cycle length between successive end-systoles and end-diastoles of the LV area curve (frame rate from {an.clip.fps_source})", Evidence(file=display_name, location="LV area curve", frames=frames, time_span_s=_frames_span(frames, fps)))
    elif hr is not None:
        warnings.append("heart rate from the area curve is implausible and is not reported")
    elif an.clip.fps is not None:
        warnings.append("heart rate needs at least two beats of the same phase; not reported")

    if extra_ef:
        add("lvef_echonet", "LV ejection fraction (EchoNet-Dynamic R(2+1)D)", extra_ef["value"], "%", extra_ef["method"], extra_ef["evidence"])

    if lvef is not None:
        sts.extend(_ef_statements(lvef, study_id, source, q, sex, ms))
    return Findings(ms, sts, warnings)


def _ef_statements(lvef: Measurement, study_id: str, source: Source, quality: str, sex: str | None, ms: list[Measurement]) -> list[Statement]:
    conf = 0.7 if quality == "usable" else 0.4
    v = lvef.value
    out: list[Statement] = []

    def crit(m: Measurement, op, thr: float, ref, note: str | None = None) -> Criterion:
        return Criterion(measurement_id=m.id, operator=op, threshold=thr, unit=m.unit, met=Criterion.evaluate(m.value, op, thr), guideline=ref, note=note)

    note = "EF category only: a heart-failure diagnosis also needs symptoms and signs"
    reduced = [crit(lvef, "<=", G.HFREF_MAX, G.ESC_HF_2021, note)]
    mildly = [crit(lvef, ">", G.HFREF_MAX, G.ESC_HF_2021), crit(lvef, "<", G.HFPEF_MIN, G.ESC_HF_2021, note)]
    preserved = [crit(lvef, ">=", G.HFPEF_MIN, G.ESC_HF_2021, note)]
    for sid, label, crits, code in (
        ("lvef_reduced", "Reduced LV ejection fraction", reduced, "lvef-reduced"),
        ("lvef_mildly_reduced", "Mildly reduced LV ejection fraction", mildly, "lvef-mildly-reduced"),
        ("lvef_preserved", "Preserved LV ejection fraction", preserved, "lvef-preserved"),
    ):
        status = "present" if all(c.met for c in crits) else "absent"
        out.append(
            Statement(
                id=f"{study_id}.{sid}", label=label, code=Code(system="urn:cardioagent", code=code, display=label), status=status,
                category="function", confidence=conf, criteria=crits, source=source,
                explanation="LVEF category by the ESC 2021 heart-failure definitions, applied to the beat-averaged single-plane LVEF.",
            )
        )
    if sex in G.LVEF_NORMAL:
        lo = G.LVEF_NORMAL[sex][0]
        c = crit(lvef, "<", lo, G.ASE_EACVI_2015_LVEF, f"lower limit of normal for adult {'men' if sex == 'male' else 'women'}")
        out.append(
            Statement(
                id=f"{study_id}.lv_systolic_dysfunction", label="LV systolic function below the normal range", status="present" if c.met else "absent",
                category="function", confidence=conf, criteria=[c], source=source,
                explanation="Beat-averaged LVEF compared with the sex-specific lower limit of normal.",
            )
        )
        edv = next((m for m in ms if m.name == "lv_edv"), None)
        edvi = next((m for m in ms if m.name == "lv_edv_index"), None)
        crits = []
        if edvi is not None:
            crits.append(crit(edvi, ">", G.EDV_INDEX_NORMAL[sex][1], G.ASE_EACVI_2015_LV_SIZE, "biplane reference limit applied to a single-plane apical volume"))
        elif edv is not None:
            crits.append(crit(edv, ">", G.EDV_NORMAL[sex][1], G.ASE_EACVI_2015_LV_SIZE, "biplane reference limit applied to a single-plane apical volume"))
        if crits:
            out.append(
                Statement(
                    id=f"{study_id}.lv_dilated", label="LV dilated (end-diastolic volume above the normal range)", status="present" if crits[0].met else "absent",
                    category="structure", confidence=conf * 0.8, criteria=crits, source=source,
                    explanation="End-diastolic volume (indexed to body surface area when height and weight are known) against the sex-specific upper limit.",
                )
            )
    return out
