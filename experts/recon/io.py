"""Readers: fastMRI HDF5, CMRxRecon MATLAB v7.3 and NumPy .npz k-space.

Why content-based and strict: raw data arrive with vendor-specific layouts,
and a silently mis-ordered axis produces a plausible-looking but wrong image.
Each reader maps its format onto `KSpaceStudy`'s canonical layout and raises
`InputError(display_name, problem)` naming the exact problem otherwise.

Layouts
- fastMRI: `kspace` (slices, coils, kx, ky) complex; single-coil files are
  (slices, kx, ky). Optional `mask` (ky,), `reconstruction_rss`
  (slices, h, w), `ismrmrd_header` (XML; field of view and matrix give the
  pixel spacing and the display crop).
- CMRxRecon (MATLAB v7.3 = HDF5 with a 512-byte user block): MATLAB
  (kx, ky, coils, slices, frames) stored as HDF5 (frames, slices, coils, ky,
  kx) with `real`/`imag` compound samples; `kspace_full`, `kspace_sub04`…
  or (2024+) `kspace`/`kus`. Single-coil variants (`kspace_single_*`) lack
  the coil axis. A `mask*` dataset in the same file is used when present.
  The files carry no voxel spacing.
- `.npz` (this project's exchange format): `kspace` complex, 5-D (frames,
  slices, coils, rows, cols), 4-D (frames, coils, rows, cols: one slice) or
  3-D (coils, rows, cols); optional `mask` broadcastable to (frames, slices,
  rows, cols) or a line mask (frames, cols)/(cols,); `reference` magnitude
  (frames, slices, rows, cols); `spacing_mm` (row, col, slice);
  `frame_interval_ms`; `nominal_acceleration`.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from experts.core.errors import InputError
from experts.recon.kspace import KSpaceStudy, infer_mask

MAX_KSPACE_BYTES = int(float(os.environ.get("CARDIO_MAX_KSPACE_MB", "4096")) * 1024 * 1024)
MIN_MATRIX = 8
KSPACE_NAME = re.compile(r"k_?space|^kus$", re.IGNORECASE)


def read_kspace(path: str | Path, fmt: str, display_name: str) -> KSpaceStudy:
    """Read one k-space file. `fmt` is the intake's meta["format"]."""
    p = Path(path)
    if not p.is_file():
        raise InputError(display_name, "file not found")
    if p.stat().st_size == 0:
        raise InputError(display_name, "empty file (0 bytes)")
    if fmt == "hdf5":
        study = _read_hdf5(p, display_name)
    elif fmt == "npz":
        study = _read_npz(p, display_name)
    else:
        raise InputError(display_name, f"unsupported k-space format {fmt!r} (expected 'hdf5' or 'npz')")
    _validate(study, display_name)
    return study


# --- HDF5: fastMRI or MATLAB v7.3 -------------------------------------------


def _read_hdf5(p: Path, name: str) -> KSpaceStudy:
    import h5py

    try:
        f = h5py.File(p, "r")
    except (OSError, ValueError) as exc:
        raise InputError(name, f"not a readable HDF5 file ({exc})") from exc
    with f:
        datasets: dict[str, h5py.Dataset] = {}
        f.visititems(lambda key, obj: datasets.__setitem__(key, obj) if isinstance(obj, h5py.Dataset) else None)
        kspace_keys = [k for k in datasets if KSPACE_NAME.search(k.split("/")[-1])]
        if not kspace_keys:
            raise InputError(name, f"HDF5 file has no k-space dataset (datasets: {', '.join(list(datasets)[:6]) or 'none'})")
        is_matlab = f.userblock_size >= 128 and _has_matlab_userblock(p)
        compound = datasets[kspace_keys[0]].dtype.names is not None
        try:
            if is_matlab or compound:
                return _read_cmrxrecon(datasets, kspace_keys, name)
            return _read_fastmri(f, datasets, kspace_keys, name)
        except OSError as exc:  # truncated file: the header opens, the data do not
            raise InputError(name, f"k-space data cannot be read, the file is probably truncated ({exc})") from exc


def _has_matlab_userblock(p: Path) -> bool:
    with open(p, "rb") as fh:
        return fh.read(6) == b"MATLAB"


def _check_size(ds, name: str) -> None:
    nbytes = int(np.prod(ds.shape, dtype=np.int64)) * 8  # read as complex64
    if nbytes > MAX_KSPACE_BYTES:
        raise InputError(
            name,
            f"k-space of shape {tuple(ds.shape)} needs {nbytes / 2**30:.1f} GiB, above the "
            f"{MAX_KSPACE_BYTES / 2**30:.1f} GiB limit (CARDIO_MAX_KSPACE_MB)",
        )


def _as_complex(arr: np.ndarray, name: str, key: str) -> np.ndarray:
    if arr.dtype.names is not None:
        fields = {n.lower(): n for n in arr.dtype.names}
        if "real" in fields and "imag" in fields:
            return (arr[fields["real"]] + 1j * arr[fields["imag"]]).astype(np.complex64)
        raise InputError(name, f"dataset {key!r} has compound fields {arr.dtype.names}, expected 'real' and 'imag'")
    if not np.iscomplexobj(arr):
        raise InputError(
            name,
            f"dataset {key!r} is real-valued ({arr.dtype}); k-space must hold complex samples "
            "(magnitude images are not k-space)",
        )
    return arr.astype(np.complex64, copy=False)


def _read_fastmri(f, datasets: dict, keys: list[str], name: str) -> KSpaceStudy:
    key = "kspace" if "kspace" in datasets else keys[0]
    ds = datasets[key]
    _check_size(ds, name)
    arr = _as_complex(ds[()], name, key)
    notes: list[str] = []
    if arr.ndim == 5:  # cine extension: (frames, slices, coils, kx, ky), the time axis leading
        ksp = arr
        notes.append("fastMRI-style k-space with a leading cine frame axis")
    elif arr.ndim == 4:  # (slices, coils, kx, ky)
        ksp = arr[None]
    elif arr.ndim == 3:  # single-coil (slices, kx, ky)
        ksp = arr[None, :, None]
        notes.append("single-coil k-space (fastMRI single-coil layout)")
    else:
        raise InputError(
            name, f"fastMRI k-space must be (slices, coils, kx, ky), (slices, kx, ky) or, for cine, (frames, slices, coils, kx, ky); got shape {arr.shape}"
        )
    frames, slices, _, rows, cols = ksp.shape
    mask = infer_mask(ksp)
    if "mask" in datasets:
        given = np.asarray(datasets["mask"][()]).astype(bool)
        if given.shape == (cols,):
            mask = np.broadcast_to(given[None, None, None, :], mask.shape).copy()
        elif given.shape == (frames, cols) and frames > 1:  # time-interleaved cine lines
            mask = np.broadcast_to(given[:, None, None, :], mask.shape).copy()
        else:
            want = f"({cols},)" + (f" or ({frames}, {cols})" if frames > 1 else "")
            raise InputError(name, f"'mask' has shape {given.shape}, expected {want} to match the k-space columns")
    study = KSpaceStudy(kspace=ksp, mask=mask, source_format="fastmri_hdf5", dataset_name=key, notes=notes)
    if "reconstruction_rss" in datasets:
        ref = np.asarray(datasets["reconstruction_rss"][()], dtype=np.float32)
        if ref.ndim == 3 and ref.shape[0] == slices and frames == 1:
            study.reference = ref[None]
            study.reference_origin = "reconstruction_rss stored in the file"
        elif ref.ndim == 4 and ref.shape[:2] == (frames, slices):
            study.reference = ref
            study.reference_origin = "reconstruction_rss stored in the file"
        else:
            want = f"({slices}, h, w)" if frames == 1 else f"({frames}, {slices}, h, w)"
            notes.append(f"ignored reconstruction_rss of shape {ref.shape} (expected {want})")
    acc = f.attrs.get("acceleration")
    if acc is not None:
        study.nominal_acceleration = float(acc)
    if "ismrmrd_header" in datasets:
        _apply_ismrmrd_header(study, datasets["ismrmrd_header"][()], rows, cols, notes)
    return study


def _apply_ismrmrd_header(study: KSpaceStudy, raw, rows: int, cols: int, notes: list[str]) -> None:
    """Pixel spacing = encoded field of view / encoded matrix; the display crop
    is the recon-space matrix (fastMRI crops readout oversampling)."""
    try:
        text = raw.decode() if isinstance(raw, (bytes, np.bytes_)) else str(raw)
        root = ET.fromstring(text)
    except (ET.ParseError, UnicodeDecodeError) as exc:
        notes.append(f"ISMRMRD header unreadable ({exc}); spacing unknown")
        return
    ns = {"m": "http://www.ismrm.org/ISMRMRD"}

    def val(path: str) -> float | None:
        node = root.find(path, ns)
        try:
            return float(node.text) if node is not None and node.text else None
        except ValueError:
            return None

    enc = "m:encoding/m:encodedSpace"
    rec = "m:encoding/m:reconSpace"
    fov = [val(f"{enc}/m:fieldOfView_mm/m:{a}") for a in "xyz"]
    mat = [val(f"{enc}/m:matrixSize/m:{a}") for a in "xy"]
    rmat = [val(f"{rec}/m:matrixSize/m:{a}") for a in "xy"]
    if all(v for v in fov) and all(v for v in mat) and mat[0] == rows and mat[1] == cols:
        study.spacing_mm = (fov[0] / mat[0], fov[1] / mat[1], fov[2])
    else:
        notes.append("ISMRMRD header lacks an encoded field of view/matrix matching the k-space; spacing unknown")
    if all(v for v in rmat) and rmat[0] <= rows and rmat[1] <= cols:
        study.output_shape = (int(rmat[0]), int(rmat[1]))
    for param in root.findall("m:userParameters/m:userParameterDouble", ns):  # cine frame interval (writers.py)
        if param.findtext("m:name", default="", namespaces=ns) == "frameIntervalMs":
            try:
                dt = float(param.findtext("m:value", default="", namespaces=ns))
            except ValueError:
                continue
            if np.isfinite(dt) and 0 < dt < 2000:
                study.frame_interval_ms = dt


def _read_cmrxrecon(datasets: dict, keys: list[str], name: str) -> KSpaceStudy:
    key = sorted(keys, key=lambda k: ("full" not in k.lower(), k))[0] if len(keys) > 1 else keys[0]
    ds = datasets[key]
    _check_size(ds, name)
    arr = _as_complex(ds[()], name, key)
    leaf = key.split("/")[-1].lower()
    single = "single" in leaf
    notes: list[str] = ["CMRxRecon-style MATLAB v7.3 k-space"]
    # HDF5 order is MATLAB's reversed: (frames, slices, coils, ky, kx).
    if arr.ndim == 5 and not single:
        ksp = arr
    elif arr.ndim == 4 and single:  # (frames, slices, ky, kx)
        ksp = arr[:, :, None]
    elif arr.ndim == 4:  # (slices, coils, ky, kx)
        ksp = arr[None]
    elif arr.ndim == 3 and not single:  # (coils, ky, kx)
        ksp = arr[None, None]
    else:
        raise InputError(
            name,
            f"CMRxRecon k-space {key!r} has {arr.ndim} dimensions {arr.shape}; expected MATLAB "
            "(kx, ky, coils, slices, frames)",
        )
    if single:
        notes.append("single-coil k-space")
    ksp = np.ascontiguousarray(np.swapaxes(ksp, -1, -2))  # → (…, kx=rows, ky=cols)
    frames, slices, _, rows, cols = ksp.shape
    mask = infer_mask(ksp)
    mask_keys = [k for k in datasets if re.match(r"mask", k.split("/")[-1], re.IGNORECASE)]
    if mask_keys:
        given = np.asarray(datasets[mask_keys[0]][()]).astype(bool)
        given = np.swapaxes(given, -1, -2) if given.ndim >= 2 else given
        try:
            if given.ndim == 2:
                mask = np.broadcast_to(given[None, None], mask.shape).copy()
            elif given.ndim == 3 and given.shape[0] == frames:
                mask = np.broadcast_to(given[:, None], mask.shape).copy()
            else:
                raise ValueError
        except ValueError:
            raise InputError(name, f"mask {mask_keys[0]!r} of shape {given.shape} does not fit k-space {ksp.shape}") from None
    study = KSpaceStudy(kspace=ksp, mask=mask, source_format="cmrxrecon_mat", dataset_name=key, notes=notes)
    m = re.search(r"(?:sub|acc\w*?|uniform|gaussian|radial)(\d+)", leaf) or re.search(r"(\d+)$", leaf)
    if m and "full" not in leaf:
        study.nominal_acceleration = float(m.group(1))
    return study


# --- NumPy -------------------------------------------------------------------


def _read_npz(p: Path, name: str) -> KSpaceStudy:
    import zipfile

    try:
        npz = np.load(p, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(name, f"not a readable .npz archive ({exc})") from exc
    with npz:
        keys = [k for k in npz.files if KSPACE_NAME.search(k)]
        if not keys:
            raise InputError(name, f".npz has no 'kspace' array (arrays: {', '.join(npz.files[:6]) or 'none'})")
        key = "kspace" if "kspace" in keys else keys[0]
        try:
            arr = npz[key]
            extra = {k: npz[k] for k in ("mask", "reference", "spacing_mm", "frame_interval_ms", "nominal_acceleration") if k in npz.files}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise InputError(name, f"array cannot be read, the archive is probably truncated ({exc})") from exc
    if arr.nbytes > MAX_KSPACE_BYTES:
        raise InputError(name, f"k-space needs {arr.nbytes / 2**30:.1f} GiB, above the limit (CARDIO_MAX_KSPACE_MB)")
    arr = _as_complex(arr, name, key)
    if arr.ndim == 5:
        ksp = arr
    elif arr.ndim == 4:
        ksp = arr[:, None]
    elif arr.ndim == 3:
        ksp = arr[None, None]
    else:
        raise InputError(
            name,
            f"k-space {key!r} has shape {arr.shape}; expected (frames, slices, coils, rows, cols), "
            "(frames, coils, rows, cols) or (coils, rows, cols)",
        )
    frames, slices, _, rows, cols = ksp.shape
    mask = infer_mask(ksp)
    if "mask" in extra:
        given = np.asarray(extra["mask"]).astype(bool)
        try:
            if given.ndim == 1:
                given = given[None, None, None, :]
            elif given.ndim == 2 and given.shape == (frames, cols):
                given = given[:, None, None, :]
            mask = np.broadcast_to(given, mask.shape).copy()
        except ValueError:
            raise InputError(name, f"'mask' of shape {given.shape} does not fit k-space {ksp.shape}") from None
    study = KSpaceStudy(kspace=np.ascontiguousarray(ksp), mask=mask, source_format="npz", dataset_name=key)
    if "reference" in extra:
        ref = np.asarray(extra["reference"], dtype=np.float32)
        if ref.ndim == 3 and slices == 1:
            ref = ref[:, None]
        if ref.ndim != 4 or ref.shape[:2] != (frames, slices) or np.iscomplexobj(extra["reference"]):
            raise InputError(name, f"'reference' of shape {ref.shape} must be magnitude images (frames, slices, rows, cols)")
        study.reference = ref
        study.reference_origin = "reference images stored in the file"
    if "spacing_mm" in extra:
        sp = np.asarray(extra["spacing_mm"], dtype=float).ravel()
        if sp.size != 3 or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
            raise InputError(name, f"'spacing_mm' must be three positive numbers (row, col, slice); got {sp.tolist()}")
        study.spacing_mm = (float(sp[0]), float(sp[1]), float(sp[2]))
    if "frame_interval_ms" in extra:
        dt = float(np.asarray(extra["frame_interval_ms"]).ravel()[0])
        if np.isfinite(dt) and dt > 0:
            study.frame_interval_ms = dt
    if "nominal_acceleration" in extra:
        study.nominal_acceleration = float(np.asarray(extra["nominal_acceleration"]).ravel()[0])
    return study


# --- checks shared by all formats ---------------------------------------------


def _validate(study: KSpaceStudy, name: str) -> None:
    ksp = study.kspace
    frames, slices, coils, rows, cols = ksp.shape
    if min(rows, cols) < MIN_MATRIX or min(frames, slices, coils) < 1:
        raise InputError(name, f"k-space matrix {rows}×{cols} is too small to reconstruct (shape {ksp.shape})")
    if not np.all(np.isfinite(ksp)):
        bad = int(np.size(ksp) - np.count_nonzero(np.isfinite(ksp)))
        raise InputError(name, f"k-space contains {bad} NaN/infinite samples")
    if not study.mask.any():
        raise InputError(name, "k-space is all zeros (no sampled data)")
    empty = ~study.mask.reshape(frames * slices, -1).any(axis=1)
    if empty.any():
        raise InputError(name, f"{int(empty.sum())} frame/slice images have no sampled k-space at all")
    if study.reference is not None and not np.all(np.isfinite(study.reference)):
        study.reference = None
        study.notes.append("reference images contain NaN/inf and were ignored")
