"""The comparison engine: pure Python arithmetic, plus PyTorch measurement imported on demand."""
