"""`cmr_analyze`: the CMR expert's typed entry point.

Flow: read the study (DICOM series or NIfTI folder) into a geometry-checked
cine stack -> segment every slice and phase (embedded MONAI U-Net or the
user's weights) -> volumes, EF and LV mass by disc summation with stated
slice rules -> cited reference ranges and statements -> montage, volume
curve, NIfTI and DICOM SEG exports. Anything that makes volumes
untrustworthy (one slice, one phase, long-axis views, inconsistent spacing,
mis-sorted images) yields a non-diagnostic result with the reason and no
numbers; bad files raise `InputError`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from experts.cmr.cine import CineStack
from experts.core.errors import InputError
from experts.core.tool import ExpertTool, ToolOptions
from experts.core.types import (
    Artifact,
    Code,
    Evidence,
    ExpertResult,
    Measurement,
    Modality,
    PatientContext,
    Quality,
    Source,
    StudyInput,
)

TOOL_NAME = "cmr_analyze"
TOOL_VERSION = "0.1.0"


class CMROptions(ToolOptions):
    weights_path: str | None = Field(
        None,
        description=(
            "Optional user weights instead of the embedded model: a MONAI bundle folder or .zip "
            "(e.g. model-zoo ventricular_short_axis_3label), a state dict .pt for the bundle's 2-D UNet, or TorchScript .ts"
        ),
    )
    label_convention: Literal["canonical", "acdc"] = Field(
        "canonical",
        description="Output channel order of user weights: canonical/bundle (1 LV, 2 MYO, 3 RV) or ACDC (1 RV, 2 MYO, 3 LV)",
    )
    input_size: int = Field(256, ge=64, le=512, description="User weights: square input size (crop/pad)")
    input_pixel_spacing_mm: float | None = Field(
        None, gt=0.3, lt=5.0, description="User weights: resample to this pixel size; None keeps native pixels (bundle convention)"
    )
    intensity: Literal["minmax_volume", "percentile_slice"] = Field(
        "minmax_volume", description="User weights: intensity scaling the network was trained with"
    )
    supplied_label_convention: Literal["acdc", "canonical"] = Field(
        "acdc", description="Numbering of label files supplied with NIfTI input (ACDC: 1 RV, 2 MYO, 3 LV)"
    )
    use_supplied_labels: bool = Field(
        False, description="Quantify from supplied ED/ES label files (ACDC _gt) instead of segmenting"
    )
    make_plot: bool = Field(True, description="Write the ED/ES contour montage and the volume-time curve (PNG)")
    export_seg: bool = Field(True, description="Write the segmentation as NIfTI and, for DICOM input, as DICOM SEG")
    seg_label_convention: Literal["canonical", "acdc"] = Field("canonical", description="Label numbering of the NIfTI export")
    dicom_seg_phases: Literal["ed_es", "all"] = Field("ed_es", description="Phases written to the DICOM SEG")


@lru_cache(maxsize=1)
def _default_segmenter():
    from experts.cmr.models import load_default

    return load_default()


def _segmenter(options: CMROptions):
    if not options.weights_path:
        return _default_segmenter()
    from experts.cmr.models import load_user_weights
    from experts.cmr.preprocess import InputConvention

    conv = InputConvention(size=options.input_size, pixel_spacing_mm=options.input_pixel_spacing_mm, intensity=options.intensity)
    return load_user_weights(options.weights_path, label_convention=options.label_convention, convention=conv)


def _study_format(study: StudyInput) -> str:
    fmt = study.meta.get("format")
    if fmt in ("dicom", "nifti"):
        return str(fmt)
    first = Path(study.files[0])
    try:
        with open(first, "rb") as fh:
            head = fh.read(132)
    except OSError as exc:
        raise InputError(study.display_name(first), f"cannot be read ({exc.strerror})") from exc
    if head[128:132] == b"DICM":
        return "dicom"
    if first.name.lower().endswith((".nii", ".nii.gz")):
        return "nifti"
    raise InputError(study.display_name(first), "neither DICOM nor NIfTI: the CMR expert reads cine series in those formats")


def read_study(study: StudyInput, options: CMROptions) -> CineStack:
    if not study.files:
        raise InputError(study.study_id or "CMR study", "the study lists no files")
    names = [study.display_name(f) for f in study.files]
    fmt = _study_format(study)
    if fmt == "dicom":
        from experts.cmr.io_dicom import read_dicom_cine

        return read_dicom_cine(list(study.files), names)
    from experts.cmr.io_nifti import read_nifti_cine

    return read_nifti_cine(list(study.files), names, meta=dict(study.meta), label_convention=options.supplied_label_convention)


class CMRTool(ExpertTool):
    name = TOOL_NAME
    version = TOOL_VERSION
    modality = Modality.CMR
    description = (
        "Cardiac MRI short-axis cine analysis. Reads a DICOM cine series or NIfTI cine (ACDC layout), segments LV blood "
        "pool, LV myocardium and RV blood pool on every slice and phase (MONAI 2-D U-Net), finds end-diastole and "
        "end-systole from the LV volume curve and reports LV EDV, ESV, SV, EF, LV mass, RV EDV, ESV, SV, EF (and "
        "BSA-indexed values when height and weight are known), with slices and phases as evidence, sex-specific "
        "reference ranges for LVEF and indexed LV mass, and LVEF categories. Writes an ED/ES contour montage, the "
        "volume-time curve, the segmentation as NIfTI and, for DICOM input, DICOM SEG. Single slices, single phases, "
        "long-axis views and inconsistent slice spacing are reported as non-diagnostic without volumes."
    )
    Options = CMROptions

    def analyze(self, study: StudyInput, patient: PatientContext, options: CMROptions, output_dir: Path) -> ExpertResult:
        from experts.cmr.quantify import quantify
        from experts.cmr.segment import segment_stack

        stack = read_study(study, options)
        warnings: list[str] = list(stack.notes)
        seg = None
        if options.use_supplied_labels and len(stack.reference_labels) >= 2:
            stack, labels = _supplied_label_stack(stack)
            model_name, weights_sha = "supplied label files", None
            warnings.append("volumes computed from the supplied label files, not from the network")
            located = None
        else:
            if options.use_supplied_labels:
                warnings.append("use_supplied_labels: fewer than two supplied label phases; segmented instead")
            seg = _segmenter(options)
            result = segment_stack(stack, seg)
            labels = result.labels
            model_name, weights_sha = seg.name, seg.weights_sha256
            located = result.located_by
        source = Source(tool=self.name, version=self.version, model=model_name, weights_sha256=weights_sha)
        fn = quantify(labels, stack)

        reasons = [p.message for p in stack.problems] + fn.problems + fn.caveats
        if any(p.severity == "non_diagnostic" for p in stack.problems) or fn.problems:
            verdict = "non_diagnostic"
        elif reasons:
            verdict = "limited"
        else:
            verdict = "usable"
        if seg is not None and not options.weights_path:
            warnings.append(
                "segmentation by the embedded model, trained on simulated cine stacks and two Sunnybrook patients; "
                "not validated on patients (see experts/cmr/MODEL_CARD.md)"
            )
        if located == "motion":
            why = "the wide-field network pass found no LV" if seg is not None and seg.coarse is not None else "these weights have no wide-field pass"
            warnings.append(f"heart located from cine motion ({why}); check the montage")

        sex = patient.sex
        if sex is None and stack.patient_sex:
            sex = stack.patient_sex
            warnings.append(f"sex taken from the DICOM header ({sex}) for reference ranges")
        measurements: list[Measurement] = []
        statements = []
        if verdict != "non_diagnostic":
            by_name = self._measurements(study, stack, fn, labels, patient, sex, source, verdict, warnings)
            from experts.cmr.findings import MASS_OVERESTIMATED_NOTE
            from experts.cmr.findings import statements as make_statements

            embedded = seg is not None and not options.weights_path
            statements = make_statements(by_name, sex, study.study_id, source, mass_overestimated=embedded)
            if embedded and "lv_mass" in by_name:
                warnings.append("LV mass: " + MASS_OVERESTIMATED_NOTE)
                by_name.update(_mass_known_high(by_name))
            from experts.cmr.findings import rv_statements_indeterminate
            from experts.cmr.plausibility import rv_checks

            rv_problems = rv_checks(fn, labels)
            if rv_problems:
                warnings.extend(rv_problems)
                reasons.extend(rv_problems)
                if verdict == "usable":
                    verdict = "limited"
                by_name.update(_rv_limited(by_name))
                statements = rv_statements_indeterminate(statements, "; ".join(rv_problems))
            measurements = list(by_name.values())
        else:
            warnings.append("no volumes reported: " + "; ".join(fn.problems + [p.message for p in stack.problems if p.severity == "non_diagnostic"]))

        artifacts = self._artifacts(study, stack, labels, fn, options, output_dir, warnings)
        return ExpertResult(
            tool=self.name,
            version=self.version,
            modality=Modality.CMR,
            study_id=study.study_id,
            inputs=[study.display_name(f) for f in study.files],
            measurements=measurements,
            statements=statements,
            quality=Quality(verdict=verdict, reasons=reasons),
            artifacts=artifacts,
            warnings=warnings,
        )

    # ------------------------------------------------------------------
    def _measurements(self, study, stack: CineStack, fn, labels, patient, sex, source, verdict, warnings) -> dict[str, Measurement]:
        from experts.cmr.labels import LV, MYO, RV
        from experts.cmr.reference import reference_range

        v = fn.values
        T, Z = stack.n_phases, stack.n_slices
        file = stack.files[0] if stack.files else (study.display_names[0] if study.display_names else "CMR study")
        desc = f"short-axis cine '{stack.series_description}'" if stack.series_description else "short-axis cine"
        trig = stack.trigger_times_ms

        def ph(t: int) -> str:
            s = f"phase {stack.phase_number(t)}" + ("" if stack.original_phases else f"/{T}")
            return s + (f" ({trig[t]:.0f} ms)" if trig is not None else "")

        def slices_with(t: int, lab: int, counted: bool = True) -> list[int]:
            present = (labels[t] == lab).any(axis=(1, 2))
            if counted:
                present &= fn.curves.lv_included[t]
            return [int(z) + 1 for z in np.nonzero(present)[0]]

        def ev(phases: list[int], slices: list[int], what: str) -> Evidence:
            span = f"slices {slices[0]}-{slices[-1]}" if slices else "no slices"
            return Evidence(
                file=file,
                location=f"{desc}: {what} at {', '.join(ph(t) for t in phases)}; {span} of {Z} (1-based, ordered along the slice normal)",
                phases=[stack.phase_number(t) for t in phases],
                slices=slices,
            )

        disc = (
            f"disc summation over short-axis slices ({stack.slice_spacing_mm:.1f} mm centre-to-centre from "
            f"{'ImagePositionPatient' if stack.source_format == 'dicom' else 'the image affine'}); basal slices count only "
            "where the pool is ≥50% surrounded by myocardium; papillary muscles in the pool"
        )
        ed_how = f"ED = {fn.ed_source}"
        ed, es = fn.ed, fn.es
        out: dict[str, Measurement] = {}

        def add(name, label, value, unit, method, evidence, decimals=0, code=None):
            if value is None or not np.isfinite(value):
                warnings.append(f"{name} not reported (not computable)")
                return
            rr = reference_range(name, sex)
            out[name] = Measurement(
                id=f"{study.study_id}.{name}",
                name=name,
                label=label,
                value=float(value),
                unit=unit,
                decimals=decimals,
                code=code,
                reference_range=rr,
                flag=rr.classify(float(value)) if rr is not None else None,
                method=method,
                source=source,
                evidence=evidence,
                quality=verdict,
            )

        lv_ed_sl, lv_es_sl = slices_with(ed, LV), slices_with(es, LV)
        both = sorted(set(lv_ed_sl) | set(lv_es_sl))
        if "lv_edv" in v:
            add("lv_edv", "LV end-diastolic volume", v["lv_edv"], "mL", f"{disc}; {ed_how}", ev([ed], lv_ed_sl, "LV pool"))
            add("lv_esv", "LV end-systolic volume", v["lv_esv"], "mL", f"{disc}; ES = minimal LV volume" if fn.ed_source.startswith("maximal") else disc, ev([es], lv_es_sl, "LV pool"))
            add("lv_sv", "LV stroke volume", v["lv_sv"], "mL", "EDV - ESV", ev([ed, es], both, "LV pool"))
        if "lvef" in v:
            add(
                "lvef", "LV ejection fraction", v["lvef"], "%", "(EDV - ESV) / EDV x 100, volumes by " + disc,
                ev([ed, es], both, "LV pool"), code=Code(system="http://loinc.org", code="10230-1", display="Left ventricular Ejection fraction"),
            )
        if "lv_mass" in v:
            add(
                "lv_mass", "LV mass", v["lv_mass"], "g", f"ED myocardial volume x 1.05 g/mL; {disc}; a myocardium-only apical slice counts only next to a slice with a cavity",
                ev([ed], slices_with(ed, MYO), "LV myocardium"),
            )
        if fn.rv_ed is not None and "rv_edv" in v:
            rv_ed_sl = slices_with(fn.rv_ed, RV, counted=False)
            rv_es_sl = slices_with(fn.rv_es, RV, counted=False)
            rv_disc = (
                f"disc summation of the RV pool over all slices where it is segmented ({stack.slice_spacing_mm:.1f} mm); "
                "RV ED/ES = maximal/minimal RV volume; no tricuspid/pulmonary-valve plane rule"
            )
            rboth = sorted(set(rv_ed_sl) | set(rv_es_sl))
            add("rv_edv", "RV end-diastolic volume", v["rv_edv"], "mL", rv_disc, ev([fn.rv_ed], rv_ed_sl, "RV pool"))
            add("rv_esv", "RV end-systolic volume", v["rv_esv"], "mL", rv_disc, ev([fn.rv_es], rv_es_sl, "RV pool"))
            add("rv_sv", "RV stroke volume", v["rv_sv"], "mL", "RV EDV - RV ESV", ev([fn.rv_ed, fn.rv_es], rboth, "RV pool"))
            if "rvef" in v:
                add("rvef", "RV ejection fraction", v["rvef"], "%", "(RV EDV - RV ESV) / RV EDV x 100", ev([fn.rv_ed, fn.rv_es], rboth, "RV pool"))
        bsa = patient.bsa_m2()
        if bsa:
            for base in ("lv_edv", "lv_esv", "lv_sv", "lv_mass", "rv_edv", "rv_esv", "rv_sv"):
                if base in out:
                    m = out[base]
                    unit = "g/m2" if m.unit == "g" else "mL/m2"
                    add(
                        f"{base}_index", f"{m.label} indexed to BSA", m.value / bsa, unit,
                        f"{m.name} / BSA {bsa:.2f} m² (Mosteller, from height and weight)", m.evidence,
                    )
        else:
            warnings.append("height or weight not given: no BSA-indexed values")
        if stack.heart_rate_bpm and stack.source_format == "dicom":
            add(
                "heart_rate", "Heart rate during the cine", stack.heart_rate_bpm, "/min",
                "DICOM HeartRate (0018,1088), median over the series' images",
                Evidence(file=file, location=f"{desc}: DICOM header"),
            )
        if sex is None:
            warnings.append("sex not given: no sex-specific reference ranges applied")
        return out

    def _artifacts(self, study, stack, labels, fn, options, output_dir: Path, warnings) -> list[Artifact]:
        arts: list[Artifact] = []
        sid = study.study_id or "cmr"
        if options.make_plot:
            from experts.cmr import plots

            p = plots.montage(stack, labels, fn, output_dir / f"{sid}_cmr_montage.png")
            arts.append(Artifact(kind="plot", title="ED/ES short-axis slices with contours", path=str(p), media_type="image/png"))
            if stack.n_phases > 1:
                p = plots.volume_curve(stack, fn, output_dir / f"{sid}_cmr_volume_curve.png")
                arts.append(Artifact(kind="plot", title="LV/RV volume-time curve", path=str(p), media_type="image/png"))
        if options.export_seg:
            from experts.cmr import export

            p = export.write_nifti(labels, stack, output_dir / f"{sid}_cmr_seg.nii.gz", options.seg_label_convention)
            conv = "1 LV pool, 2 LV myocardium, 3 RV pool" if options.seg_label_convention == "canonical" else "ACDC: 1 RV, 2 MYO, 3 LV"
            arts.append(Artifact(kind="mask", title=f"Segmentation NIfTI (x, y, slice, phase; {conv})", path=str(p), media_type="application/gzip"))
            if stack.source_format == "dicom":
                phases = sorted({fn.ed, fn.es}) if options.dicom_seg_phases == "ed_es" else list(range(stack.n_phases))
                names = {fn.ed: "ED", fn.es: "ES"}
                for t in phases:
                    try:
                        seg_notes: list[str] = []
                        p = export.write_dicom_seg(
                            labels, stack, t, output_dir / f"{sid}_cmr_seg_phase{t + 1:02d}.dcm", self.name, self.version, seg_notes
                        )
                        warnings.extend(n for n in seg_notes if n not in warnings)
                    except (ValueError, TypeError, AttributeError) as exc:
                        warnings.append(f"DICOM SEG of phase {t + 1} not written: {exc}")
                        continue
                    tag = f"{names[t]}, " if t in names else ""
                    arts.append(Artifact(kind="mask", title=f"DICOM SEG ({tag}phase {t + 1})", path=str(p), media_type="application/dicom"))
        return arts


def _supplied_label_stack(stack: CineStack) -> tuple[CineStack, np.ndarray]:
    """A two-phase stack (ED, ES) carrying the supplied labels."""
    from dataclasses import replace

    ed, es = stack.ed_phase_hint, stack.es_phase_hint
    if ed is None or es is None:
        ed, es = sorted(stack.reference_labels)[:2]
    labels = np.stack([stack.reference_labels[ed], stack.reference_labels[es]])
    trig = stack.trigger_times_ms[[ed, es]] if stack.trigger_times_ms is not None else None
    sub = replace(
        stack, images=stack.images[[ed, es]], trigger_times_ms=trig, ed_phase_hint=0, es_phase_hint=1, dicom_frames=None, original_phases=[ed, es]
    )
    return sub, labels


def _rv_limited(by_name: dict[str, Measurement]) -> dict[str, Measurement]:
    """RV measurements from a segmentation that failed the plausibility
    check (plausibility.py): quality `limited`; value, range and flag stay
    visible so the reader sees what was measured."""
    return {n: m.model_copy(update={"quality": "limited"}) for n, m in by_name.items() if n.startswith("rv")}


def _mass_known_high(by_name: dict[str, Measurement]) -> dict[str, Measurement]:
    """LV mass from a model known to overestimate it: quality `limited`, and
    no `high` flag (a biased-high value cannot show a high mass; `low` and
    `normal` stand). The reference range stays visible."""
    out = {}
    for name in ("lv_mass", "lv_mass_index"):
        m = by_name.get(name)
        if m is None:
            continue
        update: dict = {"quality": "limited"}
        if m.flag == "high":
            update["flag"] = None
        out[name] = m.model_copy(update=update)
    return out
