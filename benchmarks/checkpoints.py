"""Recompute every checkpoint's metrics from its file and compare them with the manifest (it only checks;
``python -m shiftlab.train`` is the one writer of the manifest).

For each manifest entry: file size, load time, single-view accuracy on the full CIFAR-10 test split
(JPEG copy, when present), accuracy on the bundled raw sample, and circular and crop consistency on the
sample (``shiftlab.consistency_metrics``). Exits non-zero if any metric differs from the manifest by more
than 0.2 points, or is missing from it.

    python benchmarks/checkpoints.py [--data data/cifar10-jpeg] [NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import shiftlab as sl
from shiftlab.data import DEFAULT_DATA_DIR

TOLERANCE = 0.2  # percentage points


def measure(name: str, entry: dict, sample, test) -> dict:
    """The metrics of checkpoint ``name``, measured now, as the manifest names them; prints one line."""
    start = time.perf_counter()
    model = sl.load_pretrained(name)
    load_seconds = time.perf_counter() - start
    metrics = {"sample_accuracy": round(sl.evaluate(model, *sample).accuracy, 2), **sl.consistency_metrics(model, sample[0])}
    if test is not None:
        metrics["test_accuracy"] = round(sl.evaluate(model, *test).accuracy, 2)
        metrics["test_images"] = len(test[1])
    size_mb = (sl.checkpoints_dir() / entry["file"]).stat().st_size / 1e6
    print(f"{name:<14} {size_mb:5.1f} MB  load {load_seconds:.2f} s  " + "  ".join(f"{k} {v}" for k, v in metrics.items()), flush=True)
    return metrics


def mismatches(name: str, measured: dict, recorded: dict) -> list[str]:
    """Every metric that is missing from the manifest or differs from it by more than ``TOLERANCE``."""
    return [
        f"{name}: {key} is {value}, the manifest says {recorded.get(key)}"
        for key, value in measured.items()
        if recorded.get(key) is None or abs(recorded[key] - value) > TOLERANCE
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="checkpoints to check (default: all)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="full CIFAR-10 (ImageFolder or torchvision folder)")
    args = parser.parse_args()

    entries = sl.read_manifest()
    names = args.names or sorted(entries)
    if not names:
        print(f"no checkpoints in the manifest of {sl.checkpoints_dir()}")
        return 1
    images, labels = sl.load_sample()
    sample = (sl.to_float(images), labels)
    test = None
    if args.data.is_dir():
        test_images, test_labels = sl.load_cifar10(args.data, "test")
        test = (sl.to_float(test_images), test_labels)
    else:
        print(f"({args.data} not found: test accuracy not checked; `make data` unpacks it)")
    total_mb = sum((sl.checkpoints_dir() / entries[n]["file"]).stat().st_size for n in names) / 1e6
    failures = [line for name in names for line in mismatches(name, measure(name, entries[name], sample, test), entries[name]["metrics"])]
    print(f"all checkpoint files: {total_mb:.1f} MB (bar: 40 MB)")
    for failure in failures:
        print("MISMATCH", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
