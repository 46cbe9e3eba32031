"""Tests of shiftlab.checkpoints: saving, the float16 storage rule, the manifest, verified loading, where
checkpoints are looked for, and the checkpoints bundled with the package."""

import copy
import hashlib
import json
from pathlib import Path

import pytest
import torch

import shiftlab as sl
from shiftlab.checkpoints import (
    BUNDLED_CHECKPOINTS,
    CHECKPOINTS_ENV,
    MANIFEST,
    STORAGE_DTYPE,
    as_stored,
    checkpoints_dir,
    checkpoints_location,
    from_storage,
    load_checkpoint_file,
    load_pretrained,
    read_manifest,
    save_checkpoint,
    sha256,
    to_storage,
    write_manifest,
)


def float16_rounded(model: sl.CifarVGG) -> sl.CifarVGG:
    """Oracle: the model with every floating-point tensor rounded to float16 and back, eval mode."""
    rounded = copy.deepcopy(model)
    rounded.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    return rounded.eval()


@pytest.fixture
def saved(tmp_path, invariant):
    """The tiny circular/APS model saved as 'aps' in a temporary folder, with recipe, training and metrics."""
    entry = save_checkpoint(
        invariant, "aps", tmp_path, recipe={"epochs": 10}, training={"device": "cpu"}, metrics={"sample_accuracy": 12.5}
    )
    return tmp_path, entry


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize("options", [("zeros", "max", "tiny"), ("circular", "aps", "tiny"), ("zeros", "max", "default")])
def test_save_then_load_gives_the_float16_rounded_model(tmp_path, make_model, subset, options):
    padding_mode, downsampling, width = options
    model = make_model(padding_mode, downsampling, width=width, probe=width == "tiny")  # default: shared with test_flip
    save_checkpoint(model, "variant", tmp_path)
    loaded = load_pretrained("variant", tmp_path)
    assert type(loaded) is sl.CifarVGG and not loaded.training
    assert loaded.config == model.config
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in loaded.parameters())
    images, _ = subset
    with torch.no_grad():
        assert torch.equal(loaded(images), float16_rounded(model)(images))
        # the rounding is real, and small
        difference = (loaded(images) - model(images)).abs().max().item()
    assert difference < 1e-2 * model(images).abs().max().item()


def test_load_restores_batchnorm_statistics(saved, invariant):
    directory, _ = saved
    loaded = load_pretrained("aps", directory)
    bn_loaded, bn_model = loaded[1][2], invariant[1][2]
    assert torch.equal(bn_loaded.running_mean, bn_model.running_mean.half().float())
    assert torch.equal(bn_loaded.num_batches_tracked, bn_model.num_batches_tracked)


# ---------------------------------------------------------------- the file and the manifest


def test_manifest_entry(saved, invariant):
    directory, entry = saved
    manifest = json.loads((directory / MANIFEST).read_text())
    assert list(manifest) == ["checkpoints"] and list(manifest["checkpoints"]) == ["aps"]
    stored = manifest["checkpoints"]["aps"]
    assert stored == entry
    assert stored["file"] == "aps.pt"
    assert stored["sha256"] == hashlib.sha256((directory / "aps.pt").read_bytes()).hexdigest()
    assert stored["model"] == invariant.config.to_dict()
    assert stored["model"]["padding_mode"] == "circular" and stored["model"]["downsampling"] == "aps"
    assert stored["recipe"] == {"epochs": 10} and stored["training"] == {"device": "cpu"}
    assert stored["metrics"] == {"sample_accuracy": 12.5}


def test_manifest_keeps_other_entries_sorted(saved, baseline):
    directory, _ = saved
    save_checkpoint(baseline, "baseline", directory)
    assert list(read_manifest(directory)) == ["aps", "baseline"]
    assert sl.available_checkpoints(directory) == ["aps", "baseline"]
    assert load_pretrained("aps", directory).config.padding_mode == "circular"


def test_saving_again_replaces_the_entry(saved, baseline):
    directory, first = saved
    second = save_checkpoint(baseline, "aps", directory)
    assert read_manifest(directory) == {"aps": second}
    assert second["sha256"] != first["sha256"] and second["metrics"] == {}


def test_file_loads_with_weights_only(saved, invariant):
    directory, _ = saved
    stored = torch.load(directory / "aps.pt", map_location="cpu", weights_only=True)
    assert set(stored) == {"config", "state_dict"}
    assert stored["config"] == invariant.config.to_dict()
    assert set(stored["state_dict"]) == set(invariant.state_dict())
    floats = [v for v in stored["state_dict"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    assert stored["state_dict"]["1.2.num_batches_tracked"].dtype == torch.int64


def test_sha256_equals_hashlib(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 5000)  # more than one 1 MiB block
    assert sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_read_manifest_without_a_manifest_is_empty(tmp_path):
    assert read_manifest(tmp_path) == {}
    assert sl.available_checkpoints(tmp_path) == []


def test_write_manifest_sorts_and_creates_the_folder(tmp_path):
    path = write_manifest({"b": {"file": "b.pt"}, "a": {"file": "a.pt"}}, tmp_path / "new")
    assert path == tmp_path / "new" / MANIFEST
    assert list(json.loads(path.read_text())["checkpoints"]) == ["a", "b"]


# ---------------------------------------------------------------- refusals


def test_unknown_name_lists_the_known_ones(saved, baseline):
    directory, _ = saved
    save_checkpoint(baseline, "baseline", directory)
    with pytest.raises(KeyError, match="unknown checkpoint 'blur'.*known checkpoints: aps, baseline"):
        load_pretrained("blur", directory)


def test_unknown_name_without_a_manifest_says_so(tmp_path):
    with pytest.raises(KeyError, match=r"known checkpoints: none \(no manifest.json in this folder\)"):
        load_pretrained("baseline", tmp_path)


def test_tampered_file_is_refused_with_the_fix(saved):
    directory, entry = saved
    path = directory / "aps.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # flip one bit in the middle of the weights
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError) as info:
        load_pretrained("aps", directory)
    message = str(info.value)
    assert entry["sha256"][:12] in message and sha256(path)[:12] in message
    assert "altered or is incomplete" in message
    assert "git checkout -- aps.pt" in message and "python -m shiftlab.train" in message


def test_truncated_file_is_refused(saved):
    directory, _ = saved
    path = directory / "aps.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="altered or is incomplete"):
        load_pretrained("aps", directory)


def test_missing_file_is_refused_with_the_fix(saved):
    directory, _ = saved
    (directory / "aps.pt").unlink()
    with pytest.raises(FileNotFoundError, match=r"aps\.pt is missing: restore it with `git checkout -- aps\.pt`.*python -m shiftlab\.train"):
        load_pretrained("aps", directory)


def test_manifest_options_must_match_the_file(saved):
    directory, _ = saved
    entries = read_manifest(directory)
    entries["aps"]["model"]["padding_mode"] = "zeros"
    write_manifest(entries, directory)
    with pytest.raises(ValueError, match="stores options .*'circular'.*the manifest says .*'zeros'"):
        load_pretrained("aps", directory)


def test_load_checkpoint_file_without_a_hash(saved, invariant):
    directory, _ = saved
    model = load_checkpoint_file(directory / "aps.pt")
    assert model.config == invariant.config and not model.training


def test_save_checkpoint_stores_only_cifarvgg(tmp_path):
    with pytest.raises(TypeError, match="stores CifarVGG models, got Sequential"):
        save_checkpoint(torch.nn.Sequential(), "x", tmp_path)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------- where checkpoints live


def test_checkpoints_dir_honours_the_environment(monkeypatch, saved):
    directory, _ = saved
    monkeypatch.setenv(CHECKPOINTS_ENV, str(directory))
    assert checkpoints_dir() == directory
    assert sl.available_checkpoints() == ["aps"]
    assert load_pretrained("aps").config.downsampling == "aps"


def test_checkpoints_dir_defaults_to_the_bundled_folder(monkeypatch):
    monkeypatch.delenv(CHECKPOINTS_ENV, raising=False)
    assert checkpoints_dir() == BUNDLED_CHECKPOINTS == Path(sl.__file__).parent / "assets" / "checkpoints"
    monkeypatch.setenv(CHECKPOINTS_ENV, "")  # empty counts as unset
    assert checkpoints_dir() == BUNDLED_CHECKPOINTS


def test_lookup_order_is_argument_then_environment_then_bundled(monkeypatch, tmp_path):
    monkeypatch.setenv(CHECKPOINTS_ENV, str(tmp_path / "from-env"))
    assert checkpoints_location(tmp_path / "given") == (tmp_path / "given", "the directory argument")
    assert checkpoints_location() == (tmp_path / "from-env", "$SHIFTLAB_CHECKPOINTS")
    monkeypatch.delenv(CHECKPOINTS_ENV)
    assert checkpoints_location() == (BUNDLED_CHECKPOINTS, "the checkpoints bundled with shiftlab")


def test_unknown_name_says_where_it_looked(monkeypatch, saved):
    directory, _ = saved
    monkeypatch.setenv(CHECKPOINTS_ENV, str(directory))
    with pytest.raises(KeyError) as info:
        load_pretrained("nothing")
    message = str(info.value)
    assert f"in {directory} (chosen by $SHIFTLAB_CHECKPOINTS); known checkpoints: aps" in message
    assert f"the directory argument, else $SHIFTLAB_CHECKPOINTS, else the folder bundled with shiftlab ({BUNDLED_CHECKPOINTS})" in message


def test_save_checkpoint_uses_the_environment_folder(monkeypatch, tmp_path, baseline):
    monkeypatch.setenv(CHECKPOINTS_ENV, str(tmp_path / "elsewhere"))
    save_checkpoint(baseline, "baseline")
    assert (tmp_path / "elsewhere" / "baseline.pt").is_file()


# ---------------------------------------------------------------- the float16 storage rule


def test_to_storage_rounds_floats_only_and_from_storage_restores_float32(invariant):
    state = invariant.state_dict()
    stored = to_storage(state)
    assert set(stored) == set(state)
    for key, value in stored.items():
        assert value.device.type == "cpu"
        if state[key].is_floating_point():
            assert value.dtype == STORAGE_DTYPE == torch.float16
            assert torch.equal(from_storage(stored)[key], state[key].half().float())
        else:
            assert torch.equal(value, state[key])


def test_as_stored_is_what_load_pretrained_returns(tmp_path, invariant, subset):
    stored = as_stored(invariant)
    assert stored is not invariant and not stored.training and stored.config == invariant.config
    save_checkpoint(invariant, "aps", tmp_path)
    loaded = load_pretrained("aps", tmp_path)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in stored.state_dict().items())
    with torch.no_grad():
        assert torch.equal(stored(subset[0]), float16_rounded(invariant)(subset[0]))


# ---------------------------------------------------------------- the bundled checkpoints


BUNDLED_ENTRIES = sorted(read_manifest(BUNDLED_CHECKPOINTS))
def test_every_manifest_entry_is_complete_and_its_file_is_bundled():
    assert BUNDLED_ENTRIES, f"no checkpoints in {BUNDLED_CHECKPOINTS / MANIFEST}"
    for name in BUNDLED_ENTRIES:
        entry = read_manifest(BUNDLED_CHECKPOINTS)[name]
        assert (BUNDLED_CHECKPOINTS / entry["file"]).is_file(), name
        assert set(entry) == {"file", "sha256", "model", "recipe", "training", "metrics"}, name
        assert {"test_accuracy", "sample_accuracy", "circular_consistency", "crop_consistency"} <= set(entry["metrics"]), name


@pytest.mark.slow
@pytest.mark.parametrize("name", BUNDLED_ENTRIES)
def test_bundled_checkpoint_loads_and_measures_as_recorded(name, sample_float, monkeypatch):
    monkeypatch.delenv(CHECKPOINTS_ENV, raising=False)  # the default location: the bundled folder
    entry = read_manifest(BUNDLED_CHECKPOINTS)[name]
    path = BUNDLED_CHECKPOINTS / entry["file"]
    assert sha256(path) == entry["sha256"], f"{path} does not match its manifest hash"
    model = load_pretrained(name)
    assert model.config.to_dict() == entry["model"]
    images, labels = sample_float
    measured = sl.evaluate(model, images, labels).accuracy
    assert abs(measured - entry["metrics"]["sample_accuracy"]) <= 0.01, (measured, entry["metrics"]["sample_accuracy"])
