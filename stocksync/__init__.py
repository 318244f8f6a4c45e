"""stocksync: one oversell-safe stock ledger feeding every sales channel."""

__version__ = "0.1.0"
