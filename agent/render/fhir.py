"""FHIR R4 output: a transaction Bundle with one Patient, one
DiagnosticReport and one Observation per measurement (`report.fhir.json`).

The Patient is identified by the DICOM PatientID when the inputs carry one
(system `urn:cardioagent:dicom-patient-id`), otherwise by the case id
(`urn:cardioagent:case`); gender and birthDate are written only when known
(an age alone gives no birthDate: none is invented). The DiagnosticReport
and every Observation reference it as `subject`. `effectiveDateTime` is the
study's acquisition date/time from the files' metadata when they have one
(the date only when the file gives a local time without a time zone, as
FHIR requires a zone with a time); otherwise only `issued` is written.

Why a transaction with conditional creates: a hospital system imports it
with one `POST [base]`, references between entries resolve by `urn:uuid`,
and importing the same report twice creates nothing new (each resource
carries a stable identifier and `ifNoneExist`).

Why our own code checks: `fhir.resources` validates structure and data
types but not value sets. We restrict status to the codes our report
statuses map to, LOINC codes to well-formed ones with a valid check digit,
SNOMED CT ids to ones with a valid Verhoeff check digit, and UCUM units to
a table of codes we know to be valid; a unit outside it is written as text
only rather than mislabelled as UCUM. The structure is validated with the
R4B models that `fhir.resources` ships (R4B left Bundle, DiagnosticReport
and Observation as in R4 4.0.1; every element written here exists in R4).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from agent.atomic import atomic_write_text
from agent.report import Report
from experts.core.types import Measurement, Modality

FILENAME = "report.fhir.json"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ID_REPORT = "urn:cardioagent:report"
ID_MEASUREMENT = "urn:cardioagent:measurement"
ID_DICOM_PATIENT = "urn:cardioagent:dicom-patient-id"
ID_CASE = "urn:cardioagent:case"
LOCAL_MEASUREMENT_CODES = "urn:cardioagent:measurement-name"
_NAMESPACE = uuid.UUID("5b0c9a0e-0b7f-4d61-9a39-3c2f6f1e8a10")  # fixed: same report -> same fullUrls

# Report status -> FHIR status (DiagnosticReport and Observation share these codes).
STATUS = {"preliminary": "preliminary", "final": "final", "amended": "amended"}
ALLOWED_STATUS = frozenset(STATUS.values())

# UCUM codes we emit as coded quantities, with how the unit reads.
UCUM_UNITS: dict[str, str] = {
    "ms": "ms", "s": "s", "/min": "beats/minute", "%": "%", "1": "1", "mV": "mV", "uV": "µV", "deg": "°",
    "mm": "mm", "cm": "cm", "m2": "m²", "cm2": "cm²", "mm2": "mm²", "mL": "mL", "mL/m2": "mL/m²", "g": "g",
    "g/m2": "g/m²", "kg": "kg", "cm/s": "cm/s", "m/s": "m/s", "mm[Hg]": "mmHg", "L/min": "L/min",
    "L/min/m2": "L/min/m²", "mL/s": "mL/s", "Hz": "Hz",
}  # fmt: skip

# LOINC part codes used as categories (US Core DiagnosticReport category value set).
LOINC_PARTS = {"LP29708-2": "Cardiology"}
STUDY_CODES = {Modality.ECG: ("11524-6", "EKG study")}
FLAG_CODES = {"high": ("H", "High"), "low": ("L", "Low"), "normal": ("N", "Normal"), "abnormal": ("A", "Abnormal")}
_CITATION = re.compile(r"\s*\[(?:M|S|G):[^\]]+\]")


class FHIRCodeError(ValueError):
    """A status or code we refuse to export (a bug upstream, never silently kept)."""


# --- code checks --------------------------------------------------------------


def loinc_valid(code: str) -> bool:
    """A LOINC term code: digits, '-', and the mod-10 check digit LOINC defines."""
    if code in LOINC_PARTS:
        return True
    m = re.fullmatch(r"(\d{1,7})-(\d)", code)
    if not m:
        return False
    digits = [int(c) for c in reversed(m.group(1))]
    total = 0
    for i, d in enumerate(digits):  # Luhn: double every digit in an odd position from the right
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10 == int(m.group(2))


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]  # fmt: skip
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]  # fmt: skip


def snomed_valid(code: str) -> bool:
    """A SNOMED CT concept id: 6-18 digits, concept partition ('00' or '10'),
    and a valid Verhoeff check digit."""
    if not re.fullmatch(r"\d{6,18}", code) or code[-3:-1] not in ("00", "10"):
        return False
    c = 0
    for i, ch in enumerate(reversed(code)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def check_codes(bundle: dict) -> list[str]:
    """Every status and coding in the bundle that we would refuse to export."""
    problems: list[str] = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            if node.get("resourceType") in ("DiagnosticReport", "Observation") and node.get("status") not in ALLOWED_STATUS:
                problems.append(f"{where}: status {node.get('status')!r} not in {sorted(ALLOWED_STATUS)}")
            system, code = node.get("system"), node.get("code")
            if system == LOINC and not loinc_valid(str(code)):
                problems.append(f"{where}: invalid LOINC code {code!r}")
            if system == SNOMED and not snomed_valid(str(code)):
                problems.append(f"{where}: invalid SNOMED CT id {code!r}")
            if system == UCUM and code not in UCUM_UNITS:
                problems.append(f"{where}: UCUM code {code!r} not in the checked unit table")
            for k, v in node.items():
                walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")

    walk(bundle, "Bundle")
    return problems


# --- building -----------------------------------------------------------------


def _urn(*parts: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, '/'.join(parts))}"


def _quantity(value: float, unit: str, decimals: int) -> dict:
    v = round(value, decimals) if decimals else int(round(value))
    if unit in UCUM_UNITS:
        return {"value": v, "unit": UCUM_UNITS[unit], "system": UCUM, "code": unit}
    return {"value": v, "unit": unit}  # not a unit we can vouch for as UCUM: text only


def fhir_datetime(value: str | None) -> str | None:
    """An ISO date/time as a FHIR dateTime: kept with its zone; a local time
    without zone becomes its date (FHIR requires a zone with a time)."""
    if not value:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?", value)
    if not m:
        return None
    return value if m.group(4) else m.group(1)


def _patient(report: Report) -> tuple[dict, str]:
    p = report.patient
    if p.patient_id:
        ident = {"system": ID_DICOM_PATIENT, "value": p.patient_id}
    else:
        ident = {"system": ID_CASE, "value": report.case_id}
    res: dict = {"resourceType": "Patient", "identifier": [ident]}
    if p.sex in ("female", "male"):
        res["gender"] = p.sex
    if p.birth_date and re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.birth_date):
        res["birthDate"] = p.birth_date
    return res, f"identifier={ident['system']}|{ident['value']}"


def _observation(report: Report, m: Measurement, modality: Modality, status: str) -> dict:
    coding = []
    if m.code is not None and m.code.system == LOINC and loinc_valid(m.code.code):  # a malformed code is dropped, never exported
        coding.append({"system": LOINC, "code": m.code.code, "display": m.code.display})
    coding.append({"system": LOCAL_MEASUREMENT_CODES, "code": m.name, "display": m.label})
    category = ("procedure", "Procedure") if modality == Modality.ECG else ("imaging", "Imaging")
    obs: dict = {
        "resourceType": "Observation",
        "identifier": [{"system": ID_MEASUREMENT, "value": f"{report.report_id}/{m.id}"}],
        "status": status,
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": category[0], "display": category[1]}]}],
        "code": {"coding": coding, "text": m.label},
        "issued": report.created_at.isoformat(),
        "valueQuantity": _quantity(m.value, m.unit, m.decimals),
        "method": {"text": m.method},
    }
    if m.flag in FLAG_CODES:
        code, display = FLAG_CODES[m.flag]
        obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": code, "display": display}]}]
    rr = m.reference_range
    if rr is not None and (rr.low is not None or rr.high is not None):
        ref: dict = {}
        if rr.low is not None:
            ref["low"] = _quantity(rr.low, rr.unit, m.decimals)
        if rr.high is not None:
            ref["high"] = _quantity(rr.high, rr.unit, m.decimals)
        text = "; ".join(x for x in (rr.population, rr.source.short() if rr.source else None) if x)
        if text:
            ref["text"] = text
        obs["referenceRange"] = [ref]
    ev = m.evidence
    where = ", ".join(x for x in (ev.location, ("leads " + " ".join(ev.leads)) if ev.leads else None) if x)
    notes = [f"Measured by {m.source.tool} {m.source.version}" + (f" ({m.source.model})" if m.source.model else "")
             + f" on {ev.file}" + (f", {where}" if where else "") + f". Measurement id {m.id}."]  # fmt: skip
    if m.quality != "usable":
        notes.append(f"Measurement quality: {m.quality.replace('_', '-')}.")
    obs["note"] = [{"text": t} for t in notes]
    return obs


def build_bundle(report: Report) -> dict:
    """The Bundle as a plain dict, validated with fhir.resources and our code checks."""
    from fhir.resources.R4B.bundle import Bundle

    status = STATUS[report.status]
    patient, patient_query = _patient(report)
    patient_url = _urn(report.report_id, "Patient")
    subject = {"reference": patient_url}
    acquired = {s.study_id: fhir_datetime(s.acquired_at) for s in report.studies}
    entries: list[dict] = []
    results: list[dict] = []
    for section in report.sections:
        for m in section.measurements:
            url = _urn(report.report_id, m.id)
            obs = _observation(report, m, section.modality, status)
            obs["subject"] = subject
            if acquired.get(section.study_id):
                obs["effectiveDateTime"] = acquired[section.study_id]
            entries.append({"fullUrl": url, "resource": obs,
                            "request": {"method": "POST", "url": "Observation", "ifNoneExist": f"identifier={ID_MEASUREMENT}|{report.report_id}/{m.id}"}})  # fmt: skip
            results.append({"reference": url, "display": m.label})
    modalities = sorted({s.modality for s in report.studies}, key=lambda x: x.value)
    code: dict = {"text": "CardioAgent cardiac report (" + ", ".join(m.display for m in modalities) + ")" if modalities else "CardioAgent cardiac report"}
    if len(modalities) == 1 and modalities[0] in STUDY_CODES:
        c, d = STUDY_CODES[modalities[0]]
        code["coding"] = [{"system": LOINC, "code": c, "display": d}]
    conclusion = " ".join(_CITATION.sub("", item.text).strip() for item in report.impression).strip()
    findings = []
    for st in report.statements():
        if st.status == "present" and st.code is not None and st.code.system == SNOMED and snomed_valid(st.code.code):
            findings.append({"coding": [{"system": SNOMED, "code": st.code.code, "display": st.code.display}], "text": st.label})
    dr: dict = {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": ID_REPORT, "value": report.report_id}],
        "status": status,
        "category": [{"coding": [{"system": LOINC, "code": "LP29708-2", "display": LOINC_PARTS["LP29708-2"]}]}],
        "code": code,
        "subject": subject,
        "issued": report.created_at.isoformat(),
        "result": results,
    }
    times = sorted({t for t in acquired.values() if t})
    if len(times) == 1:
        dr["effectiveDateTime"] = times[0]
    elif times:  # several studies acquired at different times: the span
        dr["effectivePeriod"] = {"start": times[0], "end": times[-1]}
    if report.signoffs:  # who signed and when: the clinicians as interpreters, the last decision as the version's issue time
        dr["resultsInterpreter"] = [{"display": name} for name in dict.fromkeys(so.clinician for so in report.signoffs)]
        dr["issued"] = report.signoffs[-1].signed_at.isoformat()
    if conclusion:
        dr["conclusion"] = conclusion
    if findings:
        dr["conclusionCode"] = findings
    dr_entry = {"fullUrl": _urn(report.report_id, "DiagnosticReport"), "resource": dr,
                "request": {"method": "POST", "url": "DiagnosticReport", "ifNoneExist": f"identifier={ID_REPORT}|{report.report_id}"}}  # fmt: skip
    patient_entry = {"fullUrl": patient_url, "resource": patient,
                     "request": {"method": "POST", "url": "Patient", "ifNoneExist": patient_query}}  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "transaction", "timestamp": report.created_at.isoformat(),
              "entry": [dr_entry, *entries, patient_entry]}  # fmt: skip
    problems = check_codes(bundle)
    if problems:
        raise FHIRCodeError("; ".join(problems))
    validated = Bundle.model_validate(bundle)
    return json.loads(validated.model_dump_json())


def write(report: Report, out_dir: str | Path) -> Path:
    bundle = build_bundle(report)
    return atomic_write_text(Path(out_dir) / FILENAME, json.dumps(bundle, indent=2, ensure_ascii=False))
