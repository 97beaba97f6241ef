"""A whole model, one job a module, in packages that import one way down this chain
(import-linter checks it, the packages' order and each package's own):

speedup (``--swap speedup:X``) → workflow (what the CLI and the app's child run) → budget
(trade-off, sensitivity, frontier) → recovery (reconstruction, distillation, ``recover``) →
measure (data, split, ranks, fidelity) → latency (bench, the timing child, roofline) → deploy
(ONNX export, int8, the runtimes' timers) → build (``ModelJob``, ``build_pair``: the one build
path; the swap) → describe (source, weights, candidates, the SVD, ``analyze_model``) → results
(torch-free result types) → vocabulary (the analysis, the plan, the runtime table, the machine).
"""
