"""The push pipeline: leasing dirty listings, pushing them to their channels, waking on change.

No Prefect here: flows call :func:`stocksync.sync.drain.drain` and turn its report into artifacts.
"""
