"""Find the scan sector, crop to it and resample to the model's input.

Why: scanner exports carry burnt-in text, logos, depth markers and an ECG
sweep around the fan; a network trained on clean 112x112 sectors (as
EchoNet's are) must see only the fan. We find the fan from the data rather
than from vendor-specific coordinates:

* pixels inside the fan flicker from frame to frame (speckle, motion)
  while text and logos are static, so the per-pixel temporal standard
  deviation separates them; coloured pixels (ECG trace, markers, colour
  Doppler) are excluded from that evidence;
* the fan is convex, so the convex hull of the largest "active" component
  fills the dark blood pool that flickers little;
* with very few frames we fall back to mean brightness.

The crop is the fan's bounding box padded to a square (so pixels stay
square), then area-averaged down to `out_size` (antialiased) with the
outside of the fan set to black. `CropGeometry` keeps the mapping back to
original pixels and millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from experts.echo.clip import EchoClip

CHROMA_THRESHOLD = 40  # max-min over RGB above which a pixel counts as coloured


@dataclass(frozen=True)
class CropGeometry:
    """Square crop (row0, col0, side) of the original frame, resampled to
    out_size x out_size. Rows/cols may start outside the frame (padding)."""

    row0: int
    col0: int
    side: int
    out_size: int
    frame_hw: tuple[int, int]

    @property
    def scale(self) -> float:
        """Original pixels per model pixel."""
        return self.side / self.out_size

    def model_spacing_mm(self, spacing_mm: tuple[float, float] | None) -> tuple[float, float] | None:
        if spacing_mm is None:
            return None
        return (spacing_mm[0] * self.scale, spacing_mm[1] * self.scale)

    def model_to_original(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model pixel centres -> original pixel coordinates (float)."""
        return self.row0 + (rows + 0.5) * self.scale - 0.5, self.col0 + (cols + 0.5) * self.scale - 0.5

    def crop(self, stack: np.ndarray) -> np.ndarray:
        """Cut the square (zero padded) from a (T, H, W) stack."""
        T = stack.shape[0]
        H, W = stack.shape[1:3]
        out = np.zeros((T, self.side, self.side), dtype=stack.dtype)
        r0, c0 = max(self.row0, 0), max(self.col0, 0)
        r1, c1 = min(self.row0 + self.side, H), min(self.col0 + self.side, W)
        out[:, r0 - self.row0 : r1 - self.row0, c0 - self.col0 : c1 - self.col0] = stack[:, r0:r1, c0:c1]
        return out

    def to_model(self, stack: np.ndarray, chunk: int = 32) -> np.ndarray:
        """(T, H, W) original -> (T, out, out) float32, area-averaged."""
        import torch
        import torch.nn.functional as F

        outs = []
        for i in range(0, stack.shape[0], chunk):
            sq = torch.from_numpy(self.crop(stack[i : i + chunk]).astype(np.float32))[:, None]
            mode = "area" if self.side >= self.out_size else "bilinear"
            kw = {} if mode == "area" else {"align_corners": False}
            outs.append(F.interpolate(sq, size=(self.out_size, self.out_size), mode=mode, **kw)[:, 0].numpy())
        return np.concatenate(outs) if outs else np.zeros((0, self.out_size, self.out_size), np.float32)

    def to_original(self, prob: np.ndarray, chunk: int = 16) -> np.ndarray:
        """(T, out, out) probabilities -> (T, H, W) bool masks at original
        resolution (bilinear upsampling, threshold 0.5)."""
        import torch
        import torch.nn.functional as F

        H, W = self.frame_hw
        T = prob.shape[0]
        out = np.zeros((T, H, W), bool)
        r0, c0 = max(self.row0, 0), max(self.col0, 0)
        r1, c1 = min(self.row0 + self.side, H), min(self.col0 + self.side, W)
        for i in range(0, T, chunk):
            up = F.interpolate(torch.from_numpy(prob[i : i + chunk].astype(np.float32))[:, None], size=(self.side, self.side), mode="bilinear", align_corners=False)[:, 0].numpy()
            out[i : i + chunk, r0:r1, c0:c1] = up[:, r0 - self.row0 : r1 - self.row0, c0 - self.col0 : c1 - self.col0] >= 0.5
        return out


@dataclass
class FanDetection:
    mask: np.ndarray  # (H, W) bool
    method: str
    bbox: tuple[int, int, int, int]  # row0, col0, row1, col1 inclusive
    coloured_fraction: float  # median per-frame fraction of coloured pixels inside the fan
    notes: list[str]


@dataclass
class Preprocessed:
    """Model-ready clip: grey frames (0..255, outside fan = 0) at out_size."""

    grey: np.ndarray  # (T, out, out) float32
    fan_small: np.ndarray  # (out, out) bool
    fan: FanDetection
    crop: CropGeometry


def _convex_fill(mask: np.ndarray) -> np.ndarray:
    from matplotlib.path import Path as MplPath
    from scipy.spatial import ConvexHull, QhullError

    rr, cc = np.nonzero(mask)
    if rr.size < 10:
        return mask.copy()
    pts = np.column_stack([cc, rr]).astype(float)
    try:
        hull = ConvexHull(pts)
    except QhullError:
        return mask.copy()
    poly = MplPath(pts[hull.vertices])
    r0, r1, c0, c1 = rr.min(), rr.max(), cc.min(), cc.max()
    gr, gc = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
    inside = poly.contains_points(np.column_stack([gc.ravel(), gr.ravel()]), radius=0.5).reshape(gr.shape)
    out = np.zeros_like(mask)
    out[r0 : r1 + 1, c0 : c1 + 1] = inside
    return out | mask


def _largest_component(mask: np.ndarray) -> np.ndarray:
    lab, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = ndimage.sum(mask, lab, index=np.arange(1, n + 1))
    return lab == (int(np.argmax(sizes)) + 1)


def detect_fan(frames_rgb: np.ndarray, grey: np.ndarray | None = None) -> FanDetection:
    """Locate the scan sector in a (T, H, W, 3) uint8 clip."""
    notes: list[str] = []
    T, H, W = frames_rgb.shape[:3]
    if grey is None:
        grey = _grey(frames_rgb)
    chroma_any = np.zeros((H, W), bool)
    step = max(1, T // 16)
    sample = frames_rgb[::step].astype(np.int16)
    chroma = (sample.max(axis=-1) - sample.min(axis=-1)) > CHROMA_THRESHOLD  # (t, H, W)
    chroma_any = chroma.any(axis=0)
    mean = grey.mean(axis=0)
    method = "temporal variation"
    if T >= 4:
        sd = grey.std(axis=0)
        active = (sd > 2.0) & (mean > 2.0)
    else:
        active = np.zeros((H, W), bool)
    # Coloured pixels are never evidence of the grey fan: an ECG sweep
    # flickers like speckle but is coloured. Colour Doppler inside the fan is
    # covered by the convex hull of the surrounding grey sector and measured
    # below.
    static_colour = chroma_any & (chroma.mean(axis=0) > 0.9)
    active &= ~chroma_any
    # Density of active pixels: speckle leaves holes (dark blood, black
    # tissue at low gain), text strokes are thin; a local average joins the
    # former and drops the latter.
    k = max(5, min(H, W) // 40)
    opened = ndimage.uniform_filter(active.astype(np.float32), size=k) > 0.3
    opened = ndimage.binary_opening(opened, structure=np.ones((3, 3)), iterations=1)
    if opened.sum() < 0.02 * H * W:
        method = "mean brightness"
        notes.append("few frames or little motion: the sector was found from brightness, not motion")
        bright = (mean > 8.0) & ~static_colour
        opened = ndimage.binary_opening(bright, structure=np.ones((5, 5)), iterations=1)
    comp = _largest_component(opened)
    if comp.sum() < 0.01 * H * W:
        comp = np.ones((H, W), bool)
        method = "whole frame"
        notes.append("no scan sector found; the whole frame was used")
    fan = _convex_fill(comp)
    rr, cc = np.nonzero(fan)
    bbox = (int(rr.min()), int(cc.min()), int(rr.max()), int(cc.max()))
    frac = float(np.median((chroma & fan[None]).sum(axis=(1, 2)))) / max(int(fan.sum()), 1)
    return FanDetection(fan, method, bbox, frac, notes)


def crop_geometry(fan: FanDetection, frame_hw: tuple[int, int], out_size: int) -> CropGeometry:
    r0, c0, r1, c1 = fan.bbox
    h, w = r1 - r0 + 1, c1 - c0 + 1
    side = max(h, w)
    return CropGeometry(row0=r0 - (side - h) // 2, col0=c0 - (side - w) // 2, side=side, out_size=out_size, frame_hw=frame_hw)


FAN_SAMPLE_FRAMES = 48  # frames used to locate the fan (enough for a stable temporal SD)


def _grey(frames: np.ndarray) -> np.ndarray:
    f = frames.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def preprocess(clip: EchoClip, out_size: int = 112, fan: FanDetection | None = None, chunk: int = 32) -> Preprocessed:
    """Crop and resample in chunks: a long high-resolution clip never exists
    as one float array (300 frames of 1024x768 would need ~1 GB)."""
    if fan is None:
        idx = np.unique(np.linspace(0, clip.n_frames - 1, min(clip.n_frames, FAN_SAMPLE_FRAMES)).astype(int))
        fan = detect_fan(clip.frames[idx])
    geo = crop_geometry(fan, (clip.height, clip.width), out_size)
    parts = [geo.to_model(np.where(fan.mask[None], _grey(clip.frames[i : i + chunk]), 0.0)) for i in range(0, clip.n_frames, chunk)]
    small = np.concatenate(parts) if parts else np.zeros((0, out_size, out_size), np.float32)
    fan_small = geo.to_model(fan.mask[None].astype(np.float32))[0] >= 0.5
    return Preprocessed(grey=small.astype(np.float32), fan_small=fan_small, fan=fan, crop=geo)
