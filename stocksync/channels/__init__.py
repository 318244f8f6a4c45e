"""Channel connectors: one interface (``base``) over each sales channel's own API."""
