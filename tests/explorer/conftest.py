"""Fixtures of the explorer's tests (``shiftlab.explorer``), on the bundled sample.

Models: the trained checkpoints when at least two exist (``sl.load_pretrained``); otherwise conftest's
small calibrated variants (max pooling and blur pooling) that the tests store themselves with
``save_checkpoint`` in a temporary folder named by ``SHIFTLAB_CHECKPOINTS``. Features are computed on
the quick-mode data sets (81 positions each) so the whole folder runs in well under a minute.
"""

import matplotlib
import pytest

import shiftlab as sl
from shiftlab import explorer as ex
from shiftlab.checkpoints import CHECKPOINTS_ENV, save_checkpoint

IMAGE = 3  # the test image the fixtures show: an airplane of the bundled sample


@pytest.fixture(scope="module")
def model_names(tmp_path_factory, make_model):
    """Two checkpoint names that ``sl.load_pretrained`` can load while the test module runs."""
    real = sl.available_checkpoints()
    if len(real) >= 2:
        yield ex.default_pair(real)
        return
    directory = tmp_path_factory.mktemp("checkpoints")
    for name, downsampling in (("baseline", "max"), ("blurpool", "blur")):
        save_checkpoint(make_model("zeros", downsampling), name, directory)  # calibrated, with a fitted probe
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CHECKPOINTS_ENV, str(directory))
        yield ("baseline", "blurpool")


@pytest.fixture(scope="module")
def cache(model_names):
    """One cache of quick-mode data sets and features per test module."""
    return ex.FeatureCache(sizes=ex.QUICK_SIZES)


@pytest.fixture
def explorer(cache, model_names):
    """A static (PNG) explorer on image 3's paste set, level 3, anchored at the centre."""
    explorer = ex.ShiftExplorer(cache, models=model_names, dataset="paste", image_index=IMAGE, layer="level 3",
                                interactive=False)
    yield explorer
    matplotlib.pyplot.close("all")
