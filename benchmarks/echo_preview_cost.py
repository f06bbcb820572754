"""What the clip preview and the overlay MP4 cost next to the analysis, on
pydicom's two real apical clips (30 frames 320x240; 120 frames 640x480
from pydicom-data, skipped if absent). Prints ratios against the read +
analyse time measured in the same process, so a loaded machine does not
change the conclusion.

    .venv/bin/python -m benchmarks.echo_preview_cost
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path


def main() -> None:
    import torch
    from pydicom import examples
    from pydicom.data import get_testdata_file

    from experts.echo import plots
    from experts.echo.analysis import analyse_clip
    from experts.echo.caption import preview_caption
    from experts.echo.io import read_clip
    from experts.echo.preview import write_preview
    from experts.echo.segment import EmbeddedUNet

    torch.set_num_threads(1)
    seg = EmbeddedUNet()
    clips = [("examples_ybr_color.dcm", examples.get_path("ybr_color"))]
    full = get_testdata_file("color3d_jpeg_baseline.dcm", download=False)
    if full:
        clips.append(("color3d_jpeg_baseline.dcm", full))
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in clips:
            t0 = time.perf_counter()
            an = analyse_clip(read_clip(path, name, "dicom"), seg)
            t1 = time.perf_counter()
            write_preview(an, Path(tmp) / f"{name}.png", name, preview_caption(an.quality.verdict, an.quality.reasons))
            t2 = time.perf_counter()
            plots.overlay_video(an, Path(tmp) / f"{name}.mp4")
            t3 = time.perf_counter()
            base = t1 - t0
            print(
                f"{name}: {an.clip.n_frames} frames {an.clip.width}x{an.clip.height}, verdict {an.quality.verdict}; "
                f"read+analyse {base:.2f} s, preview PNG {t2 - t1:.2f} s ({(t2 - t1) / base:.2f}x), "
                f"overlay MP4 {t3 - t2:.2f} s ({(t3 - t2) / base:.2f}x)"
            )


if __name__ == "__main__":
    main()
