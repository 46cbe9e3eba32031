"""Tests of shiftlab.train.evaluation: accuracy and the manifest's metrics come from shiftlab.metrics, measured
on the stored (float16) weights; a checkpoint that does not reload as trained is caught."""

import pytest

import shiftlab as sl
from shiftlab.checkpoints import as_stored, save_checkpoint
from shiftlab.train.evaluation import accuracy, check_reload, checkpoint_metrics


@pytest.fixture(scope="module")
def stored(baseline):
    return as_stored(baseline)


def test_accuracy_is_evaluate_rounded(baseline, held_out):
    assert accuracy(baseline, *held_out) == round(sl.evaluate(baseline, *held_out).accuracy, 2)


def test_checkpoint_metrics_are_the_manifest_metrics(stored, held_out, sample_float):
    sample = (sample_float[0][:64], sample_float[1][:64])
    metrics = checkpoint_metrics(stored, held_out, sample)
    assert list(metrics) == ["test_accuracy", "test_images", "sample_accuracy", *sl.CONSISTENCY_PROTOCOLS]
    assert metrics["test_images"] == 20
    assert metrics["test_accuracy"] == accuracy(stored, *held_out)
    assert metrics["sample_accuracy"] == accuracy(stored, *sample)
    consistency = sl.consistency_metrics(stored, sample[0])
    assert {name: metrics[name] for name in consistency} == consistency


def test_check_reload_accepts_the_saved_model_and_catches_another(tmp_path, stored, invariant, sample_float):
    sample = (sample_float[0][:64], sample_float[1][:64])
    save_checkpoint(stored, "tiny", tmp_path)
    check_reload("tiny", tmp_path, stored, sample, accuracy(stored, *sample))
    save_checkpoint(invariant, "tiny", tmp_path)
    with pytest.raises(RuntimeError, match="does not reload as trained: weights equal False"):
        check_reload("tiny", tmp_path, stored, sample, accuracy(stored, *sample))
