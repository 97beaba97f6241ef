"""Model sources: parse "torchvision:NAME", "timm:NAME", "pkg.module:callable", "file.py:callable",
build the model on the meta device (no weights, no memory), and the input it was published for.

torch, torchvision and timm are imported inside the functions that need them.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import UserError, first_line

if TYPE_CHECKING:
    import torch
    from torch import nn

Shape = tuple[int, ...]

#: What SOURCE accepts, for messages.
SOURCE_FORMS = "torchvision:NAME, timm:NAME, package.module:callable or path/to/file.py:callable"
#: The input of a model that publishes none.
DEFAULT_INPUT_SHAPE: Shape = (1, 3, 224, 224)
MODELS_EXTRA = "install sepconv-tui[models] (with a torchvision that matches your torch)"


class ModelSourceError(UserError):
    """A source that cannot be resolved, built or run; the message is for the user as is."""

    default_field = "source"


class SourceKind(str, Enum):
    """Where a SOURCE's model comes from."""

    TORCHVISION = "torchvision"  # torchvision:NAME
    TIMM = "timm"  # timm:NAME
    MODULE = "module"  # package.module:callable
    FILE = "file"  # path/to/file.py:callable

    def __str__(self) -> str:
        """The value (Python 3.11 changed how a ``(str, Enum)`` formats; this keeps 3.10's)."""
        return self.value

    @property
    def zoo(self) -> bool:
        """True for a model zoo (torchvision, timm): a model name, not a callable of the user's."""
        return self in (SourceKind.TORCHVISION, SourceKind.TIMM)


@dataclass(frozen=True)
class ModelSource:
    """A parsed SOURCE: where the model comes from and which callable builds it."""

    kind: SourceKind
    location: str  # the model name, the dotted module, or the file path
    attribute: str | None = None  # the callable, for "module" and "file"

    def __str__(self) -> str:
        """The SOURCE text this was parsed from (normalised)."""
        if self.kind.zoo:
            return f"{self.kind}:{self.location}"
        return f"{self.location}:{self.attribute}"


def parse_source(text: str) -> ModelSource:
    """SOURCE text → ModelSource; ModelSourceError naming the accepted forms."""
    cleaned = text.strip()
    prefix, colon, rest = cleaned.partition(":")
    if prefix in (SourceKind.TORCHVISION, SourceKind.TIMM):
        if not rest.strip():
            raise ModelSourceError(f"SOURCE {text!r} names no model: write {prefix}:NAME")
        return ModelSource(SourceKind(prefix), rest.strip())
    location, colon, attribute = cleaned.rpartition(":")
    if not colon or not location or not attribute:
        raise ModelSourceError(f"SOURCE must be {SOURCE_FORMS}; got {text!r}")
    if not attribute.isidentifier():
        raise ModelSourceError(f"SOURCE {text!r}: {attribute!r} is not a Python name")
    if location.endswith(".py") or "/" in location or "\\" in location:
        return ModelSource(SourceKind.FILE, location, attribute)
    if not all(part.isidentifier() for part in location.split(".")):
        raise ModelSourceError(f"SOURCE {text!r}: {location!r} is not a dotted module name")
    return ModelSource(SourceKind.MODULE, location, attribute)


@contextmanager
def empty_weights() -> Iterator[None]:
    """Put parameters and buffers on the meta device as they are registered (no memory).

    accelerate's ``init_empty_weights`` technique: unlike ``with torch.device("meta")``, code in
    ``__init__`` that computes with ordinary tensors (RegNet's widths) still runs on the CPU.
    """
    import torch
    from torch import nn

    meta = torch.device("meta")
    register_parameter = nn.Module.register_parameter
    register_buffer = nn.Module.register_buffer

    def register_empty_parameter(module: nn.Module, name: str, param: Any) -> None:
        register_parameter(module, name, param)
        if param is not None:
            registered = module._parameters[name]
            assert registered is not None
            attributes = dict(registered.__dict__)
            attributes["requires_grad"] = param.requires_grad
            # Keep the Parameter subclass and its attributes (some libraries tag parameters).
            module._parameters[name] = type(registered)(registered.to(meta), **attributes)

    def register_empty_buffer(
        module: nn.Module, name: str, tensor: Any, persistent: bool = True
    ) -> None:
        register_buffer(module, name, tensor, persistent=persistent)
        if tensor is not None:
            module._buffers[name] = module._buffers[name].to(meta)  # type: ignore[union-attr]

    nn.Module.register_parameter = register_empty_parameter  # type: ignore[method-assign,assignment]
    nn.Module.register_buffer = register_empty_buffer  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]
        nn.Module.register_buffer = register_buffer  # type: ignore[method-assign]


@contextmanager
def _no_weight_download() -> Iterator[None]:
    """Let torchvision builders take their default weights' settings without loading them."""
    from torch import nn
    from torchvision.models._api import WeightsEnum

    get_state_dict = WeightsEnum.get_state_dict
    load_state_dict = nn.Module.load_state_dict
    WeightsEnum.get_state_dict = lambda self, *args, **kwargs: {}
    nn.Module.load_state_dict = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        WeightsEnum.get_state_dict = get_state_dict
        nn.Module.load_state_dict = load_state_dict  # type: ignore[method-assign]


def _import_optional(name: str) -> Any:
    """Import torchvision or timm, or say how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ModelSourceError(f"{name} is not installed ({error}): {MODELS_EXTRA}") from None


def _closest(name: str, names: list[str]) -> str:
    """ "; did you mean 'x'?" for the closest of ``names``, or nothing."""
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class BuiltModel:
    """A model built from a source, the input it was published for, and what the build did."""

    module: nn.Module
    default_input_shape: Shape
    notes: tuple[str, ...] = ()
    # The class whose load_state_dict the factory called (None: it called none). Such a
    # model's weights are its own trained ones, not random, and a meta build dropped them.
    weights_loader: str | None = None


def _torchvision_weights(name: str) -> Any:
    """The default weights enum member of torchvision model ``name``, or None."""
    from torchvision import models

    try:
        return models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError, KeyError):
        return None


def _crop_shape(weights: Any) -> Shape:
    """(1, 3, crop, crop) from the weights' inference transforms, else the default input."""
    try:
        transforms = weights.transforms()
    except Exception:  # a transforms factory that needs arguments: use the default
        return DEFAULT_INPUT_SHAPE
    crop = getattr(transforms, "crop_size", None)
    if not crop:
        return DEFAULT_INPUT_SHAPE
    height, width = (crop[0], crop[0]) if len(crop) == 1 else (crop[0], crop[1])
    return (1, 3, int(height), int(width))


def _build_torchvision(name: str, real: bool) -> BuiltModel:
    """A torchvision model as its default weights describe it (weights not loaded)."""
    torchvision = _import_optional("torchvision")
    names = torchvision.models.list_models()
    if name not in names:
        raise ModelSourceError(
            f"unknown torchvision model {name!r}{_closest(name, names)} "
            "(torchvision.models.list_models() lists them)"
        )
    weights = _torchvision_weights(name)
    with _building(real), _no_weight_download():
        module = _call_factory(
            lambda: torchvision.models.get_model(name, weights=weights), f"torchvision:{name}"
        )
    if weights is None:
        return BuiltModel(module, DEFAULT_INPUT_SHAPE)
    # The weights' settings change the architecture (GoogLeNet drops its aux heads, ViT-H/14
    # takes 518 px), so the model counted is the one people download, built empty.
    note = f"architecture of {type(weights).__name__}.{weights.name} (weights not loaded)"
    shape = _crop_shape(weights)
    if _first_conv_rank(module) == 3:
        # A video model: a clip of DEFAULT_CLIP_FRAMES frames at the weights' crop.
        shape = (*shape[:2], DEFAULT_CLIP_FRAMES, *shape[2:])
        note += f", a {DEFAULT_CLIP_FRAMES}-frame clip"
    return BuiltModel(module, shape, (note,))


def _first_conv_rank(module: nn.Module) -> int | None:
    """The spatial rank of the model's first Conv1d, Conv2d or Conv3d (None: it has none)."""
    from torch import nn

    for layer in module.modules():
        for rank, conv_class in enumerate((nn.Conv1d, nn.Conv2d, nn.Conv3d), start=1):
            if isinstance(layer, conv_class):
                return rank
    return None


def _build_timm(name: str, real: bool) -> BuiltModel:
    """A timm model without pretrained weights; input size from its pretrained config."""
    timm = _import_optional("timm")
    if not timm.is_model(name):
        names = timm.list_models()
        raise ModelSourceError(
            f"unknown timm model {name!r}{_closest(name, names)} (timm.list_models() lists them)"
        )
    with _building(real):
        module = _call_factory(lambda: timm.create_model(name, pretrained=False), f"timm:{name}")
    return BuiltModel(module, published_input_shape(module))


def published_input_shape(module: Any) -> Shape:
    """(1, C, H, W) from a model's ``pretrained_cfg["input_size"]`` (timm's convention, which
    a user's own model may follow to publish its input too), else DEFAULT_INPUT_SHAPE."""
    config = getattr(module, "pretrained_cfg", None) or {}
    input_size = config.get("input_size") if isinstance(config, dict) else None
    return (1, *map(int, input_size)) if input_size else DEFAULT_INPUT_SHAPE


def _load_file(path_text: str) -> Any:
    """Import a Python file as a module (its folder on sys.path, for its own imports)."""
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ModelSourceError(f"SOURCE file {path_text!r} does not exist")
    module_name = "_sepconv_model_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    status = path.stat()
    stamp = (str(path.resolve()), status.st_mtime_ns, status.st_size)
    loaded = sys.modules.get(module_name)
    if loaded is not None and getattr(loaded, "__sepconv_stamp__", None) == stamp:
        # The same file, unchanged: its classes stay the ones the models built from it hold,
        # so those models still pickle (a timing child loads them by these classes' names).
        return loaded
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelSourceError(f"SOURCE file {path_text!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    module.__sepconv_stamp__ = stamp  # type: ignore[attr-defined]
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(module_name, None)
        raise ModelSourceError(
            f"{path_text} does not import: {first_line(error, with_type=True)}"
        ) from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def _load_module(dotted: str) -> Any:
    """Import a dotted module, or say why it does not import."""
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as error:
        raise ModelSourceError(f"module {dotted!r} not found ({error})") from None
    except Exception as error:
        raise ModelSourceError(
            f"module {dotted!r} does not import: {first_line(error, with_type=True)}"
        ) from None


def _factory(module: Any, where: str, attribute: str) -> Callable[[], Any]:
    """The callable ``attribute`` of ``module``, or a message listing the callables there."""
    factory = getattr(module, attribute, None)
    if factory is None or not callable(factory):
        available = sorted(
            name
            for name, value in vars(module).items()
            if callable(value)
            and not name.startswith("_")
            and getattr(value, "__module__", None) == module.__name__
        )
        listing = f" (callables there: {', '.join(available[:8])})" if available else ""
        what = "no callable" if factory is None else "a non-callable"
        raise ModelSourceError(f"{where} has {what} {attribute!r}{listing}")
    return factory


def _call_factory(factory: Callable[[], Any], label: str) -> nn.Module:
    """Call a model factory; its errors and a non-Module result become ModelSourceError."""
    from torch import nn

    try:
        with warnings.catch_warnings():
            # Builders warn about weight initialisation, which an empty build never runs.
            warnings.simplefilter("ignore")
            model = factory()
    except ModelSourceError:
        raise
    except Exception as error:
        raise ModelSourceError(f"{label} raised {first_line(error, with_type=True)}") from None
    if not isinstance(model, nn.Module):
        raise ModelSourceError(f"{label} returned {type(model).__name__}, not a torch.nn.Module")
    return model


@contextmanager
def _recording_loads() -> Iterator[list[str]]:
    """Record the class of each module whose ``load_state_dict`` runs (the load itself runs).

    A factory that loads its own trained weights (facenet-pytorch's ``ONet()`` does, in
    ``__init__``) loses them in a meta build: what it loaded is what the analysis should see.
    """
    from torch import nn

    loads: list[str] = []
    load_state_dict = nn.Module.load_state_dict

    def recording_load(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        loads.append(type(self).__name__)
        return load_state_dict(self, *args, **kwargs)

    nn.Module.load_state_dict = recording_load  # type: ignore[method-assign]
    try:
        yield loads
    finally:
        nn.Module.load_state_dict = load_state_dict  # type: ignore[method-assign]


@contextmanager
def _building(real: bool) -> Iterator[None]:
    """Build on meta (the default) or, for a model meta cannot run, on the CPU for real."""
    if real:
        yield
        return
    with empty_weights():
        yield


def build_model(source: ModelSource | str, *, real: bool = False) -> BuiltModel:
    """Build ``source`` without weights: on meta, or with real CPU tensors when ``real``."""
    if isinstance(source, str):
        source = parse_source(source)
    if source.kind is SourceKind.TORCHVISION:
        return _build_torchvision(source.location, real)
    if source.kind is SourceKind.TIMM:
        return _build_timm(source.location, real)
    assert source.attribute is not None
    load = _load_file if source.kind is SourceKind.FILE else _load_module
    module = load(source.location)
    factory = _factory(module, source.location, source.attribute)
    with _building(real), _recording_loads() as loads:
        model = _call_factory(factory, str(source))
    return BuiltModel(
        model, published_input_shape(model), weights_loader=loads[0] if loads else None
    )


def model_names() -> list[str]:
    """Every "torchvision:NAME" and "timm:NAME" the installed packages can build."""
    names: list[str] = []
    try:
        import torchvision

        names += [f"torchvision:{name}" for name in torchvision.models.list_models()]
    except ImportError:
        pass
    try:
        import timm

        names += [f"timm:{name}" for name in timm.list_models()]
    except ImportError:
        pass
    return names


def parameter_bytes(module: nn.Module) -> int:
    """Bytes the module's parameters and buffers take once materialised."""
    tensors: list[torch.Tensor] = [*module.parameters(), *module.buffers()]
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


#: Bounds of each axis of an input shape: N, C, then the spatial axes (L; H, W; or D, H, W).
INPUT_SHAPE_BOUNDS = {
    "N": (1, 4096),
    "C": (1, 65536),
    "L": (1, 1 << 24),
    "D": (1, 65536),
    "H": (1, 65536),
    "W": (1, 65536),
}
#: The axes of a batched input to a conv of each spatial rank, and an example of each.
INPUT_AXES = {1: ("N", "C", "L"), 2: ("N", "C", "H", "W"), 3: ("N", "C", "D", "H", "W")}
INPUT_EXAMPLES = {1: "1,64,400", 2: "1,3,224,224", 3: "1,3,16,112,112"}
#: Frames in the clip a video model is analysed on unless told otherwise (torchvision's
#: published GFLOPS are for 16-frame clips).
DEFAULT_CLIP_FRAMES = 16


def input_form(rank: int) -> str:
    """ "N×C×D×H×W" for a 3-D conv's input, "N×C×L" for a 1-D one's."""
    return "×".join(INPUT_AXES[rank])


def parse_input_shape(text: str) -> Shape:
    """ "N,C,L", "N,C,H,W" or "N,C,D,H,W" → a shape; ModelSourceError naming the flag."""
    parts = [part.strip() for part in text.replace("x", ",").replace("×", ",").split(",")]
    if not 3 <= len(parts) <= 5 or not all(part.lstrip("-").isdigit() for part in parts):
        raise ModelSourceError(
            "must be 3 to 5 whole numbers: N,C,L (1-D), N,C,H,W (2-D) or "
            f"N,C,D,H,W (3-D), e.g. {INPUT_EXAMPLES[2]}; got {text!r}",
            field="input_shape",
        )
    shape = tuple(int(part) for part in parts)
    for axis, value in zip(INPUT_AXES[len(shape) - 2], shape, strict=True):
        low, high = INPUT_SHAPE_BOUNDS[axis]
        if not low <= value <= high:
            raise ModelSourceError(
                f"{axis} must be {low}–{high:,}, got {value} in {text!r}",
                field="input_shape",
            )
    return shape


def with_resolution(shape: Shape, resolution: int) -> Shape:
    """``shape`` with height and width set to ``resolution`` (the length, for a 1-D input)."""
    low, high = INPUT_SHAPE_BOUNDS["H"]
    if not low <= resolution <= high:
        raise ModelSourceError(
            f"the resolution must be {low}–{high:,}, got {resolution}", field="resolution"
        )
    if len(shape) == 3:
        return (*shape[:-1], resolution)
    return (*shape[:-2], resolution, resolution)
