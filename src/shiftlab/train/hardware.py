"""The device a run uses and how the manifest names it."""

from __future__ import annotations

import platform
from pathlib import Path

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA if available, else the CPU; any other name as ``torch.device`` reads it ("cpu", "cuda:1")."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"unknown device {name!r} (auto, cpu, cuda, cuda:N, ...): {error}") from None


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model and the number of threads PyTorch uses."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)
    return f"{cpu or platform.processor() or 'CPU'}, {torch.get_num_threads()} threads"
