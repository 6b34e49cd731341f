"""Evaluate Honeycomb queries for Argo Rollouts analysis."""

__version__ = "0.1.0"
