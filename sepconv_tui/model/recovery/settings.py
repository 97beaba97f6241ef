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
#: Distillation checks the validation split every this many steps (and at the last one).
CHECK_EVERY = 50
#: No check counts against the patience before this many passes over the fit split or
#: MIN_STEPS steps, whichever is more (never past the step ceiling).
MIN_PASSES = 3
MIN_STEPS = 300
#: Distillation stops after this many validation checks without improvement (at the
#: defaults, 500 steps without the validation loss falling, after the minimum budget).
DEFAULT_PATIENCE = 10
#: The share of cross-entropy on the labels mixed into the distillation loss (0: none).
DEFAULT_LABEL_WEIGHT = 0.0
#: What ``--device`` accepts (auto: CUDA when a GPU is visible, else the CPU).
DEVICE_CHOICES = ("cpu", "cuda", "auto")
