"""Tests of the command line ``python -m shiftlab.train`` (shiftlab.train.__main__): options, variants, and
errors that end the run with a message instead of a traceback."""

import shutil
import subprocess
import sys

import pytest

from shiftlab.data import COURSE_DATA_TAR
from shiftlab.train.__main__ import main, model_options, parse_args
from shiftlab.variants import VARIANTS


def test_list_variants_prints_the_one_list(capsys):
    assert main(["--list-variants"]) is None
    assert capsys.readouterr().out.split() == list(VARIANTS)


def test_the_module_runs_as_a_program():
    done = subprocess.run([sys.executable, "-m", "shiftlab.train", "--list-variants"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == list(VARIANTS)


def test_a_name_or_a_variant_is_required(capsys):
    with pytest.raises(SystemExit) as error:
        parse_args(["--epochs", "1"])
    assert error.value.code == 2 and "give --name (with model options) or --variant" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_variant_sets_the_model_options_and_the_name(name):
    args = parse_args(["--variant", name])
    assert model_options(args) == VARIANTS[name].model
    assert args.name is None  # the run is then called after the variant


def test_model_flags_default_to_the_baseline_and_keep_todays_blur_options():
    assert model_options(parse_args(["--name", "x"])) == {"padding_mode": "zeros", "downsampling": "max"}
    args = parse_args(["--name", "x", "--downsampling", "blur", "--blur-size", "5", "--blur-padding", "circular"])
    assert model_options(args) == {"padding_mode": "zeros", "downsampling": "blur", "blur_size": 5, "blur_padding": "circular"}


def test_a_variant_with_model_flags_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="--variant circular sets the model options itself; drop --padding-mode"):
        main(["--variant", "circular", "--padding-mode", "zeros", "--data", str(tmp_path)])


def test_blur_options_without_blur_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="blur_size and blur_padding apply to downsampling='blur' only"):
        main(["--name", "x", "--blur-size", "5", "--data", str(tmp_path)])


def test_missing_data_names_the_unpack_command(tmp_path, train_args):
    missing = tmp_path / "cifar10-jpeg"
    with pytest.raises(SystemExit) as error:
        main(train_args(missing, tmp_path / "checkpoints", tmp_path / "state"))
    message = str(error.value)
    assert f"mkdir -p {missing} && tar xJf ../shared/data/cifar10-jpeg.tar.xz -C {missing}" in message
    assert str(COURSE_DATA_TAR) == "../shared/data/cifar10-jpeg.tar.xz"
    assert "--download" in message
    assert not (tmp_path / "checkpoints").exists()


def test_unpack_data_with_the_data_already_there_does_nothing(tiny_image_folder, capsys):
    assert main(["--unpack-data", "--data", str(tiny_image_folder)]) is None
    assert "is already there" in capsys.readouterr().out


@pytest.mark.slow
def test_resume_refuses_a_state_of_another_variant(trained, train_args, tmp_path):
    state_dir = shutil.copytree(trained["state_dir"], tmp_path / "state")
    with pytest.raises(SystemExit, match="cannot resume .*circular"):
        main(train_args(trained["data"], tmp_path / "checkpoints", state_dir, padding_mode="circular"))
