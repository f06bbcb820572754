"""Read NIfTI cine studies into a `CineStack`.

Accepted layouts (one study = the NIfTI files of one folder):
- one 4-D image (x, y, z, t) -- the ACDC `patientNNN_4d.nii.gz` convention and
  what the reconstruction expert writes; a 5-D (x, y, z, 1, t) is squeezed;
- several 3-D images (x, y, z) of the same grid, one per phase, ordered by
  the number in `frameNN` (ACDC) or else by name;
- label files (name contains `_gt`, `seg`, `label` or `mask`, integer values
  0-3) matching a phase file or the 4-D grid: used as reference labels and,
  in ACDC, to tell ED from ES.
Spacing comes from the affine's column norms (millimetres; the header's
xyzt units are honoured for metres/micrometres), never from guesses. Rows
of the stack are NIfTI y, columns x, slices z. A single 3-D file with one
phase gives a one-phase stack; the tool then reports why no EF is possible.
Optional meta keys (never required): `phases_axis` (2 for a single-slice
(x, y, t) file), `ed_phase`/`es_phase` (0-based).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from experts.cmr.cine import CineStack, StackProblem
from experts.cmr.labels import to_canonical
from experts.core.errors import InputError

_LABEL_WORDS = re.compile(r"(_gt\b|_gt\.|seg|label|mask)", re.IGNORECASE)
_FRAME = re.compile(r"frame[_-]?(\d+)", re.IGNORECASE)
MAX_VOXELS = 512 * 512 * 64 * 64


def _spatial_scale(img) -> float:
    """Multiplier that turns the affine's units into millimetres."""
    units = img.header.get_xyzt_units()[0] if hasattr(img.header, "get_xyzt_units") else "unknown"
    return {"meter": 1000.0, "micron": 0.001}.get(units, 1.0)


def _time_step_ms(img) -> float | None:
    hdr = img.header
    if len(img.shape) < 4:
        return None
    try:
        units = hdr.get_xyzt_units()[1]
        dt = float(hdr.get_zooms()[3])
    except (IndexError, ValueError, TypeError):
        return None
    if not np.isfinite(dt) or dt <= 0:
        return None
    return {"sec": dt * 1000.0, "msec": dt, "usec": dt / 1000.0}.get(units)


def _is_label_name(name: str) -> bool:
    return bool(_LABEL_WORDS.search(Path(name).name.split(".nii")[0] + "."))


def read_nifti_cine(
    files: list[str],
    names: list[str] | None = None,
    meta: dict | None = None,
    label_convention: str = "acdc",
) -> CineStack:
    import nibabel as nib

    names = names or [Path(f).name for f in files]
    meta = meta or {}
    if not files:
        raise InputError("NIfTI study", "no NIfTI files given")
    loaded = []
    for path, name in zip(files, names):
        try:
            img = nib.load(path)
            shape = tuple(int(s) for s in img.shape)
        except Exception as exc:  # nibabel raises many types for broken headers
            raise InputError(name, f"cannot read NIfTI ({exc})") from exc
        if int(np.prod(shape)) > MAX_VOXELS:
            raise InputError(name, f"NIfTI of shape {shape} is too large for a cine stack")
        loaded.append((path, name, img, shape))

    labels_f = [x for x in loaded if _is_label_name(x[1])]
    images_f = [x for x in loaded if not _is_label_name(x[1])]
    if not images_f:
        raise InputError(names[0], "only label files (names with _gt/seg/label/mask) and no image in the NIfTI study")
    notes: list[str] = []
    problems: list[StackProblem] = []

    four_d = [x for x in images_f if len([s for s in x[3] if s > 1]) == 4 or (len(x[3]) >= 4 and x[3][3] > 1)]
    frame_numbers: dict[str, int] = {}
    if four_d:
        path, name, img, shape = max(four_d, key=lambda x: int(np.prod(x[3])))
        data = _read(img, name)
        if data.ndim == 5:
            data = data.reshape(data.shape[:3] + (-1,))
        if data.ndim != 4:
            raise InputError(name, f"unsupported NIfTI shape {data.shape}; expected (x, y, z, t)")
        affine = img.affine.copy()
        used = [name]
        dt = _time_step_ms(img)
        others = [x for x in images_f if x[1] != name]
        for _, oname, _, _ in others:
            m = _FRAME.search(oname)
            if m:
                frame_numbers[oname] = int(m.group(1))
        if others:
            notes.append(f"used {name} as the cine; {len(others)} other image file(s) of the folder serve as phase markers only")
        vol4 = data  # (x, y, z, t)
    else:
        ordered = sorted(images_f, key=lambda x: (int(_FRAME.search(x[1]).group(1)) if _FRAME.search(x[1]) else 10**9, x[1]))
        ref_shape = ordered[0][3]
        mismatched = [x[1] for x in ordered if x[3] != ref_shape]
        if mismatched:
            raise InputError(mismatched[0], f"shape {dict((x[1], x[3]) for x in ordered)[mismatched[0]]} differs from {ordered[0][1]} {ref_shape}: the files are not phases of one stack")
        vols = [_read(x[2], x[1]) for x in ordered]
        vols = [v[..., None] if v.ndim == 2 else v for v in vols]
        vols = [v.reshape(v.shape[:3]) if v.ndim > 3 and int(np.prod(v.shape[3:])) == 1 else v for v in vols]
        if any(v.ndim != 3 for v in vols):
            raise InputError(ordered[0][1], f"unsupported NIfTI shape {vols[0].shape}")
        affine = ordered[0][2].affine.copy()
        if len(vols) == 1 and meta.get("phases_axis") == 2:
            vol4 = vols[0][:, :, None, :]  # (x, y, t) single slice cine
            notes.append("single-slice cine: third axis read as time (meta phases_axis=2)")
        else:
            vol4 = np.stack(vols, axis=-1)
        used = [x[1] for x in ordered]
        dt = None
        for i, x in enumerate(ordered):
            m = _FRAME.search(x[1])
            if m:
                frame_numbers[x[1]] = i + 1  # 1-based index into this stack
    scale = _spatial_scale(ordered[0][2] if not four_d else img)
    col_mm = float(np.linalg.norm(affine[:3, 0])) * scale
    row_mm = float(np.linalg.norm(affine[:3, 1])) * scale
    slice_mm = float(np.linalg.norm(affine[:3, 2])) * scale
    for what, v in (("column", col_mm), ("row", row_mm)):
        if not (0.1 <= v <= 10):
            raise InputError(used[0], f"implausible {what} pixel spacing {v:g} mm in the NIfTI affine")
    if vol4.shape[2] > 1 and not (0.5 <= slice_mm <= 40):
        raise InputError(used[0], f"implausible slice spacing {slice_mm:g} mm in the NIfTI affine")
    if scale != 1.0:
        affine[:3, :3] *= scale
        affine[:3, 3] *= scale
    images = np.ascontiguousarray(vol4.transpose(3, 2, 1, 0), dtype=np.float32)  # (t, z, y, x)
    T, Z = images.shape[:2]
    zooms = None
    try:
        zooms = [float(z) for z in (img if four_d else ordered[0][2]).header.get_zooms()[:3]]
    except Exception:
        pass
    if zooms and any(abs(a - b) > 0.01 * max(a, b, 1e-6) for a, b in zip(zooms, (col_mm / scale, row_mm / scale, slice_mm / scale))):
        notes.append(f"header zooms {zooms} differ from the affine; spacing taken from the affine")

    stack = CineStack(
        images=images,
        pixel_spacing_mm=(row_mm, col_mm),
        slice_positions_mm=np.arange(Z) * slice_mm,
        affine_ras=affine,
        source_format="nifti",
        files=used,
        slice_thickness_mm=slice_mm if Z > 1 else None,
        trigger_times_ms=(np.arange(T) * dt) if dt else None,
        heart_rate_bpm=(60000.0 / (dt * T)) if dt and T > 1 else None,
        problems=problems,
        notes=notes,
    )
    for key in ("ed_phase", "es_phase"):
        v = meta.get(key)
        if isinstance(v, (int, float)) and 0 <= int(v) < T:
            setattr(stack, key.replace("phase", "phase_hint"), int(v))
    _attach_labels(stack, labels_f, frame_numbers, label_convention, four_d=bool(four_d))
    return stack


def _read(img, name: str) -> np.ndarray:
    try:
        data = np.asarray(img.get_fdata(dtype=np.float32))
    except Exception as exc:
        raise InputError(name, f"NIfTI data cannot be read (truncated or corrupt: {exc})") from exc
    if not np.all(np.isfinite(data)):
        raise InputError(name, "NIfTI data contain NaN or infinite values")
    return data


def _attach_labels(stack: CineStack, labels_f, frame_numbers: dict[str, int], convention: str, four_d: bool) -> None:
    """Reference labels of ACDC `_gt` files, and ED/ES from them."""
    T, Z, H, W = stack.images.shape
    for path, name, img, shape in labels_f:
        data = np.asarray(img.dataobj)
        if data.ndim == 4 and data.shape[3] == 1:
            data = data[..., 0]
        if data.ndim != 3 or data.shape != (W, H, Z):
            stack.notes.append(f"label file {name} of shape {data.shape} does not match the image grid {(W, H, Z)}; ignored")
            continue
        m = _FRAME.search(name)
        if not m:
            stack.notes.append(f"label file {name} names no frame (frameNN); ignored")
            continue
        phase = int(m.group(1)) - 1 if four_d else frame_numbers.get(_image_name_for(name), 0) - 1
        if not (0 <= phase < T):
            stack.notes.append(f"label file {name} points at frame {m.group(1)}, outside the {T} phases; ignored")
            continue
        try:
            canon = to_canonical(np.rint(data).astype(np.int64), convention)
        except ValueError as exc:
            stack.notes.append(f"label file {name}: {exc}; ignored")
            continue
        stack.reference_labels[phase] = np.ascontiguousarray(canon.transpose(2, 1, 0))
    if len(stack.reference_labels) == 2:
        a, b = sorted(stack.reference_labels)
        va = int((stack.reference_labels[a] == 1).sum())
        vb = int((stack.reference_labels[b] == 1).sum())
        stack.ed_phase_hint, stack.es_phase_hint = (a, b) if va >= vb else (b, a)
        stack.notes.append(
            f"ED/ES phases {stack.ed_phase_hint + 1}/{stack.es_phase_hint + 1} taken from the supplied label files"
        )


def _image_name_for(label_name: str) -> str:
    return re.sub(r"_gt(?=\.nii)", "", label_name)
