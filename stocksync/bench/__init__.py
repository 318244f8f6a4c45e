"""Benchmarks of stocksync on the configured database, run in scratch space."""
