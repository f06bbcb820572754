"""Zero-filled root-sum-of-squares: inverse FFT of the measured samples per
coil, coils combined by RSS. The baseline every other method must beat."""

from __future__ import annotations

from experts.recon.kspace import KSpaceStudy
from experts.recon.methods.common import ReconOutput, ReconParams, zero_filled_rss


def run(study: KSpaceStudy, params: ReconParams) -> ReconOutput:
    return ReconOutput(
        images=zero_filled_rss(study.kspace),
        method="zero_filled",
        description="zero-filled inverse FFT, root-sum-of-squares coil combination",
    )
