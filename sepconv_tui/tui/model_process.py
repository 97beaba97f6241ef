"""The Model tab's PyTorch work, done by workers/model_server.py.

One analysis process imports torch, torchvision and timm once and then answers each request
(the model names, an analysis) in order; ``cancel`` kills it mid-analysis and the next request
starts a fresh one. Fidelity, recovery and the trade-off have a process of their own, and a
whole-model benchmark or per-layer timing one per run.
"""

from __future__ import annotations

from ..ipc.client import ChildProcess

MODEL_SERVER = "sepconv_tui.workers.model_server"


def model_process() -> ChildProcess:
    """The analysis process (started on its first request)."""
    return ChildProcess(MODEL_SERVER, retry="press enter to retry")


def model_work_process() -> ChildProcess:
    """The process that measures fidelity, recovers and measures the trade-off (started on
    its first request, so that an analysis never waits behind a recovery)."""
    return ChildProcess(MODEL_SERVER, retry="press f, r or g to retry")


def model_bench_process() -> ChildProcess:
    """The process a whole-model benchmark runs in: one per run, killed when it ends."""
    return ChildProcess(
        MODEL_SERVER, one_shot=True, name="the benchmark process", retry="press b to retry"
    )


def model_layers_process() -> ChildProcess:
    """The process ``l`` times each layer in: one per run, killed when it ends (or to cancel:
    the runtime's own process ends itself when its parent has gone)."""
    return ChildProcess(
        MODEL_SERVER, one_shot=True, name="the layer timing process", retry="press l to retry"
    )
