"""--data: image folders, .pt files and synthetic:N, their order, slicing and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sepconv_tui.cli.common import cli_wording
from sepconv_tui.errors import UserError
from sepconv_tui.model.measure.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Data,
    DataError,
    check_labels,
    load_data,
    parse_data,
)

GRAY = (1, 1, 8, 8)
RGB = (1, 3, 8, 8)


def write_png(path: Path, value: int, size: tuple[int, int] = (6, 5), mode: str = "L") -> None:
    """A tiny image of one gray level."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, value // 2, 255 - value)
    Image.new(mode, size, color).save(path)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """ImageFolder layout: classes "cat" and "dog" (written in reverse), three PNGs each."""
    root = tmp_path / "images"
    for name, base in (("dog", 200), ("cat", 10)):
        for index in range(3):
            write_png(root / name / f"{index}.png", base + index)
    return root


def test_data_error_is_a_user_error_for_data() -> None:
    """The CLI's exit-2 path catches it, and the app shows it under --data."""
    error = DataError("x")
    assert isinstance(error, UserError) and error.field == "data"


def test_parse_data_forms() -> None:
    """synthetic:N and paths; the count must be a whole number ≥ 1."""
    assert parse_data("synthetic:16").count == 16
    assert str(parse_data(" synthetic:3 ")) == "synthetic:3"
    assert parse_data("some/dir").path == "some/dir"
    for bad in ("synthetic:0", "synthetic:x", "synthetic:", "synthetic:-1", "synthetic:1.5", " "):
        with pytest.raises(DataError, match="synthetic:N|no data given"):
            parse_data(bad)


def test_image_folder_labels_follow_sorted_class_names(image_folder: Path) -> None:
    """Sub-folders are classes, sorted as ImageFolder sorts them; classes are interleaved."""
    data = load_data(str(image_folder), input_shape=GRAY, mean=[0.0], std=[1.0])
    assert data.classes == ("cat", "dog")
    assert data.inputs.shape == (6, 1, 8, 8) and data.inputs.dtype == torch.float32
    assert data.labels is not None and data.labels.tolist() == [0, 1, 0, 1, 0, 1]
    # cat/0.png is gray level 10, dog/0.png 200: resized, scaled to [0, 1], mean 0, std 1.
    assert data.inputs[0].mean().item() == pytest.approx(10 / 255, abs=1e-6)
    assert data.inputs[1].mean().item() == pytest.approx(200 / 255, abs=1e-6)
    assert data.description == "images: 6 samples 1×8×8, labelled (2 classes)"


def test_image_folder_default_normalisation_is_imagenet(image_folder: Path) -> None:
    """RGB for C = 3 and ImageNet's mean/std when none are given."""
    data = load_data(str(image_folder), input_shape=RGB)
    assert data.inputs.shape == (6, 3, 8, 8)
    value = 10 / 255  # cat/0.png, gray level 10 in every RGB channel
    expected = [(value - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    assert data.inputs[0].mean((1, 2)).tolist() == pytest.approx(expected, abs=1e-5)


def test_images_directly_in_a_folder_are_unlabelled(tmp_path: Path) -> None:
    """No sub-folders: sorted file names, no labels, no classes."""
    for name, value in (("b.png", 100), ("a.png", 50), ("c.jpg", 150)):
        write_png(tmp_path / name, value, mode="RGB")
    data = load_data(str(tmp_path), input_shape=GRAY, mean=[0], std=[1])
    assert data.labels is None and data.classes is None
    assert len(data) == 3
    assert data.inputs[0].mean().item() < data.inputs[1].mean().item()  # a.png before b.png
    assert data.description.endswith("3 samples 1×8×8, unlabelled")


def test_limit_decodes_only_the_first_images(tmp_path: Path, image_folder: Path) -> None:
    """--limit applies before decoding: a broken image past the limit is never opened."""
    data = load_data(str(image_folder), input_shape=GRAY, limit=4)
    assert len(data) == 4 and data.labels is not None and data.labels.tolist() == [0, 1, 0, 1]
    for name in ("a.png", "b.png"):
        write_png(tmp_path / "flat" / name, 1)
    (tmp_path / "flat" / "z.png").write_bytes(b"not a png")
    assert len(load_data(str(tmp_path / "flat"), input_shape=GRAY, limit=2)) == 2
    with pytest.raises(DataError, match=r"z\.png.*not an image"):
        load_data(str(tmp_path / "flat"), input_shape=GRAY)


def test_torchvision_source_uses_its_weights_transforms(image_folder: Path) -> None:
    """torchvision: the default weights' transforms (resize 256, crop 224), no download."""
    data = load_data(
        str(image_folder), input_shape=(1, 3, 224, 224), source="torchvision:resnet18", limit=2
    )
    assert data.inputs.shape == (2, 3, 224, 224)


def test_timm_source_uses_its_data_config(image_folder: Path) -> None:
    """timm: resolve_data_config + create_transform on a meta-built model."""
    data = load_data(
        str(image_folder), input_shape=(1, 3, 224, 224), source="timm:resnet18", limit=1
    )
    assert data.inputs.shape == (1, 3, 224, 224)


def test_pt_tensor_dict_and_tuple(tmp_path: Path) -> None:
    """A bare tensor (unlabelled), a dict and a tuple; inputs used as given, as float32."""
    inputs = torch.randn(5, 1, 4, 4, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 1, 0], dtype=torch.int32)
    torch.save(inputs, tmp_path / "bare.pt")
    torch.save({"inputs": inputs, "labels": labels}, tmp_path / "dict.pt")
    torch.save((inputs, labels), tmp_path / "tuple.pth")
    bare = load_data(str(tmp_path / "bare.pt"), input_shape=GRAY)
    assert bare.labels is None and bare.inputs.dtype == torch.float32
    assert torch.equal(bare.inputs, inputs.float())  # a different H×W than the model's is fine
    for name in ("dict.pt", "tuple.pth"):
        data = load_data(str(tmp_path / name), input_shape=GRAY)
        assert torch.equal(data.inputs, inputs.float())
        assert data.labels is not None and data.labels.dtype == torch.int64
        assert data.labels.tolist() == labels.tolist()
        assert data.description == f"{name}: 5 samples 1×4×4, labelled (3 classes)"
    limited = load_data(str(tmp_path / "dict.pt"), input_shape=GRAY, limit=2)
    assert len(limited) == 2 and limited.labels is not None and limited.labels.tolist() == [0, 1]


def test_synthetic_is_seeded_gaussian_at_the_input_shape() -> None:
    """The same N samples every time, at input_shape's C×H×W, unlabelled."""
    first = load_data("synthetic:4", input_shape=(2, 3, 5, 7))
    second = load_data("synthetic:4", input_shape=(2, 3, 5, 7))
    assert first.inputs.shape == (4, 3, 5, 7) and first.labels is None
    assert torch.equal(first.inputs, second.inputs)
    assert len(load_data("synthetic:9", input_shape=GRAY, limit=4)) == 4
    assert first.description == "synthetic:4: 4 samples 3×5×7, unlabelled"


def labelled(count: int) -> Data:
    """``count`` labelled samples whose input value is their index."""
    inputs = torch.arange(count, dtype=torch.float32).view(count, 1, 1, 1)
    return Data(inputs, torch.arange(count) % 3, "test", None)


def test_head_tail_and_batches() -> None:
    """Deterministic slices; batches in order, the last one short."""
    data = labelled(7)
    assert data.head(3).inputs.flatten().tolist() == [0, 1, 2]
    assert data.tail(2).inputs.flatten().tolist() == [5, 6]
    assert data.tail(2).labels is not None and data.tail(2).labels.tolist() == [2, 0]
    assert len(data.head(99)) == 7
    sizes = [len(inputs) for inputs, _labels in data.batches(3)]
    assert sizes == [3, 3, 1]
    joined = torch.cat([labels for _inputs, labels in data.batches(3) if labels is not None])
    assert torch.equal(joined, data.labels)
    with pytest.raises(DataError, match="the batch size must be a whole number") as caught:
        list(data.batches(0))
    assert cli_line(caught).startswith("--batch-size: ")


def test_check_labels_against_the_model_outputs() -> None:
    """Labels 0..K-1 pass; a label ≥ K names the range."""
    check_labels(labelled(6), 3)
    with pytest.raises(DataError, match="labels must be 0 to 1"):
        check_labels(labelled(6), 2)
    check_labels(Data(torch.zeros(2, 1, 1, 1), None, "unlabelled"), 1)


def one_line(error: pytest.ExceptionInfo[DataError]) -> str:
    """The message, checked to be one line."""
    message = str(error.value)
    assert "\n" not in message
    return message


def cli_line(error: pytest.ExceptionInfo[DataError]) -> str:
    """The message as the CLI says it (led by its flag), checked to name no flag itself."""
    assert not one_line(error).startswith("--")
    return cli_wording(error.value)


def test_missing_and_empty(tmp_path: Path) -> None:
    """A path that does not exist, an empty folder, an empty class folder, a stray file type."""
    with pytest.raises(DataError, match="no such file or folder") as caught:
        load_data(str(tmp_path / "nope"), input_shape=GRAY)
    assert cli_line(caught).startswith("--data: ")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty folder"):
        load_data(str(tmp_path / "empty"), input_shape=GRAY)
    (tmp_path / "classes" / "a").mkdir(parents=True)
    write_png(tmp_path / "classes" / "b" / "0.png", 1)
    with pytest.raises(DataError, match="'a' holds no images"):
        load_data(str(tmp_path / "classes"), input_shape=GRAY)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="neither a folder nor a .pt"):
        load_data(str(tmp_path / "notes.txt"), input_shape=GRAY)


def test_files_that_are_not_images_name_the_first(tmp_path: Path) -> None:
    """A non-image file name, and an image name with bytes Pillow cannot read."""
    write_png(tmp_path / "a" / "0.png", 1)
    (tmp_path / "a" / "1.txt").write_text("x")
    (tmp_path / "a" / "2.txt").write_text("x")
    with pytest.raises(DataError, match=r"1\.txt' is not an image") as caught:
        load_data(str(tmp_path / "a"), input_shape=GRAY)
    assert "2.txt" not in one_line(caught)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"broken\.png' is not an image Pillow can read"):
        load_data(str(tmp_path / "b"), input_shape=GRAY)
    write_png(tmp_path / "c" / "cls" / "0.png", 1)
    write_png(tmp_path / "c" / "loose.png", 1)
    with pytest.raises(DataError, match="beside class folders"):
        load_data(str(tmp_path / "c"), input_shape=GRAY)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ({"weights": torch.zeros(1)}, "without 'inputs'"),
        ([1, 2, 3], "holds list, not a tensor"),
        ("text", "holds str, not a tensor"),
        ({"inputs": [1.0, 2.0]}, "not a tensor"),
        (torch.zeros(4, 8, 8), r"rank 3\); this model takes N×C×H×W \(rank 4\)"),
        (torch.zeros(4, 3, 8, 8), "3 channels.*the model takes 1"),
        (torch.zeros(4, 1, 8, 8, dtype=torch.uint8), "inputs are uint8"),
        (torch.zeros(0, 1, 8, 8), "no samples"),
        (
            {"inputs": torch.zeros(4, 1, 2, 2), "labels": torch.zeros(3, dtype=torch.long)},
            "3 labels for 4 inputs",
        ),
        (
            {"inputs": torch.zeros(2, 1, 2, 2), "labels": torch.tensor([0.0, 1.0])},
            "labels are float32",
        ),
        ({"inputs": torch.zeros(2, 1, 2, 2), "labels": torch.tensor([0, -1])}, "a label is -1"),
        (
            {"inputs": torch.zeros(2, 1, 2, 2), "labels": torch.zeros(2, 1, dtype=torch.long)},
            "labels have shape",
        ),
        ({"inputs": torch.zeros(2, 1, 2, 2), "labels": "cats"}, "labels must be a tensor"),
        (torch.tensor([0.0, float("nan")]).view(2, 1, 1, 1), "sample 1 holds NaN"),
        (torch.tensor([float("inf"), 0.0]).view(2, 1, 1, 1), "sample 0 holds NaN or infinite"),
    ],
)
def test_bad_pt_contents(tmp_path: Path, content: object, match: str) -> None:
    """Each wrong .pt is one line naming the file and what a .pt must hold (the CLI puts --data
    before it)."""
    path = tmp_path / "bad.pt"
    torch.save(content, path)
    with pytest.raises(DataError, match=match) as caught:
        load_data(str(path), input_shape=GRAY)
    assert one_line(caught).startswith(repr(str(path)))
    assert cli_line(caught).startswith(f"--data: {str(path)!r}")


def test_unreadable_and_unsafe_pt(tmp_path: Path) -> None:
    """Bytes torch.load cannot read; a pickle weights_only refuses (it is never executed)."""
    (tmp_path / "junk.pt").write_bytes(b"junk" * 20)
    with pytest.raises(DataError, match="not a file torch.load can read"):
        load_data(str(tmp_path / "junk.pt"), input_shape=GRAY)
    torch.save({"inputs": torch.zeros(1, 1, 1, 1), "extra": Path("x")}, tmp_path / "obj.pt")
    with pytest.raises(DataError, match="weights_only=True"):
        load_data(str(tmp_path / "obj.pt"), input_shape=GRAY)


def test_memory_budget_is_checked_before_loading(tmp_path: Path, image_folder: Path) -> None:
    """N×C×H×W×4 bytes over the budget is refused, naming the size; --limit gets under it."""
    with pytest.raises(DataError, match=r"1,000 samples of 3×8×8 need 750\.00 KiB"):
        load_data("synthetic:1000", input_shape=RGB, budget_bytes=1000)
    assert len(load_data("synthetic:1000", input_shape=RGB, budget_bytes=800, limit=1)) == 1
    torch.save(torch.zeros(100, 1, 8, 8), tmp_path / "x.pt")
    with pytest.raises(DataError, match="over the memory budget"):
        load_data(str(tmp_path / "x.pt"), input_shape=GRAY, budget_bytes=1024)
    with pytest.raises(DataError, match="a smaller limit"):
        load_data(str(image_folder), input_shape=GRAY, budget_bytes=300)


def test_bad_mean_std_and_limit(image_folder: Path, tmp_path: Path) -> None:
    """--mean/--std: one per channel or one for all, finite, std > 0; images only."""
    cases = [
        ({"mean": [0.5, 0.5]}, "mean", "needs 3 values"),
        ({"std": [0.5, 0.0, 0.5]}, "std", "must be > 0"),
        ({"std": [-1.0]}, "std", "must be > 0"),
        ({"mean": [float("nan")]}, "mean", "finite"),
    ]
    for kwargs, field, match in cases:
        with pytest.raises(DataError, match=match) as caught:
            load_data(str(image_folder), input_shape=RGB, **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field and cli_line(caught).startswith(f"--{field}: the ")
    assert len(load_data(str(image_folder), input_shape=RGB, mean=[0.5], std=[0.25])) == 6
    with pytest.raises(DataError, match="the mean normalises images") as caught:
        load_data("synthetic:2", input_shape=GRAY, mean=[0.0])
    assert caught.value.field == "mean"
    with pytest.raises(DataError, match="the sample limit must be") as caught:
        load_data("synthetic:2", input_shape=GRAY, limit=0)
    assert caught.value.field == "limit" and cli_line(caught).startswith("--limit: ")


def test_images_need_one_or_three_channels(image_folder: Path) -> None:
    """A 2-channel model cannot take images; a .pt of tensors is the way."""
    with pytest.raises(DataError, match="1 \\(grayscale\\) or 3 \\(RGB\\)"):
        load_data(str(image_folder), input_shape=(1, 2, 8, 8))


def test_module_imports_without_torch() -> None:
    """sepconv_tui.model.measure.data leaves torch to its functions."""
    import subprocess
    import sys

    code = (
        "import sys, sepconv_tui.model.measure.data as d; d.parse_data('synthetic:3');"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_no_input_shape_takes_the_models_channels(tmp_path: Path) -> None:
    """input_shape=None: the source's published input, with the model's first conv's C."""
    from torch import nn

    torch.save(torch.zeros(2, 1, 8, 8), tmp_path / "gray.pt")
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    data = load_data(str(tmp_path / "gray.pt"), input_shape=None, model=model)
    assert data.inputs.shape == (2, 1, 8, 8)
    assert load_data("synthetic:1", input_shape=None).inputs.shape == (1, 3, 224, 224)
    with pytest.raises(DataError, match="the model takes 3"):
        load_data(str(tmp_path / "gray.pt"), input_shape=None, source="torchvision:resnet18")
