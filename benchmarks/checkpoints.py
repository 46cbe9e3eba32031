"""Recompute every checkpoint's metrics from its file and compare them with the manifest.

For each entry of checkpoints/manifest.json: file size, load time, single-view accuracy on the full
CIFAR-10 test split (JPEG copy, when present), accuracy on the bundled raw sample, and circular and
crop consistency on the sample. Exits non-zero if any metric differs from the manifest by more than
0.2 points. ``--write`` stores the recomputed metrics in the manifest instead (after training).

    python benchmarks/checkpoints.py [--data data/cifar10-jpeg] [--write] [NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import shiftlab as sl
from shiftlab.checkpoints import checkpoints_dir, read_manifest, write_manifest
from shiftlab.evaluate import consistency_metrics

TOLERANCE = 0.2  # percentage points


def measure(name: str, entry: dict, sample, test) -> dict:
    start = time.perf_counter()
    model = sl.load_pretrained(name)
    load_seconds = time.perf_counter() - start
    metrics = {"sample_accuracy": round(sl.evaluate(model, *sample).accuracy, 2), **consistency_metrics(model, sample[0])}
    if test is not None:
        metrics["test_accuracy"] = round(sl.evaluate(model, *test).accuracy, 2)
        metrics["test_images"] = len(test[1])
    size_mb = (checkpoints_dir() / entry["file"]).stat().st_size / 1e6
    print(f"{name:<14} {size_mb:5.1f} MB  load {load_seconds:.2f} s  " + "  ".join(f"{k} {v}" for k, v in metrics.items()), flush=True)
    return metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="checkpoints to check (default: all)")
    parser.add_argument("--data", default="data/cifar10-jpeg", help="full CIFAR-10 (ImageFolder or torchvision folder)")
    parser.add_argument("--write", action="store_true", help="write the recomputed metrics into the manifest")
    args = parser.parse_args()

    entries = read_manifest()
    names = args.names or sorted(entries)
    if not names:
        print("no checkpoints in the manifest")
        return 1
    images, labels = sl.load_sample()
    sample = (sl.to_float(images), labels)
    test = None
    if Path(args.data).is_dir():
        test_images, test_labels = sl.load_cifar10(args.data, "test")
        test = (sl.to_float(test_images), test_labels)
    else:
        print(f"({args.data} not found: test accuracy not checked; `make data` unpacks it)")
    failures = []
    total_mb = sum((checkpoints_dir() / entries[n]["file"]).stat().st_size for n in names) / 1e6
    for name in names:
        metrics = measure(name, entries[name], sample, test)
        if args.write:
            entries[name]["metrics"].update(metrics)
            continue
        for key, value in metrics.items():
            recorded = entries[name]["metrics"].get(key)
            if recorded is None or abs(recorded - value) > TOLERANCE:
                failures.append(f"{name}: {key} is {value}, the manifest says {recorded}")
    print(f"all checkpoint files: {total_mb:.1f} MB (bar: 40 MB)")
    if args.write:
        write_manifest(entries)
        print("manifest updated")
    for failure in failures:
        print("MISMATCH", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
