"""Train one ``CifarVGG`` variant on CIFAR-10 and store it as a checkpoint: ``python -m shiftlab.train``.

Every variant gets the same fast recipe, airbench94's (Jordan, 2024, MIT) adapted to this model:
label smoothing 0.2, Nesterov SGD with a triangular learning-rate schedule and weight decay,
BatchNorm biases at 64x the learning rate, a stem convolution initialised by patch whitening and
frozen, identity-initialised convolutions, lookahead-EMA of the weights, alternating horizontal flips
and random 2-pixel translations. Training steps run under bfloat16 autocast (about 2x faster on CPUs
with bfloat16 instructions; ``--precision float32`` elsewhere), evaluation in float32. The whole data
set stays in memory as uint8 tensors; each batch is augmented with tensor operations.

    python -m shiftlab.train --name baseline --padding-mode zeros --downsampling max

Progress: a bar per epoch when stdout is a terminal, and one line per epoch in any case. After every
epoch the full training state goes to ``--state-dir`` (default ``runs/<name>``); the same command run
again resumes after the last finished epoch, and a larger ``--epochs`` extends a finished run (the
learning-rate schedule then follows the new length). At the end the weights are rounded to float16,
measured on the test split and on the bundled sample, written with ``save_checkpoint`` and reloaded
with ``load_pretrained`` as a check.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checkpoints import checkpoints_dir, load_pretrained, save_checkpoint
from .data import load_cifar10, load_cifar10_torchvision, load_sample, to_float
from .layers import DOWNSAMPLINGS, PADDING_MODES
from .model import CifarVGG

DEFAULT_DATA = "data/cifar10-jpeg"
COURSE_TAR = "../shared/data/cifar10-jpeg.tar.xz"  # relative to the repository root
STATE_FILE = "state.pt"
EVAL_BATCH = 1000
PRECISIONS = ("bfloat16", "float32")


@dataclass(frozen=True)
class Recipe:
    """Training hyperparameters, the same for every variant (airbench94's, for PyTorch SGD on a mean loss).

    Learning rates are for a batch of 1024 images and scale linearly with ``batch_size``; the weight
    decay is PyTorch's coupled one, so each step shrinks the weights by ``lr * weight_decay`` as in
    airbench94 (its lr 11.5 and decay 0.0153 per 1024 images, decoupled).
    """

    epochs: int = 15  # the shipped checkpoints; airbench94 needs ~10 at its width, this narrower net more
    batch_size: int = 256
    seed: int = 0
    train_images: int = 50_000  # how many training images (all, unless --limit-train)
    lr: float = 1.5  # peak lr per 1024 images: airbench94's 11.5 / (1 + 1 / (1 - momentum))
    momentum: float = 0.85  # Nesterov
    weight_decay: float = 0.0153 / 11.5  # airbench94's decay per 1024 images / its lr
    lr_start: float = 0.2  # the lr rises linearly from lr_start * lr ...
    lr_peak_at: float = 0.23  # ... to lr at this fraction of the steps ...
    lr_end: float = 0.07  # ... then falls linearly to lr_end * lr; lookahead does the final averaging
    bias_lr_scale: float = 64.0  # BatchNorm biases: lr x64, decay /64 (BatchNorm weights stay frozen at 1)
    head_scale: float = 1 / 9  # airbench94's logit scale 1/9, folded into the head's initial weights and lr
    label_smoothing: float = 0.2
    bn_momentum: float = 0.6  # running-statistics decay per 1024 images
    lookahead_start: float = 0.3  # fraction of the steps before lookahead starts (airbench94: epoch 3 of 9.9)
    lookahead_decay: float = 0.95  # EMA decay per 1024 images, times progress ** lookahead_power,
    lookahead_power: float = 3.0
    lookahead_every: int = 5120  # applied every this many images
    whiten_images: int = 5000  # training images whose 3x3 patches set the stem convolution
    whiten_eps: float = 5e-4
    translate: int = 2  # random translation of up to this many pixels (reflect padding, then crop)
    flip: str = "alternating"  # per-image random flip in epoch 1, inverted every other epoch
    precision: str = "bfloat16"  # autocast dtype of training steps (float32: none); evaluation is float32


# ---------------------------------------------------------------- data


def missing_data_message(root: Path) -> str:
    """How to get CIFAR-10 into ``root``."""
    return (
        f"CIFAR-10 not found in {root}: it needs the ImageFolder layout train/<class>/*.jpg and "
        f"test/<class>/*.jpg, or torchvision's cifar-10-batches-py. From the repository root, unpack the "
        f"course copy with\n\n    mkdir -p {root} && tar xJf {COURSE_TAR} -C {root}\n\n"
        "or pass --data DIR for another folder, or --download to let torchvision fetch the official files."
    )


def load_split(root: Path, split: str, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 32, 32, 3) and int64 labels (N,) of one split; SystemExit with a hint if absent."""
    try:
        if download:
            return load_cifar10_torchvision(root, split, download=True)
        return load_cifar10(root, split)
    except FileNotFoundError:
        raise SystemExit(missing_data_message(root)) from None


def shuffled(images: torch.Tensor, labels: torch.Tensor, limit: int | None, seed: int):
    """The images in a random order fixed by ``seed``, only the first ``limit`` if given."""
    if limit is not None and limit < 1:
        raise SystemExit(f"a subset needs at least one image, got {limit}")
    keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:limit]
    return images[keep], labels[keep]


def random_translate(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by its own random (dy, dx) in [-max_shift, max_shift], filling by reflection.

    Shape: (N, C, H, W) -> (N, C, H, W); a crop of the reflect-padded batch at a random offset.
    """
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, mode="reflect")
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=generator)
    rows = (dy + torch.arange(h)).to(x.device)  # (N, H)
    cols = (dx + torch.arange(w)).to(x.device)  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (N, H, W, C) -> NCHW


def augment(images: torch.Tensor, flip: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """uint8 batch (N, H, W, 3) -> float (N, 3, H, W) in [0, 1], flipped where ``flip`` and translated."""
    x = to_float(images)
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    return random_translate(x, max_shift, generator).contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------- model and optimiser


def whiten_stem(model: CifarVGG, images: torch.Tensor, eps: float) -> None:
    """Set the stem convolution to whitening filters of 3x3 training patches and freeze it.

    Half the filters are the leading eigenvectors of the patch covariance (normalised pixels), each
    divided by the square root of its eigenvalue plus ``eps``; the other half are their negatives.
    """
    conv = model[0][1]
    patches = F.unfold(model[0][0](to_float(images)), conv.kernel_size)  # (N, 27, L)
    covariance = torch.einsum("nil,njl->ij", patches, patches) / (patches.shape[0] * patches.shape[2])
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
    half = conv.out_channels // 2
    filters = (eigenvectors[:, -half:] / (eigenvalues[-half:] + eps).sqrt()).T.reshape(half, *conv.weight.shape[1:])
    with torch.no_grad():
        conv.weight.copy_(torch.cat([filters, -filters]))
    conv.weight.requires_grad_(False)


def build_model(padding_mode: str, downsampling: str, recipe: Recipe, train_images: torch.Tensor) -> CifarVGG:
    """A fresh variant with airbench94's initialisation.

    The stem is whitened and frozen, BatchNorm weights are frozen at 1, each 3x3 convolution starts
    as the identity on its first input channels, and the head is scaled by ``recipe.head_scale``.
    """
    torch.manual_seed(recipe.seed)
    model = CifarVGG(padding_mode=padding_mode, downsampling=downsampling)
    whiten_stem(model, train_images[: recipe.whiten_images], recipe.whiten_eps)
    with torch.no_grad():
        for module in model[1:].modules():
            if isinstance(module, nn.Conv2d):
                nn.init.dirac_(module.weight[: module.in_channels])
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.requires_grad_(False)
        model[-1][-1].weight.mul_(recipe.head_scale)
    return model


def make_optimizer(model: CifarVGG, recipe: Recipe) -> torch.optim.SGD:
    """Nesterov SGD with three groups: weights, BatchNorm biases, head (each keeps ``base_lr``)."""
    lr = recipe.lr * recipe.batch_size / 1024
    biases = [m.bias for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    head = model[-1][-1].weight
    special = {id(p) for p in [*biases, head]}
    weights = [p for p in model.parameters() if p.requires_grad and id(p) not in special]
    head_lr = recipe.head_scale**2  # SGD on w * head_scale, expressed for the stored (scaled) weights
    groups = [
        dict(params=weights, base_lr=lr, weight_decay=recipe.weight_decay),
        dict(params=biases, base_lr=lr * recipe.bias_lr_scale, weight_decay=recipe.weight_decay / recipe.bias_lr_scale),
        dict(params=[head], base_lr=lr * head_lr, weight_decay=recipe.weight_decay / head_lr),
    ]
    return torch.optim.SGD(groups, lr=lr, momentum=recipe.momentum, nesterov=True)


def lr_factor(step: int, total_steps: int, recipe: Recipe) -> float:
    """Triangular schedule: ``lr_start`` -> 1 at ``lr_peak_at`` of the steps -> ``lr_end`` at the end.

    >>> [round(lr_factor(s, 100, Recipe()), 3) for s in (0, 23, 100)]
    [0.2, 1.0, 0.07]
    """
    peak = recipe.lr_peak_at * total_steps
    if step < peak:
        return recipe.lr_start + (1 - recipe.lr_start) * step / peak
    return 1 + (recipe.lr_end - 1) * (step - peak) / (total_steps - peak)


class Lookahead:
    """An EMA of every float tensor in the state dict, copied back into the model at each update."""

    def __init__(self, model: nn.Module, state: dict | None = None):
        source = state if state is not None else model.state_dict()
        self.ema = {k: v.detach().clone() for k, v in source.items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module, decay: float) -> None:
        """ema <- decay * ema + (1 - decay) * model, then model <- ema."""
        for key, value in model.state_dict().items():
            if key in self.ema:
                self.ema[key].lerp_(value, 1 - decay)
                value.copy_(self.ema[key])


# ---------------------------------------------------------------- training


class Trainer:
    """One run: model, optimiser, lookahead, data order and history; trains and saves epoch by epoch.

    All randomness after the model's initialisation comes from one generator seeded with
    ``recipe.seed`` (first the per-image flip bits, then per epoch an order and per batch the shifts),
    so a resumed run draws exactly what an uninterrupted one would.
    """

    def __init__(self, model: CifarVGG, recipe: Recipe, images: torch.Tensor, labels: torch.Tensor, device):
        self.recipe, self.images, self.labels = recipe, images.to(device), labels.to(device)
        self.model = model.to(device, memory_format=torch.channels_last)
        self.optimizer = make_optimizer(self.model, recipe)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        self.autocast_dtype = getattr(torch, recipe.precision)
        self.generator = torch.Generator().manual_seed(recipe.seed)
        self.flip = (torch.rand(len(images), generator=self.generator) < 0.5).to(device)
        self.steps_per_epoch = len(images) // recipe.batch_size  # the last partial batch is dropped
        self.lookahead_every = max(1, round(recipe.lookahead_every / recipe.batch_size))
        for module in self.model.modules():
            if isinstance(module, nn.BatchNorm2d):  # PyTorch's momentum is the weight of the new batch
                module.momentum = 1 - recipe.bn_momentum ** (recipe.batch_size / 1024)
        self.lookahead: Lookahead | None = None
        self.epoch, self.seconds, self.history = 0, 0.0, []

    @property
    def total_steps(self) -> int:
        return self.recipe.epochs * self.steps_per_epoch

    def train_epoch(self) -> dict:
        """Train one epoch; return its mean training loss, accuracy (%, augmented images) and seconds."""
        recipe, model, device = self.recipe, self.model, self.images.device
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(self.images), generator=self.generator)
        loss_sum = correct = 0
        bar = tqdm(range(self.steps_per_epoch), desc=f"epoch {self.epoch + 1}", leave=False, disable=not sys.stdout.isatty())
        for i in bar:
            step = self.epoch * self.steps_per_epoch + i
            batch = order[i * recipe.batch_size : (i + 1) * recipe.batch_size].to(device)
            flip = self.flip[batch] ^ bool(self.epoch % 2)  # every other epoch flips the other half
            x = augment(self.images[batch], flip, recipe.translate, self.generator)
            y = self.labels[batch]
            for group in self.optimizer.param_groups:
                group["lr"] = group["base_lr"] * lr_factor(step, self.total_steps, recipe)
            with torch.autocast(device.type, dtype=self.autocast_dtype, enabled=recipe.precision != "float32"):
                logits = model(x)
                loss = self.loss_fn(logits, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.step_lookahead(step + 1)
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
        if self.lookahead is not None:
            self.lookahead.update(model, decay=1.0)  # end every epoch on the averaged weights
        images = self.steps_per_epoch * recipe.batch_size
        train_loss, train_acc = (loss_sum / images).item(), round(100 * correct.item() / images, 2)
        seconds = time.perf_counter() - start
        self.epoch += 1
        self.seconds += seconds
        return dict(epoch=self.epoch, train_loss=round(train_loss, 4), train_acc=train_acc, seconds=round(seconds, 1))

    def step_lookahead(self, steps_done: int) -> None:
        """airbench94's lookahead: from ``lookahead_start`` on, every few steps pull the weights to their
        EMA, whose decay grows with the cube of the progress (fast moves early, strong averaging late)."""
        recipe = self.recipe
        if steps_done < recipe.lookahead_start * self.total_steps or steps_done % self.lookahead_every:
            return
        if self.lookahead is None:
            self.lookahead = Lookahead(self.model)
            return
        images = self.lookahead_every * recipe.batch_size
        decay = recipe.lookahead_decay ** (images / 1024) * (steps_done / self.total_steps) ** recipe.lookahead_power
        self.lookahead.update(self.model, decay)

    def save(self, path: Path) -> None:
        """Write the whole training state to ``path`` (atomically: a killed run leaves the last good one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        state = dict(
            recipe=asdict(self.recipe),
            model_options=self.model.config.to_dict(),
            epoch=self.epoch,
            seconds=self.seconds,
            history=self.history,
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            lookahead=self.lookahead.ema if self.lookahead is not None else None,
            generator=self.generator.get_state(),
        )
        torch.save(state, path.with_suffix(".tmp"))
        os.replace(path.with_suffix(".tmp"), path)

    def load(self, path: Path) -> None:
        """Continue from a state written by ``save`` for the same variant and recipe (``epochs`` may grow)."""
        state = torch.load(path, map_location=self.images.device, weights_only=True)
        mine, theirs = asdict(self.recipe), state["recipe"]
        differences = [f"{k}: {theirs.get(k)} there, {v} here" for k, v in mine.items() if k != "epochs" and theirs.get(k) != v]
        if state["model_options"] != self.model.config.to_dict():
            differences.append(f"model: {state['model_options']} there, {self.model.config.to_dict()} here")
        if state["epoch"] > self.recipe.epochs:
            differences.append(f"epochs: {state['epoch']} already trained there, {self.recipe.epochs} asked here")
        if differences:
            raise SystemExit(
                f"cannot resume from {path}, it was made with other settings ({'; '.join(differences)}); "
                "pass another --state-dir, or delete that folder to start over"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.lookahead = Lookahead(self.model, state["lookahead"]) if state["lookahead"] is not None else None
        self.generator.set_state(state["generator"])
        self.epoch, self.seconds, self.history = state["epoch"], state["seconds"], state["history"]


# ---------------------------------------------------------------- evaluation and checkpoint


@torch.no_grad()
def accuracy(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, memory_format=torch.contiguous_format
) -> float:
    """Single-view top-1 accuracy in percent (2 decimals) on uint8 images (N, H, W, 3), labels (N,)."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(images), EVAL_BATCH):
        x = to_float(images[start : start + EVAL_BATCH].cpu()).to(device).contiguous(memory_format=memory_format)
        correct += (model(x).argmax(1).cpu() == labels[start : start + EVAL_BATCH].cpu()).sum().item()
    return round(100 * correct / len(images), 2)


def stored_model(model: CifarVGG) -> CifarVGG:
    """A CPU copy with the float16-rounded weights that ``save_checkpoint`` writes, built as
    ``load_pretrained`` builds it, so that its measurements are the checkpoint's."""
    copy = CifarVGG.from_config(model.config)
    copy.load_state_dict({k: v.cpu().half().float() if v.is_floating_point() else v.cpu() for k, v in model.state_dict().items()})
    return copy.eval()


def check_reload(name: str, directory: Path, expected: CifarVGG, sample: tuple, sample_accuracy: float) -> None:
    """Reload checkpoint ``name`` with ``load_pretrained``; raise unless weights and sample accuracy match."""
    reloaded = load_pretrained(name, directory)
    expected_state = expected.state_dict()
    same = all(torch.equal(v, expected_state[k]) for k, v in reloaded.state_dict().items())
    measured = accuracy(reloaded, *sample)
    if not same or measured != sample_accuracy:
        raise RuntimeError(
            f"checkpoint {name!r} in {directory} does not reload as trained: weights equal {same}, "
            f"sample accuracy {measured}% after reloading, {sample_accuracy}% before"
        )


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model and the number of threads PyTorch uses."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)
    return f"{cpu or platform.processor() or 'CPU'}, {torch.get_num_threads()} threads"


# ---------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is None); defaults come from ``Recipe``."""
    defaults = Recipe()
    parser = argparse.ArgumentParser(prog="python -m shiftlab.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True, help="checkpoint name, e.g. baseline")
    parser.add_argument("--padding-mode", choices=PADDING_MODES, default="zeros", help="default: zeros")
    parser.add_argument("--downsampling", choices=DOWNSAMPLINGS, default="max", help="default: max")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help=f"default: {defaults.epochs}")
    parser.add_argument("--seed", type=int, default=defaults.seed, help=f"default: {defaults.seed}")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help=f"default: {defaults.batch_size}")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default=defaults.precision,
        help=f"autocast dtype of training steps (default: {defaults.precision}; float32 on CPUs without bfloat16 support)",
    )
    parser.add_argument(
        "--data", type=Path, default=Path(DEFAULT_DATA),
        help=f"ImageFolder train/ test/, or a folder with torchvision's cifar-10-batches-py (default: {DEFAULT_DATA})",
    )
    parser.add_argument("--download", action="store_true", help="let torchvision download CIFAR-10 into --data")
    parser.add_argument("--output-dir", type=Path, help=f"checkpoint folder (default: {checkpoints_dir()})")
    parser.add_argument("--state-dir", type=Path, help="resumable training state (default: runs/<name>)")
    parser.add_argument("--device", default="auto", help="auto (cuda if available, else cpu), cpu, cuda, ...")
    parser.add_argument("--limit-train", type=int, metavar="N", help="train on N random images only")
    parser.add_argument("--limit-test", type=int, metavar="N", help="test on N random images only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Train (or resume) one variant, store its checkpoint, and return the manifest entry."""
    args = parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else torch.device(args.device)
    output_dir = args.output_dir or checkpoints_dir()
    state_path = (args.state_dir or Path("runs") / args.name) / STATE_FILE

    train_images, train_labels = shuffled(*load_split(args.data, "train", args.download), args.limit_train, args.seed)
    test_images, test_labels = shuffled(*load_split(args.data, "test", args.download), args.limit_test, args.seed)
    recipe = Recipe(
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, train_images=len(train_images), precision=args.precision
    )
    if len(train_images) < recipe.batch_size:
        raise SystemExit(f"--batch-size {recipe.batch_size} is larger than the {len(train_images)} training images")

    model = build_model(args.padding_mode, args.downsampling, recipe, train_images)
    trainer = Trainer(model, recipe, train_images, train_labels, device)
    print(
        f"{args.name}: padding {args.padding_mode}, downsampling {args.downsampling}; {len(train_images)} train, "
        f"{len(test_images)} test images; {recipe.epochs} epochs of {trainer.steps_per_epoch} steps on {device_name(device)}",
        flush=True,
    )
    if state_path.is_file():
        trainer.load(state_path)
        print(f"resuming from {state_path} after epoch {trainer.epoch}", flush=True)

    while trainer.epoch < recipe.epochs:
        record = trainer.train_epoch()
        record["test_acc"] = accuracy(trainer.model, test_images, test_labels, torch.channels_last)
        trainer.history.append(record)
        trainer.save(state_path)
        print(
            f"epoch {record['epoch']:>2}/{recipe.epochs}  train loss {record['train_loss']:.4f}  "
            f"train acc {record['train_acc']:6.2f}%  test acc {record['test_acc']:6.2f}%  {record['seconds']:7.1f} s",
            flush=True,
        )

    final = stored_model(trainer.model)
    sample = load_sample()
    metrics = dict(
        test_accuracy=accuracy(final, test_images, test_labels),
        test_images=len(test_images),
        sample_accuracy=accuracy(final, *sample),
    )
    training = dict(
        device=device.type,
        device_name=device_name(device),
        seconds=round(trainer.seconds, 1),
        epochs=trainer.epoch,
        torch=torch.__version__,
    )
    entry = save_checkpoint(final, args.name, output_dir, recipe=asdict(recipe), training=training, metrics=metrics)
    check_reload(args.name, output_dir, final, sample, metrics["sample_accuracy"])
    print(
        f"saved {output_dir / entry['file']} (float16, reloaded and checked): test accuracy "
        f"{metrics['test_accuracy']:.2f}% on {metrics['test_images']} images, sample accuracy "
        f"{metrics['sample_accuracy']:.2f}%, {trainer.seconds / 60:.1f} min of training",
        flush=True,
    )
    return entry


if __name__ == "__main__":
    main()
