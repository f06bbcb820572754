"""DICOM Structured Report output for DICOM inputs: a TID 1500 Measurement
Report (`report.sr.dcm`), built with highdicom.

Why SR and why only for DICOM inputs: a PACS files an SR beside the images
it describes (same patient, same study, evidence references to each source
instance), so the measurements reach the viewer the clinician already
uses. A WFDB or NIfTI study has no DICOM identity to attach to, so no SR is
written for it.

Content: one measurement group per DICOM study (tracking identifier = the
study id; algorithm = the tool and version), one numeric measurement per
tool measurement (LOINC concept where the measurement has a valid one,
otherwise a private `99CARDIOAGENT` concept named after the measurement;
UCUM units), and one qualitative evaluation per present statement
(SNOMED CT where coded), named "Electrocardiogram finding" (SCT 271921002) for
ECG and "Clinical finding" (DCM 111402) otherwise. Images are referenced per group; waveforms (a DICOM
ECG) are referenced through the evidence sequence, since TID 1500 image
references need pixel data.

The renderer needs the source file paths, which the report does not carry
(it names files as the user knows them). Callers pass them (`write_sr`,
used by `cardioagent batch`) or set them around `analyze` with
`source_files(paths)`; without them `write` records why no SR was written.
"""

from __future__ import annotations

import contextvars
from collections import Counter
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from agent.atomic import atomic_write_bytes, atomic_write_text
from agent.render.fhir import UCUM_UNITS, loinc_valid, snomed_valid
from agent.report import ModalitySection, Report
from experts.core.types import Modality

FILENAME = "report.sr.dcm"
SKIPPED_NOTE = "report.sr.txt"
PRIVATE_SCHEME = "99CARDIOAGENT"
_SOURCES: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar("cardioagent_sr_sources", default=None)


class NoDicomSource(Exception):
    """The report has no study whose source files are DICOM (and known)."""


@contextmanager
def source_files(paths: list[str]) -> Iterator[None]:
    """Make the case's input paths known to `write` (e.g. around `analyze`)."""
    token = _SOURCES.set(tuple(str(p) for p in paths))
    try:
        yield
    finally:
        _SOURCES.reset(token)


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


def dicom_sources(report: Report, sources: list[str]) -> dict[str, list[Path]]:
    """study_id -> DICOM source paths, matched by the file names the report
    lists for each study (a name held by two different files is ambiguous
    and not used)."""
    by_name: dict[str, list[Path]] = {}
    for s in sources:
        p = Path(s)
        by_name.setdefault(p.name, []).append(p)
    out: dict[str, list[Path]] = {}
    for study in report.studies:
        paths = []
        for name in study.files:
            candidates = by_name.get(Path(name).name, [])
            if len(candidates) == 1 and _is_dicom(candidates[0]):
                paths.append(candidates[0])
        if paths:
            out[study.study_id] = paths
    return out


DATE_KEYWORDS = ("PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")


def _readable_dates(ds):
    """Blank dates that are not dates (anonymisers write '00000000'): the SR
    copies patient and study attributes from its evidence, and an invalid
    date there would stop it. Blank is DICOM's 'unknown' for these type-2
    attributes; only our in-memory header copy is changed."""
    from pydicom.valuerep import DA

    for keyword in DATE_KEYWORDS:
        value = ds.get(keyword)
        if value in (None, ""):
            continue
        try:
            DA(value)
        except (ValueError, TypeError):
            setattr(ds, keyword, "")
    return ds


def _procedure(modality: Modality):
    from pydicom.sr.codedict import codes

    return {
        Modality.ECG: codes.DCM.Electrocardiography,
        Modality.ECHO: codes.SCT.Echocardiography,
        Modality.CMR: codes.SCT.CardiacMRI,
        Modality.KSPACE: codes.SCT.CardiacMRI,
    }[modality]


_ASCII = str.maketrans({"°": " deg", "²": "2", "³": "3", "µ": "u", "–": "-", "—": "-", "−": "-", "≥": ">=", "≤": "<=", "×": "x",
                        "“": '"', "”": '"', "’": "'", "…": "..."})  # fmt: skip


def _text(value: str, limit: int = 64) -> str:
    """SR text in the default character repertoire: DICOM viewers differ in
    how they decode anything else, so symbols are spelled out."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", value.translate(_ASCII)).encode("ascii", "ignore").decode("ascii")
    return folded.strip()[:limit] or "?"


def _concept(value: str, scheme: str, meaning: str):
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=scheme, meaning=_text(meaning))


def _group(section: ModalitySection, datasets: list, uid_seed: str):
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    def loinc_of(m) -> str | None:
        return m.code.code if m.code is not None and m.code.system == "http://loinc.org" and loinc_valid(m.code.code) else None

    shared = Counter(loinc_of(m) for m in section.measurements if loinc_of(m))
    measurements = []
    for m in section.measurements:
        code = loinc_of(m)
        name = _concept(code, "LN", m.code.display) if code else _concept(m.name, PRIVATE_SCHEME, m.label)
        # One LOINC concept for several measurements (QTc by Bazett, Fridericia, Framingham): the
        # method modifier names which one, so a reader can tell them apart.
        method = _concept(m.name, PRIVATE_SCHEME, m.label) if code and shared[code] > 1 else None
        unit = _concept(m.unit, "UCUM", UCUM_UNITS.get(m.unit, m.unit)) if m.unit in UCUM_UNITS else _concept(m.unit, PRIVATE_SCHEME, m.unit)
        value = round(m.value, m.decimals) if m.decimals else float(round(m.value))
        measurements.append(hd.sr.Measurement(name=name, value=value, unit=unit, method=method,
                                              algorithm_id=hd.sr.AlgorithmIdentification(name=m.source.tool, version=m.source.version)))  # fmt: skip
    evaluations = []
    for st in section.statements:
        if st.status != "present":
            continue
        if st.code is not None and st.code.system == "http://snomed.info/sct" and snomed_valid(st.code.code):
            value = _concept(st.code.code, "SCT", st.code.display)
        else:
            value = _concept(st.id.split(".")[-1], PRIVATE_SCHEME, st.label)
        # TID 1501 reserves "Finding" (DCM 121071) for the group's finding type, so each
        # present statement is a qualitative evaluation named by what kind of finding it is.
        concept = codes.SCT.ElectrocardiogramFinding if section.modality == Modality.ECG else codes.DCM.ClinicalFinding
        evaluations.append(hd.sr.QualitativeEvaluation(name=concept, value=value))
    images = [d for d in datasets if "Rows" in d and "Columns" in d]
    sources = [hd.sr.SourceImageForMeasurementGroup.from_source_image(d) for d in images] or None
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(entropy_srcs=[uid_seed, section.study_id]), identifier=section.study_id),
        algorithm_id=hd.sr.AlgorithmIdentification(name=section.tool, version=section.tool_version),
        measurements=measurements or None,
        qualitative_evaluations=evaluations or None,
        source_images=sources,
    )


def build_sr(report: Report, sources: list[str]):
    """The SR dataset for the report's DICOM studies, or NoDicomSource."""
    with warnings.catch_warnings():
        # Source UIDs are referenced as they are, even when they break the UID rules
        # (e.g. Sunnybrook's components with leading zeros): they must match the images.
        warnings.filterwarnings("ignore", message="Invalid value for VR UI")
        return _build_sr(report, sources)


def _build_sr(report: Report, sources: list[str]):
    import highdicom as hd
    import pydicom
    from pydicom.uid import generate_uid

    from agent import __version__

    by_study = dicom_sources(report, sources)
    sections = [s for s in report.sections if s.study_id in by_study and (s.measurements or s.statements)]
    if not sections:
        raise NoDicomSource("no analysed study of this case came from DICOM files")
    datasets = {sid: [_readable_dates(pydicom.dcmread(p, stop_before_pixels=True)) for p in by_study[sid]]
                for sid in (s.study_id for s in sections)}  # fmt: skip
    first = datasets[sections[0].study_id][0]
    patient = (first.get("PatientID"), first.get("PatientName"))
    # One SR belongs to one patient: studies of another patient in the same case are left out.
    sections = [s for s in sections if (datasets[s.study_id][0].get("PatientID"), datasets[s.study_id][0].get("PatientName")) == patient]
    seed = report.report_id
    device = hd.sr.ObserverContext(
        observer_type=_concept("121007", "DCM", "Device"),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(entropy_srcs=["cardioagent-device"]), name="CardioAgent", manufacturer_name="CardioAgent",
            model_name=f"cardioagent {__version__}"),
    )  # fmt: skip
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=sorted({_procedure(s.modality) for s in sections}, key=lambda c: c.value),
        imaging_measurements=[_group(s, datasets[s.study_id], seed) for s in sections],
    )
    evidence = [d for s in sections for d in datasets[s.study_id]]
    with warnings.catch_warnings():
        # The patient name is copied from the source DICOM as it is; a single-component name is not ours to fix.
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name.*")
        return _document(hd, evidence, content, seed, report)


def _document(hd, evidence, content, seed: str, report: Report):
    from pydicom.uid import generate_uid

    return hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=content,
        series_instance_uid=generate_uid(entropy_srcs=[seed, "series"]),
        series_number=9901,
        sop_instance_uid=generate_uid(entropy_srcs=[seed, "instance"]),
        instance_number=1,
        manufacturer="CardioAgent",
        is_complete=True,
        is_final=report.status == "final",
        is_verified=False,
        series_description="CardioAgent measurements (decision support, not verified)",
    )


def write_sr(report: Report, out_dir: str | Path, sources: list[str]) -> Path | None:
    """Write report.sr.dcm for the report's DICOM studies; None when the case
    has no DICOM input (nothing to attach an SR to)."""
    try:
        sr = build_sr(report, sources)
    except NoDicomSource:
        return None
    from io import BytesIO

    buf = BytesIO()
    sr.save_as(buf, enforce_file_format=True)
    return atomic_write_bytes(Path(out_dir) / FILENAME, buf.getvalue())


def write(report: Report, out_dir: str | Path) -> Path:
    """Renderer-registry entry (`analyze --formats sr`): uses the paths set
    with `source_files`; otherwise writes a note saying why there is no SR."""
    sources = _SOURCES.get()
    if sources:
        path = write_sr(report, out_dir, list(sources))
        if path is not None:
            return path
        why = "No DICOM SR: no analysed study of this case came from DICOM files."
    else:
        why = ("No DICOM SR: the renderer was not given the source DICOM paths (the report names files, not paths). "
               "Use `cardioagent batch ... --formats sr`, which passes them.")  # fmt: skip
    return atomic_write_text(Path(out_dir) / SKIPPED_NOTE, why + "\n")
