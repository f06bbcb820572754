"""Readers: WFDB, DICOM waveform and CSV, each returning an `ECGRecord`."""

from experts.ecg.io.load import load_study

__all__ = ["load_study"]
