"""Low-stock and oversell alerts: what to tell the seller, and how to reach them on Slack."""
