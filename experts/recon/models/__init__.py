"""Network definitions and checkpoint loading for the reconstruction expert."""
