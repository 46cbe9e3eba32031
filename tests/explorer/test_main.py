"""``python -m shiftlab.explorer``: the command `make explorer` runs (it serves the app with Voila)."""

import subprocess
import sys


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shiftlab.explorer", *args], capture_output=True, text=True,
                          timeout=120)


def test_help_names_the_port_option():
    result = run_module("--help")
    assert result.returncode == 0
    assert "usage: python -m shiftlab.explorer [-h] [--port PORT]" in result.stdout
    assert "127.0.0.1" in result.stdout and "default 8866" in result.stdout


def test_a_bad_port_is_refused_before_voila_starts():
    result = run_module("--port", "eighty")
    assert result.returncode == 2 and "invalid int value: 'eighty'" in result.stderr
    result = run_module("--port", "70000")
    assert result.returncode == 2 and "error: port must be an int in 1..65535, got 70000" in result.stderr
