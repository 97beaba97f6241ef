"""Train the digits CNN on scikit-learn's bundled handwritten digits, seeded, and save it.

    python examples/digits/make.py OUT_DIR [--seed 0]

writes OUT_DIR/digits.pt (the state_dict for ``examples/digits/model.py:build``), data.pt
({"inputs": 1797×1×8×8 float32, "labels": int64}, every sample in one seeded permuted order)
and test.pt (its last 500 samples, never trained on), and prints the held-out accuracy.
Nothing is downloaded: ``load_digits`` ships with scikit-learn. About ten seconds on two cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional

#: Samples held out for testing: the last ones of the permuted order.
TEST_SIZE = 500
EPOCHS = 30
BATCH_SIZE = 64


def _build() -> nn.Module:
    """model.py's ``build()``, loaded by path so that this works as a script and imported."""
    path = Path(__file__).with_name("model.py")
    spec = importlib.util.spec_from_file_location("_digits_example_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build()


def digits(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """All 1,797 digits as N×1×8×8 (pixels / 16, standardised by the training split) and labels,
    in one seeded permutation; the normalisation's mean and std."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(bunch.target, dtype=torch.int64)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    images, labels = images[order], labels[order]
    # Statistics of the training split only, so the test split stays unseen.
    train = images[:-TEST_SIZE]
    mean, std = float(train.mean()), float(train.std())
    return (images - mean) / std, labels, {"mean": mean, "std": std}


def _shift(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image moved by up to one pixel each way (zero fill): the augmentation."""
    padded = functional.pad(batch, (1, 1, 1, 1), value=float(batch.min()))
    out = torch.empty_like(batch)
    offsets = torch.randint(0, 3, (len(batch), 2), generator=generator)
    # One copy per offset, not per image: the Python loop would cost more than the convs.
    for dy in range(3):
        for dx in range(3):
            chosen = (offsets[:, 0] == dy) & (offsets[:, 1] == dx)
            out[chosen] = padded[chosen, :, dy : dy + 8, dx : dx + 8]
    return out


@torch.no_grad()
def accuracy(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` (in eval mode) on ``inputs``."""
    model.eval()
    return float((model(inputs).argmax(1) == labels).float().mean())


def train(inputs: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> nn.Module:
    """The digits CNN trained on ``inputs`` (Adam, one-cycle schedule, one-pixel shifts)."""
    torch.manual_seed(seed)
    model = _build()
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = -(-len(labels) // BATCH_SIZE)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=1e-2, total_steps=EPOCHS * steps_per_epoch
    )
    for _epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(labels), BATCH_SIZE):
            index = order[start : start + BATCH_SIZE]
            logits = model(_shift(inputs[index], generator))
            loss = functional.cross_entropy(logits, labels[index], label_smoothing=0.05)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def make(out_dir: str | Path, seed: int = 0) -> dict[str, Any]:
    """Train with ``seed``; write digits.pt, data.pt and test.pt into ``out_dir``; the figures."""
    started = time.perf_counter()
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    # One thread and deterministic kernels: the same seed gives the same weights, bit for bit.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        inputs, labels, normalisation = digits(seed)
        fit, test = slice(0, len(labels) - TEST_SIZE), slice(len(labels) - TEST_SIZE, None)
        model = train(inputs[fit], labels[fit], seed)
        figures = {
            "train_accuracy": accuracy(model, inputs[fit], labels[fit]),
            "test_accuracy": accuracy(model, inputs[test], labels[test]),
        }
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "digits.pt")
    torch.save({"inputs": inputs.contiguous(), "labels": labels}, out / "data.pt")
    torch.save(
        {"inputs": inputs[test].contiguous(), "labels": labels[test].contiguous()}, out / "test.pt"
    )
    return {
        "seed": seed,
        "samples": len(labels),
        "train": len(labels) - TEST_SIZE,
        "test": TEST_SIZE,
        **normalisation,
        **figures,
        "params": sum(parameter.numel() for parameter in model.parameters()),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """The script: train, write, print the held-out accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="folder for digits.pt, data.pt and test.pt")
    parser.add_argument("--seed", type=int, default=0, help="permutation and training seed")
    args = parser.parse_args(argv)
    figures = make(args.out_dir, seed=args.seed)
    print(f"held-out accuracy {figures['test_accuracy']:.1%} on {figures['test']} digits")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
