"""Benchmarks that print their figures next to a reference measured in the same run."""
