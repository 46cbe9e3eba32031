"""Shift happens: the computing behind the course on shift (in)variance in CNNs.

Notebooks import from here (``import shiftlab as sl``); every function works on float images
(N, 3, H, W) in [0, 1]. ``__all__`` is the public API; submodules hold the rest. The explorer
(``shiftlab.explorer``) and training (``python -m shiftlab.train``) build on this core.
"""

from .borders import (
    border_reach,
    centre_deviation,
    input_pixel_profiles,
    median_from,
    plot_edge_profiles,
    plot_layer_curves,
    show_layers,
)
from .checkpoints import available_checkpoints, checkpoints_dir, load_pretrained, read_manifest
from .data import CIFAR10_MEAN, CIFAR10_STD, CLASSES, denormalize, load_cifar10, load_sample, normalize, to_float, to_uint8
from .features import BLANK_KINDS, blank_images, feature_maps, get_layer, layer_names, mean_feature_maps, pooled_level_outputs
from .flip import TOY_KERNEL, TOY_SIGNAL, band_limit, half_step_interpolation
from .inference import inference_copy, predict_logits
from .invariance import (
    aps_phase_choices,
    circular_period,
    format_shift_reports,
    logit_change,
    orbit_average,
    phase_logits,
    shift_report,
)
from .layers import DOWNSAMPLINGS, APSPool2d, BlurPool2d, MaxBlurPool2d, aps_downsample, binomial_filter, blur, blur_downsample
from .lesson import LessonStop, lesson_size, quick_mode, require
from .metrics import (
    CONSISTENCY_PROTOCOLS,
    PROTOCOL_PAIRS_PER_IMAGE,
    Estimate,
    Evaluation,
    bootstrap_interval,
    circular_consistency,
    comparison_table,
    consistency,
    consistency_metrics,
    crop_consistency,
    evaluate,
    grid_agreement,
    grid_consistency,
    mcnemar_exact,
    pair_agreement,
    paired_bootstrap,
    per_image_accuracy,
    per_image_metrics,
    robust_per_image,
    standard_error,
)
from .model import MIN_SIZE, CifarVGG, ModelConfig, count_parameters
from .padding import PADDING_MODES
from .plots import (
    estimate_bars,
    exactness_bars,
    feature_grid,
    frequency_response_plot,
    map_panels,
    offset_samples_plot,
    shift_heatmap,
    show_images,
    spectrum_profile_plot,
)
from .probes import (
    LinearProbe,
    ProbeScore,
    fit_linear_probe,
    plot_probe_scores,
    sample_positions,
    score_levels,
    score_probe,
)
from .shifts import (
    SHIFT_METHODS,
    crop_at_every_position,
    paste_at_every_position,
    translate,
    translate_affine,
    translate_crop,
    translate_fourier,
    translate_roll,
)
from .robustness import (
    accuracy_over,
    agreement_over,
    correct_share,
    plot_unchanged_share,
    plot_worst_case,
    unchanged_share,
    worst_case_error,
)
from .sweeps import SweepResult, plot_shift_curves, shift_range, translation_sweep
from .spectra import (
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
from .variants import VARIANTS, Variant, describe_variants, get_variant, load_variants, missing_variants

__version__ = "0.1.0"

__all__ = [
    # data
    "CLASSES", "CIFAR10_MEAN", "CIFAR10_STD", "load_sample", "load_cifar10", "to_float", "to_uint8", "normalize",
    "denormalize",
    # lesson switches
    "quick_mode", "lesson_size", "require", "LessonStop",
    # model, layers, variants, checkpoints
    "CifarVGG", "ModelConfig", "MIN_SIZE", "count_parameters", "PADDING_MODES", "DOWNSAMPLINGS", "BlurPool2d",
    "MaxBlurPool2d", "APSPool2d", "binomial_filter", "blur", "blur_downsample", "aps_downsample", "VARIANTS", "Variant",
    "get_variant", "load_variants", "missing_variants", "describe_variants", "load_pretrained", "available_checkpoints",
    "read_manifest", "checkpoints_dir",
    # shifts
    "SHIFT_METHODS", "translate", "translate_affine", "translate_roll", "translate_crop", "paste_at_every_position",
    "crop_at_every_position", "translate_fourier",
    # inference, metrics, sweeps
    "inference_copy", "predict_logits", "Evaluation", "evaluate", "consistency", "grid_consistency",
    "CONSISTENCY_PROTOCOLS", "circular_consistency", "crop_consistency", "consistency_metrics", "standard_error",
    "PROTOCOL_PAIRS_PER_IMAGE", "per_image_accuracy", "pair_agreement", "grid_agreement", "per_image_metrics",
    "robust_per_image",
    # statistics: the image is the unit (cluster and paired bootstrap, McNemar's exact test)
    "Estimate", "bootstrap_interval", "paired_bootstrap", "mcnemar_exact", "comparison_table",
    # sampling theorem: filters' and feature maps' frequencies
    "NEW_NYQUIST", "binomial_taps", "frequency_response", "power_spectrum", "high_frequency_share", "spectrum_profile",
    "bandlimited_signal", "offset_samples", "global_pool_change", "roll_logit_change",
    # translation sweeps, and robustness read off their predictions
    "SweepResult", "translation_sweep", "shift_range", "plot_shift_curves",
    "correct_share", "agreement_over", "accuracy_over", "unchanged_share", "worst_case_error", "plot_unchanged_share",
    "plot_worst_case",
    # invariance by construction: the circular phases, APS's choices, what a shift changes
    "circular_period", "phase_logits", "orbit_average", "aps_phase_choices", "logit_change", "shift_report",
    "format_shift_reports",
    # features, flips, plots
    "layer_names", "get_layer", "feature_maps", "mean_feature_maps", "pooled_level_outputs", "BLANK_KINDS",
    "blank_images", "TOY_SIGNAL", "TOY_KERNEL", "band_limit", "half_step_interpolation",
    "shift_heatmap", "feature_grid", "show_images", "exactness_bars", "frequency_response_plot", "spectrum_profile_plot",
    "offset_samples_plot", "estimate_bars", "map_panels",
    # border patterns and position probes (notebook 03)
    "centre_deviation", "show_layers", "input_pixel_profiles", "border_reach", "median_from", "plot_layer_curves",
    "plot_edge_profiles", "LinearProbe", "fit_linear_probe", "ProbeScore", "score_probe", "score_levels",
    "sample_positions", "plot_probe_scores",
    "__version__",
]  # fmt: skip
