"""Evaluate Honeycomb queries for Argo Rollouts analysis."""
