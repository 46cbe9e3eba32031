"""Trained checkpoints: self-describing files listed in ``checkpoints/manifest.json``.

Each manifest entry names the file, its SHA-256, the model options, the training recipe, the
training time and device, and the metrics measured on the stored weights. Files hold
``{"config": model options, "state_dict": weights}``; floating-point weights are stored in
float16 to keep the files small, and every metric is measured after that rounding.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from .model import CifarVGG

MANIFEST = "manifest.json"
CHECKPOINTS_ENV = "SHIFTLAB_CHECKPOINTS"


def checkpoints_dir() -> Path:
    """Where checkpoints live: ``$SHIFTLAB_CHECKPOINTS`` if set, else ``checkpoints/`` of this repository."""
    if os.environ.get(CHECKPOINTS_ENV):
        return Path(os.environ[CHECKPOINTS_ENV])
    return Path(__file__).resolve().parents[2] / "checkpoints"


def sha256(path: str | Path) -> str:
    """Hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: str | Path | None = None) -> dict:
    """The manifest's entries, by checkpoint name; an empty dict if there is no manifest yet."""
    path = Path(directory or checkpoints_dir()) / MANIFEST
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["checkpoints"]


def write_manifest(entries: dict, directory: str | Path | None = None) -> Path:
    """Write all entries (sorted by name) to the manifest and return its path."""
    path = Path(directory or checkpoints_dir()) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"checkpoints": dict(sorted(entries.items()))}, indent=2) + "\n")
    return path


def save_checkpoint(
    model: CifarVGG,
    name: str,
    directory: str | Path | None = None,
    recipe: dict | None = None,
    training: dict | None = None,
    metrics: dict | None = None,
) -> dict:
    """Write ``<name>.pt`` (weights in float16) and its manifest entry; return the entry."""
    if not isinstance(model, CifarVGG):
        raise TypeError(f"save_checkpoint stores CifarVGG models, got {type(model).__name__}")
    directory = Path(directory or checkpoints_dir())
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    file = directory / f"{name}.pt"
    torch.save({"config": model.config.to_dict(), "state_dict": state}, file)
    entry = {
        "file": file.name,
        "sha256": sha256(file),
        "model": model.config.to_dict(),
        "recipe": recipe or {},
        "training": training or {},
        "metrics": metrics or {},
    }
    entries = read_manifest(directory)
    entries[name] = entry
    write_manifest(entries, directory)
    return entry


def load_checkpoint_file(path: str | Path, expected_sha256: str | None = None) -> CifarVGG:
    """Rebuild the model stored in ``path``, verifying its hash first if one is given; eval mode, CPU."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint file {path} is missing: restore it with `git checkout -- {path.name}` in "
            f"{path.parent}, or retrain it with `python -m shiftlab.train`"
        )
    if expected_sha256 is not None:
        actual = sha256(path)
        if actual != expected_sha256:
            raise ValueError(
                f"checkpoint file {path} has SHA-256 {actual[:12]}..., but the manifest expects "
                f"{expected_sha256[:12]}...: the file was altered or is incomplete. Restore it with "
                f"`git checkout -- {path.name}` in {path.parent}, or retrain it with `python -m shiftlab.train`"
            )
    stored = torch.load(path, map_location="cpu", weights_only=True)
    model = CifarVGG.from_config(stored["config"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in stored["state_dict"].items()})
    return model.eval()


def load_pretrained(name: str, directory: str | Path | None = None) -> CifarVGG:
    """The trained model ``name`` from the manifest, hash-verified, on the CPU, in eval mode.

    >>> model = load_pretrained("baseline")  # doctest: +SKIP
    """
    directory = Path(directory or checkpoints_dir())
    entries = read_manifest(directory)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none (no manifest.json in this folder)"
        raise KeyError(f"unknown checkpoint {name!r} in {directory}; known checkpoints: {known}")
    entry = entries[name]
    model = load_checkpoint_file(directory / entry["file"], entry["sha256"])
    if model.config.to_dict() != entry["model"]:
        raise ValueError(f"checkpoint {name!r} stores options {model.config.to_dict()}, the manifest says {entry['model']}")
    return model


def available_checkpoints(directory: str | Path | None = None) -> list[str]:
    """Names of the checkpoints in the manifest."""
    return sorted(read_manifest(directory))
