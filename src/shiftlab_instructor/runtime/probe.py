"""What a submission must leave alone in the kernel that grades it, and a report of what it changed.

The launcher calls ``install(shell)`` before any student code runs: it records the identity of every
callable in the modules tests rely on (``WATCHED``), of the methods of their key classes, of IPython's
error display and of the interpreter hooks. The grading process then evaluates ``REPORT_EXPRESSION``
(a ``user_expressions`` entry of a silent execute request) before and after every graded test cell and
gets back a JSON list of findings, e.g. ``["torch.allclose replaced", "IPython AST transformer added:
Wrap"]``; an empty list means nothing changed.

What counts as tampering:
- IPython hooks that hide or rewrite errors: AST and input transformers, custom exception handlers,
  replaced traceback display, ``run_cell`` and friends; cell hooks (``shell.events``) from student code;
- patched interpreter hooks (``sys.excepthook``, ``sys.displayhook``, ``sys.stdout``/``stderr``, tracing,
  import hooks, modules swapped in ``sys.modules``);
- any callable of the watched modules replaced or deleted (including a function whose ``__code__`` was
  swapped), and any method of the watched classes added, replaced or deleted.

Hooks are allowed when their code lives in installed files (``trusted_roots``: the Python installation,
the virtual environment, the course package), e.g. matplotlib-inline's ``flush_figures``.

This is best effort: code running in the same interpreter can in principle reach this module too. The
grading process's static scan (``shiftlab_instructor.scan``) flags the reflective code that would.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

# Modules (and their submodules) whose callables tests rely on.
WATCHED = ("builtins", "math", "copy", "torch", "numpy", "torchvision", "shiftlab", "shiftlab_instructor")
# Classes whose methods tests rely on: every class defined in a module starting with one of these.
WATCHED_CLASS_MODULES = ("torch._tensor", "torch.nn.modules", "torchvision.models", "shiftlab")
# Names IPython itself adds to and removes from builtins around every cell.
VOLATILE_BUILTINS = frozenset({"get_ipython", "exit", "quit", "display", "_", "__", "___"})
HOOK_LISTS = {"ast_transformers": "AST transformer", "input_transformers_cleanup": "input transformer",
              "input_transformers_post": "input transformer"}
SHELL_METHODS = (
    "run_cell", "run_cell_async", "run_ast_nodes", "run_code", "transform_cell", "transform_ast",
    "showtraceback", "_showtraceback", "showsyntaxerror", "showindentationerror", "get_exception_only",
    "user_expressions",
)
SYS_HOOKS = ("excepthook", "displayhook", "stdout", "stderr", "meta_path", "path_hooks")
REPORT_EXPRESSION = "__import__('shiftlab_instructor.runtime.probe', fromlist=['report']).report()"

_probe: Probe | None = None


def _fingerprint(value) -> tuple[int, int]:
    """Identity of a callable, plus that of its code for Python functions (a swapped ``__code__`` shows)."""
    return id(value), id(value.__code__) if isinstance(value, types.FunctionType) else 0


def _watched(module_name: str) -> bool:
    return module_name.split(".")[0] in WATCHED


def _name(hook) -> str:
    """A hook's name for a report: the function's, else the class's (an AST transformer object)."""
    return getattr(hook, "__name__", type(hook).__name__)


def _code_file(hook) -> str:
    """The file that defines a hook (function, bound method, or callable object), '' when unknown."""
    function = getattr(hook, "__func__", hook)
    if isinstance(function, types.FunctionType):
        return function.__code__.co_filename
    module = sys.modules.get(getattr(type(hook), "__module__", ""), None)
    return getattr(module, "__file__", None) or ""


class Probe:
    """Snapshot of the kernel taken before student code runs; ``findings()`` lists what changed since."""

    def __init__(self, shell, trusted_roots: list[str]):
        self.shell = shell
        self.roots = tuple(str(Path(root).resolve()) for root in trusted_roots)
        self.modules: dict[str, tuple[int, dict[str, tuple[int, int]]]] = {}
        self.classes: dict[str, tuple[int, dict[str, int]]] = {}
        self._class_ids: set[int] = set()
        self._snapshot_new_modules()
        self.shell_methods = {name: self._method_identity(name) for name in SHELL_METHODS}
        self.sys_hooks = {name: self._sys_hook_identity(name) for name in SYS_HOOKS}
        self.hooks = {name: [id(hook) for hook in getattr(shell, name, [])] for name in HOOK_LISTS}

    # --- snapshot -------------------------------------------------------------------------------
    def _snapshot_new_modules(self) -> None:
        """Record every watched module not yet recorded (modules imported later get their baseline
        at the first report after their import)."""
        for name, module in list(sys.modules.items()):
            if name in self.modules or not _watched(name) or not isinstance(module, types.ModuleType):
                continue
            self.modules[name] = (id(module), self._module_callables(module))
            for attribute, cls in self._module_classes(module):
                if id(cls) not in self._class_ids:  # a class re-exported elsewhere is watched once
                    self._class_ids.add(id(cls))
                    self.classes[f"{name}.{attribute}"] = (id(cls), self._class_methods(cls))

    @staticmethod
    def _module_callables(module: types.ModuleType) -> dict[str, tuple[int, int]]:
        return {name: _fingerprint(value) for name, value in list(vars(module).items()) if callable(value)}

    @staticmethod
    def _module_classes(module: types.ModuleType) -> list[tuple[str, type]]:
        """(name, class) for the watched classes in a module whose classes tests rely on (``torch.Tensor``
        lives in ``torch._tensor`` but says its module is ``torch``, so the test is the class's package)."""
        if not module.__name__.startswith(WATCHED_CLASS_MODULES):
            return []
        return [(name, value) for name, value in list(vars(module).items())
                if isinstance(value, type) and _watched(getattr(value, "__module__", None) or "")]

    @staticmethod
    def _class_methods(cls: type) -> dict[str, int]:
        return {name: id(value) for name, value in list(vars(cls).items())
                if callable(value) or isinstance(value, (staticmethod, classmethod, property))}

    def _method_identity(self, name: str) -> tuple[int, int]:
        """The shell's method ``name``: identity of an instance-level override (ipykernel sets some) and
        of the class attribute."""
        return id(vars(self.shell).get(name)), id(getattr(type(self.shell), name, None))

    @staticmethod
    def _sys_hook_identity(name: str):
        value = getattr(sys, name, None)
        return tuple(map(id, value)) if isinstance(value, list) else id(value)

    def _trusted(self, hook) -> bool:
        return _code_file(hook).startswith(self.roots)

    # --- findings -------------------------------------------------------------------------------
    def findings(self) -> list[str]:
        """Every change since the snapshot that can hide errors or change what tests compute."""
        found = self._shell_findings() + self._sys_findings() + self._module_findings() + self._class_findings()
        self._snapshot_new_modules()
        return found

    def _shell_findings(self) -> list[str]:
        shell, found = self.shell, []
        for name, label in HOOK_LISTS.items():
            for hook in getattr(shell, name, []):
                if id(hook) not in self.hooks[name] and not self._trusted(hook):
                    found.append(f"IPython {label} added: {_name(hook)}")
        if getattr(shell, "custom_exceptions", ()):
            found.append("custom exception handler set (set_custom_exc)")
        for name, identity in self.shell_methods.items():
            if self._method_identity(name) != identity:
                found.append(f"IPython's {name} replaced")
        for event, callbacks in shell.events.callbacks.items():
            for callback in callbacks:
                if not self._trusted(callback):
                    found.append(f"cell hook registered on {event}: {_name(callback)}")
        return found

    def _sys_findings(self) -> list[str]:
        found = [f"sys.{name} replaced" for name, identity in self.sys_hooks.items()
                 if self._sys_hook_identity(name) != identity]
        if sys.gettrace() is not None or sys.getprofile() is not None:
            found.append("a trace or profile function set (sys.settrace / sys.setprofile)")
        return found

    def _module_findings(self) -> list[str]:
        found = []
        for name, (identity, callables) in self.modules.items():
            module = sys.modules.get(name)
            if module is None:
                continue  # dropped from sys.modules: code that already imported it keeps the original
            if id(module) != identity:
                found.append(f"module {name} replaced in sys.modules")
                continue
            namespace = vars(module)
            for attribute, fingerprint in callables.items():
                if name == "builtins" and attribute in VOLATILE_BUILTINS:
                    continue
                if attribute not in namespace:
                    found.append(f"{name}.{attribute} deleted")
                elif _fingerprint(namespace[attribute]) != fingerprint:
                    found.append(f"{name}.{attribute} replaced")
        return found

    def _class_findings(self) -> list[str]:
        found = []
        for key, (identity, methods) in self.classes.items():
            module_name, _, attribute = key.rpartition(".")
            cls = getattr(sys.modules.get(module_name), attribute, None)
            if cls is None or id(cls) != identity:
                continue  # the class itself replaced shows among the module findings
            now = self._class_methods(cls)
            for name in sorted(now.keys() | methods.keys()):
                if now.get(name) != methods.get(name):
                    change = "added" if name not in methods else "deleted" if name not in now else "replaced"
                    found.append(f"{key}.{name} {change}")
        return found


def install(shell, trusted_roots: list[str]) -> None:
    """Take the snapshot; called by the launcher before any student code runs."""
    global _probe
    _probe = Probe(shell, trusted_roots)


def report() -> str:
    """The findings as a JSON list of strings (what ``REPORT_EXPRESSION`` evaluates to)."""
    if _probe is None:
        return json.dumps(["integrity probe not installed"])
    return json.dumps(_probe.findings())
