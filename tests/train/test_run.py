"""Tests of shiftlab.train.run: one run from data to a checkpoint whose manifest entry is complete, and whose
every reported metric equals a fresh measurement of the stored file; resuming a run."""

import shutil

import pytest
import torch

import shiftlab as sl
from shiftlab.checkpoints import read_manifest, sha256
from shiftlab.metrics import CONSISTENCY_PROTOCOLS
from shiftlab.train.__main__ import main
from shiftlab.train.run import STATE_FILE


@pytest.mark.slow
def test_training_writes_a_checkpoint_that_loads(trained):
    output_dir, name = trained["output_dir"], trained["name"]
    entry = read_manifest(output_dir)[name]
    assert entry == trained["entry"]
    assert sha256(output_dir / entry["file"]) == entry["sha256"]
    model = sl.load_pretrained(name, output_dir)
    assert model.config.padding_mode == "zeros" and model.config.downsampling == "max"
    assert entry["recipe"]["epochs"] == 1 and entry["recipe"]["train_images"] == 300
    assert entry["training"]["epochs"] == 1 and entry["training"]["seconds"] > 0
    metrics = entry["metrics"]
    assert metrics["test_images"] == 200


@pytest.mark.slow
def test_the_entry_has_every_metric_the_notebooks_read(trained):
    """Notebook 04 reads both consistency protocols; the entry is complete without any second writer."""
    metrics = trained["entry"]["metrics"]
    assert list(metrics) == ["test_accuracy", "test_images", "sample_accuracy", *CONSISTENCY_PROTOCOLS]
    assert set(trained["entry"]) == {"file", "sha256", "model", "recipe", "training", "metrics"}


@pytest.mark.slow
def test_reported_sample_accuracy_equals_a_fresh_evaluation(trained):
    model = sl.load_pretrained(trained["name"], trained["output_dir"])
    images, labels = sl.load_sample()
    with torch.no_grad():
        correct = (model(sl.to_float(images)).argmax(1) == labels).sum().item()
    assert trained["entry"]["metrics"]["sample_accuracy"] == round(100 * correct / len(labels), 2)


@pytest.mark.slow
def test_reported_test_accuracy_and_consistency_equal_fresh_measurements(trained):
    model = sl.load_pretrained(trained["name"], trained["output_dir"])
    images, labels = sl.load_cifar10(trained["data"], "test")
    metrics = trained["entry"]["metrics"]
    assert metrics["test_accuracy"] == round(sl.evaluate(model, sl.to_float(images), labels).accuracy, 2)
    sample_images, _ = sl.load_sample()
    fresh = sl.consistency_metrics(model, sl.to_float(sample_images))
    assert {name: metrics[name] for name in fresh} == fresh


@pytest.mark.slow
def test_rerun_with_more_epochs_resumes_from_the_state(trained, train_args, tmp_path, capsys):
    state_dir = shutil.copytree(trained["state_dir"], tmp_path / "state")
    first = torch.load(state_dir / STATE_FILE, weights_only=True)
    entry = main(train_args(trained["data"], tmp_path / "checkpoints", state_dir, epochs=2))
    assert "after epoch 1" in capsys.readouterr().out
    state = torch.load(state_dir / STATE_FILE, weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert state["history"][0] == first["history"][0]  # epoch 1 was not trained again
    assert entry["training"]["epochs"] == 2 and entry["recipe"]["epochs"] == 2
