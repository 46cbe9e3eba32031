"""Shift happens: the computing behind the course on shift (in)variance in CNNs.

Notebooks import from here; every function works on float images (N, 3, H, W) in [0, 1].
"""

from .checkpoints import available_checkpoints, load_pretrained
from .course import quick_mode
from .data import CLASSES, CIFAR10_MEAN, CIFAR10_STD, denormalize, load_cifar10, load_sample, normalize, to_float, to_uint8
from .evaluate import consistency, evaluate, grid_consistency, predict_logits, shift_range, translation_sweep
from .features import blank_images, feature_maps, get_layer, layer_names, mean_feature_maps
from .flip import correlate1d, flip_equivariance_error, flip_kernels
from .layers import BlurPool2d, MaxBlurPool2d, APSPool2d
from .model import CifarVGG, ModelConfig, count_parameters
from .plots import feature_grid, shift_heatmap, show_images
from .shifts import crop_at_every_position, paste_at_every_position, translate, translate_affine, translate_crop, translate_roll

__version__ = "0.1.0"
