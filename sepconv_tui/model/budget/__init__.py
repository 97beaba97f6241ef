"""Choosing what to swap under one budget: the measured trade-off, the per-layer sensitivity
table and the frontier on it."""
