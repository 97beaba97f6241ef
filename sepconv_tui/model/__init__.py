"""A whole model, one job a module, imports one way along this chain (import-linter checks it).

analysis (plain data) → source, weights → candidates → factorise (per-channel SVD) → trace
(``analyze_model``) → plan → swap → job (``ModelJob``, ``build_pair``: the one build path) →
export → runtime → bench → data → fidelity → recovery (its result types; the memory sizing and
the least-squares solver; reconstruction and distillation; ``recover``) → sensitivity and the
frontier (per-layer m under one budget) → workflow → speedup.
"""
