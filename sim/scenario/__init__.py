"""Scenarios: manifests, their data sources, and the seeded synthetic market-data generators."""
