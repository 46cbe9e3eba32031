"""Static scan of the code a student controls (answer cells and ordinary cells), before it runs.

Runs in the trusted grading process on the submitted text, so nothing in the kernel can hide from it;
it complements the kernel's integrity probe (``runtime.probe``), which sees what actually happened but
runs next to student code. Names are resolved through the notebook's imports (``import os as o;
o._exit(1)`` reads as ``os._exit``). Honest answers to this course's exercises trigger none of the rules
(a test checks every solution).
"""

from __future__ import annotations

import ast
import re
import threading
from fnmatch import fnmatchcase

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

from .findings import Flag

# dotted name -> (kind, reason); a rule also matches the names below it ("os" would match "os.path"),
# and a rule ending in * matches every name that starts with it
NAME_RULES: dict[str, tuple[str, str]] = {
    "get_ipython": ("suspicious", "uses IPython's shell object (get_ipython)"),
    "exec": ("suspicious", "runs code built at run time (exec)"),
    "eval": ("suspicious", "runs code built at run time (eval)"),
    "compile": ("suspicious", "compiles code at run time (compile)"),
    "__import__": ("suspicious", "imports by computed name (__import__)"),
    "importlib": ("suspicious", "imports by computed name (importlib)"),
    "ctypes": ("suspicious", "calls C code directly (ctypes)"),
    "gc": ("suspicious", "walks the interpreter's objects (gc)"),
    "inspect.currentframe": ("suspicious", "reads interpreter frames (inspect)"),
    "inspect.stack": ("suspicious", "reads interpreter frames (inspect)"),
    "sys._getframe": ("suspicious", "reads interpreter frames (sys._getframe)"),
    "sys.modules": ("suspicious", "edits or reads the module table (sys.modules)"),
    "sys.meta_path": ("tamper", "installs an import hook (sys.meta_path)"),
    "sys.path_hooks": ("tamper", "installs an import hook (sys.path_hooks)"),
    "sys.settrace": ("tamper", "sets a trace function (sys.settrace)"),
    "sys.setprofile": ("tamper", "sets a profile function (sys.setprofile)"),
    "sys.addaudithook": ("tamper", "sets an audit hook (sys.addaudithook)"),
    "sys.excepthook": ("tamper", "replaces the exception hook (sys.excepthook)"),
    "sys.displayhook": ("tamper", "replaces the display hook (sys.displayhook)"),
    "builtins": ("tamper", "changes Python's builtins"),
    "__builtins__": ("tamper", "changes Python's builtins"),
    "shiftlab_instructor": ("tamper", "imports the grading tools (shiftlab_instructor)"),
    "IPython": ("suspicious", "imports IPython's internals"),
    "ipykernel": ("suspicious", "imports the kernel's internals (ipykernel)"),
    "socket": ("sandbox", "uses the network (socket)"),
    "ssl": ("sandbox", "uses the network (ssl)"),
    "http": ("sandbox", "uses the network (http)"),
    "urllib": ("sandbox", "uses the network (urllib)"),
    "requests": ("sandbox", "uses the network (requests)"),
    "ftplib": ("sandbox", "uses the network (ftplib)"),
    "smtplib": ("sandbox", "uses the network (smtplib)"),
    "subprocess": ("sandbox", "starts processes (subprocess)"),
    "multiprocessing": ("sandbox", "starts processes (multiprocessing)"),
    "pty": ("sandbox", "starts processes (pty)"),
    "threading": ("sandbox", "starts threads (threading)"),
    "os.system": ("sandbox", "starts processes (os.system)"),
    "os.popen": ("sandbox", "starts processes (os.popen)"),
    "os.fork": ("sandbox", "starts processes (os.fork)"),
    "os.forkpty": ("sandbox", "starts processes (os.forkpty)"),
    "os.exec*": ("sandbox", "replaces the kernel process (os.exec*)"),
    "os.spawn*": ("sandbox", "starts processes (os.spawn*)"),
    "os.posix_spawn": ("sandbox", "starts processes (os.posix_spawn)"),
    "os.kill": ("sandbox", "sends signals (os.kill)"),
    "os.killpg": ("sandbox", "sends signals (os.killpg)"),
    "os.setsid": ("sandbox", "detaches processes (os.setsid)"),
    "os._exit": ("sandbox", "ends the kernel (os._exit)"),
    "os.chdir": ("sandbox", "leaves its folder (os.chdir)"),
    "os.environ": ("sandbox", "reads or changes its environment (os.environ)"),
    "signal": ("sandbox", "handles or sends signals (signal)"),
    "sqlite3": ("sandbox", "opens a database (sqlite3)"),
    "shutil": ("sandbox", "copies or deletes files (shutil)"),
}
# attribute name -> (kind, reason): IPython hooks that hide or rewrite errors, function internals
ATTRIBUTE_RULES: dict[str, tuple[str, str]] = {
    **{name: ("tamper", "hides errors: a custom exception handler") for name in ("set_custom_exc", "custom_exceptions", "CustomTB")},
    **{name: ("tamper", "rewrites cells: an IPython AST or input transformer")
       for name in ("ast_transformers", "input_transformers_cleanup", "input_transformers_post", "input_transformer_manager")},
    **{name: ("tamper", f"hides errors: replaces IPython's traceback display ({name})")
       for name in ("showtraceback", "_showtraceback", "showsyntaxerror", "InteractiveTB", "SyntaxTB")},
    **{name: ("tamper", f"changes how cells run ({name})") for name in ("run_cell", "run_cell_async", "run_ast_nodes", "run_code")},
    **{name: ("tamper", f"reaches into function internals ({name})")
       for name in ("__code__", "__globals__", "__closure__", "__defaults__", "__kwdefaults__", "__builtins__")},
    **{name: ("suspicious", f"reads interpreter frames ({name})")
       for name in ("f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame", "cr_frame")},
    "__subclasses__": ("suspicious", "walks the class hierarchy (__subclasses__)"),
    "__dict__": ("suspicious", "edits an object's namespace directly (__dict__)"),
}
# Modules whose attributes tests rely on: assigning to them (or setattr/delattr on them) is tampering.
PATCHABLE = ("torch", "numpy", "shiftlab", "torchvision", "math", "copy", "builtins")
CONFIGURATION = ("torch.backends",)  # settings, not functions: assigning there is allowed
# Builtins the rules speak of; any other name that no import binds is a local variable (``signal`` the
# argument is not ``signal`` the module).
RULED_BUILTINS = frozenset({"get_ipython", "exec", "eval", "compile", "__import__", "__builtins__", "open", "setattr", "delattr"})
HARMLESS_MAGICS = frozenset({"time", "timeit", "matplotlib", "precision"})
# A string naming a file outside the kernel's folder: climbing out (../), home-relative, or absolute.
OUTSIDE_PATH = re.compile(r"^(\.\./|~/|/[\w.-]+/)|/\.\./")


def student_cells(notebook: nbformat.NotebookNode) -> list[int]:
    """Indices of the code cells a student controls: answer cells and cells without grading metadata."""
    indices = []
    for index, cell in enumerate(notebook.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or not meta.get("grade_id")):
            indices.append(index)
    return indices


# CPython 3.11 counts the depth of AST construction in state that all threads share, so two threads
# parsing at once (grading workers) can fail with "SystemError: AST constructor recursion depth mismatch"
# (CPython gh-106905): every parse in this package goes through this lock.
AST_LOCK = threading.Lock()


def parse_python(source: str, mode: str = "exec") -> ast.AST:
    """``ast.parse``, one thread at a time (see ``AST_LOCK``)."""
    with AST_LOCK:
        return ast.parse(source, mode=mode)


def _parse(source: str) -> ast.Module | None:
    """The cell as Python (magics and shell escapes translated as IPython does), None if it does not parse."""
    try:
        return parse_python(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


class _Scanner(ast.NodeVisitor):
    """Collects (kind, reason) for one cell; ``aliases`` maps local names to the modules they stand for
    and persists across cells, as imports do in a kernel."""

    def __init__(self, aliases: dict[str, str]):
        self.aliases = aliases
        self.found: list[tuple[str, str]] = []

    def dotted(self, node: ast.AST) -> str | None:
        """``o.path.join`` -> ``os.path.join`` through the aliases; None for non-name expressions."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.aliases and node.id not in RULED_BUILTINS:
            return None
        return ".".join([self.aliases.get(node.id, node.id), *reversed(parts)])

    def check_name(self, name: str | None) -> None:
        for rule, (kind, reason) in NAME_RULES.items():
            if name is not None and (fnmatchcase(name, rule) or name.startswith(rule + ".")):
                self.found.append((kind, reason))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
            self.check_name(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            full = f"{node.module}.{alias.name}" if node.module else alias.name
            self.aliases[alias.asname or alias.name] = full
            self.check_name(full)

    def visit_Name(self, node: ast.Name) -> None:
        self.check_name(self.dotted(node))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in ATTRIBUTE_RULES:
            self.found.append(ATTRIBUTE_RULES[node.attr])
        if node.attr == "register" and isinstance(node.value, ast.Attribute) and node.value.attr == "events":
            self.found.append(("tamper", "registers an IPython cell hook (events.register)"))
        dotted = self.dotted(node)
        if dotted is not None:
            self.check_name(dotted)
            if isinstance(node.ctx, (ast.Store, ast.Del)) and self._patchable(dotted):
                self.found.append(("tamper", f"patches {dotted}"))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        shell_method = self._shell_method(node)
        if shell_method in ("system", "getoutput"):
            self.found.append(("sandbox", "runs shell commands (!...)"))
        if shell_method in ("run_line_magic", "run_cell_magic") and node.args and isinstance(node.args[0], ast.Constant) \
                and node.args[0].value in HARMLESS_MAGICS:
            for argument in node.args[1:]:  # %time and friends: only what they run counts
                self.visit(argument)
            return
        function = self.dotted(node.func)
        if function in ("setattr", "delattr") and node.args:
            target = self.dotted(node.args[0])
            if target is not None and self._patchable(target):
                self.found.append(("tamper", f"patches {target} ({function})"))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and OUTSIDE_PATH.search(node.value):
            self.found.append(("sandbox", f"names files outside its folder ({node.value[:60]!r})"))

    @staticmethod
    def _shell_method(node: ast.Call) -> str | None:
        """``system`` for ``get_ipython().system(...)`` (what ``!ls`` becomes), and so on; else None."""
        function = node.func
        if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Call) \
                and isinstance(function.value.func, ast.Name) and function.value.func.id == "get_ipython":
            return function.attr
        return None

    @staticmethod
    def _patchable(dotted: str) -> bool:
        return dotted.split(".")[0] in PATCHABLE and "." in dotted and not dotted.startswith(CONFIGURATION)


def scan(notebook: nbformat.NotebookNode) -> list[Flag]:
    """Flags for the student-controlled code cells of a prepared notebook, in cell order (one per
    distinct reason and cell). Imports of every code cell count, since aliases cross cells."""
    aliases: dict[str, str] = {}
    controlled = set(student_cells(notebook))
    flags = []
    for index, cell in enumerate(notebook.cells):
        tree = _parse(cell.source) if cell.cell_type == "code" else None
        if tree is None:
            continue
        scanner = _Scanner(aliases)
        scanner.visit(tree)
        if index in controlled:
            flags += [Flag(kind, reason, index) for kind, reason in dict.fromkeys(scanner.found)]
    return flags
