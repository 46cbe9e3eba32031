"""Shift happens: the computing behind the course on shift (in)variance in CNNs.

Notebooks import from here (``import shiftlab as sl``); every function works on float images
(N, 3, H, W) in [0, 1]. ``__all__`` is the public API; submodules hold the rest. The explorer
(``shiftlab.explorer``) and training (``python -m shiftlab.train``) build on this core.
"""

from .checkpoints import available_checkpoints, checkpoints_dir, load_pretrained, read_manifest
from .data import CIFAR10_MEAN, CIFAR10_STD, CLASSES, denormalize, load_cifar10, load_sample, normalize, to_float, to_uint8
from .features import BLANK_KINDS, blank_images, feature_maps, get_layer, layer_names, mean_feature_maps, pooled_level_outputs
from .flip import TOY_KERNEL, TOY_SIGNAL, correlate1d, flip_equivariance_error, flip_kernels
from .inference import inference_copy, predict_logits
from .layers import DOWNSAMPLINGS, APSPool2d, BlurPool2d, MaxBlurPool2d, aps_downsample, binomial_filter, blur_downsample
from .lesson import LessonStop, lesson_size, quick_mode, require
from .metrics import (
    CONSISTENCY_PROTOCOLS,
    Evaluation,
    circular_consistency,
    consistency,
    consistency_metrics,
    crop_consistency,
    evaluate,
    grid_consistency,
    standard_error,
)
from .model import MIN_SIZE, CifarVGG, ModelConfig, count_parameters
from .padding import PADDING_MODES
from .plots import feature_grid, shift_heatmap, show_images
from .shifts import (
    SHIFT_METHODS,
    crop_at_every_position,
    paste_at_every_position,
    translate,
    translate_affine,
    translate_crop,
    translate_roll,
)
from .sweeps import SweepResult, shift_range, translation_sweep
from .variants import VARIANTS, Variant, get_variant

__version__ = "0.1.0"

__all__ = [
    # data
    "CLASSES", "CIFAR10_MEAN", "CIFAR10_STD", "load_sample", "load_cifar10", "to_float", "to_uint8", "normalize",
    "denormalize",
    # lesson switches
    "quick_mode", "lesson_size", "require", "LessonStop",
    # model, layers, variants, checkpoints
    "CifarVGG", "ModelConfig", "MIN_SIZE", "count_parameters", "PADDING_MODES", "DOWNSAMPLINGS", "BlurPool2d",
    "MaxBlurPool2d", "APSPool2d", "binomial_filter", "blur_downsample", "aps_downsample", "VARIANTS", "Variant",
    "get_variant", "load_pretrained", "available_checkpoints", "read_manifest", "checkpoints_dir",
    # shifts
    "SHIFT_METHODS", "translate", "translate_affine", "translate_roll", "translate_crop", "paste_at_every_position",
    "crop_at_every_position",
    # inference, metrics, sweeps
    "inference_copy", "predict_logits", "Evaluation", "evaluate", "consistency", "grid_consistency",
    "CONSISTENCY_PROTOCOLS", "circular_consistency", "crop_consistency", "consistency_metrics", "standard_error",
    "SweepResult", "translation_sweep", "shift_range",
    # features, flips, plots
    "layer_names", "get_layer", "feature_maps", "mean_feature_maps", "pooled_level_outputs", "BLANK_KINDS",
    "blank_images", "TOY_SIGNAL", "TOY_KERNEL", "correlate1d", "flip_kernels", "flip_equivariance_error",
    "shift_heatmap", "feature_grid", "show_images",
    "__version__",
]  # fmt: skip
