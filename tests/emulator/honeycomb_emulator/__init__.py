"""A local, faithful stand-in for Honeycomb's ingest, Query Data, SLO and auth APIs."""
