"""Adjoints of scipy.stats distributions (placeholder, filled below)."""
