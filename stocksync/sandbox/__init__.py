"""Faithful emulators of the sales channels' APIs, for tests, the demo and benchmarks."""
