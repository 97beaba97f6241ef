"""The Model tab's PyTorch work, done by workers/model_server.py.

One analysis process imports torch, torchvision and timm once and then answers each request
(the model names, an analysis) in order; ``cancel`` kills it mid-analysis and the next request
starts a fresh one. A whole-model benchmark runs in a process of its own.
"""

from __future__ import annotations

from ..workers.messages import BenchModel, ModelBenched
from .child_process import Call, ChildProcess

MODEL_SERVER = "sepconv_tui.workers.model_server"


def model_process() -> ChildProcess:
    """The analysis process (started on its first request)."""
    return ChildProcess(MODEL_SERVER, stopped="the PyTorch process stopped; press enter to retry")


def model_work_process() -> ChildProcess:
    """The process that measures fidelity, recovers and measures the trade-off (started on
    its first request, so that an analysis never waits behind a recovery)."""
    return ChildProcess(
        MODEL_SERVER, stopped="the PyTorch process stopped; press f, r or g to retry"
    )


def model_bench(request: BenchModel) -> Call[ModelBenched]:
    """A whole-model benchmark in a process of its own."""
    process = ChildProcess(
        MODEL_SERVER, one_shot=True, stopped="the benchmark process stopped without a result"
    )
    return process.call(request)
