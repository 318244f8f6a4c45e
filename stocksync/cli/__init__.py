"""The ``stocksync`` command."""

from stocksync.cli.app import app, main

__all__ = ["app", "main"]
