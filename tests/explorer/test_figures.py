"""``shiftlab.explorer.figures``: the static heatmap grid, the strip of shifted images, PNG bytes."""

import io

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

import shiftlab as sl
from shiftlab import explorer as ex

IMAGE = 3  # an airplane of the bundled sample


def test_compare_heatmaps_draws_one_row_per_model_and_one_colour_bar(cache, model_names):
    fig = ex.compare_heatmaps(cache, model_names, IMAGE, ["paste", "crop", "paste"], ["level 2", "logits", "probability"])
    assert len(fig.axes) == 2 * 3 + 1
    assert fig.axes[0].get_title().startswith(f"{model_names[0]}, paste")
    assert fig.axes[-1].get_ylabel() == "cosine similarity to the anchor / probability of the true class"
    assert fig.axes[-1]._colorbar.extend == "neither"  # nothing below 0.0
    assert fig.axes[0].images[0].get_clim() == (0.0, 1.0)
    torch.testing.assert_close(torch.from_numpy(np.asarray(fig.axes[4].images[0].get_array())),
                               cache.heatmap(model_names[1], IMAGE, "crop", "logits"))
    with pytest.raises(ValueError, match="one data set per column"):
        ex.compare_heatmaps(cache, model_names, IMAGE, ["paste"], ["level 2", "logits"])
    matplotlib.pyplot.close(fig)
    lowest = min(cache.heatmap(name, IMAGE, "paste", "level 3").min().item() for name in model_names)
    clipped = ex.compare_heatmaps(cache, model_names, IMAGE, "paste", ["level 3"], vmin=(lowest + 1) / 2)
    assert clipped.axes[-1]._colorbar.extend == "min"  # values below the scale's minimum share its colour, and it shows
    matplotlib.pyplot.close(clipped)


def test_show_dataset_shows_the_anchor_positions(cache):
    shifted = cache.dataset(IMAGE, "paste")
    fig = ex.show_dataset(shifted)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["centre (4, 4)", "top-left (0, 0)", "top-right (8, 0)", "bottom-left (0, 8)", "bottom-right (8, 8)"]
    matplotlib.pyplot.close(fig)


def test_png_bytes_enlarges_the_image_exactly(sample_float):
    image = sample_float[0][IMAGE]
    picture = np.asarray(Image.open(io.BytesIO(ex.png_bytes(image, scale=3))).convert("RGB"))
    assert picture.shape == (96, 96, 3)
    assert np.array_equal(picture[::3, ::3], sl.to_uint8(image[None])[0].numpy())
