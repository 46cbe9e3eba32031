"""Tests of shiftlab.spectra: filter gains against closed forms and numpy's FFT, feature-map spectra against
Parseval and pure cosines, the share subsampling folds against the filter's own gain, and global pooling."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import shiftlab as sl
from shiftlab.layers import blur
from shiftlab.spectra import (
    NEW_NYQUIST,
    bandlimited_signal,
    binomial_taps,
    frequency_response,
    global_pool_change,
    high_frequency_share,
    offset_samples,
    power_spectrum,
    roll_logit_change,
    spectrum_profile,
)


def cosine_maps(fy: float, fx: float, size: int = 32) -> torch.Tensor:
    """One map (1, 1, size, size) holding cos(2 pi (fy y + fx x)): all its power at +-(fy, fx)."""
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij")
    return torch.cos(2 * math.pi * (fy * y + fx * x))[None, None]


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize("size,row", [(1, [1]), (2, [1, 1]), (3, [1, 2, 1]), (5, [1, 4, 6, 4, 1])])
def test_binomial_taps_are_pascals_row(size, row):
    assert torch.allclose(binomial_taps(size), torch.tensor(row, dtype=torch.float32) / sum(row))


@pytest.mark.parametrize("size", [2, 3, 4, 5])
def test_binomial_gain_is_a_power_of_the_cosine(size):
    freqs = torch.linspace(0, 0.5, 101, dtype=torch.float64)
    expected = torch.cos(math.pi * freqs).abs() ** (size - 1)
    assert torch.allclose(frequency_response(binomial_taps(size), freqs), expected, atol=1e-6)


def test_frequency_response_equals_numpys_fft_of_the_zero_padded_taps():
    taps = torch.tensor([0.1, -0.4, 0.7, 0.2])
    expected = np.abs(np.fft.rfft(taps.numpy(), 64))
    got = frequency_response(taps, torch.arange(33) / 64)
    assert np.allclose(got.numpy(), expected, atol=1e-6)


def test_the_gains_the_lesson_quotes():
    """Box 1/sqrt(2), 3 taps 1/2, 5 taps 1/4 at the new Nyquist frequency 1/4; every binomial is 0 only at 1/2."""
    at = torch.tensor([0.0, NEW_NYQUIST, 0.5])
    gains = {size: frequency_response(binomial_taps(size), at).tolist() for size in (2, 3, 5)}
    assert gains[2] == pytest.approx([1, 2**-0.5, 0], abs=1e-7)
    assert gains[3] == pytest.approx([1, 0.5, 0], abs=1e-7)
    assert gains[5] == pytest.approx([1, 0.25, 0], abs=1e-7)
    inside = torch.linspace(0, 0.49, 50)
    assert (frequency_response(binomial_taps(3), inside) > 0).all()


def test_frequency_response_rejects_bad_taps():
    with pytest.raises(ValueError, match=r"non-empty 1-D tensor, got shape \(2, 2\)"):
        frequency_response(torch.ones(2, 2), [0.1])


# ---------------------------------------------------------------- spectra of maps


def test_power_spectrum_obeys_parseval_without_window(maps):
    x = maps.double()
    spectrum = power_spectrum(x, window=False)
    centred = x - x.mean((-2, -1), keepdim=True)
    height, width = x.shape[-2:]
    assert spectrum.power.shape == (height, width)
    assert torch.equal(spectrum.fx, torch.fft.fftfreq(width, dtype=torch.float64))
    assert spectrum.power.sum().item() / (height * width) == pytest.approx(centred.square().sum((-2, -1)).mean().item())


def test_a_cosine_puts_its_power_at_its_frequency():
    spectrum = power_spectrum(cosine_maps(3 / 32, 5 / 32), window=False)
    peaks = (spectrum.power > 1e-6 * spectrum.power.max()).nonzero().tolist()
    assert sorted(peaks) == [[3, 5], [29, 27]]  # (fy, fx) and (-fy, -fx)


@pytest.mark.parametrize("fy,fx,share", [(1 / 8, 1 / 16, 0.0), (3 / 8, 0, 100.0), (1 / 16, 5 / 16, 100.0), (1 / 4, 0, 100.0)])
def test_high_frequency_share_of_cosines(fy, fx, share):
    assert high_frequency_share(cosine_maps(fy, fx), window=False) == pytest.approx(share, abs=1e-9)


def test_flat_maps_have_no_high_frequencies():
    assert high_frequency_share(torch.full((2, 3, 8, 8), 0.4)) == 0.0


def test_blurred_noise_keeps_the_share_its_gain_predicts():
    """Oracle: white noise has the same power at every frequency, so after a circular 3-tap blur the share at
    radius >= 1/4 is the sum of |H(fy)|^2 |H(fx)|^2 there over its sum at every non-zero frequency."""
    noise = torch.randn(400, 1, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    measured = high_frequency_share(blur(noise, "circular", 3), window=False)
    freqs = torch.fft.fftfreq(16, dtype=torch.float64)
    gain = frequency_response(binomial_taps(3), freqs) ** 2
    power = gain[:, None] * gain[None, :]
    power[0, 0] = 0
    folded = torch.maximum(freqs.abs()[:, None], freqs.abs()[None, :]) >= NEW_NYQUIST
    expected = 100 * power[folded].sum().item() / power.sum().item()
    assert measured == pytest.approx(expected, rel=0.05)
    assert high_frequency_share(noise, window=False) > 3 * measured


def test_the_window_reduces_leakage_of_a_non_periodic_map():
    """A ramp is no period: without a window its jump at the border shows as power at high frequencies."""
    ramp = torch.linspace(0, 1, 31, dtype=torch.float64).expand(1, 1, 31, 31)
    assert high_frequency_share(ramp, window=True) < high_frequency_share(ramp, window=False) / 4


def test_spectrum_profile_adds_up(maps):
    radii, shares = spectrum_profile(maps)
    assert radii[0] == 0 and (radii.diff() > 0).all() and radii[-1] == pytest.approx(0.5)
    assert shares.sum().item() == pytest.approx(100)
    assert shares[radii >= NEW_NYQUIST].sum().item() == pytest.approx(high_frequency_share(maps))


@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 1, 1, 8)])
def test_spectra_reject_bad_maps(shape):
    with pytest.raises(ValueError, match=r"feature maps \(N, C, H, W\) with H, W >= 2"):
        power_spectrum(torch.zeros(shape))


# ---------------------------------------------------------------- sampling and global pooling


def test_bandlimited_signal_has_no_power_at_or_above_the_cutoff():
    signal = bandlimited_signal(256, cutoff=1 / 16, seed=3)
    assert signal.mean().item() == pytest.approx(1) and signal.std().item() == pytest.approx(1)
    spectrum = torch.fft.fft(signal).abs()
    assert spectrum[torch.fft.fftfreq(256).abs() >= 1 / 16].max() < 1e-9 * spectrum.max()


def test_offset_samples_are_the_strided_slices():
    signal = torch.arange(12.0)
    samples = offset_samples(signal, 4)
    assert samples.shape == (4, 3)
    assert all(torch.equal(samples[k], signal[k::4]) for k in range(4))
    with pytest.raises(ValueError, match="must divide the signal's length 12, got 5"):
        offset_samples(signal, 5)


def test_the_average_of_band_limited_samples_does_not_depend_on_the_grid():
    """Sampling theorem: every 8th sample of a signal band-limited below 1/16 keeps its mean at every offset;
    the maximum moves with the grid, and a GELU (new frequencies) breaks the mean too."""
    signal = bandlimited_signal(256, cutoff=1 / 16)
    samples = offset_samples(signal, 8)
    means, maxima = samples.mean(1), samples.amax(1)
    assert (means - 1).abs().max() < 1e-12
    assert maxima.max() - maxima.min() > 0.01
    bent = offset_samples(F.gelu(2 * (signal - 1)), 8).mean(1)
    assert bent.max() - bent.min() > 0.01


def test_global_pool_change_is_zero_for_an_exactly_invariant_network(sample_float):
    images = sample_float[0][:4]
    untrained_aps = sl.CifarVGG("circular", "aps").eval()
    change = global_pool_change(untrained_aps, images, "3.6", dx=1, dy=2)
    assert change == pytest.approx({"average": 0.0, "max": 0.0}, abs=1e-4)
    zeros = global_pool_change(sl.CifarVGG().eval(), images, "3.6", dx=1)
    assert zeros["average"] > 1 and zeros["max"] > 1


def test_global_pool_change_needs_a_layer_with_maps(sample_float):
    with pytest.raises(ValueError, match="pick a layer with maps"):
        global_pool_change(sl.CifarVGG().eval(), sample_float[0][:2], "4.2")


def test_roll_logit_change_is_zero_only_for_an_exactly_invariant_network(sample_float):
    images = sample_float[0][:4]
    assert roll_logit_change(sl.CifarVGG("circular", "aps").eval(), images) < 1e-5
    assert roll_logit_change(sl.CifarVGG("circular", "max").eval(), images) > 0.01  # max pooling: a fixed grid
    assert roll_logit_change(sl.CifarVGG("circular", "aps").eval(), images[..., :31, :31], shifts=[(1, 0)]) > 0.01  # odd size


def test_roll_logit_change_needs_shifts(sample_float):
    with pytest.raises(ValueError, match="shifts is empty"):
        roll_logit_change(sl.CifarVGG().eval(), sample_float[0][:2], shifts=[])
