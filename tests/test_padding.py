"""Tests of shiftlab.padding: the padding modes and ``pad`` against NumPy's own padding."""

import numpy as np
import pytest

from shiftlab.padding import PADDING_MODES, pad

NUMPY_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def test_the_padding_modes_are_the_documented_ones():
    assert PADDING_MODES == ("zeros", "reflect", "replicate", "circular")


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("pads", [(1, 1, 1, 1), (0, 1, 0, 1), (2, 0, 3, 1)])
def test_pad_equals_numpy(maps, padding_mode, pads):
    left, right, top, bottom = pads
    expected = np.pad(maps.numpy(), ((0, 0), (0, 0), (top, bottom), (left, right)), mode=NUMPY_MODES[padding_mode])
    out = pad(maps, pads, padding_mode)
    assert out.shape == (2, 6, 32 + top + bottom, 32 + left + right)
    assert np.array_equal(out.numpy(), expected)


def test_pad_rejects_unknown_modes(maps):
    with pytest.raises(ValueError, match="unknown padding mode 'constant'; choose one of zeros, reflect"):
        pad(maps, (1, 1, 1, 1), "constant")
