"""Throughput of a translation sweep against the model's own forward pass and a naive loop.

Prints image-shifts per second for: (1) the model's forward on unshifted images, both as a user calls
it (``model(x)``, default layout) and as the sweep runs it (``inference_copy``: channels-last);
(2) ``translation_sweep``; (3) the naive loop (for each shift: ``translate_affine`` the whole set,
then forward). Bars: sweep >= 0.9 x forward at the same batch size, and >= 3 x the naive loop,
with identical accuracy grids.

    python benchmarks/sweep.py [--images 1017] [--max-shift 2] [--batch-size 256] [--checkpoint baseline]
"""

from __future__ import annotations

import argparse
import time

import torch

import shiftlab as sl


def best_seconds(function, repeats: int) -> float:
    """Fastest of ``repeats`` timed calls (after one warm-up call)."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def load_model(name: str) -> torch.nn.Module:
    if name in sl.available_checkpoints():
        return sl.load_pretrained(name)
    print(f"(no checkpoint {name!r}: timing a randomly initialised CifarVGG, which costs the same)")
    return sl.CifarVGG().eval()


@torch.inference_mode()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1017)
    parser.add_argument("--max-shift", type=int, default=2, help="grid -m..m in both axes, step 1")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--checkpoint", default="baseline")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    model = load_model(args.checkpoint)
    images, labels = sl.load_sample()
    images, labels = sl.to_float(images)[: args.images], labels[: args.images]
    shifts = sl.shift_range(args.max_shift)
    work = len(shifts) ** 2 * len(images)
    batches = images.split(args.batch_size)
    engine = sl.inference_copy(model)

    def plain_forward():
        for batch in batches:
            model(batch)

    def engine_forward():
        for batch in batches:
            engine(batch.contiguous(memory_format=torch.channels_last))

    def naive_loop():
        predictions = torch.empty(len(shifts), len(shifts), len(images), dtype=torch.int64)
        for row, dy in enumerate(shifts):
            for col, dx in enumerate(shifts):
                shifted = sl.translate_affine(images, dx, dy)
                predictions[row, col] = torch.cat([model(batch).argmax(1) for batch in shifted.split(args.batch_size)])
        return predictions

    def sweep():
        return sl.translation_sweep(model, images, labels, shifts, method="affine", batch_size=args.batch_size, progress=False)

    print(f"{torch.get_num_threads()} threads, {len(images)} images, {len(shifts)}x{len(shifts)} shifts, batch {args.batch_size}")
    plain = len(images) / best_seconds(plain_forward, args.repeats)
    fast = len(images) / best_seconds(engine_forward, args.repeats)
    swept = work / best_seconds(sweep, args.repeats)
    naive = work / best_seconds(naive_loop, 1)
    identical = torch.equal(naive_loop(), sweep().predictions)
    print(f"forward, model(x) as called       {plain:8.0f} images/s")
    print(f"forward, sweep engine (unshifted) {fast:8.0f} images/s")
    print(f"translation_sweep                 {swept:8.0f} image-shifts/s")
    print(f"naive loop (affine, then forward) {naive:8.0f} image-shifts/s")
    print(f"sweep / engine forward = {swept / fast:.2f} (bar >= 0.9)")
    print(f"sweep / model(x) forward = {swept / plain:.2f}")
    print(f"sweep / naive loop = {swept / naive:.2f} (bar >= 3)")
    print(f"identical predictions (so identical accuracy grids): {identical}")


if __name__ == "__main__":
    main()
