"""Read the learner's code for what no exercise needs and what attacks the grader uses.

The guard (:mod:`course.grading.guard`) undoes or defeats the common ways to fool a test; what
it cannot stop is code written against the grader itself, in the same process (``ctypes``,
``gc``, frames, the guard's own objects), hidden behind ``exec`` or ``getattr`` with computed
names. Such code needs these tools, and no exercise of the course does, so this scan flags
them: the gradebook's status says ``suspicious code`` and the detail names the cell and line.
It changes no score; an instructor reads the graded notebook and decides.

Flagged in answer cells and cells the learner added: imports of interpreter and kernel
internals (``builtins``, ``gc``, ``ctypes``, ``inspect``, ``importlib``, ``IPython``, ``ipykernel``,
threads, ``course.grading`` ...); ``eval``, ``exec``, ``compile``, ``__import__``, ``globals``,
``vars``, ``setattr``, ``delattr``, ``getattr`` with a computed name, ``get_ipython``, ``open``,
process creation; introspection attributes (``__code__``, ``__globals__``, ``__dict__``, frames,
``sys.modules``, ``sys.settrace`` ...); assignments to attributes of imported modules and
classes (``np.allclose = ...``); classes overriding comparison or arithmetic methods (objects
that equal anything); rebinding a builtin (``abs = ...``) or a module alias of the lesson
(``np = ...``). IPython's own syntax (``%timeit``, ``!pip list``) is not flagged.
"""

from __future__ import annotations

import ast
import builtins

from .plan import LEARNER_ROLES, ROLE_KEY, bound_names, parse

MODULES = {
    "builtins": "imports builtins", "gc": "imports gc (reaches every object)", "ctypes": "imports ctypes (raw memory)",
    "inspect": "imports inspect (frames)", "importlib": "imports importlib", "IPython": "imports IPython internals",
    "ipykernel": "imports ipykernel", "jupyter_client": "imports jupyter_client", "zmq": "imports zmq",
    "threading": "starts threads", "_thread": "starts threads", "multiprocessing": "starts processes",
    "concurrent": "starts threads or processes", "signal": "handles signals", "atexit": "registers exit handlers",
    "subprocess": "starts processes", "pty": "starts processes", "course.grading": "imports the grader",
    "sys.monitoring": "monitors execution", "types": "imports types", "weakref": "imports weakref", "pickle": "imports pickle",
    "marshal": "imports marshal", "dis": "imports dis",
}
CALLS = {"eval": "calls eval", "exec": "calls exec", "compile": "calls compile", "__import__": "calls __import__",
         "globals": "calls globals()", "vars": "calls vars()", "locals": "calls locals()", "setattr": "calls setattr",
         "delattr": "calls delattr", "get_ipython": "calls get_ipython", "open": "opens a file",
         "breakpoint": "calls breakpoint"}
ATTRIBUTES = {"__code__", "__closure__", "__globals__", "__builtins__", "__dict__", "__subclasses__", "__bases__",
              "__mro__", "__wrapped__", "__defaults__", "__kwdefaults__", "__setattr__", "__delattr__",
              "__getattribute__", "f_globals", "f_locals", "f_back", "f_builtins", "tb_frame", "gi_frame", "cr_frame",
              "ag_frame", "cell_contents", "_getframe", "settrace", "setprofile", "addaudithook", "_current_frames",
              "modules", "meta_path", "path_hooks", "excepthook", "displayhook", "system", "popen", "fork", "forkpty",
              "execv", "execve", "execvp", "spawnv", "spawnl", "posix_spawn", "setsid", "kill", "killpg", "_exit"}
PRETENDING = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__bool__", "__float__",
              "__int__", "__index__", "__abs__", "__sub__", "__rsub__", "__add__", "__radd__", "__array__",
              "__array_ufunc__", "__array_function__", "__instancecheck__", "__class__", "__getattr__",
              "__getattribute__", "__round__", "__len__", "__contains__", "__iter__", "__getitem__"}
BUILTINS = set(dir(builtins))
MAGIC = {"run_line_magic", "run_cell_magic", "system", "getoutput"}


def _root(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.value if not isinstance(node, ast.Call) else node.func
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def findings(source: str, imported: set[str]) -> list[tuple[int, str]]:
    """``(line, what)`` for every flagged construct in one cell; ``imported`` holds the names
    that modules and their classes and functions are bound to (the lesson's and the cell's)."""
    tree = parse(source)
    if tree is None:
        return []
    imported = set(imported) | {n for n in bound_names(source) if _imports_binding(tree, n)}
    out: list[tuple[int, str]] = []
    magics = {id(node.func.value) for node in ast.walk(tree)   # %magic and !command: Jupyter's own syntax
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MAGIC
              and isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Name)
              and node.func.value.func.id == "get_ipython"}

    def add(node, what):
        out.append((getattr(node, "lineno", 0), what))

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom):
                names += [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                for module, what in MODULES.items():
                    if name == module or name.startswith(module + "."):
                        add(node, what)
                        break
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in CALLS and id(node) not in magics:
                add(node, CALLS[func.id])
            if (isinstance(func, ast.Attribute) and func.attr == "run_cell_magic" and id(func.value) in magics
                    and len(node.args) == 3 and isinstance(node.args[2], ast.Constant) and isinstance(node.args[2].value, str)):
                out += [(node.lineno + line, what) for line, what in findings(node.args[2].value, imported)]
            if (isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2
                    and not isinstance(node.args[1], ast.Constant)):
                add(node, "calls getattr with a computed name")
        elif isinstance(node, ast.Attribute) and node.attr in ATTRIBUTES and id(node.value) not in magics:
            add(node, f"uses {_dotted(node) or node.attr}")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__import__", "__loader__", "__spec__"):
            add(node, f"uses {node.id}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for item in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]):
                    if isinstance(item, (ast.Attribute, ast.Subscript)) and _root(item) in imported:
                        add(node, f"changes {_dotted(item.value if isinstance(item, ast.Subscript) else item)}"
                                  " (an imported module or class)")
        elif isinstance(node, ast.ClassDef):
            overridden = sorted(PRETENDING & {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
                                | PRETENDING & {t.id for n in node.body if isinstance(n, ast.Assign)
                                                for t in n.targets if isinstance(t, ast.Name)})
            if overridden:
                add(node, f"defines class {node.name} overriding {', '.join(overridden[:3])}")
    for stmt in tree.body:
        for name in _top_bindings(stmt):
            if name in BUILTINS:
                add(stmt, f"rebinds the builtin {name}")
            elif name in imported and not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                add(stmt, f"rebinds {name} (an imported module or name)")
    return sorted(set(out))


def _imports_binding(tree: ast.Module, name: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == name:
                    return True
    return False


def _top_bindings(stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    names = []
    for target in targets:
        for item in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]):
            if isinstance(item, ast.Name):
                names.append(item.id)
    return names


def lesson_imports(spec) -> set[str]:
    """Names the lesson binds with ``import`` statements (``np``, ``pd``, ``check_close`` ...)."""
    names: set[str] = set()
    for cell in spec.master.cells:
        if cell.cell_type != "code":
            continue
        tree = parse(cell.source)
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {alias.asname or alias.name.split(".")[0] for alias in node.names if alias.name != "*"}
    return names


def scan_notebook(nb, spec, limit: int = 6) -> list[tuple[str, str]]:
    """Notes for the gradebook: ``("suspicious code", "cell 12 line 3: changes np.allclose ...")``."""
    imported = lesson_imports(spec)
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or (cell.metadata.get(ROLE_KEY) or {}).get("role") not in LEARNER_ROLES:
            continue
        for line, what in findings(cell.source, imported):
            found.append(f"cell {i} line {line}: {what}")
    if not found:
        return []
    more = f" (+{len(found) - limit} more)" if len(found) > limit else ""
    return [("suspicious code", "; ".join(found[:limit]) + more)]
