"""Echocardiography expert: LV segmentation, ED/ES frames, volumes and EF
from an apical-view echo clip (DICOM ultrasound multi-frame, AVI, MP4).

The public entry point is `experts.echo.tool.EchoTool`; the rest are small
modules with one job each (readers, sector cropping, models, measurements,
quality, plots) so that each can be tested on its own.
"""
