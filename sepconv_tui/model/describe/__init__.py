"""What the model is: its source, its weights, the candidate layers, the per-channel SVD and
the trace (``analyze_model``)."""
