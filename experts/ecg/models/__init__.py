"""Network definitions and checkpoint loading (ECGFounder Net1D)."""
