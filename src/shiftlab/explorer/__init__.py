"""The reading-group explorer: exhaustive 1-pixel shifts, pooled features and cosine-similarity heatmaps.

After Lee, Yang and Wang (ECCV workshop 2020): move one object over every 1-pixel position, take the
features of every shifted copy, and plot the cosine similarity of each position's features to those of
an anchor position as a heatmap over positions. A *locally* invariant network gives a smooth map
(neighbouring positions look alike); a *globally* invariant one gives 1.0 everywhere. Anti-aliasing
(BlurPool) improves the first, not the second.

One module per job (arrows run downwards; all of them use the core ``shiftlab`` modules only):

    datasets      the "paste" and "crop" sets: one image at every position, sizes, positions on a grid
    similarity    features of every shifted copy (features.pooled_level_outputs), cosine to an anchor,
                  heatmaps, local and global similarity
    cache         FeatureCache: models, data sets and features, each computed once
    figures       static figures (heatmap grids, a strip of shifted images), PNG bytes
    live_figure   the explorer's two-heatmap figure, as an ipympl canvas (click, hover) or a PNG
    widget        ShiftExplorer, the ipywidgets explorer
    serve         the explorer as a Voila web app (app.ipynb): app(), `python -m shiftlab.explorer`

Notebook 05 uses it as ``from shiftlab import explorer as ex``.
"""

from .cache import PREFERRED_PAIR, FeatureCache, default_pair
from .datasets import (
    DATASETS,
    FULL_SIZES,
    QUICK_SIZES,
    DatasetSizes,
    ShiftedSet,
    check_position,
    crop_dataset,
    dataset_sizes,
    make_dataset,
    paste_dataset,
)
from .figures import DEFAULT_VMIN, compare_heatmaps, layer_title, png_bytes, show_dataset
from .serve import app
from .similarity import (
    ANCHORS,
    LAYERS,
    LEVELS,
    ShiftFeatures,
    cosine_to_anchor,
    heatmap,
    local_global_similarity,
    resolve_anchor,
    shift_features,
)
from .widget import ShiftExplorer

__all__ = [
    # data sets
    "DATASETS", "DatasetSizes", "FULL_SIZES", "QUICK_SIZES", "dataset_sizes", "ShiftedSet", "paste_dataset",
    "crop_dataset", "make_dataset", "check_position",
    # features and similarity
    "LEVELS", "LAYERS", "ANCHORS", "ShiftFeatures", "shift_features", "resolve_anchor", "cosine_to_anchor",
    "heatmap", "local_global_similarity",
    # cache
    "FeatureCache", "default_pair", "PREFERRED_PAIR",
    # figures
    "DEFAULT_VMIN", "layer_title", "compare_heatmaps", "show_dataset", "png_bytes",
    # the widget and the app
    "ShiftExplorer", "app",
]
