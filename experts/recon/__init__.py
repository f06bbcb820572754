"""Reconstruction expert: undersampled multi-coil MR k-space to a cine image
series (NIfTI) that the CMR expert can analyse.

Modules, one job each:
- `kspace`: the in-memory k-space container and mask arithmetic;
- `io`: readers (fastMRI HDF5, CMRxRecon MATLAB v7.3, NumPy .npz);
- `writers`: the same formats written back (simulated data, tests);
- `masks`, `phantom`, `simulate`, `sunnybrook`: simulated acquisitions;
- `methods`: zero-filled, SENSE, compressed sensing, VarNet behind one call;
- `models`: the fastMRI-layout VarNet and its checkpoint loading;
- `metrics`, `nifti`, `plots`, `chain`: outputs;
- `tool`: the `recon_reconstruct` entry point.
"""
