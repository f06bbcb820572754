"""Read a DICOM cine series into a `CineStack`, checking its geometry.

Why geometry from ImagePositionPatient: SliceLocation is optional, vendor-
defined and sometimes wrong (the Sunnybrook series step it by 6.7 mm while
the slices are 10 mm apart), and SliceThickness ignores gaps. The position
of each slice along the normal of ImageOrientationPatient is the only
quantity that is right by definition, so slices are grouped and spaced by it
and phases are ordered by TriggerTime. Every irregularity becomes a
`StackProblem` (volumes withheld or caveated) or a note, never a silent
choice.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from experts.cmr.cine import CineStack, StackProblem
from experts.core.errors import InputError

MAX_MATRIX = 1024
MAX_IMAGES = 20000
POSITION_TOLERANCE_MM = 0.5
SPACING_TOLERANCE = 0.15  # relative deviation from the median slice spacing

_LONG_AXIS_WORDS = re.compile(r"(\b[234]\s*-?\s*ch|\blax\b|long[\s_-]*axis|lvot|\bvla\b|\bhla\b)", re.IGNORECASE)
_SHORT_AXIS_WORDS = re.compile(r"(\bsax\b|\bsa\b|short[\s_-]*axis|sa[\s_-]*stack|\bsa_)", re.IGNORECASE)


@dataclass
class _Frame:
    path: str
    name: str
    frame: int | None  # index inside a multi-frame file
    ipp: np.ndarray
    iop: np.ndarray
    spacing: tuple[float, float]
    rows: int
    cols: int
    trigger: float | None
    instance: int
    series_uid: str
    series_number: int
    slice_location: float | None
    thickness: float | None
    heart_rate: float | None
    nominal_interval: float | None
    description: str
    sex: str | None

    @property
    def normal(self) -> np.ndarray:
        n = np.cross(self.iop[:3], self.iop[3:])
        return n / (np.linalg.norm(n) or 1.0)


def _num(value, default=None):
    try:
        if value is None or value == "":
            return default
        return float(value)
    except (TypeError, ValueError):
        return default


def _frames_from_dataset(ds, path: str, name: str) -> list[_Frame]:
    """One `_Frame` per image: one for classic MR, one per frame for
    Enhanced MR (per-frame functional groups)."""
    common = dict(
        path=path,
        name=name,
        rows=int(ds.get("Rows", 0) or 0),
        cols=int(ds.get("Columns", 0) or 0),
        instance=int(_num(ds.get("InstanceNumber"), 0) or 0),
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        series_number=int(_num(ds.get("SeriesNumber"), 0) or 0),
        heart_rate=_num(ds.get("HeartRate")),
        nominal_interval=_num(ds.get("NominalInterval")),
        description=str(ds.get("SeriesDescription", "") or ""),
        sex={"F": "female", "M": "male"}.get(str(ds.get("PatientSex", "")).upper()),
    )
    n_frames = int(_num(ds.get("NumberOfFrames"), 1) or 1)
    if n_frames > 1 and "PerFrameFunctionalGroupsSequence" in ds:
        shared = ds.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in ds else None
        out = []
        for i, fg in enumerate(ds.PerFrameFunctionalGroupsSequence):

            def item(seq: str):
                for group in (fg, shared):
                    if group is not None and seq in group and len(group[seq].value):
                        return group[seq][0]
                return None

            pos, ori, meas, sync = (
                item("PlanePositionSequence"),
                item("PlaneOrientationSequence"),
                item("PixelMeasuresSequence"),
                item("CardiacSynchronizationSequence"),
            )
            if pos is None or ori is None or meas is None or "PixelSpacing" not in meas:
                continue
            out.append(
                _Frame(
                    frame=i,
                    ipp=np.asarray(pos.ImagePositionPatient, float),
                    iop=np.asarray(ori.ImageOrientationPatient, float),
                    spacing=(float(meas.PixelSpacing[0]), float(meas.PixelSpacing[1])),
                    trigger=_num(sync.get("NominalCardiacTriggerDelayTime")) if sync is not None else None,
                    slice_location=None,
                    thickness=_num(meas.get("SliceThickness")),
                    **common,
                )
            )
        return out
    if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds or "PixelSpacing" not in ds:
        return []
    return [
        _Frame(
            frame=None,
            ipp=np.asarray(ds.ImagePositionPatient, float),
            iop=np.asarray(ds.ImageOrientationPatient, float),
            spacing=(float(ds.PixelSpacing[0]), float(ds.PixelSpacing[1])),
            trigger=_num(ds.get("TriggerTime")),
            slice_location=_num(ds.get("SliceLocation")),
            thickness=_num(ds.get("SliceThickness")),
            **common,
        )
    ]


def _read_headers(files: list[str], names: list[str]) -> tuple[list[_Frame], list[str]]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    frames: list[_Frame] = []
    skipped: list[str] = []
    for path, name in zip(files, names):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as exc:
            skipped.append(f"{name}: unreadable DICOM ({exc})")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            modality = str(ds.get("Modality", "")).upper()
        if modality and modality != "MR":
            skipped.append(f"{name}: DICOM modality {modality}, not MR")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # vendors' off-spec UIDs are decoded lazily, here
                found = _frames_from_dataset(ds, path, name)
        except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
            skipped.append(f"{name}: malformed geometry tags ({exc})")
            continue
        if not found:
            skipped.append(f"{name}: no ImagePositionPatient/ImageOrientationPatient/PixelSpacing (cannot place the image in space)")
            continue
        frames.extend(found)
    return frames, skipped


def _geometry_key(f: _Frame) -> tuple:
    return (tuple(np.round(f.iop, 2)), f.rows, f.cols, tuple(round(s, 3) for s in f.spacing))


def _cluster_positions(values: np.ndarray) -> list[np.ndarray]:
    """Indices grouped by slice position (sorted ascending)."""
    order = np.argsort(values, kind="stable")
    groups: list[list[int]] = [[int(order[0])]]
    for a, b in zip(order[:-1], order[1:]):
        if values[b] - values[a] > POSITION_TOLERANCE_MM:
            groups.append([])
        groups[-1].append(int(b))
    return [np.array(g) for g in groups]


def _describe_geometry(key: tuple) -> str:
    iop, rows, cols, spacing = key
    return f"{rows}x{cols} px at {spacing[0]:g}x{spacing[1]:g} mm, orientation {tuple(float(v) for v in iop)}"


def read_dicom_cine(files: list[str], names: list[str] | None = None) -> CineStack:
    """Read one MR cine series (many single-frame files or Enhanced MR).

    Raises `InputError` when nothing usable is there; otherwise returns a
    stack whose `problems` say what limits trust in volumes.
    """
    names = names or [p.rsplit("/", 1)[-1] for p in files]
    first = names[0] if names else "DICOM series"
    if not files:
        raise InputError(first, "no DICOM files given")
    if len(files) > MAX_IMAGES:
        raise InputError(first, f"{len(files)} DICOM files, above the limit of {MAX_IMAGES} images")
    frames, skipped = _read_headers(files, names)
    notes: list[str] = []
    problems: list[StackProblem] = []
    if skipped:
        shown = "; ".join(skipped[:3]) + (f"; and {len(skipped) - 3} more" if len(skipped) > 3 else "")
        notes.append(f"{len(skipped)} file(s) not used: {shown}")
    if not frames:
        raise InputError(first, "no usable MR image in the series" + (f" ({skipped[0]})" if skipped else ""))
    if len(frames) > MAX_IMAGES:
        raise InputError(first, f"{len(frames)} images, above the limit of {MAX_IMAGES}")
    big = [f for f in frames if f.rows > MAX_MATRIX or f.cols > MAX_MATRIX or f.rows < 16 or f.cols < 16]
    if big:
        raise InputError(big[0].name, f"implausible image matrix {big[0].rows}x{big[0].cols} for cine MRI")

    # Mixed series: keep the largest group of images sharing orientation and matrix.
    groups: dict[tuple, list[_Frame]] = defaultdict(list)
    for f in frames:
        groups[_geometry_key(f)].append(f)
    ranked = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    key, frames = ranked[0]
    if len(ranked) > 1:
        others = "; ".join(f"{len(v)} images {_describe_geometry(k)}" for k, v in ranked[1:4])
        notes.append(
            f"mixed series: used the {len(frames)} images sharing {_describe_geometry(key)}; ignored {others}"
        )
        n_orient = len({k[0] for k, _ in ranked})
        if n_orient > 2 and all(len({round(float(f.ipp @ f.normal), 1) for f in v}) == 1 for _, v in ranked):
            problems.append(
                StackProblem(
                    "non_diagnostic",
                    f"{n_orient} differently oriented single-slice images: this looks like a set of long-axis "
                    "views, not a short-axis stack",
                )
            )

    normal = frames[0].normal
    positions = np.array([float(f.ipp @ normal) for f in frames])
    slice_groups = _cluster_positions(positions)

    # Per slice: resolve repeats, then order phases by trigger time.
    slices: list[list[_Frame]] = []
    for idx in slice_groups:
        members = [frames[i] for i in idx]
        by_series: dict[tuple, list[_Frame]] = defaultdict(list)
        for f in members:
            by_series[(f.series_number, f.series_uid)].append(f)
        if len(by_series) > 1:
            keep = max(by_series)
            pos = float(np.mean(positions[idx]))
            notes.append(
                f"slice at {pos:.1f} mm was acquired {len(by_series)} times; used the later series (number {keep[0]})"
            )
            members = by_series[keep]
        have_trigger = all(f.trigger is not None for f in members)
        if have_trigger:
            members.sort(key=lambda f: (f.trigger, f.instance))
            trig = np.array([f.trigger for f in members])
            if len(trig) > 1 and np.any(np.diff(trig) < 1e-3):
                pos = float(np.mean([f.ipp @ normal for f in members]))
                dup = int(np.sum(np.diff(trig) < 1e-3))
                problems.append(
                    StackProblem(
                        "non_diagnostic",
                        f"mis-sorted or duplicated images: {dup} image(s) at slice position {pos:.1f} mm share a "
                        "TriggerTime with another image of the same series, so the cardiac phases cannot be ordered",
                    )
                )
        else:
            members.sort(key=lambda f: f.instance)
            if len(members) > 1 and len({f.instance for f in members}) < len(members):
                problems.append(
                    StackProblem(
                        "non_diagnostic",
                        "images have neither TriggerTime nor unique InstanceNumbers: cardiac phases cannot be ordered",
                    )
                )
        slices.append(members)
    if not all(f.trigger is not None for s in slices for f in s) and max(len(s) for s in slices) > 1:
        notes.append("TriggerTime missing: phases ordered by InstanceNumber")

    # Phases per slice must agree; incomplete slices are dropped (treated as missing).
    counts = Counter(len(s) for s in slices)
    n_phases = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    kept: list[list[_Frame]] = []
    for s in slices:
        pos = float(np.mean([f.ipp @ normal for f in s]))
        if len(s) == n_phases:
            kept.append(s)
        elif len(s) > n_phases:
            notes.append(f"slice at {pos:.1f} mm has {len(s)} phases; used the first {n_phases} by trigger time")
            kept.append(s[:n_phases])
        else:
            problems.append(
                StackProblem("limited", f"slice at {pos:.1f} mm has only {len(s)} of {n_phases} phases and was left out")
            )
    slices = kept
    z = np.array([float(np.mean([f.ipp @ normal for f in s])) for s in slices])

    missing: list[float] = []
    if len(z) >= 2:
        d = np.diff(z)
        spacing = float(np.median(d))
        for i, step in enumerate(d):
            if abs(step - spacing) <= max(SPACING_TOLERANCE * spacing, 0.5):
                continue
            ratio = step / spacing
            if abs(ratio - round(ratio)) <= SPACING_TOLERANCE and round(ratio) >= 2:
                n_miss = int(round(ratio)) - 1
                gap_positions = [float(z[i] + spacing * (k + 1)) for k in range(n_miss)]
                missing.extend(gap_positions)
            else:
                problems.append(
                    StackProblem(
                        "non_diagnostic",
                        f"inconsistent slice spacing: {step:.1f} mm between slices at {z[i]:.1f} and {z[i + 1]:.1f} mm "
                        f"against a median of {spacing:.1f} mm (from ImagePositionPatient)",
                    )
                )
        if missing:
            sev = "limited" if len(missing) <= 2 else "non_diagnostic"
            problems.append(
                StackProblem(
                    sev,
                    f"{len(missing)} missing slice(s) at {', '.join(f'{p:.1f}' for p in missing)} mm: "
                    + ("volumes bridge the gap by disc summation with the neighbours' spacing" if sev == "limited"
                       else "too many gaps to trust volumes"),
                )
            )
        loc = [np.mean([f.slice_location for f in s]) if all(f.slice_location is not None for f in s) else None for s in slices]
        if all(v is not None for v in loc):
            loc_step = float(np.median(np.abs(np.diff(np.array(loc, float)))))
            if abs(loc_step - spacing) > max(0.1 * spacing, 0.5):
                notes.append(
                    f"SliceLocation steps by {loc_step:.1f} mm but slices are {spacing:.1f} mm apart along the "
                    "slice normal (ImagePositionPatient); spacing taken from ImagePositionPatient"
                )
        thickness = slices[0][0].thickness
        if thickness and spacing < 0.5 * thickness:
            notes.append(f"slices overlap: spacing {spacing:.1f} mm, thickness {thickness:.1f} mm")

    # Pixel data.
    images = _read_pixels(slices, n_phases)

    trig = None
    if all(f.trigger is not None for s in slices for f in s):
        trig = np.array([[f.trigger for f in s] for s in slices], float).mean(axis=0)
    hr_values = [f.heart_rate for s in slices for f in s if f.heart_rate]
    hr = float(np.median(hr_values)) if hr_values else None
    if hr is None:
        nominal = [f.nominal_interval for s in slices for f in s if f.nominal_interval]
        if nominal:
            hr = 60000.0 / float(np.median(nominal))
    if hr_values and (max(hr_values) - min(hr_values)) > 15:
        notes.append(f"heart rate varied between slices ({min(hr_values):.0f}-{max(hr_values):.0f} /min)")

    f0 = slices[0][0]
    affine = _affine_ras(f0, slices)
    desc = f0.description
    if _LONG_AXIS_WORDS.search(desc) and not _SHORT_AXIS_WORDS.search(desc) and len(slices) <= 3:
        problems.append(
            StackProblem("non_diagnostic", f"series '{desc}' is a long-axis view, not a short-axis stack")
        )
    return CineStack(
        images=images,
        pixel_spacing_mm=(float(f0.spacing[0]), float(f0.spacing[1])),
        slice_positions_mm=z - z[0] if len(z) else z,
        affine_ras=affine,
        source_format="dicom",
        files=sorted({f.name for s in slices for f in s}),
        slice_thickness_mm=f0.thickness,
        trigger_times_ms=trig,
        heart_rate_bpm=hr,
        problems=problems,
        notes=notes,
        dicom_frames=[[(slices[k][t].path, slices[k][t].frame) for k in range(len(slices))] for t in range(n_phases)],
        series_description=desc,
        patient_sex=f0.sex,
        missing_slice_positions_mm=[p - float(z[0]) for p in missing],
    )


def _read_pixels(slices: list[list[_Frame]], n_phases: int) -> np.ndarray:
    import pydicom
    from pydicom.pixels import apply_modality_lut

    f0 = slices[0][0]
    out = np.zeros((n_phases, len(slices), f0.rows, f0.cols), dtype=np.float32)
    multi: dict[str, np.ndarray] = {}  # the one multi-frame file currently decoded

    def load(path: str, single: bool) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
            arr = ds.pixel_array
            if single and ("RescaleSlope" in ds or "RescaleIntercept" in ds):
                arr = apply_modality_lut(arr, ds)
        return np.asarray(arr)

    for k, s in enumerate(slices):
        for t, f in enumerate(s):
            try:
                if f.frame is None:
                    arr = load(f.path, single=True)
                else:
                    if f.path not in multi:
                        multi = {f.path: load(f.path, single=False)}
                    arr = multi[f.path][f.frame]
                img = np.asarray(arr, dtype=np.float32)
            except Exception as exc:  # pixel decoders raise many types for truncated data
                raise InputError(f.name, f"pixel data cannot be decoded ({type(exc).__name__}: {exc})") from exc
            if img.shape != (f.rows, f.cols):
                raise InputError(f.name, f"pixel data shape {img.shape} does not match Rows/Columns {f.rows}x{f.cols}")
            if not np.all(np.isfinite(img)):
                raise InputError(f.name, "pixel data contain NaN or infinite values")
            out[t, k] = img
    return out


def _affine_ras(f0: _Frame, slices: list[list[_Frame]]) -> np.ndarray:
    """Voxel (column, row, slice) -> RAS mm, the NIfTI convention."""
    row_dir, col_dir = f0.iop[:3], f0.iop[3:]
    lps = np.eye(4)
    lps[:3, 0] = row_dir * f0.spacing[1]
    lps[:3, 1] = col_dir * f0.spacing[0]
    if len(slices) > 1:
        lps[:3, 2] = (slices[-1][0].ipp - slices[0][0].ipp) / (len(slices) - 1)
    else:
        lps[:3, 2] = f0.normal * (f0.thickness or 1.0)
    lps[:3, 3] = slices[0][0].ipp
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
