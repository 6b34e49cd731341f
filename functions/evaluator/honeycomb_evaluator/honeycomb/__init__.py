"""Honeycomb's Query Data API: an async client and what it returns."""
