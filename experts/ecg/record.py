"""The one typed ECG record every reader produces and every analysis step reads.

Why one type: WFDB, DICOM and CSV disagree on lead names, units and layout.
Normalising once (standard lead names, millivolts, Hz) lets quality, beat
detection, delineation, rules and plots ignore where the signal came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STANDARD_12 = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
LIMB_LEADS = STANDARD_12[:6]
PRECORDIAL_LEADS = STANDARD_12[6:]


@dataclass
class ECGRecord:
    """Leads × samples in millivolts.

    `lead_names` are normalised (I, II, III, aVR, aVL, aVF, V1–V6, or the
    original name when it maps to no standard lead, e.g. 'MLII' or 'ECG 1').
    `source_file` is the user-facing name of the file holding the signal (the
    WFDB header, the DICOM or the CSV); evidence points at it.
    """

    signals: np.ndarray  # shape (n_leads, n_samples), float64, mV
    lead_names: list[str]
    fs: float
    source_file: str
    files: list[str] = field(default_factory=list)
    original_names: list[str] = field(default_factory=list)
    derived_leads: list[str] = field(default_factory=list)
    dropped_channels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    header_comments: list[str] = field(default_factory=list)
    reference_annotations: list[str] = field(default_factory=list)
    format: str = "wfdb"
    amplitude_scale_known: bool = True  # False when the file's gains were unusable and only the relative scale was restored

    def __post_init__(self) -> None:
        self.signals = np.asarray(self.signals, dtype=np.float64)
        if self.signals.ndim != 2 or self.signals.shape[0] != len(self.lead_names):
            raise ValueError("signals must be (n_leads, n_samples) matching lead_names")
        if not self.original_names:
            self.original_names = list(self.lead_names)

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def has(self, lead: str) -> bool:
        return lead in self.lead_names

    def lead(self, name: str) -> np.ndarray:
        return self.signals[self.lead_names.index(name)]

    def standard_leads(self) -> list[str]:
        """Standard 12-lead names present, in the conventional order."""
        return [n for n in STANDARD_12 if n in self.lead_names]

    def is_twelve_lead(self) -> bool:
        return len(self.standard_leads()) == 12

    def subset(self, names: list[str]) -> "ECGRecord":
        idx = [self.lead_names.index(n) for n in names]
        return ECGRecord(
            signals=self.signals[idx],
            lead_names=list(names),
            fs=self.fs,
            source_file=self.source_file,
            files=list(self.files),
            original_names=[self.original_names[i] for i in idx],
            derived_leads=[d for d in self.derived_leads if d in names],
            dropped_channels=list(self.dropped_channels),
            notes=list(self.notes),
            header_comments=list(self.header_comments),
            reference_annotations=list(self.reference_annotations),
            format=self.format,
            amplitude_scale_known=self.amplitude_scale_known,
        )
