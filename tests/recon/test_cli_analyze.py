"""`cardioagent analyze` on a simulated fastMRI-style cine .h5: the report
carries the reconstruction's quality numbers and the CMR measurements of the
derived image series, each traced to a tool, a file and a method.

Slow (a couple of minutes on a loaded 2-core machine): the agent runs the
reconstruction, the CMR expert on the reconstruction and, for the LVEF
check, on the fully sampled reference."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def _cmr_available() -> bool:
    try:
        import experts.cmr.simulate  # noqa: F401
        import experts.cmr.tool  # noqa: F401
    except ImportError:
        return False
    return True


def _fastmri_cine(path: Path) -> Path:
    """CMR-simulator short-axis cine (5 slices through the LV, 10 phases,
    96², 2 mm) → 4-coil k-space → R=4 equispaced, time-interleaved, 12 ACS
    lines → fastMRI layout with a leading frame axis and the fully sampled
    RSS as `reconstruction_rss`."""
    from experts.cmr.simulate import Acquisition, random_heart, simulate_study
    from experts.recon.simulate import fully_sampled_study, undersample
    from experts.recon.writers import write_fastmri_h5

    rng = np.random.default_rng(6100)
    acq = Acquisition(rows=96, cols=96, pixel_mm=2.0, n_phases=10, n_slices=5, first_w_mm=8.0, supersample=1, subplanes=1)
    sim = simulate_study(6100, heart=random_heart(rng), acq=acq)
    images = np.transpose(sim.stack.images, (2, 3, 1, 0))  # (t, z, rows, cols) → (rows, cols, z, t)
    full = fully_sampled_study(
        images,
        coils=4,
        seed=1,
        noise_level=0.005,
        spacing_mm=(acq.pixel_mm, acq.pixel_mm, acq.thickness_mm + acq.gap_mm),
        frame_interval_ms=60000 / acq.heart_rate_bpm / acq.n_phases,
    )
    return write_fastmri_h5(undersample(full, 4, acs=12), path, frame=None)


@pytest.mark.slow
def test_analyze_fastmri_cine_reports_recon_quality_and_derived_cmr(tmp_path):
    if not _cmr_available():
        pytest.skip("CMR expert is not in this build: no derived CMR measurements to check")
    h5 = _fastmri_cine(tmp_path / "cine_fastmri.h5")
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "agent.cli", "analyze", str(h5), "--out", str(out), "--formats", "json,md", "--quiet"],
        capture_output=True, text=True, cwd=REPO, env={"CARDIO_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    text = json.dumps(report)
    measurements = {}

    def collect(node):
        if isinstance(node, dict):
            if {"id", "name", "value", "unit", "source", "evidence"} <= set(node):
                measurements[node["id"]] = node
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    collect(report)
    recon = {m["name"]: m for m in measurements.values() if m["source"]["tool"] == "recon_reconstruct"}
    cmr = {m["name"]: m for m in measurements.values() if m["source"]["tool"] == "cmr_analyze"}
    # reconstruction quality, traced to the k-space file
    assert {"acceleration", "psnr", "ssim", "nmse"} <= set(recon), sorted(recon)
    assert recon["acceleration"]["value"] == pytest.approx(2.91, abs=0.01)  # 96 columns: 24 equispaced + 12 ACS − overlap
    assert recon["psnr"]["unit"] == "dB" and recon["psnr"]["value"] > 20
    assert 0 < recon["ssim"]["value"] <= 1 and 0 < recon["nmse"]["value"] < 0.1
    for m in recon.values():
        assert m["evidence"]["file"] == "cine_fastmri.h5" and m["method"] and m["source"]["version"]
    # the LVEF check ran through the CMR expert on reconstruction and reference
    assert "lvef_abs_diff" in recon and recon["lvef_abs_diff"]["unit"] == "%"
    assert 0 < recon["lvef_reference"]["value"] < 100
    # derived CMR study: volumes/EF from the reconstructed NIfTI, traced to it
    assert {"lv_edv", "lv_esv", "lvef"} <= set(cmr), sorted(cmr)
    for m in cmr.values():
        assert m["evidence"]["file"].startswith("cine_fastmri_recon_") and m["evidence"]["file"].endswith(".nii.gz")
        assert m["id"].startswith(recon["acceleration"]["id"].split(".")[0] + "-recon.")
    ef = cmr["lvef"]["value"]
    assert abs(ef - recon["lvef_reference"]["value"]) == pytest.approx(recon["lvef_abs_diff"]["value"], abs=0.11)
    assert "recon_reconstruct" in text and "cmr_analyze" in text
    assert (out / "report.md").read_text().count("kspace-1") >= 1
