"""Benchmarks and the demo on the Prefect side: the sync worker, a Prefect server, flow runs.

The scenarios and their measurements are in ``stocksync.bench``; this package runs them with the
parts that import Prefect, which ``stocksync`` never does. Nothing in production imports it.
"""
