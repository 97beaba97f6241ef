"""``python -m sepconv_tui``."""

import sys

from .cli import main

if __name__ == "__main__":  # spawned PyTorch workers import this module too
    sys.exit(main())
