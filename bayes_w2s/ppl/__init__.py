"""Probabilistic-programming students: PyMC models, their weak data and ArviZ diagnostics."""
