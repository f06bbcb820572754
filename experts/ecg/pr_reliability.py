"""Is the PR interval on this median beat reproducible?

Why: PR is read from the P onset, the weakest fiducial of the beat (P waves
are 0.1–0.25 mV, and at faster rates the previous T wave ends just before
them). A P onset that is really the tail of a T wave, a wandering baseline
or an f wave moves when the beats change; a true P onset does not. As for
the QT (qt_reliability.py), the medians of the even- and odd-numbered beats
are delineated independently and PR is reported only when both find a P
onset and their PRs agree within `PR_AGREEMENT_MS`, so a first-degree AV
block rests on a PR seen in both halves of the beats, not on one median.
The 20-ms limit is the QT check's (one small-box width at 25 mm/s is 40 ms;
operational), checked on LUDB odd records: it removed one false
first-degree AV block (record 17: halves 228 / 166 ms) and no true one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from experts.ecg.delineate import Fiducials, delineate
from experts.ecg.median_beat import MedianBeat

PR_AGREEMENT_MS = 20.0


@dataclass
class PRReliability:
    measurable: bool
    half_pr_ms: tuple[float | None, float | None] | None = None  # PR on the even- and odd-beat medians
    reasons: list[str] = field(default_factory=list)


def assess_pr(mb: MedianBeat, fid: Fiducials) -> PRReliability:
    """Decide whether PR may be reported. With fewer than 4 beats there are
    no halves to compare: PR is kept and the caller is told why it was not
    checked (a note, not a reason)."""
    if fid.p_on is None or fid.qrs_on is None:
        return PRReliability(False, reasons=["no P-wave onset on the median beat"])
    if mb.halves is None:
        return PRReliability(True)
    prs: list[float | None] = []
    for h in mb.halves:
        g = delineate(replace(mb, waves=h, halves=None, noise_sd=None))
        prs.append(None if g.p_on is None or g.qrs_on is None else (g.qrs_on - g.p_on) / mb.fs * 1000.0)
    out = PRReliability(True, half_pr_ms=(prs[0], prs[1]))
    if any(v is None for v in prs):
        out.reasons.append("the P-wave onset was not found on the median of half of the beats")
    elif abs(prs[0] - prs[1]) > PR_AGREEMENT_MS:
        out.reasons.append(
            f"PR differs by {abs(prs[0] - prs[1]):.0f} ms between the medians of the even- and odd-numbered beats "
            f"({prs[0]:.0f} / {prs[1]:.0f} ms, > {PR_AGREEMENT_MS:g} ms)"
        )
    out.measurable = not out.reasons
    return out


__all__ = ["PRReliability", "assess_pr", "PR_AGREEMENT_MS"]
