"""The webhook receiver: channel events in, verified, stored and applied in one transaction."""
