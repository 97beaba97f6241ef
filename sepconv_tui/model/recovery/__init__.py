"""Repairing a swapped model on the user's data: the least-squares solver, reconstruction,
distillation, the memory sizing, the settings and ``recover`` over them."""
