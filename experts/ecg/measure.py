"""Build `Measurement` objects with their provenance, never from NaN.

Why a factory: every measurement needs the same study prefix, source,
file name and LOINC lookup; one place to get them right. A value that is
not finite becomes a warning, never a number.
"""

from __future__ import annotations

import math

from experts.core.types import Evidence, Measurement, QualityVerdict, ReferenceRange, Source
from experts.ecg.codes import loinc


class MeasurementSet:
    def __init__(self, study_id: str, source: Source, file: str, quality: QualityVerdict = "usable"):
        self.study_id = study_id
        self.source = source
        self.file = file
        self.quality = quality
        self.items: dict[str, Measurement] = {}
        self.warnings: list[str] = []

    def add(
        self,
        name: str,
        label: str,
        value: float | None,
        unit: str,
        method: str,
        *,
        leads: list[str] | None = None,
        span_s: tuple[float, float] | None = None,
        location: str | None = None,
        decimals: int = 0,
        reference_range: ReferenceRange | None = None,
    ) -> Measurement | None:
        if value is None or not math.isfinite(float(value)):
            self.warnings.append(f"{label} could not be measured.")
            return None
        value = float(value)
        m = Measurement(
            id=f"{self.study_id}.{name}",
            name=name,
            label=label,
            value=round(value, 6),
            unit=unit,
            decimals=decimals,
            code=loinc(name),
            reference_range=reference_range,
            flag=reference_range.classify(value) if reference_range else None,
            method=method,
            source=self.source,
            evidence=Evidence(
                file=self.file,
                location=location,
                leads=list(leads or []),
                time_span_s=(round(span_s[0], 3), round(span_s[1], 3)) if span_s else None,
            ),
            quality=self.quality,
        )
        self.items[name] = m
        return m

    def value(self, name: str) -> float | None:
        m = self.items.get(name)
        return m.value if m else None
