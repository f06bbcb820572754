"""Write k-space in the formats the readers accept.

Why here and not only in tests: the simulator, the training script and the
evaluation all produce study files that must go through the same reader the
agent uses, so a format bug shows up in our own measurements first.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from experts.recon.kspace import KSpaceStudy

FRAME_INTERVAL_PARAMETER = "frameIntervalMs"


def write_npz(study: KSpaceStudy, path: str | Path, with_reference: bool = True) -> Path:
    """Our exchange format (see experts/recon/io.py)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {"kspace": study.kspace * study.mask[:, :, None]}
    arrays["mask"] = study.mask
    if with_reference and study.reference is not None:
        arrays["reference"] = study.reference.astype(np.float32)
    if study.spacing_mm is not None:
        arrays["spacing_mm"] = np.asarray(study.spacing_mm, dtype=np.float64)
    if study.frame_interval_ms is not None:
        arrays["frame_interval_ms"] = np.asarray([study.frame_interval_ms])
    if study.nominal_acceleration is not None:
        arrays["nominal_acceleration"] = np.asarray([study.nominal_acceleration])
    np.savez_compressed(path, **arrays)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def write_fastmri_h5(study: KSpaceStudy, path: str | Path, frame: int | None = 0, with_reference: bool = True) -> Path:
    """fastMRI multi-coil layout: `kspace` (slices, coils, kx, ky) for one
    frame, or with `frame=None` the cine extension (frames, slices, coils,
    kx, ky); `mask` (ky,) — or (frames, ky) for time-interleaved cine lines —
    when the mask is Cartesian and equal for all slices; `reconstruction_rss`
    ((frames,) slices, h, w); and a minimal ISMRMRD header with field of view
    and matrix sizes."""
    import h5py

    path = Path(path)
    sel = slice(None) if frame is None else frame
    ksp = (study.kspace[sel] * study.mask[sel][..., None, :, :]).astype(np.complex64)
    rows, cols = ksp.shape[-2:]
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=ksp)
        mask = study.mask if frame is None else study.mask[frame : frame + 1]  # (frames, slices, rows, cols)
        lines = mask.all(axis=-2)  # (frames, slices, cols)
        cartesian = np.all(lines == lines[:, :1]) and np.all(mask.any(axis=-2) == lines)
        if not study.fully_sampled and cartesian:
            per_frame = lines[:, 0]  # (frames, cols)
            one = np.all(per_frame == per_frame[0])
            f.create_dataset("mask", data=(per_frame[0] if one else per_frame).astype(np.float32))
            f.attrs["acceleration"] = float(study.nominal_acceleration or study.acceleration())
        if with_reference and study.reference is not None:
            f.create_dataset("reconstruction_rss", data=study.reference[sel].astype(np.float32))
        if study.spacing_mm is not None:
            f.create_dataset("ismrmrd_header", data=_ismrmrd_header(rows, cols, study.spacing_mm, study.frame_interval_ms).encode())
    return path


def _ismrmrd_header(rows: int, cols: int, spacing: tuple[float, float, float], frame_interval_ms: float | None = None) -> str:
    fx, fy, fz = rows * spacing[0], cols * spacing[1], spacing[2]

    def space(tag: str) -> str:
        return (
            f"<{tag}><matrixSize><x>{rows}</x><y>{cols}</y><z>1</z></matrixSize>"
            f"<fieldOfView_mm><x>{fx:.4f}</x><y>{fy:.4f}</y><z>{fz:.4f}</z></fieldOfView_mm></{tag}>"
        )

    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD"><encoding>'
        f"{space('encodedSpace')}{space('reconSpace')}"
        "<trajectory>cartesian</trajectory></encoding>"
        f"{_frame_interval_parameter(frame_interval_ms)}</ismrmrdHeader>"
    )


def _frame_interval_parameter(frame_interval_ms: float | None) -> str:
    """ISMRMRD has no cine frame-interval field; a named user parameter keeps it."""
    if frame_interval_ms is None:
        return ""
    return f"<userParameters><userParameterDouble><name>{FRAME_INTERVAL_PARAMETER}</name><value>{frame_interval_ms:.4f}</value></userParameterDouble></userParameters>"


def write_cmrxrecon_mat(study: KSpaceStudy, path: str | Path, variable: str = "kspace_sub04", mask_variable: str | None = None) -> Path:
    """MATLAB v7.3 file as CMRxRecon distributes it: an HDF5 file behind a
    512-byte MATLAB user block, the variable stored in reversed (HDF5) axis
    order with `real`/`imag` compound samples and a `MATLAB_class` attribute."""
    import h5py

    path = Path(path)
    ksp = (study.kspace * study.mask[:, :, None]).astype(np.complex64)
    # canonical (t, z, c, kx, ky) → HDF5 view of MATLAB (kx, ky, c, z, t) = (t, z, c, ky, kx)
    h5 = np.ascontiguousarray(np.swapaxes(ksp, -1, -2))
    compound = np.empty(h5.shape, dtype=[("real", "<f4"), ("imag", "<f4")])
    compound["real"], compound["imag"] = h5.real, h5.imag
    with h5py.File(path, "w", userblock_size=512) as f:
        ds = f.create_dataset(variable, data=compound)
        ds.attrs["MATLAB_class"] = np.bytes_("single")
        if mask_variable:
            lines = study.mask.all(axis=(1, 2))  # (frames, cols)
            if np.all(lines == lines[0]):  # one pattern: MATLAB (kx, ky) → HDF5 (ky, kx)
                m = np.broadcast_to(lines[0][:, None], (study.matrix[1], study.matrix[0]))
            else:  # per frame (CMRxRecon 2024 k-t masks): MATLAB (kx, ky, t) → HDF5 (t, ky, kx)
                m = np.broadcast_to(lines[:, :, None], (study.frames, study.matrix[1], study.matrix[0]))
            mds = f.create_dataset(mask_variable, data=np.ascontiguousarray(m).astype(np.float64))
            mds.attrs["MATLAB_class"] = np.bytes_("double")
    header = (
        f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {time.strftime('%a %b %d %H:%M:%S %Y')} "
        "HDF5 schema 1.00 ."
    ).encode()
    block = header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as fh:
        fh.write(block.ljust(512, b"\x00"))
    return path
