"""The recovery settings' accepted values and defaults, importable without the engine.

The CLI builds its parser from these on every start, ``--help`` included, so they live apart
from ``recover`` (which loads the data, fidelity and swap modules).
"""

#: What ``--recover`` accepts, in the order the CLI lists them.
RECOVER_MODES = ("none", "reconstruct", "distill")
#: Samples the least squares are fitted on unless ``--calibration`` says otherwise.
DEFAULT_CALIBRATION = 256
#: Distillation steps and learning rate (Adam): enough to recover a small model in seconds.
DEFAULT_STEPS = 300
DEFAULT_LR = 1e-3
