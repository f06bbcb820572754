"""Number-free captions for the clip preview.

Why: the preview exists so a clinician can *see* a clip the tool rated
limited or unusable and judge the rating. Its caption must say why, but it
must not carry numbers: a figure caption travels alone (thumbnails, the
UI's gallery), detached from the Measurement records that give every
number its unit, method and evidence, and a non-diagnostic study has no
measurements at all. The full reasons, with their numbers, stay in
`ExpertResult.quality.reasons`. So each quality reason is mapped to a short
headline: known rules by their wording, anything else by its first clause
with parentheses and numbers dropped.
"""

from __future__ import annotations

import re

VERDICT_LABEL = {"usable": "usable", "limited": "limited quality", "non_diagnostic": "non-diagnostic"}

# (pattern in the quality reason, number-free headline). Order matters: the
# first match wins, so specific rules come before general ones.
_HEADLINES: list[tuple[str, str]] = [
    (r"^only \d+ frames", "too few frames to capture a heart cycle"),
    (r"colour Doppler clip", "colour Doppler clip: flow colour hides the blood-tissue border"),
    (r"damaged or truncated", "file damaged or truncated: only the decodable frames were analysed"),
    (r"cavity on the image is nearly round", "non-apical view: the cavity on the image is nearly round (short-axis or other view)"),
    (r"runs .* off the ultrasound beam", "non-apical view: the cavity's long axis runs across the ultrasound beam"),
    (r"segmented cavity is nearly round", "the traced cavity is nearly round: the clip may not be an apical view"),
    (r"long axis is tilted", "the traced long axis is tilted from the sector axis: the clip may not be an apical view"),
    (r"does not follow a consistent cardiac cycle", "the traced area does not follow a consistent cardiac cycle"),
    (r"no complete cardiac cycle", "no complete cardiac cycle (end-diastole then end-systole) in the traced area"),
    (r"candidate beat\(s\) discarded", "some candidate beats were discarded as not heartbeats"),
    (r"LV cavity was not found|no LV cavity was found", "the LV cavity was not found in the clip"),
    (r"mask is unstable", "the LV trace is unstable from frame to frame"),
    (r"area curve is jittery", "the LV area curve is jittery"),
    (r"breaks into several pieces", "the LV trace breaks into several pieces"),
    (r"narrows at the base and widens again", "the trace runs on into the atrium"),
    (r"edge of the scan sector", "the LV reaches the edge of the scan sector"),
    (r"unsure of the LV border", "the segmentation is unsure of the LV border"),
    (r"EF differs widely between beats", "beats disagree: the LV border is not traced consistently"),
]

_DIGITS = re.compile(r"\d")


def reason_headline(reason: str) -> str:
    """A quality reason without numbers (see module docstring)."""
    for pattern, headline in _HEADLINES:
        if re.search(pattern, reason):
            return headline
    first = re.split(r"[:;]", reason, maxsplit=1)[0]
    first = re.sub(r"\([^)]*\)", "", first)
    first = " ".join(first.split()).strip(" ,.-")
    if first and not _DIGITS.search(first):
        return first
    return "see the quality reasons in the report"


def preview_caption(verdict: str, reasons: list[str]) -> str:
    """'Rated non-diagnostic: headline; headline' - never a digit."""
    label = VERDICT_LABEL.get(verdict, verdict.replace("_", "-"))
    heads: list[str] = []
    for r in reasons:
        h = reason_headline(r)
        if h not in heads:
            heads.append(h)
    if not heads:
        return f"Rated {label}: no quality rule fired"
    return f"Rated {label}: " + "; ".join(heads)
