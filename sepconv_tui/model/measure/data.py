"""Data to run a model on (``--data``): a folder of images, a ``.pt`` file, or ``synthetic:N``.

Images get the source's own preprocessing (torchvision weights' ``transforms()``, timm's
``resolve_data_config`` + ``create_transform``), or for other sources a resize to the input
shape's H×W and ImageNet's mean and std unless ``mean``/``std`` are given. Tensors are used as
given. Samples come in a fixed order, within a memory budget (``bench``'s: a quarter of the
free RAM), and everything the user got wrong is one DataError line naming the argument.

torch, torchvision, timm and PIL are imported inside the functions that need them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.budget import resolve_budget
from ..describe.source import ModelSource, Shape, SourceKind, parse_source
from .data_spec import DATA_FORMS, DataError, DataSpec, parse_data

if TYPE_CHECKING:
    import torch
    from torch import nn

#: The file names a folder of images may hold (torchvision's IMG_EXTENSIONS).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
TENSOR_EXTENSIONS = (".pt", ".pth")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: A single-channel input's ImageNet statistics: the channel average, as timm uses.
IMAGENET_GRAY_MEAN = (0.449,)
IMAGENET_GRAY_STD = (0.226,)
#: ``synthetic:N`` draws from a generator with this seed, so every run sees the same inputs.
SYNTHETIC_SEED = 0


@dataclass(frozen=True)
class Data:
    """Preprocessed samples (N×C×H×W float32 on the CPU), their labels if any, and what they are."""

    inputs: torch.Tensor
    labels: torch.Tensor | None  # N int64, or None when unlabelled
    description: str
    classes: tuple[str, ...] | None = None  # an image folder's class names, label order

    def __len__(self) -> int:
        """The number of samples."""
        return int(self.inputs.shape[0])

    def _slice(self, index: slice, what: str) -> Data:
        """The samples at ``index``, described as ``what`` of these."""
        labels = None if self.labels is None else self.labels[index]
        return Data(self.inputs[index], labels, f"{self.description}, {what}", self.classes)

    def head(self, n: int) -> Data:
        """The first ``n`` samples (all of them when there are fewer)."""
        count = min(max(n, 0), len(self))
        return self._slice(slice(0, count), f"first {count}")

    def tail(self, n: int) -> Data:
        """The last ``n`` samples (all of them when there are fewer)."""
        count = min(max(n, 0), len(self))
        return self._slice(slice(len(self) - count, len(self)), f"last {count}")

    def batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """(inputs, labels) in order, ``batch_size`` samples at a time (the last may be short)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(
                f"the batch size must be a whole number ≥ 1, got {batch_size!r}", field="batch_size"
            )
        for start in range(0, len(self), batch_size):
            stop = start + batch_size
            labels = None if self.labels is None else self.labels[start:stop]
            yield self.inputs[start:stop], labels


def check_labels(data: Data, num_classes: int) -> None:
    """DataError when ``data``'s labels name a class a model with ``num_classes`` outputs lacks."""
    if data.labels is None or len(data.labels) == 0:
        return
    highest = int(data.labels.max())
    if highest >= num_classes:
        raise DataError(
            f"the labels go up to {highest}, but the model has {num_classes} outputs: "
            f"labels must be 0 to {num_classes - 1}"
        )


def _check_stats(values: Sequence[float] | None, name: str, channels: int) -> tuple[float, ...]:
    """``--mean``/``--std`` values: one per channel (or one for all), finite; std > 0."""
    assert values is not None
    numbers = tuple(float(value) for value in values)
    if len(numbers) not in (1, channels):
        raise DataError(
            f"the {name} needs {channels} value{'s' if channels != 1 else ''} (one per input "
            f"channel) or one for all, got {len(numbers)}",
            field=name,
        )
    if not all(math.isfinite(value) for value in numbers):
        raise DataError(f"the {name} values must be finite numbers, got {values!r}", field=name)
    if name == "std" and any(value <= 0 for value in numbers):
        raise DataError(f"the std values must be > 0, got {values!r}", field=name)
    return numbers * channels if len(numbers) == 1 else numbers


def _default_input_shape(source: str | ModelSource | None, model: nn.Module | None) -> Shape:
    """The input a model published (built on meta from ``source``), with ``model``'s channels.

    A file or module source publishes no input (3×224×224 is assumed), so the channel count
    is taken from the model's first conv when there is one: a grayscale model then reads
    1-channel data without an --input-shape.
    """
    from ..describe.source import DEFAULT_INPUT_SHAPE, build_model

    parsed = parse_source(source) if isinstance(source, str) else source
    shape = DEFAULT_INPUT_SHAPE
    if parsed is not None and parsed.kind.zoo:
        shape = build_model(parsed).default_input_shape
    if model is not None:
        from torch import nn

        convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
        first = next((layer for layer in model.modules() if isinstance(layer, convs)), None)
        if first is not None and len(shape) == len(first.kernel_size) + 2:
            shape = (shape[0], int(first.in_channels), *shape[2:])
    return shape


def _sample_shape(input_shape: Shape) -> tuple[int, tuple[int, ...]]:
    """C and the spatial sizes (L; H, W; or D, H, W) of an N×C×… input shape of rank 3 to 5."""
    if not 3 <= len(input_shape) <= 5:
        raise DataError(
            "the data needs a model that takes N×C×L, N×C×H×W or N×C×D×H×W inputs; the input "
            f"shape is {input_shape}",
            field="input_shape",
        )
    _batch, channels, *spatial = (int(size) for size in input_shape)
    return channels, tuple(spatial)


def _check_budget(label: str, shape: Sequence[int], budget: int) -> None:
    """DataError when float32 samples of ``shape`` (N first) exceed ``budget`` bytes."""
    from ...core.memory import format_bytes

    needed = 4 * math.prod(int(size) for size in shape)
    if needed > budget:
        size = "×".join(str(int(size)) for size in shape[1:])
        raise DataError(
            f"{label}: {shape[0]:,} samples of {size} need {format_bytes(needed)} in float32, "
            f"over the memory budget of {format_bytes(budget)}; read fewer (a smaller limit)"
        )


def _check_limit(limit: int | None) -> None:
    """``--limit``: None or a whole number ≥ 1."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DataError(
            f"the sample limit must be a whole number ≥ 1, got {limit!r}", field="limit"
        )


def _describe(label: str, inputs: torch.Tensor, labels: torch.Tensor | None, classes: Any) -> str:
    """ "digits.pt: 1797 samples 1×8×8, labelled (10 classes)"."""
    size = "×".join(str(int(size)) for size in inputs.shape[1:])
    count = int(inputs.shape[0])
    text = f"{label}: {count} sample{'s' if count != 1 else ''} {size}"
    if labels is None:
        return text + ", unlabelled"
    known = len(classes) if classes is not None else (int(labels.max()) + 1 if count else 0)
    return text + f", labelled ({known} class{'es' if known != 1 else ''})"


def load_data(
    text: str | DataSpec,
    *,
    input_shape: Shape | None,
    source: str | ModelSource | None = None,
    model: nn.Module | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    limit: int | None = None,
    budget_bytes: int | None = None,
) -> Data:
    """Read ``--data`` for a model taking ``input_shape`` (N×C×H×W; N is ignored).

    ``input_shape=None`` takes the source's published input (3×224×224 for file and module
    sources) with the channel count of ``model``'s first conv, when ``model`` is given.

    ``source`` picks the images' preprocessing (``model``, possibly built on meta, gives timm
    its data config without a rebuild); ``mean``/``std`` (one value per channel, or one for
    all) replace the normalisation of images, and are refused for tensors, which are used as
    given. Only the first ``limit`` samples are read. DataError (one line) for anything unusable.
    """
    spec = parse_data(text) if isinstance(text, str) else text
    if input_shape is None:
        input_shape = _default_input_shape(source, model)
    channels, spatial = _sample_shape(input_shape)
    _check_limit(limit)
    stats = None
    if mean is not None or std is not None:
        stats = (
            _check_stats(mean, "mean", channels) if mean is not None else None,
            _check_stats(std, "std", channels) if std is not None else None,
        )
    budget = resolve_budget(budget_bytes)
    if spec.kind == "synthetic":
        _refuse_stats(stats, str(spec))
        assert spec.count is not None
        return _synthetic(spec.count, (channels, *spatial), limit, budget)
    assert spec.path is not None
    path = Path(spec.path).expanduser()
    if path.is_dir():
        if len(spatial) != 2:
            raise DataError(
                f"{spec.path!r} is a folder of images, but the model takes inputs of "
                f"shape {tuple(input_shape)}: give a .pt file of tensors of rank "
                f"{len(input_shape)} instead"
            )
        return _load_folder(
            spec.path, path, channels, (spatial[0], spatial[1]), source, model, stats, limit, budget
        )
    if not path.exists():
        raise DataError(f"{spec.path!r}: no such file or folder; give {DATA_FORMS}")
    if path.suffix.lower() not in TENSOR_EXTENSIONS:
        raise DataError(f"{spec.path!r} is neither a folder nor a .pt/.pth file; give {DATA_FORMS}")
    _refuse_stats(stats, spec.path)
    return _load_tensors(spec.path, path, channels, limit, budget, rank=len(input_shape))


def _refuse_stats(stats: Any, label: str) -> None:
    """--mean/--std only normalise images; saying so beats ignoring them."""
    if stats is not None:
        field = "mean" if stats[0] is not None else "std"
        raise DataError(
            f"the {field} normalises images, but the data {label} gives tensors, used as given: "
            "give no mean/std, or normalise the tensors yourself",
            field=field,
        )


def _synthetic(count: int, sample: tuple[int, ...], limit: int | None, budget: int) -> Data:
    """``synthetic:N``: N seeded standard-Gaussian samples, unlabelled (the data-free baseline)."""
    import torch

    count = min(count, limit) if limit is not None else count
    _check_budget(f"synthetic:{count}", (count, *sample), budget)
    generator = torch.Generator().manual_seed(SYNTHETIC_SEED)
    inputs = torch.randn((count, *sample), generator=generator, dtype=torch.float32)
    return Data(inputs, None, _describe(f"synthetic:{count}", inputs, None, None))


# --- .pt files -------------------------------------------------------------------------------


def _read_tensor_file(label: str, path: Path) -> Any:
    """torch.load with weights_only (memory-mapped when the format allows, so --limit is cheap)."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "refused"
        if "weights_only" in str(error) or "Unsupported global" in str(error):
            reason = "it holds Python objects beyond tensors, dicts, lists and numbers"
        raise DataError(f"{label!r}: torch.load(weights_only=True) refused it: {reason}") from None
    except RuntimeError as error:
        # The legacy (pre-zipfile) format cannot be memory-mapped: read it whole instead.
        if "mmap" not in str(error):
            raise DataError(f"{label!r} is not a file torch.load can read") from None
    except Exception:
        raise DataError(f"{label!r} is not a file torch.load can read") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise DataError(f"{label!r} is not a file torch.load can read") from None


def _unpack(label: str, content: Any) -> tuple[Any, Any]:
    """(inputs, labels or None) from a tensor, a {"inputs", "labels"} dict or a tuple."""
    import torch

    if isinstance(content, torch.Tensor):
        return content, None
    if isinstance(content, dict):
        if "inputs" not in content:
            keys = ", ".join(repr(key) for key in list(content)[:6]) or "none"
            raise DataError(
                f"{label!r} holds a dict without 'inputs' (keys: {keys}); a .pt dict "
                "must be {'inputs': N×C×H×W tensor, 'labels': N integers (optional)}"
            )
        return content["inputs"], content.get("labels")
    if isinstance(content, (tuple, list)) and len(content) in (1, 2):
        return content[0], content[1] if len(content) == 2 else None
    raise DataError(
        f"{label!r} holds {type(content).__name__}, not a tensor: a .pt file must hold "
        "a float tensor N×C×H×W, {'inputs': …, 'labels': …} or (inputs, labels)"
    )


def _check_inputs(label: str, inputs: Any, channels: int, rank: int = 4) -> torch.Tensor:
    """A floating tensor of ``rank`` (N×C×L, N×C×H×W or N×C×D×H×W) with the model's C, or a
    DataError saying which part is off."""
    import torch

    if not isinstance(inputs, torch.Tensor):
        raise DataError(
            f"{label!r}: the inputs are {type(inputs).__name__}, not a tensor; a .pt "
            "file must hold a float tensor N×C×H×W"
        )
    if inputs.dim() != rank:
        form = {3: "N×C×L", 4: "N×C×H×W", 5: "N×C×D×H×W"}.get(rank, "N×C×…")
        raise DataError(
            f"{label!r}: the inputs have shape {tuple(inputs.shape)} (rank "
            f"{inputs.dim()}); this model takes {form} (rank {rank})"
        )
    if inputs.shape[1] != channels:
        raise DataError(
            f"{label!r}: the inputs have {inputs.shape[1]} channels "
            f"(shape {tuple(inputs.shape)}), but the model takes {channels}"
        )
    if not inputs.is_floating_point():
        raise DataError(
            f"{label!r}: the inputs are {str(inputs.dtype).removeprefix('torch.')}; a "
            ".pt file must hold float inputs, preprocessed as the model expects"
        )
    return inputs


def _check_label_tensor(label: str, labels: Any, count: int) -> torch.Tensor:
    """N labels, integers ≥ 0, as int64; DataError otherwise."""
    import torch

    if isinstance(labels, (list, tuple)):
        try:
            labels = torch.tensor(labels)
        except (TypeError, ValueError, RuntimeError):
            labels = None
    if not isinstance(labels, torch.Tensor):
        raise DataError(
            f"{label!r}: the labels must be a tensor of N integers ≥ 0, got {type(labels).__name__}"
        )
    if labels.dim() != 1:
        raise DataError(
            f"{label!r}: the labels have shape {tuple(labels.shape)}; they must be N "
            "integers ≥ 0 (one per input)"
        )
    if len(labels) != count:
        raise DataError(
            f"{label!r}: {len(labels)} labels for {count} inputs; give one label per input"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise DataError(
            f"{label!r}: the labels are {str(labels.dtype).removeprefix('torch.')}; they "
            "must be integers ≥ 0 (class indices)"
        )
    if len(labels) and int(labels.min()) < 0:
        raise DataError(
            f"{label!r}: a label is {int(labels.min())}; labels must be integers ≥ 0 "
            "(class indices)"
        )
    return labels.to(torch.int64)


def _load_tensors(
    label: str, path: Path, channels: int, limit: int | None, budget: int, *, rank: int = 4
) -> Data:
    """A .pt file of inputs (and labels) of ``rank``, the first ``limit`` samples, checked."""
    import torch

    inputs, labels = _unpack(label, _read_tensor_file(label, path))
    inputs = _check_inputs(label, inputs, channels, rank)
    total = int(inputs.shape[0])
    if labels is not None:
        labels = _check_label_tensor(label, labels, total)
    count = min(total, limit) if limit is not None else total
    if count == 0:
        raise DataError(f"{label!r} holds no samples (N = 0); give at least one")
    _check_budget(label, (count, *inputs.shape[1:]), budget)
    # A copy: off the memory map, contiguous float32, independent of the file.
    inputs = inputs[:count].to(torch.float32, copy=True).contiguous()
    if not bool(torch.isfinite(inputs).all()):
        bad = int((~torch.isfinite(inputs)).flatten(1).any(1).nonzero()[0])
        raise DataError(
            f"{label!r}: sample {bad} holds NaN or infinite values; inputs must be finite"
        )
    if labels is not None:
        labels = labels[:count].clone()
    name = path.name
    return Data(inputs, labels, _describe(name, inputs, labels, None))


# --- folders of images -----------------------------------------------------------------------


def _visible(entries: Iterator[Path]) -> list[Path]:
    """Entries not hidden (".DS_Store", ".ipynb_checkpoints"), sorted by name."""
    return sorted((entry for entry in entries if not entry.name.startswith(".")), key=str)


def _image_files(label: str, folder: Path) -> list[Path]:
    """Every file under ``folder`` (recursively, sorted as os.walk would be), all images."""
    files: list[Path] = []
    for entry in _visible(folder.iterdir()):
        if entry.is_dir():
            files.extend(_image_files(label, entry))
        elif entry.suffix.lower() not in IMAGE_EXTENSIONS:
            raise DataError(
                f"{label!r}: {str(entry)!r} is not an image (a folder of images holds "
                f"only {', '.join(IMAGE_EXTENSIONS)} files)"
            )
        else:
            files.append(entry)
    return files


def _folder_samples(
    label: str, folder: Path
) -> tuple[list[Path], list[int] | None, tuple[str, ...] | None]:
    """(files, labels, classes): ImageFolder's classes when there are sub-folders, else none.

    Class folders are interleaved (the first image of each class, then the second, …) so
    that ``--limit`` and the test split (the last samples) take every class, not the last ones only.
    """
    entries = _visible(folder.iterdir())
    folders = [entry for entry in entries if entry.is_dir()]
    if not folders:
        files = _image_files(label, folder)
        if not files:
            raise DataError(f"{label!r} is an empty folder; give {DATA_FORMS}")
        return files, None, None
    loose = [entry for entry in entries if not entry.is_dir()]
    if loose:
        raise DataError(
            f"{label!r}: {str(loose[0])!r} sits beside class folders; put every image "
            "in a class sub-folder (ImageFolder layout) or none of them"
        )
    classes = tuple(entry.name for entry in folders)  # sorted by name, as ImageFolder does
    per_class = []
    for index, class_folder in enumerate(folders):
        files = _image_files(label, class_folder)
        if not files:
            raise DataError(
                f"{label!r}: class folder {classes[index]!r} holds no images; every "
                "class sub-folder needs at least one"
            )
        per_class.append(files)
    ordered: list[Path] = []
    labels: list[int] = []
    for rank in range(max(len(files) for files in per_class)):
        for index, files in enumerate(per_class):
            if rank < len(files):
                ordered.append(files[rank])
                labels.append(index)
    return ordered, labels, classes


def _transform(
    source: str | ModelSource | None,
    model: nn.Module | None,
    channels: int,
    size: tuple[int, int],
    stats: Any,
) -> Any:
    """PIL image → C×H×W tensor, as the source preprocesses its inputs."""
    parsed = parse_source(source) if isinstance(source, str) else source
    mean, std = stats if stats is not None else (None, None)
    if parsed is not None and parsed.kind is SourceKind.TORCHVISION:
        transform = _torchvision_transform(parsed.location, mean, std)
        if transform is not None:
            return _rgb_first(transform)
    if parsed is not None and parsed.kind is SourceKind.TIMM:
        return _timm_transform(parsed, model, channels, mean, std)
    return _plain_transform(channels, size, mean, std)


def _rgb_first(transform: Any) -> Any:
    """``transform`` applied to the image converted to RGB (the pretrained models' input)."""

    def apply(image: Any) -> Any:
        return transform(image.convert("RGB"))

    return apply


def _torchvision_transform(name: str, mean: Any, std: Any) -> Any:
    """The default weights' inference transforms (no download), or None when it has none."""
    from torchvision import models

    try:
        transform = models.get_model_weights(name).DEFAULT.transforms()
    except Exception:  # no weights for this model, or a factory needing arguments: resize
        return None
    if mean is not None and hasattr(transform, "mean"):
        transform.mean = list(mean)
    if std is not None and hasattr(transform, "std"):
        transform.std = list(std)
    return transform


def _timm_transform(
    parsed: ModelSource, model: nn.Module | None, channels: int, mean: Any, std: Any
) -> Any:
    """timm's eval transform from the model's data config (built on meta when not given)."""
    import timm.data

    if model is None:
        from ..describe.source import build_model

        model = build_model(parsed).module
    config = timm.data.resolve_data_config({}, model=model)
    if mean is not None:
        config["mean"] = tuple(mean)
    if std is not None:
        config["std"] = tuple(std)
    transform = timm.data.create_transform(**config)
    mode = "L" if channels == 1 else "RGB"

    def apply(image: Any) -> Any:
        return transform(image.convert(mode))

    return apply


def _plain_transform(channels: int, size: tuple[int, int], mean: Any, std: Any) -> Any:
    """Resize to H×W (bilinear), scale to [0, 1], normalise (ImageNet's unless given)."""
    import numpy
    import torch

    if channels not in (1, 3):
        raise DataError(
            f"images give 1 (grayscale) or 3 (RGB) channels, but the model takes "
            f"{channels}; give a .pt file of N×{channels}×H×W tensors instead"
        )
    mode = "L" if channels == 1 else "RGB"
    default_mean, default_std = (
        (IMAGENET_GRAY_MEAN, IMAGENET_GRAY_STD) if channels == 1 else (IMAGENET_MEAN, IMAGENET_STD)
    )
    shift = torch.tensor(mean if mean is not None else default_mean).view(-1, 1, 1)
    scale = torch.tensor(std if std is not None else default_std).view(-1, 1, 1)
    height, width = size

    def apply(image: Any) -> Any:
        from PIL import Image

        resized = image.convert(mode).resize((width, height), Image.Resampling.BILINEAR)
        array = numpy.asarray(resized, dtype=numpy.float32) / 255.0
        tensor = torch.from_numpy(array.reshape(height, width, -1)).permute(2, 0, 1)
        return (tensor - shift) / scale

    return apply


def _load_folder(
    label: str,
    folder: Path,
    channels: int,
    size: tuple[int, int],
    source: str | ModelSource | None,
    model: nn.Module | None,
    stats: Any,
    limit: int | None,
    budget: int,
) -> Data:
    """A folder of images: the first ``limit`` decoded and preprocessed into one tensor."""
    import torch

    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError("reading images needs Pillow (pip install pillow)") from None
    files, all_labels, classes = _folder_samples(label, folder)
    files = files[:limit] if limit is not None else files
    transform = _transform(source, model, channels, size, stats)
    inputs: torch.Tensor | None = None
    for index, file in enumerate(files):
        try:
            with Image.open(file) as image:
                image.load()
                sample = transform(image)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise DataError(f"{label!r}: {str(file)!r} is not an image Pillow can read") from None
        if inputs is None:
            # The first sample gives the preprocessed size: check the budget, then fill in place.
            if sample.shape[0] != channels:
                raise DataError(
                    f"{label!r}: the preprocessing gives {sample.shape[0]} channels, "
                    f"but the model takes {channels}"
                )
            _check_budget(label, (len(files), *sample.shape), budget)
            inputs = torch.empty((len(files), *sample.shape), dtype=torch.float32)
        elif sample.shape != inputs.shape[1:]:
            raise DataError(
                f"{label!r}: {str(file)!r} preprocesses to {tuple(sample.shape)}, the "
                f"first image to {tuple(inputs.shape[1:])}"
            )
        inputs[index] = sample
    assert inputs is not None
    labels = None
    if all_labels is not None:
        labels = torch.tensor(all_labels[: len(files)], dtype=torch.int64)
    return Data(inputs, labels, _describe(folder.name or label, inputs, labels, classes), classes)
