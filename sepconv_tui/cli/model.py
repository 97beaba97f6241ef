"""The whole-model subcommands: ``model``, ``swap``, ``fidelity`` and ``bench --model``.

SOURCE, --swap, --depth-multiplier, --input-shape and --weights are declared once
(``add_model_arguments``) and read once (``read_model_arguments``); --data and the recovery
flags likewise. Every UserError the engine raises is printed once, as one line, with exit 2.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.spec import parse_int_in_range
from ..errors import UserError
from ..model.describe.source import parse_input_shape, parse_source
from ..model.recovery.settings import DEVICE_CHOICES
from ..model.results.bench_result import DEFAULT_MIN_AGREEMENT
from ..model.vocabulary.analysis import (
    BUDGET_RULES,
    DEPTH_MULTIPLIER_FORMS,
    Selection,
    SelectionError,
    parse_depth_multiplier,
    parse_selection,
    unresolved_budget,
)
from ..progress import OnProgress
from .common import (
    EXIT_BAD_ARGUMENTS,
    EXIT_MATCH,
    add_format_arguments,
    argument_type,
    emit,
    emit_report,
    fail,
    float_in_range,
)
from .runtime import add_speedup_arguments

if TYPE_CHECKING:
    from ..model.measure.distributed import Ranks
    from ..model.swapping.job import ModelJob
    from ..model.workflow import Workflow

#: --swap's help, shared by ``model``, ``swap``, ``fidelity`` and ``bench --model``.
SWAP_HELP = (
    "saving (default: every candidate whose block has fewer params), all, none, "
    "top:N (the N saving the most MACs), max-error:X (those whose SVD error is ≤ X; needs "
    "weights), a budget that chooses each layer's m on the frontier of the sensitivity "
    "table (model --sensitivity): agreement:X (the most MACs saved whose reconstructed swap keeps "
    "top-1 agreement ≥ X on --data), macs:X or params:X (X times fewer for the whole model, "
    "the least loss; without --data by the weights' SVD error), speedup:X (the model X times "
    "faster with the least loss: the frontier of seconds each layer's block saves, timed on "
    "--runtime, its deciding points timed whole against --baseline), or layer names and "
    "globs: 'layer1.*,conv1'"
)
SOURCE_HELP = "torchvision:NAME, timm:NAME, package.module:callable or path/to/file.py:callable"
INPUT_SHAPE_HELP = (
    "input shape: N,C,H,W, or N,C,L for 1-D and N,C,D,H,W for 3-D models (default: the one "
    "the model was published for, a 16-frame clip for a video model, else 1,3,224,224)"
)
DEPTH_HELP = (
    f"the separable blocks' m: {DEPTH_MULTIPLIER_FORMS} (each layer's smallest m whose SVD "
    "keeps a fraction E of its kernel's energy; needs weights). Default: 1"
)
DATA_HELP = (
    "an image folder (sub-folders are classes), a .pt file (an N×C×H×W tensor, "
    "{'inputs', 'labels'} or (inputs, labels)) or synthetic:N (Gaussian inputs)"
)


@dataclass(frozen=True)
class ModelArguments:
    """SOURCE and the flags that go with it, parsed and checked: the job, and a budget
    (``--swap agreement:X`` or ``speedup:X``) still to resolve into its layers."""

    job: ModelJob  # while a budget is pending, its selection is "none"
    budget: Selection | None = None

    def resolved(
        self, selection: Selection, depth_multiplier: Mapping[str, int] | None = None
    ) -> ModelArguments:
        """The budget resolved: the job swapping ``selection`` (at each layer's m, given)."""
        return ModelArguments(self.job.with_plan(selection, depth_multiplier))

    def ready(self) -> ModelJob:
        """The job; SelectionError saying what resolves the budget when one is pending."""
        if self.budget is not None:
            raise SelectionError(unresolved_budget(self.budget))
        return self.job


def add_model_arguments(parser: argparse.ArgumentParser, *, weights_help: str) -> None:
    """SOURCE, --swap, --depth-multiplier, --input-shape and --weights."""
    parser.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    parser.add_argument("--swap", default="saving", help=SWAP_HELP)
    parser.add_argument("--depth-multiplier", default="1", metavar="M", help=DEPTH_HELP)
    parser.add_argument("--weights", metavar="STATE_DICT", help=weights_help)
    add_speedup_arguments(parser)


def add_input_shape_argument(parser: Any) -> None:
    """--input-shape N,C,[D,]H,W (N,C,L in 1-D)."""
    parser.add_argument("--input-shape", metavar="N,C,[D,]H,W", help=INPUT_SHAPE_HELP)


def read_model_arguments(arguments: argparse.Namespace) -> ModelArguments:
    """SOURCE and its flags as one checked job: the SOURCE text parsed here, once."""
    from ..model.swapping.job import ModelJob

    input_shape = getattr(arguments, "input_shape", None)
    selection = parse_selection(arguments.swap)
    budget = selection if selection.rule in BUDGET_RULES else None
    job = ModelJob(
        parse_source(arguments.source),
        weights=arguments.weights,
        input_shape=parse_input_shape(input_shape) if input_shape is not None else None,
        selection=Selection("none") if budget is not None else selection,
        depth_multiplier=parse_depth_multiplier(arguments.depth_multiplier),
        init=getattr(arguments, "init", "svd"),
        swapped_dir=getattr(arguments, "swapped", None),
        device=getattr(arguments, "device", None) or "cpu",
        threads=getattr(arguments, "threads", None),
        budget_bytes=_budget_bytes(arguments),
    )
    return ModelArguments(job, budget)


def workflow(
    arguments: argparse.Namespace, given: ModelArguments, ranks: Ranks | None = None
) -> Workflow:
    """The engine's workflow for SOURCE, its flags and --data, on ``ranks`` (default: one
    process on --device)."""
    from ..model.measure.distributed import LOCAL
    from ..model.recovery.settings import DEFAULT_CALIBRATION
    from ..model.workflow import Workflow

    budget = given.budget if given.budget and given.budget.on_frontier else None
    out = getattr(arguments, "out", None)
    return Workflow(
        given.job,
        arguments.data,
        budget=budget,
        outputs=(out,) if out is not None else (),
        max_time=getattr(arguments, "sensitivity_time", None),
        data_options=data_options(arguments),
        calibration=getattr(arguments, "calibration", None) or DEFAULT_CALIBRATION,
        batch_size=arguments.batch_size,
        validation=_split_size(arguments, "validation"),
        test=_split_size(arguments, "test"),
        ranks=ranks if ranks is not None else LOCAL,
        # Commands with --precision hold agreement:X to the swap at it, in --runtime.
        precision=getattr(arguments, "precision", "fp32"),
        runtime=arguments.runtime if hasattr(arguments, "precision") else None,
        per_channel=not getattr(arguments, "per_tensor", False),
    )


def _split_size(arguments: argparse.Namespace, name: str) -> int | float | None:
    """--validation/--test as a count or a fraction (checked), or None."""
    text = getattr(arguments, name, None)
    if text is None:
        return None
    from ..model.measure.split import parse_split_size

    return parse_split_size(text, name)


def _budget_bytes(arguments: argparse.Namespace) -> int | None:
    """--memory-budget-mb in bytes, or None (a quarter of the free memory)."""
    budget = getattr(arguments, "memory_budget_mb", None)
    return budget * 1024 * 1024 if budget is not None else None


def resolve_budget_arguments(
    arguments: argparse.Namespace,
    given: ModelArguments,
    progress: OnProgress | None,
    ranks: Ranks | None = None,
) -> tuple[ModelArguments, Any]:
    """``--swap agreement:X``, ``macs:X`` or ``params:X`` as the layers and the m each one gets
    (on the frontier measured on --data; macs:X and params:X without data by the weights
    alone), with the BudgetChoice (None for other selections, which pass through); the choice
    and its notes go to stderr."""
    if given.budget is None or not given.budget.on_frontier:
        return given, None
    data = getattr(arguments, "data", None)
    if data is None:
        if given.budget.rule == "agreement":
            raise SelectionError(
                f"--swap {given.budget} measures each swap on data: it needs --data DATA"
            )
        chosen = _resolve_without_data(given)
    else:
        from ..model.measure.distributed import Ranks

        on = ranks if ranks is not None else Ranks(resolve_device_argument(arguments))
        chosen = workflow(arguments, given, on).resolve(progress)
        if not on.main:
            return given.resolved(chosen.selection, chosen.multipliers), chosen
    say_choice(chosen.frontier, chosen.notes)
    return given.resolved(chosen.selection, chosen.multipliers), chosen


def _resolve_without_data(given: ModelArguments) -> Any:
    """macs:X or params:X chosen on the model's analysis alone (the weights' SVD errors)."""
    from ..model.budget.frontier import resolve_budget
    from ..model.describe.trace import analyze_model

    assert given.budget is not None
    job = given.job
    analysis = analyze_model(
        job.source, input_shape=job.input_shape, select="none", weights=job.weights
    )
    return resolve_budget(given.budget, analysis)


def chosen_workflow(
    arguments: argparse.Namespace,
    given: ModelArguments,
    ranks: Ranks,
    progress: OnProgress | None,
    mode: str = "reconstruct",
    speedup: Any = None,
) -> Workflow:
    """The workflow for --data, a frontier budget resolved first and said on stderr (so the
    work after it reports the choice's validation figure and notes); ``speedup``: speedup:X
    resolved already (its BudgetChoice), carried so that the work after it measures on the
    test split alone and reports the choice's validation figure."""
    made = workflow(arguments, given, ranks)
    if speedup is not None:
        return replace(made, budget=speedup.budget, chosen=speedup)
    if made.chooses:
        chosen = made.resolve(progress, mode=mode)
        if ranks.main:
            say_choice(chosen.frontier, ())
        made = replace(made, chosen=chosen)
    return made


def say_choice(frontier: Any, notes: Sequence[str]) -> None:
    """A budget's choice and its notes, on stderr (the output stays the command's)."""
    from ..report.sensitivity import choice_line

    print(f"sepconv-tui: {choice_line(frontier)}", file=sys.stderr)
    for note in notes:
        print(f"sepconv-tui: note: {note}", file=sys.stderr)


def resolve_speedup_arguments(
    arguments: argparse.Namespace,
    given: ModelArguments,
    progress: OnProgress | None,
    make_workflow: Callable[[argparse.Namespace, ModelArguments], Workflow],
) -> tuple[ModelArguments, Any]:
    """``given`` with ``--swap speedup:X`` resolved to each layer's m on the frontier of
    seconds saved on --runtime (with --threads), its deciding points timed whole against
    --baseline, with the BudgetChoice (None for other selections, which pass through); the
    choice, its predicted and measured speed-up and its notes go to stderr."""
    baseline = getattr(arguments, "baseline", "same")
    if given.budget is None or given.budget.rule != "speedup":
        if baseline != "same":
            raise SelectionError(f"--baseline {baseline} needs --swap speedup:X", field="baseline")
        return given, None
    from ..model.speedup import resolve_speedup

    data = getattr(arguments, "data", None)
    chosen = resolve_speedup(
        given.job,
        given.budget,
        runtime=arguments.runtime or "eager",
        baseline=baseline,
        workflow=make_workflow(arguments, given) if data is not None else None,
        # chosen on the validation split the recovery after it keeps (swap --recover distill)
        mode=getattr(arguments, "recover", None) or "reconstruct",
        progress=progress,
    )
    say_choice(chosen.frontier, chosen.notes)
    return given.resolved(chosen.selection, chosen.multipliers), chosen


def resolve_device_argument(arguments: argparse.Namespace) -> str:
    """--device as cpu or cuda; DeviceError (one line) when CUDA is asked for and absent."""
    from ..model.measure.distributed import resolve_device

    return resolve_device(getattr(arguments, "device", None) or "cpu")


def add_data_arguments(
    parser: argparse.ArgumentParser, *, required: bool, device: bool = True
) -> None:
    """--data and how it is read: --limit, --batch-size, --mean, --std, the splits, and
    (``device``: unless the command has its own) --device and --memory-budget-mb."""
    group = parser.add_argument_group("data")
    group.add_argument("--data", metavar="DATA", required=required, help=DATA_HELP)
    group.add_argument(
        "--limit",
        type=argument_type(lambda text: parse_int_in_range(text, 1, 10_000_000)),
        help="use only the first N samples",
    )
    group.add_argument(
        "--batch-size",
        type=argument_type(lambda text: parse_int_in_range(text, 1, 65_536)),
        default=64,
        help="samples per forward pass, 1–65536 (default: 64)",
    )
    group.add_argument(
        "--mean",
        metavar="M,M,M",
        help="per-channel mean images are normalised with (default: the source's, or ImageNet's)",
    )
    group.add_argument("--std", metavar="S,S,S", help="per-channel std (as --mean)")
    group.add_argument(
        "--validation",
        metavar="N",
        help="samples (or a fraction, e.g. 0.2) that choices are made on: agreement:X, "
        "early stopping (default: what reconstruction leaves; a fifth with distillation)",
    )
    group.add_argument(
        "--test",
        "--holdout",
        dest="test",
        metavar="N",
        help="the last N samples (or a fraction), never fitted nor chosen on: every figure "
        "reported is measured on them (default: a fifth)",
    )
    if not device:
        return
    group.add_argument(
        "--device",
        choices=list(DEVICE_CHOICES),
        default="cpu",
        help="where the models run: cpu (default), cuda, or auto (cuda when a GPU is visible)",
    )
    group.add_argument(
        "--memory-budget-mb",
        metavar="MB",
        type=argument_type(lambda text: parse_int_in_range(text, 1, 16_777_216)),
        default=None,
        help="refuse data and reconstructions needing more (default: a quarter of the free RAM "
        "or GPU memory)",
    )


def data_options(arguments: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments ``load_data`` takes from the data flags."""
    return {
        "mean": _floats(arguments.mean, "--mean"),
        "std": _floats(arguments.std, "--std"),
        "limit": arguments.limit,
    }


def _floats(text: str | None, flag: str) -> tuple[float, ...] | None:
    """Comma-separated numbers, or None; DataError naming ``flag`` otherwise."""
    from ..model.measure.data import DataError

    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise DataError(
            f"{flag} must be comma-separated numbers, one per channel, got {text!r}",
            field=flag[2:],
        ) from None


def add_model_parser(subcommands: Any) -> None:
    """The ``model`` subcommand: a whole model's convs, which to swap, and the totals."""
    model_parser = subcommands.add_parser(
        "model",
        help="a whole model's convs: which to swap for separable blocks, and what it gains",
        description="Every Conv2d and Linear of a model, by closed form and PyTorch (on the "
        "meta device: no weights, no memory), the swap candidates, and the model's params and "
        "MACs before and after the selected swaps. Exit 2 on bad input.",
    )
    add_model_arguments(
        model_parser, weights_help="a state_dict: adds each candidate's SVD error (and auto:E)"
    )
    shape_group = model_parser.add_mutually_exclusive_group()
    add_input_shape_argument(shape_group)
    shape_group.add_argument(
        "--resolution",
        type=argument_type(lambda text: parse_int_in_range(text, 1, 65536)),
        help="input height and width, 1–65536 (other axes as published)",
    )
    add_data_arguments(model_parser, required=False)
    group = model_parser.add_argument_group("sensitivity (needs --data)")
    group.add_argument(
        "--sensitivity",
        action="store_true",
        help="swap each candidate alone at m = 1, 2, 4, … (and the energy rule's m at 0.9 and "
        "0.99), reconstruct it and measure it on the validation split: the layer × m table "
        "every budget (agreement:X, macs:X, params:X, speedup:X) chooses from; kept for reuse. "
        "With --runtime R, each conv and its block at every m are also timed alone on R "
        "(fp32): the seconds each rung saves",
    )
    group.add_argument(
        "--max-time",
        dest="sensitivity_time",
        metavar="S",
        type=argument_type(float_in_range(0, 1e7, low_open=True, unit=" seconds")),
        help="stop measuring the sensitivity after S seconds; the rungs left are marked "
        "not measured (default: no limit)",
    )
    # --runtime unset: the sensitivity is not timed (and speedup:X times on the first runtime).
    model_parser.set_defaults(runtime=None)
    add_format_arguments(model_parser)


def run_model(arguments: argparse.Namespace) -> int:
    """Analyse a whole model and print its table and totals; return the exit code."""
    from ..model.describe.source import build_model, with_resolution
    from .progress import stderr_progress

    try:
        given = read_model_arguments(arguments)
        if arguments.data is None:
            for flag, option in (
                ("sensitivity", "--sensitivity"),
                ("sensitivity_time", "--max-time"),
            ):
                if getattr(arguments, flag):
                    return fail("model", f"{option} needs --data DATA")
        with stderr_progress() as progress:
            given, chosen = resolve_speedup_arguments(arguments, given, progress, workflow)
            if chosen is None:
                given, chosen = resolve_budget_arguments(arguments, given, progress)
            table = None
            if arguments.sensitivity:
                table = chosen.sensitivity if chosen is not None else None
                if table is None or arguments.runtime is not None:
                    # --runtime named: each rung's conv and block timed there (seconds saved;
                    # the table and its seconds reused when kept for the same).
                    made = replace(workflow(arguments, given), seconds_on=arguments.runtime)
                    table = made.sensitivity(progress)
        job = given.ready()
        input_shape = job.input_shape
        if input_shape is None and arguments.resolution is not None:
            default_shape = build_model(job.source).default_input_shape
            input_shape = with_resolution(default_shape, arguments.resolution)
        from ..model.describe.trace import analyze_model

        analysis = analyze_model(
            job.source,
            input_shape=input_shape,
            select=job.selection,
            depth_multiplier=job.depth_multiplier,
            weights=job.weights,
        )
    except UserError as error:
        return fail("model", error)
    _print_model(arguments, analysis, table, chosen.frontier if chosen is not None else None)
    return EXIT_MATCH


def _print_model(arguments: argparse.Namespace, analysis: Any, table: Any, frontier: Any) -> None:
    """The model's table (with the sensitivity table and the chosen frontier, when made)."""
    import json

    from rich.console import Group

    from ..report import model_export, model_table
    from ..report import sensitivity as sensitivity_report

    def as_json() -> str:
        values = analysis.to_dict()
        if table is not None:
            values["sensitivity"] = [rung.to_dict() for rung in table.rungs]
            values["sensitivity_notes"] = list(table.notes)
            timing = table.timing
            values["sensitivity_timing"] = timing.to_dict() if timing is not None else None
        if frontier is not None:
            values["frontier"] = frontier.to_dict()
        return json.dumps(values, indent=2)

    def as_markdown() -> str:
        text = model_export.to_markdown(analysis)
        if table is not None:
            text = text.rstrip("\n") + "\n\n" + sensitivity_report.to_markdown(table)
        return text

    def as_rich() -> Any:
        parts = [model_table.render(analysis, compact=compact)]
        if table is not None:
            parts.append(sensitivity_report.render(table))
        return Group(*parts)

    # Piped, the wide table: a file keeps every column (compact is for a narrow terminal).
    compact = sys.stdout.isatty() and shutil.get_terminal_size().columns < model_table.WIDE_COLUMNS
    emit(
        arguments.format,
        json=as_json,
        markdown=as_markdown,
        csv=lambda: model_export.to_csv(analysis),
        rich=as_rich,
    )


def add_swap_parser(subcommands: Any) -> None:
    """The ``swap`` subcommand: write the swapped model's state_dict and its plan."""
    from ..model.recovery.settings import (
        CHECK_EVERY,
        DEFAULT_CALIBRATION,
        DEFAULT_LR,
        DEFAULT_PATIENCE,
        DEFAULT_STEPS,
        MIN_PASSES,
        MIN_STEPS,
        RECOVER_MODES,
    )

    swap_parser = subcommands.add_parser(
        "swap",
        help="build the swapped model from the original's weights; write swapped.pt and plan.json",
        description="Replace the selected convs of a model by depthwise-separable blocks "
        "initialised from the original weights (per input channel, the top singular triplets "
        "of the conv's kernel: exact when its rank allows, the closest block otherwise). "
        "Writes DIR/swapped.pt (the state_dict) and DIR/plan.json, and prints each swapped "
        "conv's relative weight error. With --data, repairs the swap on that data "
        "(least-squares reconstruction of each block, then optionally distillation) and "
        "writes DIR/fidelity.json: the held-out fidelity after each stage. Exit 2 on bad input.",
    )
    add_model_arguments(
        swap_parser,
        weights_help="the original's state_dict (default: the model's own initialisation)",
    )
    swap_parser.add_argument(
        "--init",
        choices=["svd", "random"],
        default="svd",
        help="svd: from the original weights (default); random: PyTorch's initialisation",
    )
    add_input_shape_argument(swap_parser)
    swap_parser.add_argument(
        "--out", metavar="DIR", required=True, help="where to write swapped.pt and plan.json"
    )
    swap_parser.add_argument(
        "--json", dest="format", action="store_const", const="json", help="print the plan JSON"
    )
    swap_parser.add_argument(
        "--onnx",
        action="store_true",
        help="also write DIR/swapped.onnx, checked in ONNX Runtime (the [deploy] extra)",
    )
    add_data_arguments(swap_parser, required=False)
    group = swap_parser.add_argument_group("recovery (needs --data)")
    group.add_argument(
        "--recover",
        choices=list(RECOVER_MODES),
        help="none, reconstruct (least squares per block; the default with --data) or "
        "distill (reconstruct, then --steps of distillation from the original)",
    )
    positive = argument_type(lambda text: parse_int_in_range(text, 1, 10_000_000))
    group.add_argument(
        "--calibration",
        type=positive,
        help=f"samples the least squares are fitted on (default: {DEFAULT_CALIBRATION})",
    )
    group.add_argument(
        "--steps",
        type=positive,
        help=f"the most distillation steps (default: {DEFAULT_STEPS}; it stops earlier once "
        "the validation split stops improving)",
    )
    group.add_argument(
        "--lr",
        type=argument_type(float_in_range(0, 10.0, low_open=True)),
        help=f"distillation's peak learning rate (Adam; default: {DEFAULT_LR:g}), reached "
        "after a short linear warm-up, then cosine down to 0 at --steps",
    )
    group.add_argument(
        "--patience",
        type=positive,
        help="distillation stops after this many validation checks without improvement "
        f"(default: {DEFAULT_PATIENCE}; a check every {CHECK_EVERY} steps, none counted before "
        f"{MIN_PASSES} passes over the fit split or {MIN_STEPS} steps); the weights of the "
        "lowest validation loss are kept",
    )
    group.add_argument(
        "--max-time",
        type=argument_type(float_in_range(0, 1e7, low_open=True, unit=" seconds")),
        help="stop distilling after this many seconds (default: no limit)",
    )
    group.add_argument(
        "--label-weight",
        type=argument_type(float_in_range(0, 1.0)),
        help="the share of cross-entropy on the labels in the distillation loss, 0–1 "
        "(default: 0, the original's outputs only)",
    )


#: Flags that mean nothing without --data.
RECOVERY_FLAGS = (
    "recover",
    "calibration",
    "validation",
    "test",
    "steps",
    "lr",
    "patience",
    "max_time",
    "label_weight",
    "limit",
    "mean",
    "std",
    "memory_budget_mb",
)
#: Flags that only distillation reads.
DISTILL_FLAGS = ("steps", "lr", "patience", "max_time", "label_weight")


@contextmanager
def started_ranks(arguments: argparse.Namespace) -> Iterator[Ranks]:
    """The ranks on --device: this process alone, or under torchrun joined to its peers
    (left when the block ends). DeviceError when the device cannot run here."""
    from ..model.measure.distributed import Ranks

    ranks = Ranks.start(getattr(arguments, "device", None) or "cpu")
    try:
        yield ranks
    except BaseException:
        ranks.stop(finished=False)
        raise
    ranks.stop()


def _progress(ranks: Ranks) -> Any:
    """The stderr progress bars on the process that prints; none on the other ranks."""
    from .progress import stderr_progress

    return stderr_progress() if ranks.main else nullcontext(None)


def _on(ranks: Ranks) -> Callable[[argparse.Namespace, ModelArguments], Workflow]:
    """``workflow`` bound to ``ranks``, for the speedup:X resolver."""
    return lambda arguments, given: workflow(arguments, given, ranks)


def _fail(command: str, error: UserError | str, ranks: Ranks | None) -> int:
    """``fail`` said once: by rank 0 under torchrun (every rank exits 2)."""
    if ranks is None or ranks.main:
        return fail(command, error)
    return EXIT_BAD_ARGUMENTS


def run_swap(arguments: argparse.Namespace) -> int:
    """Swap a model's convs, optionally repair them on data, write DIR; return the exit code."""
    from ..report import fidelity as fidelity_report
    from ..report import swap as swap_report
    from ..report.console import print_report

    ranks: Ranks | None = None
    made_out: Path | None = None  # --out when this run makes it: a failed run removes it
    try:
        given = read_model_arguments(arguments)
        if arguments.data is None:
            for flag in RECOVERY_FLAGS:
                if getattr(arguments, flag) is not None:
                    option = "--" + flag.replace("_", "-")
                    return fail("swap", f"{option} needs --data DATA")
            if arguments.device != "cpu":
                return fail("swap", "--device needs --data DATA (the swap itself runs on the CPU)")
        if arguments.recover == "none" and any(
            getattr(arguments, flag) is not None for flag in ("calibration", *DISTILL_FLAGS)
        ):
            return fail(
                "swap",
                "--calibration, --steps, --lr, --patience, --max-time and --label-weight need "
                "--recover reconstruct or distill",
            )
        if arguments.recover != "distill" and any(
            getattr(arguments, flag) is not None for flag in DISTILL_FLAGS[2:]
        ):
            return fail("swap", "--patience, --max-time and --label-weight need --recover distill")
        out = Path(arguments.out)
        if out.exists() and not out.is_dir():
            return fail("swap", f"--out {arguments.out!r} is a file, not a folder")
        # A failed run leaves no folder it made (the sensitivity table is kept there early).
        made_out = None if out.exists() else out
        from ..model.recovery.settings import (
            DEFAULT_LABEL_WEIGHT,
            DEFAULT_LR,
            DEFAULT_PATIENCE,
            DEFAULT_STEPS,
        )
        from ..model.swapping.job import build_pair
        from ..model.swapping.swap import save

        with started_ranks(arguments) as ranks, _progress(ranks) as progress:
            given, speedup = resolve_speedup_arguments(arguments, given, progress, _on(ranks))
            budget = speedup.frontier.choice_record() if speedup is not None else None
            recovery = None
            if arguments.data is not None:
                mode = arguments.recover or "reconstruct"
                made = chosen_workflow(arguments, given, ranks, progress, mode, speedup)
                recovery = made.recover(
                    mode,
                    steps=arguments.steps or DEFAULT_STEPS,
                    lr=arguments.lr or DEFAULT_LR,
                    patience=arguments.patience or DEFAULT_PATIENCE,
                    max_time=arguments.max_time,
                    label_weight=(
                        arguments.label_weight
                        if arguments.label_weight is not None
                        else DEFAULT_LABEL_WEIGHT
                    ),
                    progress=progress,
                )
                result = recovery.result
            else:
                given, _chosen = resolve_budget_arguments(arguments, given, progress, ranks)
                _original, _swapped, result = build_pair(given.ready())
            if not ranks.main:
                return EXIT_MATCH  # rank 0 alone writes and prints
            if arguments.onnx:
                from ..model.deploy.export import require_deploy

                require_deploy()
            written = save(
                result, out, fidelity=recovery.to_dict() if recovery else None, budget=budget
            )
            exported = None
            if arguments.onnx:
                from ..model.deploy.export import export_swap

                exported = export_swap(result, out)
                written.append(Path(exported.path))
    except UserError as error:
        if made_out is not None and (ranks is None or ranks.main):
            shutil.rmtree(made_out, ignore_errors=True)
        return _fail("swap", error, ranks)
    if arguments.format == "json":
        print(fidelity_report.swap_json(result, recovery, budget))
        return EXIT_MATCH
    print_report(swap_report.render(result, [str(path) for path in written]))
    if exported is not None:
        print(
            f"{Path(exported.path).name}: ONNX Runtime's outputs equal PyTorch's to "
            f"{exported.relative_error:.1e} (relative); {exported.swapped_layers} swapped layers "
            "are a Conv with group = C_in"
        )
    if recovery is not None:
        print_report(fidelity_report.render_recovery(recovery))
    elif given.job.weights is None and result.init == "svd" and _from_a_zoo(given.job):
        # A freshly built torchvision/timm model has random kernels, far from separable: say
        # so, or the errors read as what the swap does to a trained model.
        print(
            "No --weights: the original weights are PyTorch's default initialisation, so "
            "these errors are a random kernel's, not a trained model's."
        )
    return EXIT_MATCH


def _from_a_zoo(job: ModelJob) -> bool:
    """True when the job's model comes from torchvision or timm (not the user's own code)."""
    from ..model.describe.source import ModelSource

    return isinstance(job.source, ModelSource) and job.source.kind.zoo


def add_fidelity_parser(subcommands: Any) -> None:
    """The ``fidelity`` subcommand: what the swap does to the model's outputs on data."""
    fidelity_parser = subcommands.add_parser(
        "fidelity",
        help="run the original and the swapped model on data: output error, agreement, accuracy",
        description="Run the original and the swapped model (a swap written by `swap --out "
        "DIR`, or --swap made now from the weights) on every sample of DATA: the final "
        "outputs' relative error, top-1 agreement with the original for classifiers, both "
        "accuracies when DATA has labels, and per swapped layer its output error alone "
        "(local) and inside the swapped network, beside its weight error. Measure on data "
        "the swap was not fitted on. --precision int8|bf16 runs both models as deployed at "
        "that precision and holds them to the fp32 original on the test split. Exit 2 on bad "
        "input.",
    )
    add_model_arguments(fidelity_parser, weights_help="the original's state_dict")
    add_input_shape_argument(fidelity_parser)
    fidelity_parser.add_argument(
        "--swapped",
        metavar="DIR",
        help="the swap `sepconv-tui swap --out DIR` wrote (plan.json and swapped.pt); "
        "default: swap --swap now, initialised by SVD",
    )
    add_data_arguments(fidelity_parser, required=True)
    add_precision_arguments(fidelity_parser)
    # --runtime (from the speedup flags) names where --precision runs; unset, the precision's
    # own runtime is chosen (and speedup:X times on the first runtime, as elsewhere).
    fidelity_parser.set_defaults(runtime=None)
    add_format_arguments(fidelity_parser)


def add_precision_arguments(parser: argparse.ArgumentParser) -> None:
    """--precision and --per-tensor: which arithmetic both models are measured at."""
    from ..model.deploy.deploy_precision import DEFAULT_RUNTIME, PRECISIONS

    defaults = ", ".join(
        f"{precision} in {runtime}" for precision, runtime in DEFAULT_RUNTIME.items()
    )
    group = parser.add_argument_group("precision")
    group.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default="fp32",
        help="run both models at this precision and hold them to the fp32 original on the "
        f"test split: int8 is a static QDQ file calibrated on the fit split; runs {defaults} "
        "unless --runtime names another (default: fp32, as PyTorch runs it)",
    )
    group.add_argument(
        "--per-tensor",
        action="store_true",
        help="int8 with one scale per weight tensor (default: one per output channel)",
    )


def _at_precision(arguments: argparse.Namespace) -> bool:
    """True when --precision/--runtime ask for more than PyTorch's fp32 (today's fidelity)."""
    return arguments.precision != "fp32" or arguments.runtime not in (None, "eager")


def run_fidelity(arguments: argparse.Namespace) -> int:
    """Measure the swapped model against the original on --data; return the exit code."""
    from ..report import fidelity as fidelity_report

    ranks: Ranks | None = None
    try:
        given = read_model_arguments(arguments)
        if arguments.swapped is not None and arguments.swap != "saving":
            return fail("fidelity", "--swap and --swapped DIR exclude each other")
        runtime = arguments.runtime
        at_precision = _at_precision(arguments)
        if at_precision:
            from ..model.deploy.deploy_precision import runtime_for
            from ..model.measure.precision_fidelity import EAGER_RUNTIMES

            runtime = runtime_for(arguments.precision, runtime)
            if runtime not in EAGER_RUNTIMES:
                from ..model.deploy.onnx_run import require_runtime

                require_runtime(runtime)
        arguments.runtime = runtime or "eager"  # where speedup:X times
        with started_ranks(arguments) as ranks, _progress(ranks) as progress:
            given, speedup = resolve_speedup_arguments(arguments, given, progress, _on(ranks))
            measured = chosen_workflow(arguments, given, ranks, progress, speedup=speedup)
            if at_precision:
                fidelity: Any = measured.fidelity_at(
                    arguments.precision,
                    runtime,
                    per_channel=not arguments.per_tensor,
                    progress=progress,
                )
            else:
                fidelity = measured.fidelity(progress)
        budget = given.budget
        if ranks.main and measured.reconstructs:
            # fidelity alone shows the SVD swap; a budget's choice is measured as it was chosen.
            print(
                f"sepconv-tui fidelity: note: {budget} was met with each chosen block "
                "reconstructed (least squares on the fit split), and so is the swap measured "
                "below; swap --data DATA --swap "
                f"{budget} --out DIR writes it",
                file=sys.stderr,
            )
    except UserError as error:
        return _fail("fidelity", error, ranks)
    if ranks.main:
        from ..report import precision_fidelity

        emit_report(
            arguments.format, precision_fidelity if at_precision else fidelity_report, fidelity
        )
    return EXIT_MATCH


def add_bench_model_arguments(bench_parser: argparse.ArgumentParser) -> None:
    """``bench --model SOURCE`` and the flags that go with it."""
    group = bench_parser.add_argument_group("whole model (--model)")
    group.add_argument(
        "--model",
        metavar="SOURCE",
        help=f"time this model and its swapped copy: {SOURCE_HELP}",
    )
    group.add_argument("--swap", help=SWAP_HELP)
    add_input_shape_argument(group)
    group.add_argument(
        "--weights",
        metavar="STATE_DICT",
        help="load this state_dict (default: random weights, which time the same)",
    )
    group.add_argument(
        "--swapped",
        metavar="DIR",
        help="time the swap `sepconv-tui swap --out DIR` wrote (a recovered one, say) instead "
        "of making one with --swap",
    )
    add_data_arguments(bench_parser, required=False, device=False)
    bench_parser.add_argument(
        "--min-agreement",
        metavar="X",
        type=argument_type(float_in_range(0, 1, low_open=True)),
        default=None,
        help="with --data: the best deployment is also given among the cells whose top-1 "
        "agreement with the fp32 original is ≥ X, 0 < X ≤ 1 (default: 0.99)",
    )
    # Seconds each side is timed for; tests shorten it (not a user-facing knob).
    group.add_argument(
        "--min-run-time",
        type=argument_type(float_in_range(0.001, 60, unit=" seconds")),
        default=None,
        help=argparse.SUPPRESS,
    )


def run_bench_model(arguments: argparse.Namespace) -> int:
    """Time a whole model and its swapped copy; return the exit code."""
    try:
        selection = parse_selection(arguments.swap or "saving")
        source = parse_source(arguments.model)
        input_shape = None
        if arguments.input_shape is not None:
            input_shape = parse_input_shape(arguments.input_shape)
        from .runtime import bench_job, run_per_layer, selected_precision, selected_runtimes

        if arguments.swapped is not None and arguments.swap is not None:
            return fail("bench", "--swap and --swapped DIR exclude each other")
        refused = _data_refusal(arguments)
        if refused is None and arguments.data is not None and selection.rule in BUDGET_RULES:
            refused = (
                f"--swap {selection}: bench --data times and measures a swap, it does not "
                f"choose one: swap SOURCE --data DATA --swap {selection} --out DIR writes it, "
                "then --swapped DIR measures it here"
            )
        if refused is not None:
            return fail("bench", refused)
        if arguments.per_layer:
            return run_per_layer(arguments, selection, source, input_shape)
        from ..model.latency.bench import benchmark_model
        from ..model.results.bench_result import MODEL_MIN_RUN_TIME_S

        job = bench_job(arguments, selection, source, input_shape)
        runtimes = selected_runtimes(arguments)
        precision = selected_precision(arguments)
        min_run_time = arguments.min_run_time or MODEL_MIN_RUN_TIME_S
        if arguments.data is not None:
            assert runtimes is not None  # _data_refusal asked for --runtime
            result = _bench_workflow(arguments, job).bench(
                runtimes,
                precision,
                per_channel=not arguments.per_tensor,
                min_run_time=min_run_time,
                min_agreement=arguments.min_agreement or DEFAULT_MIN_AGREEMENT,
            )
        else:
            result = benchmark_model(
                job,
                runtimes=runtimes,
                precision=precision,
                per_channel=not arguments.per_tensor,
                channels_last=arguments.channels_last,
                min_run_time=min_run_time,
            )
    except UserError as error:
        return fail("bench", error)
    from ..report import model_bench as model_bench_report

    emit_report(arguments.format, model_bench_report, result)
    return EXIT_MATCH


#: The data flags whose default is "not given": without --data, each is refused.
_DATA_ONLY = ("min_agreement", "limit", "mean", "std", "validation", "test")


def _data_refusal(arguments: argparse.Namespace) -> str | None:
    """Why ``bench --model``'s data flags cannot go together as given (None: they can):
    a data flag without --data; --data without the matrix it measures."""
    if arguments.data is None:
        for name in _DATA_ONLY:
            if getattr(arguments, name) is not None:
                return f"--{name.replace('_', '-')} needs --data DATA"
        return None
    if arguments.per_layer:
        return "--data measures each cell of the matrix, not --per-layer"
    if arguments.runtime is None:
        return (
            "--data measures each cell of the matrix: add --runtime (e.g. --runtime all "
            "--precision all)"
        )
    return None


def _bench_workflow(arguments: argparse.Namespace, job: ModelJob) -> Workflow:
    """``bench --model … --data``'s workflow: the job and how --data is read and split."""
    from ..model.workflow import Workflow

    return Workflow(
        job,
        arguments.data,
        data_options=data_options(arguments),
        batch_size=arguments.batch_size,
        validation=_split_size(arguments, "validation"),
        test=_split_size(arguments, "test"),
    )
