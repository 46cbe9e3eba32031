"""Lesson 1's toy and the two Fourier tools that tell a sampling grid's phase apart from aliasing.

Assignment 1 asks students to write the correlation, the kernel-flipped network, the flip error and
the aligned-size test themselves, so none of those ships here (issue 14: the package answers no graded
exercise). What stays is what the lesson shows:

- the 1-D toy (a signal of five samples and a three-tap kernel);
- ``band_limit`` and ``half_step_interpolation`` for periodic 1-D signals. A stride-2 step keeps the even
  samples (one grid) or the odd ones (the other grid). For a signal without frequencies at or above the
  kept grid's Nyquist frequency (a quarter of the original sampling rate) the odd samples are exactly the
  band-limited interpolation halfway between the even ones, and both grids have the same mean: the two
  grids hold different numbers but the same information (the signal is *shiftable*, in Azulay and
  Weiss's term, JMLR 2019). Above that frequency the odd samples cannot be recovered: that is aliasing.
"""

from __future__ import annotations

import torch

from .shifts import fourier_shift

# The 1-D toy from the course: a signal and a kernel.
TOY_SIGNAL = (1.0, 3.0, 5.0, 4.0, 7.0)
TOY_KERNEL = (0.3, 0.5, 0.8)


def _check_periodic_signal(signal: torch.Tensor, name: str) -> None:
    if not isinstance(signal, torch.Tensor) or not signal.is_floating_point():
        got = signal.dtype if isinstance(signal, torch.Tensor) else type(signal).__name__
        raise TypeError(f"{name} must be a float torch.Tensor, got {got}")
    if signal.ndim != 1 or len(signal) < 2:
        raise ValueError(f"{name} must be 1-D with at least 2 samples, got shape {tuple(signal.shape)}")


def _signed_frequencies(n: int) -> torch.Tensor:
    """Integer frequencies (cycles per n samples) of the bins of ``torch.fft.fft`` on n samples."""
    return torch.fft.fftfreq(n, d=1.0 / n).round().long()


def band_limit(signal: torch.Tensor, below: float) -> torch.Tensor:
    """An ideal low-pass filter for a periodic signal (n,): keep frequencies strictly below ``below``
    cycles per n samples, remove all others (the mean, frequency 0, is always kept).

    ``below = n / 4`` keeps exactly what a stride-2 step can represent without aliasing: the kept grid has
    n / 2 samples, so its Nyquist frequency is n / 4 cycles per n original samples.

    >>> x = torch.cos(2 * torch.pi * 3 * torch.arange(8) / 8)  # 3 cycles per 8 samples
    >>> band_limit(x, 3).abs().max() < 1e-6, torch.allclose(band_limit(x, 4), x, atol=1e-6)
    (tensor(True), True)
    """
    _check_periodic_signal(signal, "signal")
    if below <= 0:
        raise ValueError(f"below must be a positive frequency (cycles per {len(signal)} samples), got {below}")
    keep = _signed_frequencies(len(signal)).abs() < below
    return torch.fft.ifft(torch.fft.fft(signal) * keep).real.to(signal.dtype)


def half_step_interpolation(samples: torch.Tensor) -> torch.Tensor:
    """Band-limited (Fourier) interpolation of periodic samples (m,) halfway between neighbours:
    entry j estimates the signal at position j + 1/2 (the last one between samples m - 1 and 0).

    Exact when the samples come from a signal without content at or above their Nyquist frequency
    (m / 2 cycles per m samples); that frequency's own bin is ambiguous and contributes 0. Applied to the
    even samples of a signal, it predicts the odd samples: exactly for a band-limited signal, not at all
    for an aliased one. It is ``shifts.fourier_shift`` by -1/2 sample: the phase ramp of ``translate_fourier``.

    >>> x = torch.cos(2 * torch.pi * torch.arange(16) / 16)  # 1 cycle per 16 samples
    >>> torch.allclose(half_step_interpolation(x[0::2]), x[1::2], atol=1e-6)
    True
    """
    _check_periodic_signal(samples, "samples")
    return fourier_shift(samples, (-0.5,))  # out[j] = x[j + 1/2]
