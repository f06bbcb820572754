"""Run the optional ECGFounder classifier and turn its output into
measurements.

Why measurements, not statements: a network's probability is not a
criterion-based diagnosis; it is reported as a number with its model name
and weights hash, and the rule engine's statements stay the diagnosis.
"""

from __future__ import annotations

import re
from functools import lru_cache

from experts.core.errors import ToolUnavailable
from experts.core.types import Evidence, Measurement, Source, StudyInput
from experts.ecg.record import ECGRecord

REPORT_THRESHOLD = 0.5
ALWAYS_TOP = 3


@lru_cache(maxsize=2)
def _load(path: str):
    from experts.ecg.models.ecgfounder import load

    return load(path)


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def classify(record: ECGRecord, study: StudyInput, weights: str, tool: str, version: str) -> tuple[list[Measurement], list[str]]:
    from experts.ecg.models.ecgfounder import predict

    try:
        model = _load(weights)
        probs = predict(model, record)
    except ToolUnavailable as exc:
        return [], [f"Deep classifier (ECGFounder) unavailable: {exc}."]
    source = Source(tool=tool, version=version, model=f"ECGFounder Net1D ({model.in_channels}-lead)", weights_sha256=model.sha256)
    ranked = sorted(probs.items(), key=lambda kv: kv[1], reverse=True)
    keep = [kv for i, kv in enumerate(ranked) if kv[1] >= REPORT_THRESHOLD or i < ALWAYS_TOP]
    leads = ["I"] if model.in_channels == 1 else list(record.standard_leads())
    out = [
        Measurement(
            id=f"{study.study_id}.ecgfounder_{slug(label)}",
            name=f"ecgfounder_{slug(label)}",
            label=f"ECGFounder probability: {label.capitalize()}",
            value=round(100.0 * p, 2),
            unit="%",
            decimals=0,
            method="ECGFounder (Li et al., NEJM AI 2025) sigmoid output on the central 10 s at 500 Hz; research model, not a diagnosis",
            source=source,
            evidence=Evidence(file=record.source_file, leads=leads, location="central 10 s"),
        )
        for label, p in keep
    ]
    return out, [f"ECGFounder ({model.in_channels}-lead) ran with weights sha256 {model.sha256[:12]}…; its probabilities are research output and were not used by the rule engine."]
