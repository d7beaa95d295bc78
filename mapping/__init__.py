"""Mapping representation, encodings and per-layer mapping search."""
