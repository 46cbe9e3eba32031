"""Tests of shiftlab.invariance: phase logits against a plain loop of rolled forward passes, exact
invariance of the orbit average, APS's polyphase norms and ties, logit changes and shift reports."""

import pytest
import torch
from torch import nn

import shiftlab as sl
from shiftlab import invariance as inv

SHIFTS = [(1, 0), (0, 1), (3, 5), (-2, 7), (7, 7), (8, 0), (-8, 3), (13, -21)]


def plain_phase_logits(model, images, period=8):
    """Oracle: one ordinary forward pass per circular shift (dx, dy) in 0..period-1."""
    with torch.no_grad():
        return torch.stack([torch.stack([model.eval()(sl.translate_roll(images, dx, dy)) for dx in range(period)])
                            for dy in range(period)])  # (P, P, N, classes)


@pytest.fixture(scope="module")
def circular(make_model):
    return make_model("circular", "max")


@pytest.fixture(scope="module")
def images(subset):
    return subset[0][:3]


# ---------------------------------------------------------------- period and layers


def test_the_period_of_three_stride2_steps_is_8_for_every_downsampling():
    for downsampling in sl.DOWNSAMPLINGS:
        assert inv.circular_period(sl.CifarVGG("circular", downsampling)) == 8, downsampling


def test_only_stride2_layers_count_as_downsampling():
    assert inv.is_downsampling(nn.MaxPool2d(2))
    assert not inv.is_downsampling(nn.MaxPool2d(2, stride=1))
    assert inv.is_downsampling(sl.APSPool2d()) and inv.is_downsampling(sl.MaxBlurPool2d())
    assert not inv.is_downsampling(nn.Conv2d(3, 3, 3))


def test_a_zero_padded_model_is_rejected_with_its_padding(baseline, images):
    with pytest.raises(ValueError, match=r"padded circularly.*zeros"):
        inv.phase_logits(baseline, images)


def test_a_blur_model_with_reflect_padding_inside_is_rejected(images):
    model = sl.CifarVGG("circular", "blur", blur_padding="reflect", stem_width=8, widths=(8, 8, 8)).eval()
    with pytest.raises(ValueError, match="reflect"):
        inv.phase_logits(model, images)


def test_models_that_are_not_levels_of_layers_are_rejected(images):
    with pytest.raises(TypeError, match="levels"):
        inv.circular_period(nn.Sequential(nn.Conv2d(3, 3, 3)))


# ---------------------------------------------------------------- phase logits against a plain loop


@pytest.mark.parametrize("downsampling", ["max", "blur", "aps"])
def test_phase_logits_equal_one_forward_pass_per_rolled_image(make_model, images, downsampling):
    model = make_model("circular", downsampling)
    got = inv.phase_logits(model, images, batch_size=2)  # 2 batches: the second one smaller
    expected = plain_phase_logits(model, images)
    assert got.shape == (8, 8, len(images), 10)
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5), f"largest difference {(got - expected).abs().max():.2e}"


def test_phase_logits_work_at_other_sizes(circular, images):
    small = images[:2, :, :24, :24].contiguous()  # 24 -> 12 -> 6 -> 3: every stride-2 step sees an even size
    assert torch.allclose(inv.phase_logits(circular, small), plain_phase_logits(circular, small), atol=1e-5)


def test_the_phases_of_a_plain_network_differ(circular, images):
    logits = inv.phase_logits(circular, images)
    assert (logits - logits[0, 0]).abs().amax() > 1e-2, "the plain network must depend on the phase"


# ---------------------------------------------------------------- the orbit average


def test_orbit_average_is_the_mean_over_the_plain_loop(circular, images):
    expected = plain_phase_logits(circular, images).mean(dim=(0, 1))
    assert torch.allclose(inv.orbit_average(circular, images), expected, atol=1e-5)


@pytest.mark.parametrize("shift", SHIFTS)
def test_orbit_average_is_exactly_invariant_to_integer_circular_shifts(circular, images, shift):
    before = inv.orbit_average(circular, images)
    after = inv.orbit_average(circular, sl.translate_roll(images, *shift))
    assert torch.equal(after, before), f"shift {shift}: largest difference {(after - before).abs().max():.2e}"


def test_orbit_average_is_not_invariant_to_half_a_pixel(circular, images):
    before = inv.orbit_average(circular, images)
    after = inv.orbit_average(circular, sl.translate_fourier(images, 0.5, 0))
    assert (after - before).abs().max() > 1e-3 * before.abs().max(), "far above float rounding (1e-7 relative)"


# ---------------------------------------------------------------- APS's polyphase norms and ties


def test_polyphase_norms_match_a_loop_over_the_four_components(maps):
    x = sl.layers.max_pool_stride1(maps, "circular")
    expected = torch.stack([x[..., i::2, j::2].square().sum(dim=(1, 2, 3)) for i in (0, 1) for j in (0, 1)], dim=1)
    assert torch.allclose(inv.polyphase_norms(maps), expected, rtol=1e-5)


def test_aps_keeps_the_component_with_the_largest_polyphase_norm(maps):
    output = sl.APSPool2d("circular")(maps)
    x = sl.layers.max_pool_stride1(maps, "circular")
    for n, chosen in enumerate(inv.polyphase_norms(maps).argmax(dim=1).tolist()):
        i, j = divmod(chosen, 2)
        assert torch.equal(output[n], x[n, :, i::2, j::2])


def test_a_tie_goes_to_the_lowest_index_and_a_tiny_nudge_flips_it():
    symmetric = torch.tensor([0.0, 1, 3, 3, 1, 0]).repeat(6, 1).view(1, 1, 6, 6)  # all four norms equal
    nudged = symmetric.clone()
    nudged[..., 0, 1] += 1e-5  # a pixel of component 1 (row 0, odd column)
    tied, flipped = sl.aps_downsample(symmetric), sl.aps_downsample(nudged)
    assert torch.equal(tied, symmetric[..., 0::2, 0::2]), "on a tie APS keeps component 0"
    assert torch.allclose(flipped, symmetric[..., 0::2, 1::2], atol=1e-5), "the nudge makes component 1 win"
    assert (flipped - tied).abs().max() == pytest.approx(1.0, abs=1e-4), "an input change of 1e-5 moves the output by 1"


def test_aps_phase_choices_report_every_aps_layer(invariant, subset):
    images = subset[0][:6]
    choices = inv.aps_phase_choices(invariant, images, batch_size=4)
    assert len(choices) == 3
    for choice in choices:
        assert choice.chosen.shape == choice.gap.shape == (6,)
        assert set(choice.chosen.tolist()) <= {0, 1, 2, 3}
        assert ((choice.gap >= 0) & (choice.gap <= 1)).all()


def test_a_constant_image_ties_every_aps_layer(invariant):
    grey = torch.full((2, 3, 32, 32), 0.5)
    for choice in inv.aps_phase_choices(invariant, grey):
        assert choice.gap.eq(0).all() and choice.chosen.eq(0).all()


def test_aps_phase_choices_follow_a_circular_shift(invariant, subset):
    """A 1-px roll moves the winning component to the neighbouring phase: index 2i + j -> 2i + (1 - j)."""
    images = subset[0][:6]
    first = inv.aps_phase_choices(invariant, images)[0]
    rolled = inv.aps_phase_choices(invariant, sl.translate_roll(images, 1, 0))[0]
    assert torch.equal(rolled.chosen, first.chosen ^ 1)


def test_aps_phase_choices_need_an_aps_model(baseline, subset):
    with pytest.raises(ValueError, match="no APSPool2d"):
        inv.aps_phase_choices(baseline, subset[0][:2])


# ---------------------------------------------------------------- logit changes and shift reports


def test_logit_change_counts_largest_mean_and_changed_classes():
    before = torch.tensor([[2.0, 1.0], [0.0, 1.0]])
    after = torch.tensor([[2.0, 1.5], [1.5, 1.0]])
    change = inv.logit_change(before, after)
    assert (change.max_abs, change.mean_abs, change.changed_percent) == (1.5, 0.5, 50.0)
    per_image = torch.tensor([0.25, 0.75])  # each image's mean |change|: the images are the units of the error
    assert change.mean_abs_se == pytest.approx(per_image.std().item() / 2**0.5)


def test_logit_change_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 4\)"):
        inv.logit_change(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"N >= 2, got \(1, 3\)"):
        inv.logit_change(torch.zeros(1, 3), torch.zeros(1, 3))


def test_shift_report_times_scores_and_compares_each_transformation(circular, subset):
    images, labels = subset[0][:4], subset[1][:4]
    logits_of = lambda z: sl.predict_logits(circular, z)  # noqa: E731
    report = inv.shift_report(logits_of, images, labels, {"roll": sl.translate_roll(images, 8, 0),
                                                           "flip": images.flip(-1)})
    expected = logits_of(images)
    assert torch.equal(report.correct, expected.argmax(1) == labels)
    assert report.accuracy == pytest.approx((expected.argmax(1) == labels).double().mean().item() * 100)
    assert report.changes["roll"].max_abs == 0, "a roll by the period changes nothing"
    assert report.changes["flip"] == inv.logit_change(expected, logits_of(images.flip(-1)))
    assert report.seconds_per_image > 0
    table = inv.format_shift_reports({"circular": report, "again": report})
    assert "exactly 0" in table and "circular" in table and f"{report.accuracy:.1f}" in table


def test_shift_report_rejects_a_transformed_copy_of_another_shape(circular, subset):
    images, labels = subset[0][:2], subset[1][:2]
    with pytest.raises(ValueError, match="'small'"):
        inv.shift_report(lambda z: sl.predict_logits(circular, z), images, labels, {"small": images[..., :16, :16]})
