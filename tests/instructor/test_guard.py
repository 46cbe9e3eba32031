"""The grading guard: package functions switched off for the duration of a student's call."""

from __future__ import annotations

import functools

import pytest
import torch

import shiftlab as sl
from shiftlab_instructor.runtime.guard import DisabledDuringGrading, disabled


def test_every_reference_to_a_disabled_function_raises_and_works_again_after():
    captured, partial = sl.correlate1d, functools.partial(sl.correlate1d, torch.arange(5.0))

    def student_answer(signal, kernel, reference=sl.correlate1d):  # a reference captured at definition time
        return reference(signal, kernel)

    signal, kernel = torch.tensor([1.0, 3.0, 5.0, 4.0, 7.0]), torch.tensor([0.3, 0.5, 0.8])
    with disabled(sl.correlate1d):
        for call in (lambda: sl.correlate1d(signal, kernel), lambda: captured(signal, kernel),
                     lambda: partial(kernel), lambda: student_answer(signal, kernel)):
            with pytest.raises(DisabledDuringGrading, match="write it yourself"):
                call()
    assert torch.allclose(student_answer(signal, kernel), torch.tensor([5.8, 6.6, 9.1]))


def test_the_traceback_names_the_disabled_function():
    with disabled(sl.flip_kernels), pytest.raises(DisabledDuringGrading) as raised:
        sl.flip_kernels(torch.nn.Conv2d(1, 1, 3))
    assert raised.traceback[-1].name == "flip_kernels"


def test_decorated_functions_are_switched_off_through_their_wrapper():
    layer = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3, padding=1)).eval()
    images = torch.rand(1, 3, 8, 8)
    assert sl.flip_equivariance_error.__wrapped__  # decorated (torch.no_grad): the wrapper is a closure
    with disabled(sl.flip_equivariance_error), pytest.raises(DisabledDuringGrading):
        sl.flip_equivariance_error(layer, images)
    assert sl.flip_equivariance_error(layer, images) < 1e-5


def test_functions_come_back_when_the_block_raises():
    original = sl.correlate1d.__code__
    with pytest.raises(ZeroDivisionError), disabled(sl.correlate1d):
        1 / 0
    assert sl.correlate1d.__code__ is original


def test_only_plain_python_functions_can_be_disabled():
    def outer():
        value = 1
        return lambda: value

    with pytest.raises(TypeError, match="Python functions, got builtin_function_or_method"), disabled(torch.allclose):
        pass
    with pytest.raises(TypeError, match="closure"), disabled(outer()):
        pass
