"""ECG expert: read a record, check its quality, find beats and rhythm,
measure global intervals on a multi-lead median beat, and apply published
criteria. The typed entry point is `experts.ecg.tool.ECGTool`."""
