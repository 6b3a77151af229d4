"""Benchmarks: performance lives here, never in timed tests. ``make bench`` runs ``bench/run.py``."""
