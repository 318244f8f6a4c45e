"""Prefect blocks: configuration and secrets, each able to build what it configures."""
