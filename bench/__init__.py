"""Benchmarks: each compares figures measured side by side in one run."""
