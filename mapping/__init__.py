"""Mapping representation, encodings and per-layer mapping search."""
import cost_model.numba_cache  # noqa: F401  (Numba's cache per source version, before any kernel is defined)
