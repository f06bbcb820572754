"""`echo_analyze`: the echo expert's single typed entry point.

Why the options look like this: the embedded U-Net needs nothing; a user
with EchoNet-Dynamic's checkpoints passes their paths (we never download
them) and, if known, EchoNet's training-set normalisation; videos carry no
physical spacing, so it can be supplied. Plots are on by default, the
overlay video (slower) only on request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from experts.core.errors import InputError
from experts.core.tool import ExpertTool, ToolOptions
from experts.core.types import Artifact, Evidence, ExpertResult, Modality, PatientContext, Quality, Source, StudyInput

TOOL_NAME = "echo_analyze"
TOOL_VERSION = "0.1.0"


class EchoOptions(ToolOptions):
    segmenter: Literal["auto", "embedded_unet", "echonet_deeplabv3", "classical"] = Field(
        "auto",
        description="LV segmenter. auto = EchoNet DeepLabV3 if segmentation_weights is given, else the embedded U-Net. "
        "classical = threshold + active contour baseline (no learned weights).",
    )
    segmentation_weights: str | None = Field(
        None, description="Path to an EchoNet-Dynamic deeplabv3_resnet50 checkpoint (state dict, 'module.' prefixes allowed)"
    )
    ef_weights: str | None = Field(None, description="Path to an EchoNet-Dynamic r2plus1d_18 EF-regressor checkpoint (fc -> 1)")
    normalisation_mean: list[float] | None = Field(
        None, description="Per-channel mean (0-255 scale, 1 or 3 values) EchoNet models were trained with; default: this clip's mean"
    )
    normalisation_std: list[float] | None = Field(None, description="Per-channel standard deviation matching normalisation_mean")
    pixel_spacing_mm: float | None = Field(
        None, gt=0.01, lt=5.0, description="Physical size of one pixel of the input (mm), for videos without spacing; overrides DICOM"
    )
    lv_side: Literal["right", "left"] = Field(
        "right", description="Side of the image where the LV appears in the apical view (right = standard ASE/EchoNet display)"
    )
    ef_clip_frames: int = Field(32, ge=8, le=128, description="Frames per clip for the EF regressor (EchoNet: 32)")
    ef_sampling_period: int = Field(2, ge=1, le=8, description="Take every n-th frame for the EF regressor (EchoNet: 2)")
    make_plot: bool = Field(True, description="Write ED/ES contour and LV volume-curve PNGs (only when beats were measured)")
    make_preview: bool = Field(
        True,
        description="Write a PNG preview of every decoded clip (a few frames with the sector and LV trace, the traced-area "
        "curve, captioned with the quality verdict and why), also for limited and non-diagnostic clips",
    )
    make_video: bool = Field(False, description="Write an MP4 of the decoded clip with the LV trace overlaid (slower)")

    @field_validator("normalisation_mean", "normalisation_std")
    @classmethod
    def _three_channels(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return None
        if len(v) == 1:
            v = v * 3
        if len(v) != 3:
            raise ValueError("give 1 or 3 values (one per RGB channel)")
        return [float(x) for x in v]

    @field_validator("normalisation_std")
    @classmethod
    def _positive(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and any(x <= 0 for x in v):
            raise ValueError("standard deviations must be positive")
        return v


class EchoTool(ExpertTool):
    name = TOOL_NAME
    version = TOOL_VERSION
    modality = Modality.ECHO
    description = (
        "Analyse one echocardiography clip (DICOM ultrasound cine or AVI/MP4 video) of an apical view: segments the "
        "LV cavity in every frame, picks end-diastole and end-systole per beat from the LV area curve, and reports "
        "LV ejection fraction (single-plane method of discs, averaged over beats), LV volumes in mL when pixel spacing "
        "is known, heart rate from the cardiac cycles, and the EF category by the 2021 ESC heart-failure definitions. "
        "Call it for any echo/ultrasound study of the heart; it flags colour Doppler, non-apical, too-short or "
        "unstable clips instead of guessing. Default model: a small U-Net trained on simulated clips (not validated "
        "on patients); EchoNet-Dynamic checkpoints can be supplied by path."
    )
    Options = EchoOptions

    def analyze(self, study: StudyInput, patient: PatientContext, options: ToolOptions, output_dir: Path) -> ExpertResult:
        from experts.echo.analysis import analyse_clip
        from experts.echo.findings import build_findings
        from experts.echo.io import read_clip

        opts: EchoOptions = options  # type: ignore[assignment]
        if not study.files:
            raise InputError(study.study_id or "echo study", "no file was supplied for this echo study")
        path = study.files[0]
        name = study.display_name(path)
        warnings: list[str] = []
        if len(study.files) > 1:
            warnings.append(f"{len(study.files)} files in one echo study: only {name} was analysed (one clip per study)")

        clip = read_clip(path, name, str(study.meta.get("format") or "") or None)
        segmenter = self._segmenter(opts)
        an = analyse_clip(clip, segmenter, user_spacing_mm=opts.pixel_spacing_mm, lv_side=opts.lv_side)
        seg = an.segmentation
        source = Source(tool=TOOL_NAME, version=TOOL_VERSION, model=seg.model, weights_sha256=seg.weights_sha256)

        extra = None
        if opts.ef_weights and an.beats and an.quality.verdict != "non_diagnostic":
            extra = self._echonet_ef(an, opts, name)
        findings = build_findings(an, study.study_id, name, source, patient, extra)
        warnings += an.warnings + findings.warnings
        if extra is not None:
            # The regressor's number has its own provenance.
            for m in findings.measurements:
                if m.name == "lvef_echonet":
                    m.source = Source(tool=TOOL_NAME, version=TOOL_VERSION, model="EchoNet-Dynamic r2plus1d_18", weights_sha256=extra["sha256"])

        artifacts = self._preview_artifacts(an, study, opts, output_dir, name, warnings)
        if an.beats and an.quality.verdict != "non_diagnostic":
            artifacts += self._artifacts(an, study, opts, output_dir, name, warnings)
        return ExpertResult(
            tool=TOOL_NAME,
            version=TOOL_VERSION,
            modality=Modality.ECHO,
            study_id=study.study_id,
            inputs=[name],
            measurements=findings.measurements,
            statements=findings.statements,
            quality=Quality(verdict=an.quality.verdict, reasons=an.quality.reasons),  # type: ignore[arg-type]
            artifacts=artifacts,
            warnings=_dedupe(warnings),
        )

    @staticmethod
    def _segmenter(opts: EchoOptions):
        from experts.echo.segment import ClassicalSegmenter, EchoNetDeepLab, EmbeddedUNet

        choice = opts.segmenter
        if choice == "auto":
            choice = "echonet_deeplabv3" if opts.segmentation_weights else "embedded_unet"
        if choice == "echonet_deeplabv3":
            if not opts.segmentation_weights:
                from experts.core.errors import ToolUnavailable

                raise ToolUnavailable("segmenter 'echonet_deeplabv3' needs segmentation_weights (path to the EchoNet-Dynamic checkpoint)")
            return EchoNetDeepLab(opts.segmentation_weights, opts.normalisation_mean, opts.normalisation_std)
        if choice == "classical":
            return ClassicalSegmenter()
        return EmbeddedUNet()

    @staticmethod
    def _echonet_ef(an, opts: EchoOptions, name: str) -> dict:
        from experts.echo.ef_regressor import EchoNetEFRegressor

        reg = EchoNetEFRegressor(opts.ef_weights, opts.normalisation_mean, opts.normalisation_std, opts.ef_clip_frames, opts.ef_sampling_period)
        res = reg(an.pre, [b.es for b in an.beats])
        frames = sorted({f for c in res.clip_frames for f in c})
        fps = an.clip.fps
        span = (round(frames[0] / fps, 3), round(frames[-1] / fps, 3)) if fps and frames else None
        return {
            "value": res.mean,
            "sha256": res.weights_sha256,
            "method": f"EchoNet-Dynamic R(2+1)D-18 on {opts.ef_clip_frames}-frame clips (every {opts.ef_sampling_period} frames) centred on each end-systole, averaged over {len(res.per_beat)} beat(s)",
            "evidence": Evidence(file=name, location="clips centred on each end-systole", frames=frames, time_span_s=span),
        }

    @staticmethod
    def _preview_artifacts(an, study: StudyInput, opts: EchoOptions, output_dir: Path, name: str, warnings: list[str]) -> list[Artifact]:
        """What the clinician needs to judge the rating, whatever it is: the
        clip with the sector and trace (PNG) and, on request, the overlay MP4.
        Optional artifacts never fail the analysis."""
        from experts.echo.caption import VERDICT_LABEL, preview_caption

        out: list[Artifact] = []
        stem = study.study_id or "echo"
        caption = preview_caption(an.quality.verdict, an.quality.reasons)
        if opts.make_preview:
            from experts.echo.preview import write_preview

            try:
                p = write_preview(an, output_dir / f"{stem}_echo_preview.png", f"{name}: clip preview", caption)
                out.append(Artifact(kind="image", title=f"Clip preview with sector and LV trace. {caption}", path=str(p), media_type="image/png"))
            except Exception as exc:
                warnings.append(f"clip preview could not be written ({type(exc).__name__}: {exc})")
        if opts.make_video:
            from experts.echo import plots

            try:
                p3 = plots.overlay_video(an, output_dir / f"{stem}_echo_overlay.mp4")
                label = VERDICT_LABEL.get(an.quality.verdict, an.quality.verdict)
                out.append(Artifact(kind="video", title=f"Clip with LV trace overlay (rated {label})", path=str(p3), media_type="video/mp4"))
            except Exception as exc:
                warnings.append(f"overlay video could not be written ({type(exc).__name__}: {exc})")
        return out

    @staticmethod
    def _artifacts(an, study: StudyInput, opts: EchoOptions, output_dir: Path, name: str, warnings: list[str]) -> list[Artifact]:
        from experts.echo import plots

        out: list[Artifact] = []
        stem = study.study_id or "echo"
        if opts.make_plot:
            p1 = plots.plot_ed_es(an, output_dir / f"{stem}_echo_ed_es.png", f"{name}: LV contour at ED and ES")
            p2 = plots.plot_curve(an, output_dir / f"{stem}_echo_lv_curve.png", f"{name}: LV {'volume' if an.has_mm else 'area'} over time")
            out.append(Artifact(kind="plot", title="LV contour at end-diastole and end-systole", path=str(p1), media_type="image/png"))
            out.append(Artifact(kind="plot", title=f"LV {'volume' if an.has_mm else 'area'} curve with ED/ES frames", path=str(p2), media_type="image/png"))
        return out


def _dedupe(items: list[str]) -> list[str]:
    seen, out = set(), []
    for s in items:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out
