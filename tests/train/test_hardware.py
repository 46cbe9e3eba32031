"""Tests of shiftlab.train.hardware: choosing the device and naming it in the manifest."""

import pytest
import torch

from shiftlab.train.hardware import device_name, resolve_device


def test_auto_is_cuda_when_available_else_cpu():
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_unknown_devices_are_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"unknown device 'gpu0' \(auto, cpu, cuda, cuda:N, \.\.\.\)"):
        resolve_device("gpu0")


def test_the_cpu_is_named_with_its_thread_count():
    assert device_name(torch.device("cpu")).endswith(f", {torch.get_num_threads()} threads")
