"""Frequencies of filters and feature maps: the sampling theorem behind anti-aliased downsampling.

Frequencies are in cycles per pixel of the map being subsampled, in [-1/2, 1/2]. Keeping every second pixel
leaves a grid whose Nyquist frequency is ``NEW_NYQUIST`` = 1/4 cycle per input pixel: what lies at or above it
(in either direction) is folded onto lower frequencies, i.e. aliased. A blur before subsampling attenuates
it; a binomial blur of ``size`` taps has the gain ``|cos(pi f)| ** (size - 1)`` (``frequency_response``).

- ``frequency_response``: |H(f)| of a 1-D filter;
- ``power_spectrum``, ``high_frequency_share``, ``spectrum_profile``: where a batch of feature maps keeps its
  power, and the share that subsampling by 2 would fold;
- ``bandlimited_signal``, ``offset_samples``, ``global_pool_change``: why the global *average* of a band-limited
  map does not depend on where the samples fall, while its maximum does (Azulay and Weiss, JMLR 2019);
- ``roll_logit_change``: whether a whole network is exactly invariant to circular shifts (APS at even sizes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .features import feature_maps
from .flip import band_limit
from .inference import predict_logits
from .layers import binomial_filter
from .shifts import translate_roll

NEW_NYQUIST = 0.25  # cycles per input pixel: the Nyquist frequency of the grid that keeps every second pixel


def binomial_taps(size: int) -> torch.Tensor:
    """The 1-D binomial filter of ``size`` taps, normalised: Pascal's row / 2 ** (size - 1).

    >>> binomial_taps(3)
    tensor([0.2500, 0.5000, 0.2500])
    """
    return binomial_filter(size).sum(0)


def frequency_response(taps: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Gain |H(f)| = |sum_k taps[k] exp(-2 pi i f k)| of a 1-D filter at frequencies ``freqs`` (cycles per pixel).

    A filter that sums to 1 passes a constant unchanged (gain 1 at f = 0). For ``binomial_taps(n)`` the gain is
    ``|cos(pi f)| ** (n - 1)``: 1/2 ** ((n - 1) / 2) at the new Nyquist frequency 1/4, zero only at 1/2.

    >>> frequency_response(binomial_taps(3), torch.tensor([0.0, 0.25, 0.5])).round(decimals=4)
    tensor([1.0000, 0.5000, 0.0000], dtype=torch.float64)
    """
    taps = torch.as_tensor(taps, dtype=torch.float64)
    if taps.ndim != 1 or len(taps) == 0:
        raise ValueError(f"taps must be a non-empty 1-D tensor, got shape {tuple(taps.shape)}")
    freqs = torch.as_tensor(freqs, dtype=torch.float64)
    phases = -2 * math.pi * freqs[..., None] * torch.arange(len(taps), dtype=torch.float64)  # (..., taps)
    return torch.complex(torch.cos(phases), torch.sin(phases)).mul(taps).sum(-1).abs()


def _check_maps(maps: torch.Tensor) -> torch.Tensor:
    if not isinstance(maps, torch.Tensor) or maps.ndim != 4 or min(maps.shape[-2:]) < 2:
        shape = tuple(maps.shape) if isinstance(maps, torch.Tensor) else type(maps).__name__
        raise ValueError(f"expected feature maps (N, C, H, W) with H, W >= 2, got {shape}")
    return maps.detach().double()


@dataclass(frozen=True)
class Spectrum:
    """Mean power of a batch of maps at every 2-D frequency: ``power[i, j]`` at (``fy[i]``, ``fx[j]``),
    frequencies in cycles per pixel as ``torch.fft.fftfreq`` orders them; the mean of each map is removed."""

    fy: torch.Tensor  # (H,)
    fx: torch.Tensor  # (W,)
    power: torch.Tensor  # (H, W)

    def radius(self) -> torch.Tensor:
        """max(|fy|, |fx|) at every frequency (H, W): subsampling by 2 folds what has a radius >= 1/4."""
        return torch.maximum(self.fy.abs()[:, None], self.fx.abs()[None, :])


def power_spectrum(maps: torch.Tensor, window: bool = True) -> Spectrum:
    """The mean power spectrum of feature maps (N, C, H, W), averaged over images and channels.

    Each map loses its mean first (the mean is no frequency that subsampling folds). With ``window`` it is
    multiplied by a 2-D Hann window: a map is no period of a longer signal, and without the window its
    border's jump would show as power at every frequency (spectral leakage).
    """
    maps = _check_maps(maps)
    maps = maps - maps.mean((-2, -1), keepdim=True)
    height, width = maps.shape[-2:]
    if window:
        maps = maps * torch.outer(torch.hann_window(height, periodic=False, dtype=torch.float64),
                                  torch.hann_window(width, periodic=False, dtype=torch.float64))
    power = torch.fft.fft2(maps).abs().square().mean((0, 1))
    return Spectrum(torch.fft.fftfreq(height, dtype=torch.float64), torch.fft.fftfreq(width, dtype=torch.float64), power)


def high_frequency_share(maps: torch.Tensor, cutoff: float = NEW_NYQUIST, window: bool = True) -> float:
    """Share (%) of the maps' power at |fy| >= ``cutoff`` or |fx| >= ``cutoff`` (cycles per pixel): with the default
    1/4, the power that keeping every second pixel folds onto lower frequencies (or, at exactly 1/4, leaves at
    the new grid's Nyquist frequency, where a sine is lost). 0 for maps without any variation."""
    spectrum = power_spectrum(maps, window)
    total = spectrum.power.sum()
    if total == 0:
        return 0.0
    return (spectrum.power[spectrum.radius() >= cutoff - 1e-12].sum() / total).item() * 100


def spectrum_profile(maps: torch.Tensor, window: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The power spectrum collapsed onto the radius max(|fy|, |fx|): (radii (R,), share of the power (%) at each
    radius (R,)), radii ascending from 0. The shares at radii >= 1/4 add up to ``high_frequency_share``."""
    spectrum = power_spectrum(maps, window)
    radius = spectrum.radius().flatten()
    radii, which = torch.unique(radius.round(decimals=9), return_inverse=True)
    power = torch.zeros(len(radii), dtype=torch.float64).index_add_(0, which, spectrum.power.flatten())
    return radii, 100 * power / power.sum().clamp_min(torch.finfo(torch.float64).tiny)


def bandlimited_signal(length: int, cutoff: float, seed: int = 0) -> torch.Tensor:
    """A random periodic signal (length,) whose power lies only at frequencies |f| < ``cutoff`` (cycles per
    sample): a finely sampled stand-in for a smooth continuous signal. Mean 1, standard deviation 1.

    Its samples taken every ``k``-th point at any offset satisfy the sampling theorem when ``cutoff <= 1 / (2 k)``.
    """
    if length < 2 or not 0 < cutoff <= 0.5:
        raise ValueError(f"need length >= 2 and cutoff in (0, 1/2] cycles per sample, got {length!r}, {cutoff!r}")
    noise = torch.randn(length, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    signal = band_limit(noise - noise.mean(), cutoff * length)
    return 1 + signal / signal.std()


def offset_samples(signal: torch.Tensor, step: int) -> torch.Tensor:
    """Every ``step``-th sample of a periodic signal (..., L), at each of the ``step`` offsets: (step, ..., L / step).
    Row k is what a grid that starts k samples later keeps: a shift of the input by k fine samples moves the
    coarse grid by k / step of its own spacing."""
    if step < 1 or signal.shape[-1] % step:
        raise ValueError(f"step must divide the signal's length {signal.shape[-1]}, got {step!r}")
    return torch.stack([signal[..., k::step] for k in range(step)])


@torch.no_grad()
def global_pool_change(model: nn.Module, images: torch.Tensor, layer: str, dx: int = 1, dy: int = 0) -> dict[str, float]:
    """How much global pooling of a layer's maps changes under a circular shift of the input by (dx, dy) px.

    Returns ``{"average": ..., "max": ...}``: the mean over images of |pool(shifted) - pool(original)| / |pool(original)|
    (Euclidean norms over channels), in percent, for the global average and the global maximum over H and W.
    """
    before = feature_maps(model, images)[layer]
    after = feature_maps(model, translate_roll(images, dx, dy))[layer]
    if before.ndim != 4:
        raise ValueError(f"layer {layer!r} gives shape {tuple(before.shape)}; pick a layer with maps (N, C, H, W)")
    change = {}
    for name, pool in (("average", lambda m: m.mean((-2, -1))), ("max", lambda m: m.amax((-2, -1)))):
        reference = pool(before)
        change[name] = ((pool(after) - reference).norm(dim=1) / reference.norm(dim=1)).mean().item() * 100
    return change


ROLL_SHIFTS = ((1, 0), (0, 1), (3, -2), (5, 7))  # (dx, dy) in pixels: odd and even, both axes, past one 2x2 grid


def roll_logit_change(model: nn.Module, images: torch.Tensor, shifts=ROLL_SHIFTS) -> float:
    """The largest change of any logit when ``images`` (N, 3, H, W) are rolled circularly by each (dx, dy) of
    ``shifts``, relative to the mean |logit| of the unshifted images: 0 for a network that is exactly invariant to
    circular shifts, about 1e-7 with float rounding; of order 1 for one that is not."""
    if not shifts:
        raise ValueError("shifts is empty: expected (dx, dy) pairs in pixels")
    batch = torch.cat([images] + [translate_roll(images, dx, dy) for dx, dy in shifts])  # original, then each shift
    logits = predict_logits(model, batch).view(len(shifts) + 1, len(images), -1)  # (1 + shifts, N, classes)
    return ((logits[1:] - logits[0]).abs().max() / logits[0].abs().mean()).item()
