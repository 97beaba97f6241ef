"""The recovery settings' accepted values and defaults, importable without the engine.

The CLI builds its parser from these on every start, ``--help`` included, so they live apart
from ``recover`` (which loads the data, fidelity and swap modules).
"""

#: What ``--recover`` accepts, in the order the CLI lists them.
RECOVER_MODES = ("none", "reconstruct", "distill")
#: Samples the least squares are fitted on unless ``--calibration`` says otherwise.
DEFAULT_CALIBRATION = 256
#: Distillation: the most steps it may take (it stops earlier once the validation split
#: stops improving), and its learning rate (Adam).
DEFAULT_STEPS = 2000
DEFAULT_LR = 1e-3
#: Distillation stops after this many validation checks without improvement (a check every
#: 50 steps, none counted before its minimum budget: at the defaults, 500 steps flat).
DEFAULT_PATIENCE = 10
#: The share of cross-entropy on the labels mixed into the distillation loss (0: none).
DEFAULT_LABEL_WEIGHT = 0.0
#: What ``--device`` accepts (auto: CUDA when a GPU is visible, else the CPU).
DEVICE_CHOICES = ("cpu", "cuda", "auto")
