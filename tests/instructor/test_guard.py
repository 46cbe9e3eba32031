"""The grading guard: package functions switched off for the duration of a student's call.

The "package" here is this module's own functions, standing in for any function a course package ships
and an exercise asks students to write themselves.
"""

from __future__ import annotations

import functools

import pytest
import torch

from shiftlab_instructor.runtime.guard import DisabledDuringGrading, disabled


def correlate1d(signal: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The package's valid 1-D cross-correlation (the answer to an exercise)."""
    return torch.nn.functional.conv1d(signal.view(1, 1, -1), kernel.view(1, 1, -1)).view(-1)


@torch.no_grad()
def output_norm(model: torch.nn.Module, images: torch.Tensor) -> float:
    """A decorated package function: ``torch.no_grad()`` wraps it in a closure."""
    return model(images).norm().item()


SIGNAL, KERNEL = torch.tensor([1.0, 3.0, 5.0, 4.0, 7.0]), torch.tensor([0.3, 0.5, 0.8])


def test_every_reference_to_a_disabled_function_raises_and_works_again_after():
    captured, partial = correlate1d, functools.partial(correlate1d, SIGNAL)

    def student_answer(signal, kernel, reference=correlate1d):  # a reference captured at definition time
        return reference(signal, kernel)

    with disabled(correlate1d):
        for call in (lambda: correlate1d(SIGNAL, KERNEL), lambda: captured(SIGNAL, KERNEL), lambda: partial(KERNEL),
                     lambda: student_answer(SIGNAL, KERNEL)):
            with pytest.raises(DisabledDuringGrading, match="write it yourself"):
                call()
    assert torch.allclose(student_answer(SIGNAL, KERNEL), torch.tensor([5.8, 6.6, 9.1]))


def test_the_traceback_names_the_disabled_function():
    with disabled(correlate1d), pytest.raises(DisabledDuringGrading) as raised:
        correlate1d(SIGNAL, KERNEL)
    assert raised.traceback[-1].name == "correlate1d"


def test_decorated_functions_are_switched_off_through_their_wrapper():
    layer, images = torch.nn.Conv2d(3, 2, 3), torch.rand(1, 3, 8, 8)
    assert output_norm.__wrapped__.__code__.co_freevars == () and output_norm.__code__.co_freevars, "a closure wraps it"
    with disabled(output_norm), pytest.raises(DisabledDuringGrading):
        output_norm(layer, images)
    assert output_norm(layer, images) > 0


def test_functions_come_back_when_the_block_raises():
    original = correlate1d.__code__
    with pytest.raises(ZeroDivisionError), disabled(correlate1d):
        1 / 0
    assert correlate1d.__code__ is original


def test_only_plain_python_functions_can_be_disabled():
    def outer():
        value = 1
        return lambda: value

    with pytest.raises(TypeError, match="Python functions, got builtin_function_or_method"), disabled(torch.allclose):
        pass
    with pytest.raises(TypeError, match="closure"), disabled(outer()):
        pass
