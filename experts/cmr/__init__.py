"""Cardiac MRI expert: short-axis cine stacks in, ventricular volumes, EF and
LV mass out, each number with the slices and phases it came from.

Modules, one job each: `cine` (the in-memory stack), `io_dicom` / `io_nifti`
(readers), `labels` (one canonical label map and converters), `contours`
(Sunnybrook expert contours), `simulate` (the phantom the default model
learns from), `models` / `preprocess` / `segment` (the network), `quantify`
(volumes and EF), `reference` (cited reference ranges), `findings`
(diagnostic statements), `plots`, `export` (NIfTI and DICOM SEG) and `tool`
(the typed entry point the agent calls).
"""
