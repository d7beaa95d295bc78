"""Layers, the model zoo, Once-for-All subnet spaces and accuracy predictors."""
