"""Deployment helpers: block registration and Prefect-side set-up as code."""
