"""The runtime table's exporters and timers: what a timing child is given, and how it times it.

An exporter runs in the parent and writes what the child times: the module itself
(``torch.save``) for PyTorch eager, an ONNX file for ONNX Runtime. It returns the files that
define classes the saved module needs (a model read from a ``file.py`` SOURCE), which the child
imports before it loads the module. A timer runs in the child (``timing_server``): it loads the
file, warms it up, and times it on a seeded random input. torch and onnxruntime are imported
inside the functions; an ONNX Runtime child imports no torch at all.

ONNX Runtime's worker threads spin after a run and slow torch in the same process (and torch's
pool slows ONNX Runtime), which is why every runtime is timed in a child of its own.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.latency import (
    WARM_UP_RUNS,
    BenchError,
    Timing,
    channels_last_input,
    time_forward,
    to_channels_last,
)
from ...errors import first_line
from .export import export_program, onnx_session

if TYPE_CHECKING:
    import torch
    from torch import nn

#: A block of ONNX Runtime calls lasts at least this long, so the clock's resolution is noise.
BLOCK_S = 0.01


# What the child is given (in the parent) ----------------------------------------------------


def file_modules(module: nn.Module) -> dict[str, str]:
    """The modules, by name, that define ``module``'s classes and that a fresh process cannot
    import by that name (a SOURCE file imported under a name of its own): name → file."""
    names = {
        cls.__module__
        for sub in module.modules()
        for cls in type(sub).__mro__
        if cls.__module__ not in ("builtins", "__main__")
    }
    files = {}
    for name in sorted(names):
        loaded = sys.modules.get(name)
        path = getattr(loaded, "__file__", None)
        if path is None:
            continue
        if importlib.machinery.PathFinder.find_spec(name.split(".")[0]) is None:
            files[name] = path
    return files


def save_module(
    module: nn.Module,
    x: torch.Tensor,
    path: Path,
    label: str,
    precision: str,
    *,
    per_channel: bool = True,
    calibration: Any = None,
) -> dict[str, str]:
    """Write ``module`` (in eval mode, with its weights, at fp32: the only ``precision`` eager
    runs, so ``per_channel`` and ``calibration`` mean nothing here) to ``path`` for an eager
    timing; the files its classes come from (``file_modules``)."""
    import pickle

    import torch

    try:
        torch.save(module.eval(), path)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        # A class defined inside a function, or a lambda held by a module, does not pickle.
        raise BenchError(
            f"cannot hand {label} to a timing process of its own: {first_line(error)}"
        ) from None
    return file_modules(module)


def export_onnx_file(
    module: nn.Module,
    x: torch.Tensor,
    path: Path,
    label: str,
    precision: str,
    *,
    per_channel: bool = True,
    calibration: Any = None,
) -> dict[str, str]:
    """Export ``module`` at ``x``'s shape to the fp32 ONNX file ``path`` (ExportError naming
    the op and the layer when it cannot be); it needs no classes. A float ``precision`` other
    than fp32 is the runtime's to run (OpenVINO's hint); int8 is ``quantize.export_onnx_at``."""
    export_program(module.eval(), x.contiguous(), label).save(str(path))
    return {}


# What the child does with it ----------------------------------------------------------------


def import_files(files: Mapping[str, str]) -> None:
    """Import each file under its name (its folder on sys.path for its own imports), so that a
    saved module whose classes it defines loads."""
    for name, path in files.items():
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            continue
        loaded = importlib.util.module_from_spec(spec)
        folder = str(Path(path).resolve().parent)
        sys.path.insert(0, folder)
        sys.modules[name] = loaded
        try:
            spec.loader.exec_module(loaded)
        finally:
            sys.path.remove(folder)


def random_input(shape: Sequence[int]) -> torch.Tensor:
    """A seeded random fp32 input of ``shape`` (the values do not change the time)."""
    import torch

    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(0))


def _load_module(path: str, threads: int) -> nn.Module:
    """The module saved at ``path``, in eval mode, with torch on ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    module: nn.Module = torch.load(path, weights_only=False)
    return module.eval()


def time_eager(
    path: str, shape: Sequence[int], threads: int, min_run_time: float, precision: str
) -> Timing:
    """The saved module's forward in PyTorch eager, NCHW (fp32: ``precision``)."""
    return time_forward(_load_module(path, threads), random_input(shape), threads, min_run_time)


def time_eager_channels_last(
    path: str, shape: Sequence[int], threads: int, min_run_time: float, precision: str
) -> Timing:
    """The saved module's forward in PyTorch eager, input and weights channels-last (fp32)."""
    module = to_channels_last(_load_module(path, threads))
    return time_forward(module, channels_last_input(random_input(shape)), threads, min_run_time)


def blocked_autorange(call: Callable[[], Any], min_run_time: float) -> Timing:
    """Warm ``call`` up, then time blocks of it for ``min_run_time`` seconds, as
    torch.utils.benchmark's blocked_autorange does: the median and IQR of the per-call times."""
    import numpy

    started = time.perf_counter()
    for _ in range(WARM_UP_RUNS):
        call()
        if time.perf_counter() - started > min_run_time:
            break
    number = 1
    while True:  # the calls per block that make a block last BLOCK_S at least
        begin = time.perf_counter()
        for _ in range(number):
            call()
        elapsed = time.perf_counter() - begin
        if elapsed >= BLOCK_S or number >= 1_000_000:
            break
        number *= 10 if elapsed < BLOCK_S / 10 else 2
    times = [elapsed / number]
    total = elapsed
    while total < min_run_time or len(times) < 3:
        begin = time.perf_counter()
        for _ in range(number):
            call()
        elapsed = time.perf_counter() - begin
        times.append(elapsed / number)
        total += elapsed
        if len(times) >= 3 and total >= min_run_time:
            break
    q25, median, q75 = numpy.percentile(times, [25, 50, 75])
    return Timing(float(median), float(q75 - q25), len(times), number)


def time_onnxruntime(
    path: str, shape: Sequence[int], threads: int, min_run_time: float, precision: str
) -> Timing:
    """The ONNX file's run in ONNX Runtime (CPU), on a seeded random fp32 input (the file's
    own ``precision``)."""
    import numpy

    session = onnx_session(path, threads)
    x = numpy.random.default_rng(0).standard_normal(tuple(shape), dtype=numpy.float32)
    feed = {session.get_inputs()[0].name: x}
    return blocked_autorange(lambda: session.run(None, feed), min_run_time)


def torch_version() -> str:
    """ "torch 2.x.y": what eager timings ran on."""
    import torch

    return f"torch {torch.__version__}"


def onnxruntime_version() -> str:
    """ "onnxruntime 1.x.y": what ONNX Runtime timings ran on."""
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__}"
