"""Decide the physical pixel size of the frames we actually decoded.

Why a separate step: the DICOM ultrasound region states a spacing for the
pixel grid *it was written for*. Exports that downsample the clip (e.g.
pydicom's 320x240 `examples.ybr_color`, cut from a 640x480 original) keep
the original region, whose corner (595, 414) then lies outside the image.
Using its 0.051 cm/pixel on the small image would halve every length and
quarter every area. We detect that case and rescale:

1. The region fits in the image -> use it as stated.
2. It does not -> the image was scaled by s < 1. Two bounds on s: the
   region must fit (s <= width/(x1+1), height/(y1+1)); and the detected fan
   lies inside the region (s >= fan extent / region extent, per axis).
   Candidates are the scales of standard scanner screen widths and simple
   fractions. Among those inside the bounds we take the largest, i.e. the
   smallest standard original screen that still contains the region
   (scanners place the region close to the screen edges: 595 of 640 and
   414 of 480 in pydicom's full-size clip). The choice is an inference and
   is reported as such; with no candidate, spacing is unknown (EF only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from experts.echo.clip import EchoClip, UltrasoundRegion

STANDARD_WIDTHS = (640, 720, 768, 800, 960, 1016, 1024, 1136, 1280, 1440, 1600, 1920)
SIMPLE_FRACTIONS = (1 / 2, 1 / 3, 2 / 3, 1 / 4, 3 / 4, 2 / 5, 3 / 5, 4 / 5)


@dataclass
class SpacingDecision:
    spacing_mm: tuple[float, float] | None  # (row, col) mm per pixel of the decoded frames
    source: str
    scale: float | None = None  # decoded pixels per header pixel
    notes: list[str] = field(default_factory=list)


def resolve_spacing(
    clip: EchoClip,
    fan_bbox: tuple[int, int, int, int] | None,
    user_spacing_mm: float | None = None,
) -> SpacingDecision:
    if user_spacing_mm is not None:
        return SpacingDecision((user_spacing_mm, user_spacing_mm), "user-supplied pixel_spacing_mm", 1.0)
    region = clip.region
    if region is None:
        why = "the video container stores no physical pixel size" if clip.source_format == "video" else "the DICOM file has no ultrasound region with physical units in cm"
        return SpacingDecision(None, "unknown", None, [f"pixel spacing unknown: {why}"])
    H, W = clip.height, clip.width
    if region.x1 < W and region.y1 < H:
        return SpacingDecision((region.delta_y_mm, region.delta_x_mm), "DICOM ultrasound region (0018,6011)", 1.0)
    return _rescaled(region, H, W, fan_bbox)


def _rescaled(region: UltrasoundRegion, H: int, W: int, fan_bbox: tuple[int, int, int, int] | None) -> SpacingDecision:
    upper = min(W / (region.x1 + 1), H / (region.y1 + 1))
    lower = 0.0
    if fan_bbox is not None:
        r0, c0, r1, c1 = fan_bbox
        lower = max((c1 - c0 + 1) / region.width, (r1 - r0 + 1) / region.height) * 0.97
    candidates = sorted({round(W / w, 6) for w in STANDARD_WIDTHS if w > W} | {round(f, 6) for f in SIMPLE_FRACTIONS})
    fits = [s for s in candidates if lower <= s <= upper * 1.001]
    note = (
        f"the ultrasound region ({region.x0},{region.y0})-({region.x1},{region.y1}) lies outside the {W}x{H} image: "
        "the clip was downsampled after the region was written"
    )
    if fits:
        s = max(fits)
        sp = (region.delta_y_mm / s, region.delta_x_mm / s)
        return SpacingDecision(
            sp,
            f"DICOM ultrasound region rescaled by {s:g} (original width {W / s:.0f} px)",
            s,
            [
                note
                + f"; assuming the smallest standard original that contains it ({W / s:.0f}x{H / s:.0f} px), "
                + f"spacing was rescaled from {region.delta_x_mm:.4f} to {sp[1]:.4f} mm/pixel"
                + (f" (other possible scales: {', '.join(f'{x:g}' for x in fits if x != s)})" if len(fits) > 1 else "")
            ],
        )
    return SpacingDecision(None, "unknown", None, [note + "; no plausible scale factor fits it, so lengths and volumes are not reported"])
