"""Synthetic city generator with ground truth, and replay of recorded readings."""
