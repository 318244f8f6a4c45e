"""Prefect tasks: thin, retryable wrappers over stocksync, taking plain data."""
