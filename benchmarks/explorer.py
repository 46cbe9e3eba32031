"""How fast the reading-group explorer computes and redraws.

Prints (1) the seconds to compute every heatmap of one image (every layer, both data sets, two
models) from a cold cache: one batched pass per (model, data set), then the cosine similarities;
bar: under 30 s on 2 CPU cores. (2) The seconds per widget redraw once the features are cached
(a change of layer, anchor, colour minimum or inspected cell, each including the figure's PNG
rendering); bar: under 0.5 s. (3) Click to inspect on the interactive (ipympl) figure: the seconds
from the browser's click message to the new figure's PNG, i.e. selecting the cell, drawing the figure
when the front end asks for it, and encoding the image the canvas sends back; bar: under 0.5 s. The
machine's load average is printed with them, since other processes on the same cores slow all down.

    python benchmarks/explorer.py [--image 3] [--models baseline blurpool] [--quick] [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

import shiftlab as sl  # noqa: E402
from shiftlab import explorer as ex  # noqa: E402

COMPUTE_BAR_S = 30.0
REDRAW_BAR_S = 0.5


def load_models(names: list[str] | None) -> dict[str, torch.nn.Module]:
    """The named checkpoints, else baseline and blurpool if trained, else untrained variants (same cost)."""
    available = sl.available_checkpoints()
    names = names or (list(ex.default_pair(available)) if len(available) >= 2 else None)
    if names and all(name in available for name in names):
        return {name: sl.load_pretrained(name) for name in names}
    print(f"(checkpoints {names or ''} not all present: timing untrained max-pool and blur-pool models, "
          "which cost the same)")
    torch.manual_seed(0)
    return {"baseline": sl.CifarVGG(downsampling="max").eval(), "blurpool": sl.CifarVGG(downsampling="blur").eval()}


def timed(function) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of this process, all threads) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def compute_all(cache: ex.FeatureCache, image: int) -> dict[str, tuple[float, float]]:
    """Every heatmap of one image, from a cold cache; (wall, CPU) seconds per (model, data set)."""
    seconds = {}
    for kind in ex.DATASETS:
        cache.dataset(image, kind)
        for name in cache.model_names:
            seconds[f"{name} / {kind}"] = timed(lambda: [cache.heatmap(name, image, kind, layer) for layer in ex.LAYERS])
    return seconds


def redraw_times(explorer: ex.ShiftExplorer, repeats: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds per control change, by control, over ``repeats`` rounds (features cached)."""
    changes = [("layer", explorer.layer, layer) for layer in ex.LAYERS]
    changes += [("anchor", explorer.anchor, anchor) for anchor in ex.ANCHORS]
    changes += [("colour min", explorer.vmin, value) for value in (0.5, 0.9, 0.7)]
    times: dict[str, list[tuple[float, float]]] = {}
    for _ in range(repeats):
        for label, control, value in changes:
            times.setdefault(label, []).append(timed(lambda: setattr(control, "value", value)))
        for x, y in ((0, 0), (3, 5), (8, 8)):
            times.setdefault("select(x, y)", []).append(timed(lambda: explorer.select(x, y)))
    return times


def click_times(explorer: ex.ShiftExplorer, repeats: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds per click on a cell of an interactive explorer, as ipympl's front end drives
    it: a button_press message, then the "draw" message the front end sends back, which renders the
    figure and sends its PNG (the canvas's comm has no front end here, so nothing travels)."""
    canvas = explorer.plot.view
    canvas.syncing_data_url = False  # as after the front end's "initialized": no PNG for the stored state
    ny, nx = explorer.heatmaps()[0].shape
    cells = [(x, y) for x, y in ((0, 0), (nx - 1, ny // 2), (nx // 3, ny - 1), (nx // 2, 1))]
    times = []
    for _ in range(repeats):
        for ax_index, (x, y) in enumerate(cells):
            px, py = explorer.plot.axes[ax_index % 2].transData.transform((x, y))
            press = {"type": "button_press", "x": px, "y": canvas.get_renderer().height - py, "button": 0,
                     "buttons": 1, "modifiers": [], "guiEvent": {}}
            times.append(timed(lambda: (canvas._handle_message(canvas, press, []),
                                        canvas._handle_message(canvas, {"type": "draw"}, []))))
            if (explorer.selection["x"], explorer.selection["y"]) != (x, y):
                got = explorer.selection["x"], explorer.selection["y"]
                raise RuntimeError(f"a click on cell ({x}, {y}) selected {got}")
    return times


def median(pairs, which: int) -> float:
    return statistics.median(pair[which] for pair in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", type=int, default=3, help="index into the bundled sample")
    parser.add_argument("--models", nargs=2, metavar="NAME", help="two checkpoints (default: baseline and blurpool)")
    parser.add_argument("--quick", action="store_true", help="the quick-mode data sets (81 positions)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    sizes = ex.dataset_sizes(args.quick)
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, load average {os.getloadavg()[0]:.1f}; {sizes}")
    start = time.perf_counter()
    models = load_models(args.models)
    cache = ex.FeatureCache(models=models, sizes=sizes)
    print(f"loading models and the sample: {time.perf_counter() - start:.2f} s")

    seconds = compute_all(cache, args.image)
    for key, (wall, cpu) in seconds.items():
        images = len(cache.dataset(args.image, key.split(" / ")[1]).images)
        print(f"  {key:<28} {wall:6.2f} s wall, {cpu:6.2f} s CPU ({images} images)")
    wall, cpu = (sum(pair[i] for pair in seconds.values()) for i in (0, 1))
    verdict = "ok" if wall < COMPUTE_BAR_S else "OVER THE BAR"
    print(f"all heatmaps of image {args.image} (2 models x 2 data sets x {len(ex.LAYERS)} layers): {wall:.2f} s wall "
          f"(bar {COMPUTE_BAR_S:.0f} s: {verdict}); {cpu:.2f} s CPU, i.e. about {cpu / threads:.1f} s on {threads} idle cores")

    build = timed(lambda: ex.ShiftExplorer(cache, models=tuple(models), image_index=args.image, interactive=False))
    print(f"building the explorer (features cached): {build[0]:.2f} s")
    explorer = ex.ShiftExplorer(cache, models=tuple(models), image_index=args.image, interactive=False)
    times = redraw_times(explorer, args.repeats)
    every = [pair for pairs in times.values() for pair in pairs]
    for label, pairs in times.items():
        print(f"  {label:<14} median {median(pairs, 0):.3f} s wall ({median(pairs, 1):.3f} s CPU), "
              f"max {max(p[0] for p in pairs):.3f} s wall ({len(pairs)} redraws)")
    verdict = "ok" if median(every, 0) < REDRAW_BAR_S else "OVER THE BAR"
    print(f"per widget redraw: median {median(every, 0):.3f} s wall, max {max(p[0] for p in every):.3f} s "
          f"(bar {REDRAW_BAR_S} s: {verdict}); median {median(every, 1):.3f} s CPU; "
          f"load average now {os.getloadavg()[0]:.1f}")
    report_clicks(cache, models, args)


def report_clicks(cache: ex.FeatureCache, models: dict, args) -> None:
    """Print the click-to-inspect latency of the interactive figure (needs ipympl)."""
    if importlib.util.find_spec("ipympl") is None:
        print("click to inspect: not timed (ipympl, in the `lab` extra, is not installed)")
        return
    explorer = ex.ShiftExplorer(cache, models=tuple(models), image_index=args.image, interactive=True)
    clicks = click_times(explorer, args.repeats)
    verdict = "ok" if median(clicks, 0) < REDRAW_BAR_S else "OVER THE BAR"
    print(f"click to inspect (ipympl figure, click -> new figure PNG): median {median(clicks, 0):.3f} s wall, "
          f"max {max(p[0] for p in clicks):.3f} s ({len(clicks)} clicks; bar {REDRAW_BAR_S} s: {verdict}); "
          f"median {median(clicks, 1):.3f} s CPU")


if __name__ == "__main__":
    main()
