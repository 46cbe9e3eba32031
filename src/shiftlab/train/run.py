"""One run from data to checkpoint: build, train (or resume), measure the stored weights, save, verify.

The manifest entry it writes is complete and self-describing: model options, recipe, training time and
device, and every metric the course reports (test and sample accuracy, circular and crop consistency).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from ..checkpoints import as_stored, save_checkpoint
from ..data import load_sample, to_float
from ..model import ModelConfig
from .build import build_model
from .evaluation import accuracy, check_reload, checkpoint_metrics
from .hardware import device_name
from .recipe import Recipe
from .trainer import Trainer

STATE_FILE = "state.pt"

Split = tuple[torch.Tensor, torch.Tensor]  # uint8 images (N, 32, 32, 3), int64 labels (N,)


def train_checkpoint(name: str, options: ModelConfig | dict, recipe: Recipe, train: Split, test: Split,
                     output_dir: Path, state_dir: Path, device: torch.device) -> dict:
    """Train (or resume from ``state_dir``) the variant with model ``options``, store it as checkpoint ``name``
    in ``output_dir`` and return its manifest entry. Prints one line per epoch."""
    trainer = Trainer(build_model(options, recipe, train[0]), recipe, *train, device)
    print(f"{name}: {_describe(trainer.model.config)}; {len(train[1])} train, {len(test[1])} test images; "
          f"{recipe.epochs} epochs of {trainer.steps_per_epoch} steps on {device_name(device)}", flush=True)
    state_path = Path(state_dir) / STATE_FILE
    if state_path.is_file():
        trainer.load(state_path)
        print(f"resuming from {state_path} after epoch {trainer.epoch}", flush=True)
    test_on_device = (to_float(test[0]).to(device), test[1].to(device))
    while trainer.epoch < recipe.epochs:
        record = trainer.train_epoch()
        record["test_acc"] = accuracy(trainer.model, *test_on_device)
        trainer.history.append(record)
        trainer.save(state_path)
        print(f"epoch {record['epoch']:>2}/{recipe.epochs}  train loss {record['train_loss']:.4f}  "
              f"train acc {record['train_acc']:6.2f}%  test acc {record['test_acc']:6.2f}%  {record['seconds']:7.1f} s",
              flush=True)
    return save_and_verify(name, trainer, (to_float(test[0]), test[1]), Path(output_dir), device)


def save_and_verify(name: str, trainer: Trainer, test: tuple[torch.Tensor, torch.Tensor], output_dir: Path,
                    device: torch.device) -> dict:
    """Measure the float16-rounded weights on ``test`` (float images, labels) and the bundled sample, write the
    checkpoint and its complete manifest entry, reload it as a check, and return the entry."""
    stored = as_stored(trainer.model)
    images, labels = load_sample()
    sample = (to_float(images), labels)
    metrics = checkpoint_metrics(stored, test, sample)
    training = dict(device=device.type, device_name=device_name(device), seconds=round(trainer.seconds, 1),
                    epochs=trainer.epoch, torch=torch.__version__)
    entry = save_checkpoint(stored, name, output_dir, recipe=asdict(trainer.recipe), training=training, metrics=metrics)
    check_reload(name, output_dir, stored, sample, metrics["sample_accuracy"])
    print(f"saved {output_dir / entry['file']} (float16, reloaded and checked): test accuracy "
          f"{metrics['test_accuracy']:.2f}% on {metrics['test_images']} images, sample accuracy "
          f"{metrics['sample_accuracy']:.2f}%, circular consistency {metrics['circular_consistency']:.2f}%, "
          f"crop consistency {metrics['crop_consistency']:.2f}%, {trainer.seconds / 60:.1f} min of training", flush=True)
    return entry


def _describe(config: ModelConfig) -> str:
    blur = f" (blur {config.blur_size} taps, {config.blur_padding} padding)" if config.downsampling == "blur" else ""
    return f"padding {config.padding_mode}, downsampling {config.downsampling}{blur}"
