"""Run a student's function while named package functions are switched off, for hidden tests.

When a later notebook needs a function that an earlier exercise asks students to write, the package
ships it, and an answer could simply call it. A hidden test runs the student's function inside
``disabled(...)``; every call to a disabled function then raises ``DisabledDuringGrading``, through any
reference to it (``sl.shift_images``, ``from shiftlab.shifts import ...``, a reference captured in a
default argument, ``functools.partial``), because the function's code object itself is swapped. E.g. for
an exercise ``shift_images`` that the package also ships as ``sl.translate_affine``::

    from shiftlab_instructor.runtime.guard import disabled

    with disabled(sl.translate_affine):
        out = shift_images(images, 3, -2)  # the student's function; sl.translate_affine raises in here
    assert torch.allclose(out, expected)

The comparison with a reference belongs outside the block, where the package works again.
"""

from __future__ import annotations

import inspect
import types
from contextlib import contextmanager
from typing import Callable, Iterator


class DisabledDuringGrading(RuntimeError):
    """Raised by a package function called while a hidden test has switched it off."""


def _refuse(*args, **kwargs):
    # This code runs as the disabled function, under its module's globals: import what it needs.
    from shiftlab_instructor.runtime.guard import DisabledDuringGrading

    raise DisabledDuringGrading(
        "this function of the course package is switched off while your answer is graded: "
        "the exercise asks you to write it yourself"
    )


def _innermost(function: Callable) -> types.FunctionType:
    """The function whose code runs: decorators made with ``functools.wraps`` (``torch.no_grad()``)
    are looked through, so every way in, wrapper or not, reaches the swapped code."""
    function = inspect.unwrap(function)
    if not isinstance(function, types.FunctionType):
        raise TypeError(f"disabled() takes Python functions, got {type(function).__name__}: {function!r}")
    if function.__code__.co_freevars:
        raise TypeError(f"disabled() cannot switch off {function.__qualname__}: it is a closure "
                        f"(free variables {function.__code__.co_freevars})")
    return function


def _refusing_code(function: types.FunctionType) -> types.CodeType:
    """``_refuse``'s code under the disabled function's name, so tracebacks name what was called."""
    names = {"co_name": function.__name__}
    if hasattr(function.__code__, "co_qualname"):  # Python 3.11+
        names["co_qualname"] = function.__qualname__
    return _refuse.__code__.replace(**names)


@contextmanager
def disabled(*functions: Callable) -> Iterator[None]:
    """Within the block every function in ``functions`` raises ``DisabledDuringGrading`` when called.

    Args:
        functions: Python functions, possibly decorated with ``functools.wraps`` (not builtins, and not
            closures once unwrapped), e.g. ``sl.translate_affine``.

    >>> def double(x):
    ...     return 2 * x
    >>> alias = double
    >>> with disabled(double):
    ...     alias(3)
    Traceback (most recent call last):
    ...
    shiftlab_instructor.runtime.guard.DisabledDuringGrading: this function of the course package is switched off while your answer is graded: the exercise asks you to write it yourself
    >>> double(3)
    6
    """
    targets = [_innermost(function) for function in functions]
    replacements = [(function, _refusing_code(function)) for function in targets]
    originals = [(function, function.__code__) for function, _ in replacements]
    try:
        for function, code in replacements:
            function.__code__ = code
        yield
    finally:
        for function, code in originals:
            function.__code__ = code
