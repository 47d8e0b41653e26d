r"""The grading kernel's guard: the lesson's cells and its tests run against pristine state.

Loaded by :mod:`course.grading.kernel` before the kernel runs any cell (``--plan FILE``). The
grader (:mod:`course.grading.runner`) then sends, for every cell that comes from the master
(lesson cells, self-checks, hidden tests), not the cell's code but a call to :func:`run` with the
cell's index; the guard runs the master's code for that index. Cells that are the learner's
(answer cells and cells they added) run as usual, in IPython's namespace.

What a master cell sees
    * **builtins**: a private copy of the builtins taken when the kernel started, so
      ``abs = ...`` in the learner's namespace and ``builtins.abs = ...`` both stay invisible;
    * **modules**: every module of the protected packages (:data:`PROTECTED`: NumPy, pandas,
      SciPy, scikit-learn, Surprise, ``math``, ``course``, ``course_lib`` ...) is snapshotted when
      the kernel starts (the lesson's own imports are loaded then), and whatever learner code
      changed is undone before the next master cell: module attributes (``np.allclose = ...``),
      ``sys.modules`` entries, class attributes (``pd.Index.equals = ...``), and the code,
      defaults and closures of their functions (``check_close.__code__ = ...``);
    * **names**: the master cells share one namespace of their own. From the learner's namespace
      they see only the *answer names*, the names the master's answer cells define
      (``count_ratings``, ``best_k`` ...); a rebound ``np``, ``R`` or ``ratings`` stays the
      learner's affair. What a master cell binds is copied into the learner's namespace, so the
      learner's code sees the lesson's variables as usual;
    * **IPython**: custom exception handlers, event callbacks, input and AST transformers and
      patched methods of the shell and kernel added by learner code are removed.

Self-checks and hidden tests (graded cells) get three more protections. The answer functions
are called through a wrapper that refuses results whose class was defined by learner code and
overrides comparisons, arithmetic or conversions (an object that "equals" everything). After
the test, any change to the protected state or to the lesson's namespace made while it ran
(by the learner's function, which the test calls) fails the test. And a test passes only if
the guard itself reports it passed: a display message with the run's token
(:data:`MIME`), which the grader removes from the graded notebook. A cell that does not run
to the end, for whatever reason, earns nothing.

Not protected: the *contents* of the lesson's objects (a DataFrame or a fitted model changed in
place by learner code), packages outside :data:`PROTECTED` (PyTorch, TensorFlow, Matplotlib),
and code written against the guard itself (it runs in the same process as the learner's code:
``ctypes``, ``gc`` or frame introspection can reach anything). :mod:`course.grading.scan` flags
such code in the gradebook for a human to read; the grading kernel is not a sandbox.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import json
import linecache
import operator
import os
import sys
import threading
import types
from functools import wraps as _wraps

#: Top-level packages whose modules, classes and functions are snapshotted and restored.
PROTECTED = ("builtins", "math", "cmath", "operator", "statistics", "numbers", "fractions", "decimal",
             "numpy", "pandas", "scipy", "sklearn", "surprise", "course", "course_lib")
#: Packages whose classes may appear in answers (besides :data:`PROTECTED`).
TRUSTED = PROTECTED + ("collections", "datetime", "torch", "tensorflow", "keras")
#: The MIME type of the guard's reports (removed from the graded notebook by the grader).
MIME = "application/x.course-grading+json"
#: Builtins the kernel itself changes while it runs (IPython's builtin trap, ipykernel's input).
KERNEL_BUILTINS = frozenset({"get_ipython", "exit", "quit", "input", "raw_input", "_", "__", "___", "display",
                             "__IPYTHON__"})
#: Methods that let an object pretend to be another value.
PRETENDING = frozenset({
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__bool__", "__len__",
    "__float__", "__int__", "__index__", "__complex__", "__abs__", "__neg__", "__pos__", "__round__",
    "__trunc__", "__floor__", "__ceil__", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__",
    "__rmul__", "__truediv__", "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__",
    "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__and__", "__rand__", "__or__", "__ror__",
    "__xor__", "__rxor__", "__contains__", "__iter__", "__getitem__", "__getattr__", "__getattribute__",
    "__class__", "__array__", "__array_ufunc__", "__array_function__", "__array_interface__",
    "__array_priority__", "__instancecheck__", "__subclasscheck__", "__format__"})
_HEAPTYPE = 1 << 9
_MISSING = object()
_exec, _compile, _isinstance, _type, _id, _len = exec, compile, isinstance, type, id, len


class TamperingError(RuntimeError):
    """Learner code changed protected state while a test ran: the test does not count."""

    def _render_traceback_(self) -> list[str]:
        return [f"TamperingError: {self}"]


class AnswerTypeError(TypeError):
    """An answer returned an object that overrides comparisons or arithmetic."""

    def _render_traceback_(self) -> list[str]:
        return [f"AnswerTypeError: {self}"]


def _protected(name, prefixes) -> bool:
    return _isinstance(name, str) and name.partition(".")[0] in prefixes


#: What the audit hook saw: ids of functions whose ``__code__``/``__defaults__``/``__kwdefaults__``
#: were assigned (CPython audits these), and high-signal events while a graded cell ran.
_PATCHED: set[int] = set()
_EVENTS: list[str] = []
_WATCHING = [False]
#: Audit events that no test needs and that reach into the interpreter (frames of other code,
#: every object in memory, raw memory): recorded while a graded cell runs, then fail the test.
SUSPICIOUS_EVENTS = frozenset({"sys.settrace", "sys.setprofile", "sys._current_frames", "gc.get_objects",
                               "gc.get_referrers", "gc.get_referents", "ctypes.addressof", "ctypes.cdata",
                               "ctypes.string_at", "ctypes.wstring_at", "ctypes.dlsym", "ctypes.call_function"})


def _audit(event: str, args: tuple) -> None:
    if event == "object.__setattr__":
        target = args[0]
        if _type(target) is types.FunctionType:
            _PATCHED.add(_id(target))
            if _WATCHING[0]:
                _EVENTS.append(f"{getattr(target, '__qualname__', '?')}.{args[1]}")
    elif _WATCHING[0] and event in SUSPICIOUS_EVENTS:
        _EVENTS.append(event)


class _Dict:
    """A dict (a module's or a class's) and a copy, with a fast unchanged test."""

    __slots__ = ("owner", "live", "snap", "keys", "values")

    def __init__(self, owner, live):
        self.owner, self.live = owner, live
        self.refresh()

    def refresh(self) -> None:
        self.snap = dict(self.live)
        self.keys, self.values = tuple(self.snap), tuple(self.snap.values())

    def unchanged(self) -> bool:
        live = self.live
        return (_len(live) == _len(self.keys) and tuple(live) == self.keys
                and all(map(operator.is_, live.values(), self.values)))

    def differences(self) -> tuple[list, list, list]:
        live, snap = self.live, self.snap
        new, changed = [], []
        for key, value in live.items():
            old = snap.get(key, _MISSING)
            if old is not value:
                (new if old is _MISSING else changed).append(key)
        deleted = [k for k in snap if k not in live] if _len(live) - _len(new) != _len(snap) else []
        return new, changed, deleted


class Snapshot:
    """Modules, classes and functions of the protected packages, and how to put them back.

    Module and class dictionaries are compared entry by entry (identity, about 15 ms for NumPy,
    pandas, SciPy and the course); functions whose code or defaults were reassigned are known
    from CPython's audit events, and closures are compared cell by cell.
    """

    def __init__(self, prefixes=PROTECTED):
        self.prefixes = tuple(prefixes)
        self.modules: dict[str, _Dict] = {}
        self.classes: dict[int, _Dict] = {}
        self.functions: dict[int, tuple] = {}
        self.closures: list[tuple] = []       # (function, cell, contents)
        self.kwdefaults: list[tuple] = []     # (function, dict, copy)
        self.adopt_new_modules()

    # -- discovery
    def adopt_new_modules(self) -> list[str]:
        new = []
        for name, module in list(sys.modules.items()):
            if (name not in self.modules and _isinstance(module, types.ModuleType) and _protected(name, self.prefixes)
                    and name != __name__):   # the guard's own state changes as it works
                self.modules[name] = entry = _Dict(module, module.__dict__)
                for value in entry.values:
                    self._track(value)
                new.append(name)
        return new

    def _track(self, value, depth: int = 0) -> None:
        if depth > 4:
            return
        if _isinstance(value, type):
            if _id(value) in self.classes or not (value.__flags__ & _HEAPTYPE):
                return
            if not _protected(value.__dict__.get("__module__"), self.prefixes):
                return
            self.classes[_id(value)] = entry = _Dict(value, value.__dict__)
            for item in entry.values:
                self._track(item, depth + 1)
        elif _isinstance(value, types.FunctionType):
            if _id(value) in self.functions or not _protected(value.__module__, self.prefixes):
                return
            kw = value.__kwdefaults__
            self.functions[_id(value)] = (value, value.__code__, value.__defaults__, kw)
            if kw:
                self.kwdefaults.append((value, kw, dict(kw)))
            for cell in value.__closure__ or ():
                try:
                    self.closures.append((value, cell, cell.cell_contents))
                except ValueError:
                    self.closures.append((value, cell, _MISSING))
            wrapped = value.__dict__.get("__wrapped__")
            if wrapped is not None:
                self._track(wrapped, depth + 1)
        elif _isinstance(value, (staticmethod, classmethod)):
            self._track(value.__func__, depth + 1)
        elif _isinstance(value, property):
            for part in (value.fget, value.fset, value.fdel):
                if part is not None:
                    self._track(part, depth + 1)
        elif callable(value) and not _isinstance(value, types.ModuleType):
            try:  # NumPy's array-function dispatchers keep the Python implementation here
                wrapped = object.__getattribute__(value, "__dict__").get("__wrapped__")
            except Exception:  # noqa: BLE001 - no instance dict
                wrapped = None
            if wrapped is not None:
                self._track(wrapped, depth + 1)

    # -- comparison
    def diff(self, revert: bool, ignore_builtins=KERNEL_BUILTINS) -> list[str]:
        """Compare the live state with the snapshot; ``revert`` puts the snapshot back, else the
        snapshot adopts the live state. Returns what differed (``"numpy.allclose"`` ...)."""
        changes: list[str] = []
        for name, entry in list(self.modules.items()):
            live = sys.modules.get(name, _MISSING)
            if live is entry.owner:
                continue
            if revert:
                changes.append(f"sys.modules[{name!r}]")
                sys.modules[name] = entry.owner
            else:
                del self.modules[name]
        for name, entry in list(self.modules.items()):
            if entry.unchanged():
                continue
            new, changed, deleted = entry.differences()
            live, snap = entry.live, entry.snap
            if name == "builtins":
                new, changed, deleted = ([k for k in keys if k not in ignore_builtins] for keys in (new, changed, deleted))
            for key in changed + deleted:
                if revert:
                    live[key] = snap[key]
                    changes.append(f"{name}.{key}")
            for key in new:
                value = live[key]
                if revert and not _isinstance(value, types.ModuleType):
                    del live[key]   # a submodule's import binds it in its package: that one stays
                    changes.append(f"{name}.{key}")
                else:
                    self._track(value)
            if not revert:
                for key in changed:
                    self._track(live[key])
            entry.refresh()
        for entry in list(self.classes.values()):
            if entry.unchanged():
                continue
            new, changed, deleted = entry.differences()
            cls = entry.owner
            for key in new + changed + deleted:
                if not revert:
                    if key in entry.live:
                        self._track(entry.live[key])
                    continue
                try:
                    if key in new:
                        type.__delattr__(cls, key)
                    else:
                        type.__setattr__(cls, key, entry.snap[key])
                    changes.append(f"{cls.__module__}.{cls.__qualname__}.{key}")
                except (TypeError, AttributeError):
                    pass
            entry.refresh()
        patched = [self.functions[i] for i in list(_PATCHED) if i in self.functions]
        _PATCHED.clear()
        for func, code, defaults, kw in patched:
            if func.__code__ is code and func.__defaults__ is defaults and func.__kwdefaults__ is kw:
                continue
            if revert:
                func.__code__, func.__defaults__, func.__kwdefaults__ = code, defaults, kw
                changes.append(f"{func.__module__}.{func.__qualname__}.__code__")
            else:
                self.functions[_id(func)] = (func, func.__code__, func.__defaults__, func.__kwdefaults__)
        for k, (func, kw, items) in enumerate(self.kwdefaults):
            if _len(kw) != _len(items) or any(kw.get(key, _MISSING) is not v for key, v in items.items()):
                if revert:
                    kw.clear()
                    kw.update(items)
                    changes.append(f"{func.__module__}.{func.__qualname__}.__kwdefaults__")
                else:
                    self.kwdefaults[k] = (func, kw, dict(kw))
        for k, (func, cell, value) in enumerate(self.closures):
            try:
                live = cell.cell_contents
            except ValueError:
                live = _MISSING
            if live is value:
                continue
            if revert:
                if value is _MISSING:
                    del cell.cell_contents
                else:
                    cell.cell_contents = value
                changes.append(f"{func.__module__}.{func.__qualname__}.__closure__")
            else:
                self.closures[k] = (func, cell, live)
        self.adopt_new_modules()
        return changes


def _listing(changes: list[str], limit: int = 16) -> str:
    """What changed, the most telling first (``sys.modules``, builtins), at most ``limit`` names."""
    order = sorted(set(changes), key=lambda c: (not c.startswith("sys.modules"), not c.startswith("builtins."), c))
    more = f" (+{len(order) - limit} more)" if len(order) > limit else ""
    return ", ".join(order[:limit]) + more


def _revert_dict(live: dict, snap: dict, label: str, skip=()) -> list[str]:
    """Put back in ``live`` every entry that is not ``snap``'s (by identity; added ones deleted), except
    the keys in ``skip``; the changes, each named ``label.format(key)``."""
    changes = []
    for key in set(live) | set(snap):
        if key in skip:
            continue
        old, value = snap.get(key, _MISSING), live.get(key, _MISSING)
        if old is value:
            continue
        changes.append(label.format(key))
        if old is _MISSING:
            del live[key]
        else:
            live[key] = old
    return changes


def _trusted_module(name) -> bool:
    return _isinstance(name, str) and name.partition(".")[0] in TRUSTED


class IPythonState:
    """The shell's and the kernel's hooks as they were when the kernel started."""

    SYS = ("stdout", "stderr", "stdin", "breakpointhook", "unraisablehook")
    SHELL_LISTS = ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")

    def __init__(self, shell, kernel):
        self.shell, self.kernel = shell, kernel
        self.checkpoint()

    def checkpoint(self) -> None:
        """Adopt the current hooks (the lesson's own imports may add import hooks or callbacks)."""
        shell, kernel = self.shell, self.kernel
        self.sys = {name: getattr(sys, name) for name in self.SYS}
        self.meta_path, self.path_hooks = list(sys.meta_path), list(sys.path_hooks)
        self.lists = {name: list(getattr(shell, name, [])) for name in self.SHELL_LISTS}
        self.custom = (shell.custom_exceptions, shell.CustomTB)
        self.events = {ev: list(cbs) for ev, cbs in shell.events.callbacks.items()}
        self.objects = [(obj, set(vars(obj)), names) for obj, names in (
            (shell, None),
            (kernel, ("do_execute", "execute_request", "send_response", "dispatch_shell", "finish_metadata",
                      "init_metadata")),
            (shell.displayhook, ("start_displayhook", "write_output_prompt", "compute_format_data",
                                 "write_format_data", "update_user_ns", "fill_exec_result", "finish_displayhook")),
            (shell.display_pub, ("publish", "clear_output"))) if obj is not None]
        self.attrs = {name: getattr(shell, name) for name in ("displayhook", "display_pub", "display_trap",
                                                                "builtin_trap", "compile")}
        self.handlers = [(d, dict(d)) for d in (getattr(kernel, "shell_handlers", None),
                                                 getattr(kernel, "control_handlers", None)) if _isinstance(d, dict)]

    def revert(self) -> list[str]:
        shell, changes = self.shell, []
        for name, value in self.sys.items():
            if getattr(sys, name) is not value:
                setattr(sys, name, value)
                changes.append(f"sys.{name}")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            sys.settrace(None)
            sys.setprofile(None)
            changes.append("sys.settrace")
        if threading._trace_hook is not None or threading._profile_hook is not None:  # type: ignore[attr-defined]
            threading.settrace(None)  # type: ignore[arg-type]
            threading.setprofile(None)  # type: ignore[arg-type]
            changes.append("threading.settrace")
        if sys.meta_path != self.meta_path:
            sys.meta_path[:] = self.meta_path
            changes.append("sys.meta_path")
        if sys.path_hooks != self.path_hooks:
            sys.path_hooks[:] = self.path_hooks
            changes.append("sys.path_hooks")
        for name, value in self.lists.items():
            live = getattr(shell, name, None)
            if live is None or list(live) != value or _len(live) != _len(value):
                setattr(shell, name, list(value))
                changes.append(f"shell.{name}")
        if (shell.custom_exceptions, shell.CustomTB) != self.custom:
            shell.custom_exceptions, shell.CustomTB = self.custom
            changes.append("shell.set_custom_exc")
        for event, callbacks in shell.events.callbacks.items():
            kept = list(self.events.get(event, []))
            for cb in callbacks:
                if cb not in kept and _trusted_callback(cb):
                    kept.append(cb)  # e.g. matplotlib-inline's flush_figures, registered on first use
            if kept != callbacks:
                changes.append(f"shell.events[{event!r}]")
                callbacks[:] = kept
        for obj, keys, names in self.objects:
            for key in [k for k in vars(obj) if k not in keys and (names is None or k in names)]:
                if callable(vars(obj)[key]) and hasattr(type(obj), key):
                    delattr(obj, key)
                    changes.append(f"{type(obj).__name__}.{key}")
        for name, value in self.attrs.items():
            if getattr(shell, name) is not value:
                setattr(shell, name, value)
                changes.append(f"shell.{name}")
        for live, snap in self.handlers:
            if live != snap:
                live.clear()
                live.update(snap)
                changes.append("kernel handlers")
        return changes


def _trusted_callback(cb) -> bool:
    func = getattr(cb, "__func__", cb)
    return _trusted_module(getattr(func, "__module__", None)) or (getattr(func, "__module__", "") or "").startswith(
        ("IPython", "ipykernel", "matplotlib", "matplotlib_inline", "ipywidgets", "course.grading"))


def pretending(obj, budget: list | None = None) -> str | None:
    """Why ``obj`` could pass for another value (a class of learner code overriding comparisons,
    arithmetic or conversions), or ``None``. Containers are searched, up to 10,000 elements."""
    budget = budget if budget is not None else [10_000]
    if budget[0] <= 0:
        return None
    budget[0] -= 1
    kind = _type(obj)
    if kind in (int, float, bool, str, bytes, complex, type(None)):
        return None
    for klass in kind.__mro__:
        if klass is object or not (klass.__flags__ & _HEAPTYPE):
            continue   # types written in C cannot come from the notebook
        module, qualname = getattr(klass, "__module__", None), klass.__qualname__
        home = sys.modules.get(module) if _trusted_module(module) else None
        found = home
        for part in qualname.split("."):
            found = getattr(found, part, None) if found is not None else None
        if found is klass:
            continue
        overridden = sorted(PRETENDING & set(klass.__dict__))
        if overridden:
            return f"an object of class {qualname} (defined in the notebook) that overrides {', '.join(overridden[:4])}"
    if _isinstance(obj, (list, tuple, set, frozenset)):
        for item in obj:
            why = pretending(item, budget)
            if why:
                return why
    elif _isinstance(obj, dict):
        for key, item in obj.items():
            why = pretending(key, budget) or pretending(item, budget)
            if why:
                return why
    else:
        dtype = getattr(obj, "dtype", None)
        if getattr(dtype, "kind", None) == "O":
            values = obj.to_numpy().ravel() if hasattr(obj, "to_numpy") else getattr(obj, "flat", ())
            for item in values:
                why = pretending(item, budget)
                if why or budget[0] <= 0:
                    return why
        elif _type(obj).__name__ == "DataFrame" and hasattr(obj, "dtypes"):
            for column in [c for c, d in obj.dtypes.items() if getattr(d, "kind", None) == "O"]:
                why = pretending(obj[column], budget)
                if why:
                    return why
    return None


def _checked(name: str, func):
    """``func`` whose results are checked by :func:`pretending`."""

    @_wraps(func)
    def checked(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame in tracebacks
        result = func(*args, **kwargs)
        why = pretending(result)
        if why:
            raise AnswerTypeError(f"{name}(...) returned {why}; return plain numbers, lists, arrays or DataFrames")
        return result

    return checked


class Guard:
    """One per grading kernel: the plan, the snapshots and the lesson's namespace."""

    def __init__(self, plan: dict, shell, kernel):
        self.token = plan["token"]
        self.cells = {int(k): v for k, v in plan["cells"].items()}
        self.answers = list(plan["answers"])
        for module in plan.get("imports", []):
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - the lesson will report its own import errors
                pass
        self.state = Snapshot(plan.get("protect", PROTECTED))
        self.shell, self.kernel = shell, kernel
        self.builtins = dict(builtins.__dict__)
        self.builtins["get_ipython"] = shell.get_ipython
        self.builtins_snap = dict(self.builtins)
        self.ns: dict = {"__name__": "__main__", "__builtins__": self.builtins, "__doc__": None}
        self.ns_snap = dict(self.ns)
        self.ipython = IPythonState(shell, kernel)
        from IPython.core.inputtransformer2 import TransformerManager
        from IPython.display import publish_display_data

        self._transform = TransformerManager().transform_cell
        self._publish = publish_display_data

    # -- helpers
    def _purge_learner_imports(self) -> None:
        """``course``/``course_lib`` modules first imported by learner code (since the last master
        cell) are dropped, so that the lesson imports them afresh: learner code could have patched
        them before the snapshot saw them. Other packages' modules are adopted as they are."""
        for name, module in list(sys.modules.items()):
            if (name in self.state.modules or name == __name__ or name.partition(".")[0] not in ("course", "course_lib")
                    or not _isinstance(module, types.ModuleType)):
                continue
            if str(getattr(module, "__file__", "") or "").endswith(".py"):
                del sys.modules[name]
                parent, _, child = name.rpartition(".")
                if parent in sys.modules and sys.modules[parent].__dict__.get(child) is module:
                    del sys.modules[parent].__dict__[child]

    def _revert_namespace(self) -> list[str]:
        return (_revert_dict(self.builtins, self.builtins_snap, "lesson builtins.{}")
                + _revert_dict(self.ns, self.ns_snap, "lesson variable {}", skip=self.answers))

    def _execute(self, index: int, source: str, label: str) -> None:
        __tracebackhide__ = True  # noqa: F841
        filename = f"<{label}>"
        linecache.cache[filename] = (_len(source), None, source.splitlines(True), filename)
        tree = ast.parse(self._transform(source), filename)
        last = tree.body[-1] if tree.body and _isinstance(tree.body[-1], ast.Expr) else None
        if last is not None and not source.rstrip().endswith(";"):
            body = ast.Module(tree.body[:-1], type_ignores=[])
            _exec(_compile(body, filename, "exec"), self.ns)
            _exec(_compile(ast.Interactive([last]), filename, "single"), self.ns)
        else:
            _exec(_compile(tree, filename, "exec"), self.ns)

    def _report(self, index: int, passed: bool, notes: list[str]) -> None:
        if passed or notes:
            self._publish({MIME: {"token": self.token, "cell": index, "passed": passed, "notes": notes[:20]}})

    # -- the entry point
    def run(self, index: int, dirty: bool, checkpoint: bool) -> None:
        __tracebackhide__ = True  # noqa: F841
        info = self.cells[index]
        graded = info["kind"] in ("check", "hidden")
        watch = graded or info.get("reads_answers", False)
        notes: list[str] = []
        if dirty:
            self._purge_learner_imports()
            notes += self.state.diff(revert=True) + self.ipython.revert() + self._revert_namespace()
            if notes:
                notes = ["undone before this cell: " + _listing(notes)]
        elif watch:
            self.state.diff(revert=False)   # the lesson's own changes since the last checkpoint
            self.ipython.checkpoint()
        user_ns = self.shell.user_ns
        injected, problem = {}, None
        for name in self.answers:
            if name not in user_ns:
                self.ns.pop(name, None)
                continue
            value = user_ns[name]
            if graded:
                if callable(value) and not _isinstance(value, type):
                    value = _checked(name, value)
                elif problem is None:
                    why = pretending(value)
                    problem = f"{name} is {why}" if why else None
            injected[name] = self.ns[name] = value
        before = dict(self.ns)
        raised = None
        _EVENTS.clear()
        _WATCHING[0] = graded
        try:
            if problem:
                raise AnswerTypeError(problem + "; use plain numbers, lists, arrays or DataFrames")
            self._execute(index, info["source"], info.get("grade_id") or f"lesson cell {index}")
        except BaseException as exc:
            raised = exc
        finally:
            _WATCHING[0] = False
        tampered: list[str] = list(dict.fromkeys(_EVENTS))
        _EVENTS.clear()
        if watch:
            tampered += self.state.diff(revert=True) + self.ipython.revert()
            tampered += _revert_dict(self.builtins, self.builtins_snap, "lesson builtins.{}")
            binds = set(info.get("binds", ())) | {"__builtins__"}
            tampered += _revert_dict(self.ns, before, "lesson variable {}", skip=binds)
        for name, value in injected.items():
            if self.ns.get(name, _MISSING) is value:
                del self.ns[name]
        for key, value in list(self.ns.items()):
            if key != "__builtins__" and before.get(key, _MISSING) is not value:
                user_ns[key] = value
        for key in [k for k in before if k not in self.ns and k not in injected]:
            if user_ns.get(key, _MISSING) is before[key]:
                del user_ns[key]
        self.ns_snap = dict(self.ns)
        if checkpoint and not watch:
            self.state.diff(revert=False)
            self.ipython.checkpoint()
        if tampered:
            what = _listing(tampered)
            notes.append(("changed while the test ran (the test does not count): " if graded else
                          "changed by the learner's code while this cell ran, undone: ") + what)
        passed = graded and raised is None and not tampered
        self._report(index, passed, notes)
        if raised is not None:
            raise raised
        if graded and tampered:
            raise TamperingError("your code changed " + _listing(tampered, 6) +
                                 " while the test ran; tests use the original libraries, so this test does not count")


_GUARD: Guard | None = None


def install(plan_file: str, shell, kernel) -> Guard:
    """Read (and delete) the plan written by the grader and snapshot the kernel's state."""
    global _GUARD
    with open(plan_file, encoding="utf-8") as handle:
        plan = json.load(handle)
    try:
        os.unlink(plan_file)
    except OSError:
        pass
    _GUARD = Guard(plan, shell, kernel)
    sys.addaudithook(_audit)
    return _GUARD


def run(index: int, dirty: bool = False, checkpoint: bool = False) -> None:
    """Run the master's cell ``index`` (called by the code the grader sends for master cells)."""
    __tracebackhide__ = True  # noqa: F841
    if _GUARD is None:
        raise RuntimeError("the grading guard is not installed in this kernel")
    _GUARD.run(index, dirty, checkpoint)
