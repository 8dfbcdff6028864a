"""Recorded and normalized market data: schemas, readers for the supported formats, import."""
