"""The runtime: compiled functions, feeds, evaluation and the NumPy reference."""
