"""``python -m stocksync``: the ``stocksync`` command, for when its script is not on PATH."""

from stocksync.cli import main

main()
