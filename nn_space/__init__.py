"""Layers, the model zoo, Once-for-All subnet spaces and accuracy predictors."""
import cost_model.numba_cache  # noqa: F401  (Numba's cache per source version, before any kernel is defined)
