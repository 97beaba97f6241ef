"""Time modules where they run: PyTorch eager (NCHW, channels-last) or ONNX Runtime, each runtime
in a process of its own.

ONNX Runtime's worker threads spin after a run and slow torch in the same process (and torch's
pool slows ONNX Runtime), so every runtime is timed in a fresh child (``python -c … child_main``)
with the same thread count: the parent sends one task as JSON on stdin and reads JSON lines
back (progress, then the result or the user's error). ``run_isolated`` polls a ``cancelled``
callback while it waits and kills the child when it says so; the child ends by itself when
its parent dies (killed by the app's cancel), so no timing outlives its caller. torch and
onnxruntime are imported inside the functions.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.latency import (
    RUNTIMES,
    WARM_UP_RUNS,
    BenchError,
    Timing,
    time_forward,
)
from ..errors import UserError
from ..progress import OnProgress, Progress

if TYPE_CHECKING:
    import torch
    from torch import nn

#: Says whether the caller gave up (the app's escape); polled while a child runs.
Cancelled = Callable[[], bool]

#: A block of ONNX Runtime calls lasts at least this long, so the clock's resolution is noise.
BLOCK_S = 0.01
#: Seconds between the parent's looks at ``cancelled`` and the child's at its parent.
POLL_S = 0.1


class BenchCancelled(Exception):
    """The caller cancelled a timing while its child process ran; the child was killed."""


def _blocked_autorange(call: Callable[[], Any], min_run_time: float) -> Timing:
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


def onnx_session(path: str | Path, threads: int) -> Any:
    """An ONNX Runtime CPU session using ``threads`` intra-op threads, all graph optimisations."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def to_channels_last(module: nn.Module) -> nn.Module:
    """``module`` with every 4-D parameter and buffer channels-last (NHWC) and every 5-D one
    channels-last-3d (NDHWC), in place; ``.to(memory_format=…)`` takes one layout for all,
    which a Conv3d's 5-D weight (or a Conv2d's 4-D one, for channels_last_3d) refuses."""
    import itertools

    for tensor in itertools.chain(module.parameters(), module.buffers()):
        layout = _channels_last_layout(tensor.dim())
        if layout is not None:
            tensor.data = tensor.data.contiguous(memory_format=layout)
    return module


def channels_last_input(x: torch.Tensor) -> torch.Tensor:
    """``x`` channels-last when 4-D (NHWC) or 5-D (NDHWC); any other rank as it is."""
    layout = _channels_last_layout(x.dim())
    return x if layout is None else x.contiguous(memory_format=layout)


def _channels_last_layout(dims: int) -> torch.memory_format | None:
    """torch's channels-last layout for a tensor of ``dims`` dimensions (None: there is none)."""
    import torch

    return {4: torch.channels_last, 5: torch.channels_last_3d}.get(dims)


def time_module(
    module: nn.Module,
    x: torch.Tensor,
    runtime: str,
    threads: int,
    min_run_time: float,
    folder: str | Path,
    label: str = "the model",
) -> Timing:
    """``module``'s forward at ``x`` on ``runtime`` (exported into ``folder`` for ONNX Runtime)."""
    module = module.eval()
    if runtime == "eager":
        return time_forward(module, x, threads, min_run_time)
    if runtime == "eager_channels_last":
        module, x = to_channels_last(module), channels_last_input(x)
        return time_forward(module, x, threads, min_run_time)
    if runtime != "onnxruntime":
        raise BenchError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    from .export import _export_program, require_deploy

    require_deploy()
    handle, path = tempfile.mkstemp(suffix=".onnx", dir=folder)
    os.close(handle)
    _export_program(module, x.contiguous(), label).save(path)
    session = onnx_session(path, threads)
    feed = {session.get_inputs()[0].name: x.contiguous().numpy()}
    return _blocked_autorange(lambda: session.run(None, feed), min_run_time)


def runtime_version(runtime: str) -> str:
    """The library and version ``runtime`` is timed with, e.g. "onnxruntime 1.32.0"."""
    if runtime == "onnxruntime":
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__}"
    import torch

    return f"torch {torch.__version__}"


# The child: one task, answered on stdout ----------------------------------------------------


def _watch_parent(parent: int) -> None:
    """End this process when its parent has gone (killed to cancel): nothing waits for it."""
    while True:
        time.sleep(POLL_S)
        if os.getppid() != parent:
            os._exit(1)


def _send(message: Mapping[str, Any]) -> None:
    """One JSON line on the real stdout."""
    sys.__stdout__.write(json.dumps(message) + "\n")  # type: ignore[union-attr]
    sys.__stdout__.flush()  # type: ignore[union-attr]


def _build_original(task: Mapping[str, Any]) -> nn.Module:
    """The task's model, built for real (seeded random weights, or its state_dict)."""
    import torch

    from .source import build_model
    from .weights import load_weights

    torch.manual_seed(0)
    model = build_model(task["source"], real=True).module
    if task.get("weights") is not None:
        load_weights(model, task["weights"])
    return model.eval()


def _input(shape: Sequence[int]) -> torch.Tensor:
    """A seeded random input of ``shape``."""
    import torch

    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(0))


def run_model_task(task: Mapping[str, Any], progress: OnProgress) -> dict[str, Any]:
    """The original and its swap (``names`` at ``multipliers``), timed on ``runtime``."""
    from .analysis import Selection
    from .swap import swap_convs

    runtime, threads, min_run_time = task["runtime"], task["threads"], task["min_run_time"]
    original = _build_original(task)
    names = tuple(task["names"])
    swapped = swap_convs(
        original,
        Selection("names", patterns=names) if names else Selection("none"),
        depth_multiplier=dict(task["multipliers"]),
        init="svd" if task.get("weights") is not None else "random",
    ).model.eval()
    x = _input(task["input_shape"])
    with tempfile.TemporaryDirectory() as folder:
        progress(Progress("bench", 0, 2, "the original"))
        before = time_module(original, x, runtime, threads, min_run_time, folder, "the original")
        progress(Progress("bench", 1, 2, "the swapped model"))
        after = time_module(swapped, x, runtime, threads, min_run_time, folder, "the swap")
        progress(Progress("bench", 2, 2, "the swapped model"))
    return {"before": asdict(before), "after": asdict(after), "version": runtime_version(runtime)}


def run_layers_task(task: Mapping[str, Any], progress: OnProgress) -> dict[str, Any]:
    """Each named conv and its block alone at its recorded input, then the whole model."""
    from ..core.layers import DepthwiseSeparableConv

    runtime, threads, min_run_time = task["runtime"], task["threads"], task["min_run_time"]
    original = _build_original(task)
    modules: dict[str, Any] = dict(original.named_modules())
    layers = task["layers"]
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for index, layer in enumerate(layers):
            name = layer["name"]
            progress(Progress("time", index, len(layers) + 1, name))
            conv = modules[name]
            block = DepthwiseSeparableConv.from_conv(conv, int(layer["multiplier"])).eval()
            x = _input(layer["input_shape"])
            rows[name] = {
                "conv": asdict(time_module(conv, x, runtime, threads, min_run_time, folder, name)),
                "block": asdict(
                    time_module(block, x, runtime, threads, min_run_time, folder, name)
                ),
            }
        progress(Progress("time", len(layers), len(layers) + 1, "the whole model"))
        whole = time_module(
            original, _input(task["input_shape"]), runtime, threads, min_run_time, folder
        )
    progress(Progress("time", len(layers) + 1, len(layers) + 1, "the whole model"))
    return {"model": asdict(whole), "rows": rows, "version": runtime_version(runtime)}


def run_layer_task(task: Mapping[str, Any], progress: OnProgress) -> dict[str, Any]:
    """One LayerSpec's standard conv and separable block, timed on ``runtime``."""
    import torch

    from ..core.layers import separable_block, standard_conv
    from ..core.spec import LayerSpec

    runtime, threads, min_run_time = task["runtime"], task["threads"], task["min_run_time"]
    spec = LayerSpec.from_dict(task["spec"])
    torch.manual_seed(0)
    standard, separable = standard_conv(spec).eval(), separable_block(spec).eval()
    x = _input(spec.input_shape)
    with torch.inference_mode():
        outputs = [standard(x), separable.depthwise(x)]
        outputs.append(separable.pointwise(outputs[1]))
    tensors = [*standard.parameters(), *separable.parameters(), x, *outputs]
    allocated = sum(tensor.nbytes for tensor in tensors)
    del outputs
    with tempfile.TemporaryDirectory() as folder:
        progress(Progress("bench", 0, 2, "the standard conv"))
        before = time_module(standard, x, runtime, threads, min_run_time, folder, "the conv")
        progress(Progress("bench", 1, 2, "the separable block"))
        after = time_module(separable, x, runtime, threads, min_run_time, folder, "the block")
        progress(Progress("bench", 2, 2, "the separable block"))
    return {
        "before": asdict(before),
        "after": asdict(after),
        "version": runtime_version(runtime),
        "allocated_bytes": allocated,
    }


#: What each task kind runs in the child.
TASKS: dict[str, Callable[[Mapping[str, Any], OnProgress], dict[str, Any]]] = {
    "model": run_model_task,
    "layers": run_layers_task,
    "layer": run_layer_task,
}


def child_main() -> None:
    """Read one task from stdin, run it, write progress lines and one result (or error) line."""
    parent = int(os.environ.get("SEPCONV_PARENT_PID", os.getppid()))
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    task = json.loads(sys.stdin.read())
    # Libraries print; the parent reads JSON from stdout, so their chatter goes to stderr.
    sys.stdout = sys.stderr
    run = TASKS[task["kind"]]
    try:
        import torch

        torch.set_num_threads(int(task["threads"]))
        result = run(task, lambda progress: _send({"progress": asdict(progress)}))
    except UserError as error:
        _send({"error": error.message, "field": error.field})
        return
    _send({"result": result})


def _package_root() -> str:
    """The folder holding the sepconv_tui package, so that the child imports this very code."""
    return str(Path(__file__).resolve().parents[2])


def run_isolated(
    task: Mapping[str, Any],
    *,
    progress: OnProgress | None = None,
    cancelled: Cancelled | None = None,
) -> dict[str, Any]:
    """Run ``task`` in a fresh Python process; its result. BenchError with the child's message
    when it fails, BenchCancelled when ``cancelled()`` turned true (the child is killed)."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [_package_root(), *filter(None, [environment.get("PYTHONPATH")])]
    )
    environment["SEPCONV_PARENT_PID"] = str(os.getpid())
    threads = str(task["threads"])
    environment.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    child = subprocess.Popen(
        [sys.executable, "-c", "from sepconv_tui.model.runtime import child_main; child_main()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    errors: list[str] = []

    def read_stdout() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.put(line)
        lines.put(None)

    def read_stderr() -> None:
        assert child.stderr is not None
        errors.extend(child.stderr)

    readers = [threading.Thread(target=read, daemon=True) for read in (read_stdout, read_stderr)]
    for reader in readers:
        reader.start()
    assert child.stdin is not None
    child.stdin.write(json.dumps(task))
    child.stdin.close()
    answer: dict[str, Any] | None = None
    try:
        while True:
            if cancelled is not None and cancelled():
                raise BenchCancelled(f"{task['kind']} timing on {task['runtime']} cancelled")
            try:
                line = lines.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if line is None:
                break
            message = json.loads(line)
            if "progress" in message:
                if progress is not None:
                    progress(Progress(**message["progress"]))
            else:
                answer = message
    finally:
        if child.poll() is None and answer is None:
            child.kill()
        child.wait()
        for reader in readers:
            reader.join(timeout=1)
    if answer is not None and "result" in answer:
        return dict(answer["result"])
    if answer is not None and "error" in answer:
        raise BenchError(answer["error"], field=answer.get("field"))
    last = next((line.strip() for line in reversed(errors) if line.strip()), "no message")
    raise BenchError(f"timing on {task['runtime']} stopped (exit {child.returncode}): {last}")


def run_runtimes(
    task: Mapping[str, Any],
    runtimes: Sequence[str],
    *,
    progress: OnProgress | None = None,
    cancelled: Cancelled | None = None,
) -> dict[str, dict[str, Any]]:
    """``task`` on each runtime, one child process after the other; results by runtime."""
    results = {}
    for runtime in runtimes:
        results[runtime] = run_isolated(
            {**task, "runtime": runtime}, progress=progress, cancelled=cancelled
        )
    return results
