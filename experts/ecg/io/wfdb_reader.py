"""Read a WFDB record (single- or multi-segment, any format wfdb reads).

Why wfdb itself: it is the reference implementation of the format (212,
16+24 MATLAB, multi-segment layouts, per-channel gain and baseline), so
we only add what it lacks: staging files that arrive in different folders,
the CinC-2020 malformed record line, and clear messages for bad files.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from experts.core.errors import InputError
from experts.core.types import StudyInput
from experts.core.wfdb_header import read_wfdb_header_tolerant
from experts.ecg.io.staging import staged_study
from experts.ecg.record import ECGRecord


def _repair_record_line(text: str, stem: str) -> str:
    """Same repair as `read_wfdb_header_tolerant`: 'E00009.mat 12 500 5000
    date time' → 'E00009 12 500 5000'. Applied to the staged copy only."""
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if ln.strip() and not ln.lstrip().startswith("#"):
            parts = ln.split()
            if parts and re.fullmatch(re.escape(stem) + r"\.(mat|dat)", parts[0]):
                parts[0] = stem
                lines[i] = " ".join(parts[:4])
            break
    return "\n".join(lines) + "\n"


def read_wfdb(
    study: StudyInput, max_seconds: float | None = None, range_normalised_uv_per_unit: float | None = 1.0
) -> tuple[ECGRecord, list[str]]:
    """Return the raw record (names as in the header) and its channel units.

    Per-lead gains that are a range normalisation (LUDB) are replaced by one
    common scale (see `gain_repair`)."""
    header_path = study.meta.get("header")
    if not header_path:
        candidates = [f for f in study.files if study.display_name(f).lower().endswith(".hea")]
        if not candidates:
            raise InputError(study.display_names[0] if study.display_names else study.study_id, "WFDB study without a header (.hea) file")
        header_path = candidates[0]
    header_name = Path(study.display_name(str(header_path))).name
    stem = header_name[: -len(".hea")] if header_name.lower().endswith(".hea") else Path(header_name).stem

    import wfdb

    with staged_study(study) as staged:
        hea = staged.get(header_name)
        if hea is None:
            raise InputError(header_name, "header is not among the study's files")
        try:
            header, repaired = read_wfdb_header_tolerant(hea)
        except Exception as exc:  # wfdb raises many types for malformed headers
            raise InputError(header_name, f"corrupt WFDB header ({type(exc).__name__}: {exc})") from exc
        notes: list[str] = []
        if repaired:
            fixed = hea.parent / (stem + ".hea")
            text = Path(hea).read_text(encoding="utf-8", errors="replace")
            fixed.unlink()
            fixed.write_text(_repair_record_line(text, stem))
            notes.append(f"{header_name}: the record line was malformed (file extension in the record name); read after repairing it.")
        fs = float(header.fs or 0)
        if not (fs > 0):
            raise InputError(header_name, "WFDB header has no valid sampling frequency")
        sig_len = int(header.sig_len or 0)
        if sig_len == 0 and int(header.n_sig or 0) > 0 and not getattr(header, "seg_name", None):
            raise InputError(header_name, "WFDB header declares zero samples (empty record)")
        sampto = None
        if max_seconds is not None and sig_len > 0 and sig_len / fs > max_seconds:
            sampto = int(max_seconds * fs)
            notes.append(
                f"The record lasts {sig_len / fs / 60:.1f} min; only the first {max_seconds / 60:.0f} min were analysed (option max_minutes)."
            )
        try:
            rec = wfdb.rdrecord(str(hea.parent / stem), physical=True, m2s=True, sampto=sampto)
        except FileNotFoundError as exc:
            missing = Path(str(exc.filename or exc)).name
            raise InputError(header_name, f"signal file {missing} is missing") from exc
        except Exception as exc:
            from experts.core.wfdb_size import wfdb_expected_sizes, wfdb_signal_problem

            for fname, need, why in wfdb_expected_sizes(header, header_name):
                cut = wfdb_signal_problem(hea.parent / fname, need, why) if (hea.parent / fname).is_file() else None
                if cut:
                    raise InputError(fname, cut) from exc
            raise InputError(header_name, f"cannot read the signal ({type(exc).__name__}: {exc})") from exc

    if rec.p_signal is None or rec.p_signal.size == 0:
        raise InputError(header_name, "the record holds no samples")
    signal_files = set(rec.file_name or []) if hasattr(rec, "file_name") else set()
    annotations = sorted(
        n for n in staged if n != header_name and n not in signal_files and not n.endswith(".hea") and n.startswith(stem + ".")
    )
    signals = np.asarray(rec.p_signal, dtype=np.float64).T
    scale_known = True
    gains, baselines = getattr(rec, "adc_gain", None), getattr(rec, "baseline", None)
    if gains and baselines and len(gains) == signals.shape[0]:
        from experts.ecg.io.gain_repair import repair_range_normalised_gains
        from experts.ecg.leads import normalise_lead_name

        std = [normalise_lead_name(str(n)) for n in (rec.sig_name or [])]
        repair = repair_range_normalised_gains(signals, std, list(gains), list(baselines), range_normalised_uv_per_unit)
        if repair is not None:
            signals, scale_known = repair.signals, repair.absolute_scale_known
            notes.append(f"{header_name}: {repair.note}")
    return ECGRecord(
        signals=signals,
        lead_names=[str(s) for s in (rec.sig_name or [])],
        fs=fs,
        source_file=header_name,
        files=list(staged),
        original_names=[str(s) for s in (rec.sig_name or [])],
        notes=notes,
        header_comments=[str(c) for c in (rec.comments or [])],
        reference_annotations=annotations,
        format="wfdb",
        amplitude_scale_known=scale_known,
    ), [str(u) for u in (rec.units or ["mV"] * len(rec.sig_name or []))]
