"""Read an ECG table: a header row of lead names, one column per lead.

Why strict: a CSV carries no sampling rate and no units, the two numbers
every interval depends on. The rate comes from the caller (or a time
column); units from the header ('II (uV)', 'V1_mV') or mV by default, and
values that cannot be millivolts are refused rather than guessed.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np

from experts.core.errors import InputError
from experts.ecg.record import ECGRecord

_UNIT_IN_NAME = re.compile(r"^(.*?)[\s_]*[\[(]?\s*(mv|uv|µv|μv|v)\s*[\])]?$", re.I)
_TIME_COLUMNS = {"time", "t", "time_s", "time (s)", "seconds", "sec", "s", "time_ms", "time (ms)", "ms", "sample", "samples", "index"}
MAX_PLAUSIBLE_MV = 20.0  # an ECG deflection above 20 mV is not millivolts


def read_csv_ecg(path: str, display_name: str, fs: float | None, max_seconds: float | None = None) -> tuple[ECGRecord, list[str]]:
    try:
        with open(path, "r", encoding="utf-8-sig", errors="strict") as fh:
            head = fh.read(4096)
    except UnicodeDecodeError as exc:
        raise InputError(display_name, "not a text CSV file") from exc
    if not head.strip():
        raise InputError(display_name, "empty CSV file")
    first = head.splitlines()[0]
    try:
        dialect = csv.Sniffer().sniff(first, delimiters=",;\t")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    header = [h.strip().strip('"') for h in next(csv.reader(io.StringIO(first), delimiter=sep))]
    import pandas as pd

    try:
        df = pd.read_csv(path, sep=sep, encoding="utf-8-sig", dtype=np.float64, na_values=["", "nan", "NaN", "NA"])
    except ValueError as exc:
        raise InputError(display_name, f"CSV holds non-numeric values below the header row ({exc})") from exc
    except Exception as exc:
        raise InputError(display_name, f"cannot parse the CSV ({type(exc).__name__}: {exc})") from exc
    if df.shape[0] == 0:
        raise InputError(display_name, "CSV has a header row but no samples")

    notes: list[str] = []
    time_col = next((c for c in header if c.strip().lower() in _TIME_COLUMNS), None)
    if time_col is not None:
        t = df[time_col].to_numpy()
        scale = 1e-3 if "ms" in time_col.lower() else 1.0
        if time_col.lower() in ("sample", "samples", "index"):
            t = None
        if t is not None and t.size > 1:
            dt = float(np.median(np.diff(t))) * scale
            fs_time = 1.0 / dt if dt > 0 else None
            if fs is None and fs_time:
                fs = fs_time
                notes.append(f"{display_name}: sampling rate {fs:g} Hz taken from the '{time_col}' column.")
            elif fs and fs_time and abs(fs_time - fs) / fs > 0.01:
                raise InputError(
                    display_name, f"csv_sampling_rate_hz={fs:g} Hz disagrees with the '{time_col}' column ({fs_time:.4g} Hz)"
                )
        df = df.drop(columns=[time_col])
    if fs is None:
        raise InputError(display_name, "a CSV carries no sampling rate: pass csv_sampling_rate_hz (or add a 'time' column in seconds)")

    names, units = [], []
    for col in df.columns:
        m = _UNIT_IN_NAME.match(str(col).strip())
        if m and m.group(1):
            names.append(m.group(1).strip())
            units.append(m.group(2).replace("μ", "u").replace("µ", "u"))
        else:
            names.append(str(col).strip())
            units.append("mV")
    data = df.to_numpy(dtype=np.float64).T
    for j, (n, u) in enumerate(zip(names, units)):
        if u.lower() == "mv":
            col = data[j][np.isfinite(data[j])]
            if col.size and np.percentile(np.abs(col), 99) > MAX_PLAUSIBLE_MV:
                raise InputError(
                    display_name,
                    f"column {n!r} reaches {np.percentile(np.abs(col), 99):.0f} — not plausible in mV; "
                    "state the unit in the header (e.g. 'II (uV)') if the values are µV or ADC counts",
                )
    if not any(u != "mV" for u in units):
        notes.append(f"{display_name}: no units in the header row; values were read as mV.")
    if max_seconds is not None and data.shape[1] / fs > max_seconds:
        data = data[:, : int(max_seconds * fs)]
        notes.append(f"Only the first {max_seconds / 60:.0f} min of {display_name} were analysed.")
    return (
        ECGRecord(
            signals=data, lead_names=names, fs=float(fs), source_file=display_name, files=[display_name],
            original_names=names, notes=notes, format="csv",
        ),
        units,
    )
