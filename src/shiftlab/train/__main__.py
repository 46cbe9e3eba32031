"""Train one CifarVGG variant on CIFAR-10 and store it as a checkpoint: ``python -m shiftlab.train``.

    python -m shiftlab.train --variant baseline                 # a shipped variant (shiftlab.VARIANTS)
    python -m shiftlab.train --name baseline --padding-mode zeros --downsampling max
    python -m shiftlab.train --list-variants                    # their names, one a line (make train)
    python -m shiftlab.train --unpack-data                      # the course's CIFAR-10 copy into --data

After every epoch the full training state goes to ``--state-dir`` (default ``runs/<name>``); the same
command run again resumes after the last finished epoch, and a larger ``--epochs`` extends a finished
run (the learning-rate schedule then follows the new length). At the end the float16 weights are
measured (test split, bundled sample, both consistency protocols), written with their complete manifest
entry and reloaded as a check. Helpers raise ValueError / FileNotFoundError; only ``main`` turns them
into an exit message.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from ..checkpoints import checkpoints_dir
from ..data import DEFAULT_DATA_DIR
from ..layers import DOWNSAMPLINGS
from ..model import ModelConfig
from ..padding import PADDING_MODES
from ..variants import VARIANTS
from .data import load_split, shuffled, unpack_course_data
from .hardware import resolve_device
from .recipe import PRECISIONS, Recipe, make_recipe
from .run import train_checkpoint

MODEL_FLAGS = ("padding_mode", "downsampling", "blur_size", "blur_padding")
RECIPE_FLAGS = ("epochs", "seed", "batch_size", "precision", "translate")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is None). Options left out stay None, so that a
    variant's own settings and the ``Recipe`` defaults apply; the help shows those defaults."""
    defaults = Recipe()
    parser = argparse.ArgumentParser(prog="python -m shiftlab.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", help="checkpoint name, e.g. baseline (default: the variant's name)")
    parser.add_argument("--variant", choices=list(VARIANTS), help="a shipped variant: its model options and recipe")
    parser.add_argument("--list-variants", action="store_true", help="print the shipped variants' names and stop")
    parser.add_argument("--unpack-data", action="store_true", help="unpack the course's CIFAR-10 copy into --data and stop")
    parser.add_argument("--padding-mode", choices=PADDING_MODES, help="default: zeros")
    parser.add_argument("--downsampling", choices=DOWNSAMPLINGS, help="default: max")
    parser.add_argument("--blur-size", type=int, help="taps of the blur (--downsampling blur only; default 3)")
    parser.add_argument("--blur-padding", choices=PADDING_MODES, help="padding of the blur (default: reflect, circular in circular models)")
    parser.add_argument("--translate", type=int, help=f"random translation in px (default: {defaults.translate}; 0: none)")
    parser.add_argument("--epochs", type=int, help=f"default: {defaults.epochs}")
    parser.add_argument("--seed", type=int, help=f"default: {defaults.seed}")
    parser.add_argument("--batch-size", type=int, help=f"default: {defaults.batch_size}")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help=f"autocast dtype of training steps (default: {defaults.precision}; float32 on CPUs without bfloat16)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR,
                        help=f"ImageFolder train/ test/, or a folder with torchvision's cifar-10-batches-py (default: {DEFAULT_DATA_DIR})")
    parser.add_argument("--download", action="store_true", help="let torchvision download CIFAR-10 into --data")
    parser.add_argument("--output-dir", type=Path, help=f"checkpoint folder (default: {checkpoints_dir()})")
    parser.add_argument("--state-dir", type=Path, help="resumable training state (default: runs/<name>)")
    parser.add_argument("--device", default="auto", help="auto (cuda if available, else cpu), cpu, cuda, ...")
    parser.add_argument("--limit-train", type=int, metavar="N", help="train on N random images only")
    parser.add_argument("--limit-test", type=int, metavar="N", help="test on N random images only")
    args = parser.parse_args(argv)
    if not (args.name or args.variant or args.list_variants or args.unpack_data):
        parser.error("give --name (with model options) or --variant")
    return args


def model_options(args: argparse.Namespace) -> dict:
    """The model options: the variant's, or the command line's (zeros / max unless given)."""
    given = {flag: getattr(args, flag) for flag in MODEL_FLAGS if getattr(args, flag) is not None}
    if args.variant:
        if given:
            flags = ", ".join("--" + flag.replace("_", "-") for flag in given)
            raise ValueError(f"--variant {args.variant} sets the model options itself; drop {flags}")
        return dict(VARIANTS[args.variant].model)
    options = {"padding_mode": "zeros", "downsampling": "max", **given}
    ModelConfig(**options)  # rejects options that do not fit together, e.g. --blur-size without blur
    return options


def load_data(args: argparse.Namespace, seed: int) -> tuple[tuple, tuple]:
    """(train, test) splits from ``--data``, each shuffled with ``seed`` and cut to its ``--limit-*``."""
    try:
        train = shuffled(*load_split(args.data, "train", args.download), args.limit_train, seed)
        test = shuffled(*load_split(args.data, "test", args.download), args.limit_test, seed)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{error}\n\nOn this command line, --data DIR reads another folder, and "
                                "--download lets torchvision fetch the official files into --data.") from None
    return train, test


def train_from_args(args: argparse.Namespace) -> dict:
    """Train the checkpoint the command line asks for; return its manifest entry."""
    options = model_options(args)
    settings = {flag: getattr(args, flag) for flag in RECIPE_FLAGS if getattr(args, flag) is not None}
    recipe = make_recipe(VARIANTS[args.variant].recipe if args.variant else {}, **settings)
    device = resolve_device(args.device)
    train, test = load_data(args, recipe.seed)
    recipe = replace(recipe, train_images=len(train[1]))
    name = args.name or args.variant
    return train_checkpoint(name, options, recipe, train, test, output_dir=args.output_dir or checkpoints_dir(),
                            state_dir=args.state_dir or Path("runs") / name, device=device)


def main(argv: list[str] | None = None) -> dict | None:
    """Run the command line; return the manifest entry written (None for --list-variants, --unpack-data).
    Errors in what was asked (missing data, options that do not fit, a state of another run) exit with
    their message instead of a traceback."""
    args = parse_args(argv)
    if args.list_variants:
        print("\n".join(VARIANTS))
        return None
    try:
        if args.unpack_data:
            unpacked = unpack_course_data(args.data)
            print(f"unpacked the course's CIFAR-10 into {args.data}" if unpacked else f"{args.data} is already there")
            return None
        return train_from_args(args)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
