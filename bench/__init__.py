"""Benchmarks against the real database; they print figures and ratios, never assert timings."""
