"""Trained checkpoints: self-describing files listed in a ``manifest.json``.

Each manifest entry names the file, its SHA-256, the model options, the training recipe, the
training time and device, and the metrics measured on the stored weights. Files hold
``{"config": model options, "state_dict": weights}``; floating-point weights are stored in
``STORAGE_DTYPE`` (float16) to keep the files small, and every metric is measured after that rounding
(``as_stored`` gives the rounded model before it is written).

Where checkpoints are read and written, first match wins: the ``directory`` argument, else the folder
named by ``$SHIFTLAB_CHECKPOINTS``, else the checkpoints bundled with the package
(``shiftlab/assets/checkpoints``, so an installed package finds them too).
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
BUNDLED_CHECKPOINTS = Path(__file__).resolve().parent / "assets" / "checkpoints"
STORAGE_DTYPE = torch.float16
LOOKUP_ORDER = f"the directory argument, else ${CHECKPOINTS_ENV}, else the folder bundled with shiftlab ({BUNDLED_CHECKPOINTS})"


def checkpoints_location(directory: str | Path | None = None) -> tuple[Path, str]:
    """The checkpoint folder and how it was chosen: ``directory`` if given, else ``$SHIFTLAB_CHECKPOINTS``
    if set (an empty value counts as unset), else ``BUNDLED_CHECKPOINTS``."""
    if directory:
        return Path(directory), "the directory argument"
    if os.environ.get(CHECKPOINTS_ENV):
        return Path(os.environ[CHECKPOINTS_ENV]), f"${CHECKPOINTS_ENV}"
    return BUNDLED_CHECKPOINTS, "the checkpoints bundled with shiftlab"


def checkpoints_dir(directory: str | Path | None = None) -> Path:
    """Where checkpoints are read and written (see ``checkpoints_location``)."""
    return checkpoints_location(directory)[0]


def sha256(path: str | Path) -> str:
    """Hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: str | Path | None = None) -> dict:
    """The manifest's entries, by checkpoint name; an empty dict if there is no manifest yet.

    Each entry: ``file``, ``sha256``, ``model`` (options), ``recipe``, ``training`` and ``metrics``
    (test and sample accuracy, circular and crop consistency, all in percent).
    """
    path = checkpoints_dir(directory) / MANIFEST
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["checkpoints"]


def write_manifest(entries: dict, directory: str | Path | None = None) -> Path:
    """Write all entries (sorted by name) to the manifest and return its path."""
    path = checkpoints_dir(directory) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"checkpoints": dict(sorted(entries.items()))}, indent=2) + "\n")
    return path


def to_storage(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict as a checkpoint file stores it: floating-point tensors in ``STORAGE_DTYPE``, on the CPU."""
    return {k: (v.to(STORAGE_DTYPE) if v.is_floating_point() else v).detach().cpu() for k, v in state.items()}


def from_storage(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A stored state dict as a model loads it: floating-point tensors back in float32."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def as_stored(model: CifarVGG) -> CifarVGG:
    """A CPU copy of ``model`` with the weights its checkpoint file would hold, rebuilt as ``load_pretrained``
    rebuilds it, in eval mode: measuring it measures the checkpoint."""
    stored = CifarVGG.from_config(model.config)
    stored.load_state_dict(from_storage(to_storage(model.state_dict())))
    return stored.eval()


def save_checkpoint(
    model: CifarVGG,
    name: str,
    directory: str | Path | None = None,
    recipe: dict | None = None,
    training: dict | None = None,
    metrics: dict | None = None,
) -> dict:
    """Write ``<name>.pt`` (weights in ``STORAGE_DTYPE``) and its manifest entry; return the entry."""
    if not isinstance(model, CifarVGG):
        raise TypeError(f"save_checkpoint stores CifarVGG models, got {type(model).__name__}")
    directory = checkpoints_dir(directory)
    directory.mkdir(parents=True, exist_ok=True)
    file = directory / f"{name}.pt"
    torch.save({"config": model.config.to_dict(), "state_dict": to_storage(model.state_dict())}, file)
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
    fix = f"restore it with `git checkout -- {path.name}` in {path.parent}, or retrain it with `python -m shiftlab.train`"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} is missing: {fix}")
    if expected_sha256 is not None:
        actual = sha256(path)
        if actual != expected_sha256:
            raise ValueError(
                f"checkpoint file {path} has SHA-256 {actual[:12]}..., but the manifest expects "
                f"{expected_sha256[:12]}...: the file was altered or is incomplete; {fix}"
            )
    stored = torch.load(path, map_location="cpu", weights_only=True)
    model = CifarVGG.from_config(stored["config"])
    model.load_state_dict(from_storage(stored["state_dict"]))
    return model.eval()


def load_pretrained(name: str, directory: str | Path | None = None) -> CifarVGG:
    """The trained model ``name`` from the manifest, hash-verified, on the CPU, in eval mode.

    Looks in ``directory``, else ``$SHIFTLAB_CHECKPOINTS``, else the bundled checkpoints.

    >>> load_pretrained("baseline").config.padding_mode
    'zeros'
    """
    directory, source = checkpoints_location(directory)
    entries = read_manifest(directory)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none (no manifest.json in this folder)"
        raise KeyError(
            f"unknown checkpoint {name!r} in {directory} (chosen by {source}); known checkpoints: {known}. "
            f"Checkpoints are looked for in {LOOKUP_ORDER}"
        )
    entry = entries[name]
    model = load_checkpoint_file(directory / entry["file"], entry["sha256"])
    if model.config.to_dict() != entry["model"]:
        raise ValueError(f"checkpoint {name!r} stores options {model.config.to_dict()}, the manifest says {entry['model']}")
    return model


def available_checkpoints(directory: str | Path | None = None) -> list[str]:
    """Names of the checkpoints in the manifest (of ``directory``, else ``$SHIFTLAB_CHECKPOINTS``, else bundled)."""
    return sorted(read_manifest(directory))
