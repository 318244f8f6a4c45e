"""Deployment code: ``stocksync up``, the sync worker, the served schedules, block registration.

The benchmarks and the demo run their Prefect side from ``deployments.bench``, which nothing here
imports.
"""
