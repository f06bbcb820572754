"""The decoded clip every reader returns: the typed boundary between file
formats and the analysis.

Why one type: DICOM and video differ in where timing and spacing live (and
whether they exist at all); after the readers, nothing downstream should
care which container a clip came from, only whether fps and spacing are
known and how sure we are of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class UltrasoundRegion:
    """One entry of the DICOM Sequence of Ultrasound Regions (0018,6011),
    restricted to what we use: the tissue region's bounding box in the
    pixel grid the header describes, and its physical pixel size."""

    x0: int
    y0: int
    x1: int
    y1: int
    delta_x_mm: float
    delta_y_mm: float
    data_type: int  # (0018,6014): 1 = tissue, 2 = colour flow, 3 = PW Doppler ...

    @property
    def width(self) -> int:
        return self.x1 - self.x0 + 1

    @property
    def height(self) -> int:
        return self.y1 - self.y0 + 1


@dataclass
class EchoClip:
    """A decoded echo clip.

    frames: (T, H, W, 3) uint8 RGB; monochrome sources are replicated into
        three channels so colour checks and EchoNet's 3-channel input work
        the same way for every source.
    fps: frames per second, None when the file does not say.
    spacing_mm: (row, column) millimetres per pixel *of these frames*, None
        when unknown or not trustworthy.
    region: the ultrasound tissue region as the header states it (possibly
        describing a larger original image; see `experts.echo.spacing`).
    """

    frames: np.ndarray
    display_name: str
    source_format: str  # "dicom" | "video"
    fps: float | None = None
    fps_source: str | None = None
    spacing_mm: tuple[float, float] | None = None
    spacing_source: str | None = None
    region: UltrasoundRegion | None = None
    details: dict[str, str | int | float | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    def grey(self) -> np.ndarray:
        """(T, H, W) float32 luminance (ITU-R BT.601 weights)."""
        f = self.frames.astype(np.float32)
        return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
