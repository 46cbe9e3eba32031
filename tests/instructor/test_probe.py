"""The kernel's integrity probe, in a real sandboxed kernel: each way to hide errors or patch what tests
rely on is switched on before one test cell and off again before the next, so exactly the tests that
ran while it was on count as touched, with the reason."""

from __future__ import annotations

import pytest

from shiftlab_instructor.execution import execute_in_sandbox
from shiftlab_instructor.sandbox import Limits, Sandbox

SETUP = "import builtins\nimport numpy as np\nimport torch\nimport shiftlab as sl\nshell = get_ipython()"
# name: (switch on, switch off, a word of the expected finding)
TAMPERING = {
    "allclose": ("saved = torch.allclose\ntorch.allclose = lambda *a, **k: True", "torch.allclose = saved", "torch.allclose replaced"),
    "ast": ("import ast\nclass Wrap(ast.NodeTransformer):\n    pass\nshell.ast_transformers.append(Wrap())",
            "shell.ast_transformers.clear()", "IPython AST transformer added: Wrap"),
    "input": ("def quiet(lines):\n    return lines\nshell.input_transformers_post.append(quiet)",
              "shell.input_transformers_post.clear()", "IPython input transformer added: quiet"),
    "custom_exc": ("shell.set_custom_exc((Exception,), lambda *a, **k: None)", "shell.set_custom_exc((), None)",
                   "custom exception handler"),
    "traceback": ("shell.showtraceback = lambda *a, **k: None", "del shell.showtraceback", "showtraceback replaced"),
    "hook": ("def hook(*args):\n    pass\nshell.events.register('pre_run_cell', hook)",
             "shell.events.unregister('pre_run_cell', hook)", "cell hook registered on pre_run_cell"),
    "builtins": ("saved = builtins.abs\nbuiltins.abs = lambda x: 0", "builtins.abs = saved", "builtins.abs replaced"),
    "numpy": ("saved = np.allclose\nnp.allclose = lambda *a, **k: True", "np.allclose = saved", "numpy.allclose replaced"),
    "package_code": ("saved = sl.to_float.__code__\nsl.to_float.__code__ = (lambda images: images).__code__",
                     "sl.to_float.__code__ = saved", "shiftlab.data.to_float replaced"),
    "tensor_method": ("torch.Tensor.equal = lambda self, other: True", "del torch.Tensor.equal", "torch._tensor.Tensor.equal added"),
}


@pytest.fixture(scope="module")
def probed(make_notebook):
    """One kernel: a clean test, then for every kind of tampering: on, test, off, test; finally a test
    during which the student's function switches tampering on."""
    cells = [SETUP, ("clean", "assert True")]
    for name, (on, off, _) in TAMPERING.items():
        cells += [on, (f"{name}_on", "assert True"), off, (f"{name}_off", "assert True")]
    cells += ["def answer():\n    torch.equal = lambda *a: True", ("during_test", "answer()")]
    return execute_in_sandbox(make_notebook(*cells), Sandbox(Limits(wall_seconds=180, memory_mb=2048, processes=64)))


@pytest.mark.slow
def test_an_untouched_kernel_reports_nothing(probed):
    assert probed.failure is None
    assert "clean" not in probed.touched


@pytest.mark.slow
@pytest.mark.parametrize("name", TAMPERING)
def test_tampering_touches_exactly_the_tests_that_ran_with_it(probed, name):
    finding = TAMPERING[name][2]
    assert any(finding in reason for reason in probed.touched.get(f"{name}_on", [])), probed.touched.get(f"{name}_on")
    assert f"{name}_off" not in probed.touched, f"switched off, yet: {probed.touched[f'{name}_off']}"


@pytest.mark.slow
def test_tampering_switched_on_by_a_function_the_test_calls_touches_that_test(probed):
    assert probed.touched["during_test"] == ["torch.equal replaced"]
