"""Adjoints of scipy.signal functions (loaded once scipy.signal is imported)."""
