"""Sections shaped like the experts' outputs, and the real guideline corpus.

Why hand-built sections: the synthesis rules read statements and
measurements, not signals; building them here lets each test set one value
on either side of a threshold. Names, labels and criteria copy what
experts/ecg, experts/echo and experts/cmr emit (see their findings modules).
"""

from __future__ import annotations

from functools import lru_cache

from agent.report import ModalitySection
from experts.core.types import Criterion, Evidence, GuidelineRef, Measurement, Modality, Quality, Source, Statement
from retrieval.types import GuidelinePassage

ECG_REF = GuidelineRef(guideline="AHA/ACCF/HRS ECG standardization part III", year=2009, section="Left bundle-branch block")
HF_REF = GuidelineRef(guideline="2021 ESC Guidelines for heart failure", year=2021, section="Definition of heart failure")
TOOLS = {Modality.ECG: "ecg_analyze", Modality.ECHO: "echo_analyze", Modality.CMR: "cmr_analyze"}
FILES = {Modality.ECG: "ecg.hea", Modality.ECHO: "a4c.dcm", Modality.CMR: "sax"}


def measurement(study: str, modality: Modality, name: str, value: float, unit: str, label: str | None = None) -> Measurement:
    return Measurement(id=f"{study}.{name}", name=name, label=label or name.replace("_", " "), value=value, unit=unit, method="test",
                       source=Source(tool=TOOLS[modality], version="0.1.0"), evidence=Evidence(file=FILES[modality]))  # fmt: skip


def statement(study: str, modality: Modality, name: str, label: str, present: bool, criteria: list[Criterion] | None = None) -> Statement:
    return Statement(id=f"{study}.{name}", label=label, status="present" if present else "absent", criteria=criteria or [],
                     source=Source(tool=TOOLS[modality], version="0.1.0"))  # fmt: skip


def crit(m: Measurement, op: str, thr: float, ref: GuidelineRef) -> Criterion:
    return Criterion(measurement_id=m.id, operator=op, threshold=thr, unit=m.unit, met=Criterion.evaluate(m.value, op, thr), guideline=ref)


def ecg(
    qrs: float = 96,
    rhythm: str = "sinus_rhythm",
    lbbb: bool = False,
    rbbb: bool = False,
    long_qtc: float | None = None,
    lvh: bool = False,
    q_waves: bool = False,
    verdict: str = "usable",
) -> ModalitySection:
    s, mod = "ecg-1", Modality.ECG
    qrs_m = measurement(s, mod, "qrs_duration", qrs, "ms", "QRS duration")
    ms = [measurement(s, mod, "heart_rate", 72, "/min", "Heart rate (ventricular)"), qrs_m]
    sts = [
        statement(s, mod, "sinus_rhythm", "Sinus rhythm", rhythm == "sinus_rhythm"),
        statement(s, mod, "atrial_fibrillation", "Atrial fibrillation", rhythm == "atrial_fibrillation"),
        statement(s, mod, "lbbb", "Left bundle branch block", lbbb, [crit(qrs_m, ">=", 120, ECG_REF)]),
        statement(s, mod, "rbbb", "Right bundle branch block", rbbb, [crit(qrs_m, ">=", 120, ECG_REF)]),
    ]
    if long_qtc is not None:
        qtc = measurement(s, mod, "qtc_framingham", long_qtc, "ms", "QTc Framingham")
        ms.append(qtc)
        sts.append(statement(s, mod, "long_qtc", "Prolonged QTc", long_qtc >= 450, [crit(qtc, ">=", 450, ECG_REF)]))
    sts.append(statement(s, mod, "lvh_voltage", "Left ventricular hypertrophy by voltage criteria", lvh))
    if q_waves:
        sts.append(statement(s, mod, "pathological_q_waves_inferior", "Pathological Q waves (prior infarction pattern), inferior leads (II, aVF)", True))
    return ModalitySection(study_id=s, modality=mod, tool=TOOLS[mod], tool_version="0.1.0", files=[FILES[mod]], quality=Quality(verdict=verdict),
                           measurements=ms, statements=sts)  # fmt: skip


def imaging(modality: Modality, lvef: float, mass_index: float | None = None, verdict: str = "usable", n: int = 1) -> ModalitySection:
    s = f"{modality.value}-{n}"
    ef = measurement(s, modality, "lvef", lvef, "%", "LV ejection fraction")
    ms = [ef]
    if modality == Modality.ECHO:
        sts = [statement(s, modality, "lvef_reduced", "Reduced LV ejection fraction", lvef <= 40, [crit(ef, "<=", 40, HF_REF)]),
               statement(s, modality, "lv_systolic_dysfunction", "LV systolic function below the normal range", lvef < 52, [crit(ef, "<", 52, HF_REF)])]  # fmt: skip
    else:
        sts = [statement(s, modality, "lvef_reduced_range", "LVEF in the reduced range (≤40%)", lvef <= 40, [crit(ef, "<=", 40, HF_REF)]),
               statement(s, modality, "lvef_below_reference", "LVEF below the sex-specific reference range", lvef < 51, [crit(ef, "<", 51, HF_REF)])]  # fmt: skip
    if mass_index is not None:
        mi = measurement(s, modality, "lv_mass_index", mass_index, "g/m2", "LV mass indexed to BSA")
        ms.append(mi)
        sts.append(statement(s, modality, "lv_mass_index_increased", "Increased indexed LV mass", mass_index > 72, [crit(mi, ">", 72, HF_REF)]))
    return ModalitySection(study_id=s, modality=modality, tool=TOOLS[modality], tool_version="0.1.0", files=[FILES[modality]],
                           quality=Quality(verdict=verdict, reasons=[] if verdict == "usable" else ["test"]), measurements=ms, statements=sts)  # fmt: skip


@lru_cache(maxsize=1)
def corpus() -> dict[str, GuidelinePassage]:
    """The repository's own guideline corpus (retrieval/corpus), parsed, no index."""
    from retrieval.corpus_loader import load_corpus

    return load_corpus().by_id()
