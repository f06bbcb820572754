"""Read an AVI / MP4 / MKV echo clip with PyAV (FFmpeg's decoders).

Why PyAV and not OpenCV: it is a real FFmpeg binding available as a wheel,
gives exact stream timing (average rate, time base, per-frame timestamps)
and is already a project dependency. Videos carry no physical spacing; the
tool accepts a user-supplied `pixel_spacing_mm` for them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experts.core.errors import InputError
from experts.echo.clip import EchoClip

MAX_FRAMES = 3000
MAX_DECODED_BYTES = 1_500_000_000


def read_video_clip(path: str | Path, display_name: str) -> EchoClip:
    import av

    frames: list[np.ndarray] = []
    warnings: list[str] = []
    truncated = False
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InputError(display_name, f"corrupt or unreadable video container ({exc})") from exc
    with container:
        if not container.streams.video:
            raise InputError(display_name, "video container holds no video stream")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        declared = int(stream.frames or 0)
        if width and height and min(declared, MAX_FRAMES) * width * height * 3 > MAX_DECODED_BYTES:
            raise InputError(display_name, f"video of {declared} frames at {width}x{height} is too large to analyse; export a shorter loop")
        fps = _stream_fps(stream)
        try:
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) > MAX_FRAMES:
                    raise InputError(display_name, f"video has more than {MAX_FRAMES} frames; export one or a few heart cycles")
        except InputError:
            raise
        except (av.error.FFmpegError, OSError, ValueError, EOFError) as exc:
            if not frames:
                raise InputError(display_name, f"video stream cannot be decoded ({exc})") from exc
            truncated = True
            warnings.append(f"video stream is damaged: decoding stopped after {len(frames)} frames ({exc})")
    if not frames:
        raise InputError(display_name, "video stream contains no decodable frames")
    if declared and len(frames) < 0.9 * declared:
        truncated = True
        warnings.append(f"container declares {declared} frames but only {len(frames)} could be decoded (truncated file?)")
    if len(frames) < 2:
        raise InputError(display_name, "a single still frame; LV volumes and EF need a cine clip covering at least one heart cycle")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise InputError(display_name, f"frames change size within the video ({sorted(shapes)[:3]})")
    clip = EchoClip(
        frames=np.stack(frames),
        display_name=display_name,
        source_format="video",
        fps=fps,
        fps_source="video stream average rate" if fps else None,
        details={"codec": codec, "width": width, "height": height, "declared_frames": declared or None},
        warnings=warnings,
        truncated=truncated,
    )
    return clip


def _stream_fps(stream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        try:
            value = float(rate) if rate else None
        except (TypeError, ZeroDivisionError):
            value = None
        if value and 1.0 <= value <= 1000.0:
            return value
    return None
