"""Benchmarks. `python -m bench` runs the clearing benchmark; see docs/benchmarks.md."""
