"""One training run, epoch by epoch, resumable: model, optimiser, lookahead, data order and history."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from ..lesson import progress_bar
from ..model import CifarVGG
from .augment import augment
from .optim import Lookahead, lr_factor, make_optimizer
from .recipe import Recipe


class Trainer:
    """Trains ``model`` on uint8 ``images`` (N, H, W, 3) and int64 ``labels`` (N,) with ``recipe``.

    All randomness after the model's initialisation comes from one generator seeded with
    ``recipe.seed`` (first the per-image flip bits, then per epoch an order and per batch the shifts),
    so a resumed run draws exactly what an uninterrupted one would.
    """

    def __init__(self, model: CifarVGG, recipe: Recipe, images: torch.Tensor, labels: torch.Tensor, device):
        if len(images) < recipe.batch_size:
            raise ValueError(f"batch size {recipe.batch_size} is larger than the {len(images)} training images")
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
        steps = progress_bar(range(self.steps_per_epoch), enabled=sys.stdout.isatty(), desc=f"epoch {self.epoch + 1}", leave=False)
        for i in steps:
            step = self.epoch * self.steps_per_epoch + i
            batch = order[i * recipe.batch_size : (i + 1) * recipe.batch_size].to(device)
            flip = self.flip[batch] ^ bool(self.epoch % 2)  # every other epoch flips the other half
            x = augment(self.images[batch], flip, recipe.translate, self.generator)
            y = self.labels[batch]
            logits, loss = self.train_step(x, y, lr_factor(step, self.total_steps, recipe))
            self.step_lookahead(step + 1)
            loss_sum += loss * len(y)
            correct += (logits.argmax(1) == y).sum()
        if self.lookahead is not None:
            self.lookahead.update(model, decay=1.0)  # end every epoch on the averaged weights
        images = self.steps_per_epoch * recipe.batch_size
        train_loss, train_acc = (loss_sum / images).item(), round(100 * correct.item() / images, 2)
        seconds = time.perf_counter() - start
        self.epoch += 1
        self.seconds += seconds
        return dict(epoch=self.epoch, train_loss=round(train_loss, 4), train_acc=train_acc, seconds=round(seconds, 3))

    def train_step(self, x: torch.Tensor, y: torch.Tensor, lr_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD step on a batch at ``lr_scale`` times each group's base learning rate; (logits, loss)."""
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * lr_scale
        with torch.autocast(x.device.type, dtype=self.autocast_dtype, enabled=self.recipe.precision != "float32"):
            logits = self.model(x)
            loss = self.loss_fn(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return logits, loss.detach()

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
        """Continue from a state written by ``save`` for the same variant and recipe (``epochs`` may grow);
        a ValueError lists every difference otherwise."""
        state = torch.load(path, map_location=self.images.device, weights_only=True)
        differences = self.differences(state)
        if differences:
            raise ValueError(
                f"cannot resume from {path}, it was made with other settings ({'; '.join(differences)}); "
                "pass another --state-dir, or delete that folder to start over"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.lookahead = Lookahead(self.model, state["lookahead"]) if state["lookahead"] is not None else None
        self.generator.set_state(state["generator"])
        self.epoch, self.seconds, self.history = state["epoch"], state["seconds"], state["history"]

    def differences(self, state: dict) -> list[str]:
        """What makes a saved ``state`` unfit to resume here: other recipe fields (but ``epochs``), other model
        options, or more epochs already trained than asked for."""
        mine, theirs = asdict(self.recipe), state["recipe"]
        differences = [f"{k}: {theirs.get(k)} there, {v} here" for k, v in mine.items() if k != "epochs" and theirs.get(k) != v]
        if state["model_options"] != self.model.config.to_dict():
            differences.append(f"model: {state['model_options']} there, {self.model.config.to_dict()} here")
        if state["epoch"] > self.recipe.epochs:
            differences.append(f"epochs: {state['epoch']} already trained there, {self.recipe.epochs} asked here")
        return differences
