"""The worker process of `check --python`: imports FILE, runs FUNC on the draws it is sent.

Started by `gradscribe.check.worker.runner` as ``python -m gradscribe.check.worker.child FD_IN FD_OUT FILE FUNC
MEMORY_MB NETWORK`` (NETWORK: the parent's `Network`, pickled and base64-encoded). It limits
its own address space, makes FILE's folder importable (as ``python FILE`` would), and the
top of FILE's package and the current directory, imports FILE (as a module of its package),
locates and builds FUNC through `conventions`, then answers requests on FD_IN with
messages on FD_OUT (see `gradscribe.check.worker.wire`). Its stdout and stderr are pipes the parent drains and
truncates. Whatever FUNC does here, the parent believes only well-formed float64 arrays.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import os
import pickle
import re
import sys
from pathlib import Path

from .. import calling, conventions
from ..messages import Text
from . import wire

#: the dropout masks the parent sends with a draw (M1, M2, ...: no parameter is named so)
MASK_KEY = re.compile(r"M[0-9]+")

#: Largest request the worker reads (the parent's draws are bounded far below this).
MAX_REQUEST = 1 << 31


def limit_memory(megabytes: int) -> None:
    """Cap the address space at what is mapped now plus `megabytes` (where the OS allows)."""
    try:
        import resource
    except ImportError:  # not on this OS: the timeout still bounds the run
        return
    mapped = 0
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    mapped = int(line.split()[1]) * 1024
    except OSError:
        pass
    limit = mapped + megabytes * 1024 * 1024
    for which, value in ((resource.RLIMIT_AS, limit), (resource.RLIMIT_CORE, 0)):
        try:
            _soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, hard))
        except (ValueError, OSError):
            pass


def _read_exact(fd: int, count: int) -> bytes | None:
    chunks, left = [], count
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _send(fd: int, header: dict, arrays: dict | None = None) -> None:
    _write(fd, wire.encode(header, arrays or {}))


def _write(fd: int, message: bytes) -> None:
    data = memoryview(message)
    while data:
        data = data[os.write(fd, data):]


def package_of(path: Path) -> tuple[Path, str | None]:
    """(the folder FILE's package is imported from, FILE's dotted module name) for a FILE in a
    package (folders with ``__init__.py``): the top is the first folder upward without one.
    (FILE's folder, None) for a FILE outside any package."""
    folder, parts = path.parent, [path.stem]
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) == 1 or not all(p.isidentifier() for p in parts):
        return path.parent, None
    return folder, ".".join(parts)


def _import_path(path: Path) -> list[str]:
    """sys.path's head for FILE: its folder (as ``python FILE`` has it), its package's top,
    the current directory (as the user's project runs from it)."""
    top, _ = package_of(path)
    out = []
    for entry in (str(path.parent), str(top), os.getcwd()):
        if entry not in out:
            out.append(entry)
    return out


#: Python 2 spellings a Python 3 import fails on: (exception class name, test, what it is)
_PY2_NAMES = frozenset(("xrange", "raw_input", "unicode", "basestring", "unichr", "long",
                        "execfile", "cmp", "reduce", "file"))
_PY2_MODULES = frozenset(("cPickle", "urllib2", "Queue", "ConfigParser", "StringIO", "cStringIO",
                          "Tkinter", "__builtin__", "commands", "httplib", "urlparse"))


def python2_sign(exc: BaseException) -> str | None:
    """What says the failing import is Python 2 code (``print without parentheses, line 3``),
    or None."""
    if isinstance(exc, SyntaxError):
        msg, text = str(exc.msg or ""), str(exc.text or "")
        line = f", line {exc.lineno}" if exc.lineno else ""
        if "Missing parentheses in call to 'print'" in msg or re.match(r"\s*print\s+[\"'\w]", text):
            return f"print without parentheses{line}"
        if "Missing parentheses in call to 'exec'" in msg:
            return f"exec without parentheses{line}"
        if "multiple exception types must be parenthesized" in msg or re.search(
                r"\bexcept\s+[\w.]+\s*,\s*\w+\s*:", text):
            return f"'except Error, name:'{line}"
        if re.search(r"\braise\s+\w+\s*,", text):
            return f"'raise Error, message'{line}"
        if "<>" in text:
            return f"the operator <>{line}"
        if "leading zeros in decimal integer literals" in msg:
            return f"an octal literal like 0777{line}"
        return None
    if type(exc) is NameError and getattr(exc, "name", None) in _PY2_NAMES:
        return f"the Python 2 name '{exc.name}'"
    if isinstance(exc, ImportError) and getattr(exc, "name", None) in _PY2_MODULES:
        return f"the Python 2 module '{exc.name}'"
    return None


def import_failure(path_text: str, exc: BaseException) -> str:
    """The one line for FILE failing to import: Python 2 code, a data file read at import
    time, or the exception."""
    sign = python2_sign(exc)
    if sign is not None:
        return (f"'{path_text}' is Python 2 code ({sign}): gradscribe checks Python 3 code; "
                f"port it to Python 3 first")
    if isinstance(exc, OSError) and not isinstance(exc, (BlockingIOError, ConnectionError)):
        missing = getattr(exc, "filename", None)
        if not missing:  # NumPy's loaders say "NAME not found."
            text = calling.safe_text(exc, 200)
            missing = re.sub(r" not found\.?$", "", text)
        return (f"importing '{path_text}' failed: it opens '{missing}' when imported "
                f"({calling.type_name(exc)}, running from {os.getcwd()}); put the code that "
                f"loads data under `if __name__ == \"__main__\":` so that importing the file "
                f"only defines the function")
    return f"importing '{path_text}' failed: {calling.describe_exception(exc)}"


def load(path_text: str, name: str, net):
    """FUNC from FILE as a `conventions.Adapter`; raises conventions.CallingError with the
    line to report.

    FILE is imported as a module of its package where it is in one (relative imports work),
    with its folder, its package's top and the current directory importable.
    """
    path = Path(path_text).resolve()
    sys.path[0:1] = _import_path(path)
    top, dotted = package_of(path)
    if dotted is not None:
        loaded = sys.modules.get(dotted.split(".")[0])
        if loaded is not None and not str(getattr(loaded, "__file__", "") or "").startswith(
                str(top / dotted.split(".")[0])):
            dotted = None  # the name is taken by a module already loaded: import FILE alone
    module_name = "_gradscribe_check_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    try:
        if dotted is not None:
            module = importlib.import_module(dotted)
        else:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise conventions.CallingError(f"cannot import '{path_text}'")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
    except conventions.CallingError:
        raise
    except BaseException as exc:  # noqa: BLE001  # the user's module failing to import is bad input
        raise conventions.CallingError(import_failure(path_text, exc)) from None
    try:
        target = conventions.resolve(module, name, f"'{path_text}'")
        return conventions.Adapter(target, net)
    except conventions.CallingError:
        raise
    except BaseException as exc:  # noqa: BLE001  # building the user's class ran their code
        raise conventions.CallingError(
            f"{name}: cannot be built or called as specified: "
            f"{calling.describe_exception(exc)}") from None


def _wire(text):
    """A catalogue sentence as it crosses to the parent (which checks it renders the English
    it came with), or None."""
    return text.to_wire() if isinstance(text, Text) else None


def serve(fd_in: int, fd_out: int, adapter) -> None:
    """Answer call requests until the parent says stop or closes the pipe."""
    while True:
        prefix = _read_exact(fd_in, 8)
        if prefix is None:
            return
        payload = _read_exact(fd_in, wire.frame_length(prefix, MAX_REQUEST))
        if payload is None:
            return
        header, arrays = wire.decode(payload, allow_int=True)
        if header.get("kind") != "call":
            return
        batch = int(header["batch"])
        X, T = arrays.pop("X"), arrays.pop("T")
        adapter.given_masks = {k: arrays.pop(k) for k in [k for k in arrays if MASK_KEY.fullmatch(k)]}
        if T.ndim == 0:
            T = T[()]  # one sample's class label, a scalar as `X[i]`-style code has it
        outcome = calling.call_and_collect(adapter, arrays, X, T, batch)
        try:
            sent = {"g:" + k: v for k, v in outcome.grads.items()}
            sent.update(("m:" + k, v) for k, v in outcome.modified.items() if v is not None)
            sent.update(("k:" + k, v) for k, v in outcome.masks.items())
            message = wire.encode({
                "kind": "outcome", "failure": outcome.failure, "raised": outcome.raised,
                "bad": outcome.bad, "notes": outcome.notes, "replaced": outcome.replaced,
                "texts": [_wire(n) for n in outcome.notes], "failure_text": _wire(outcome.failure),
                "reshaped": [k for k, v in outcome.modified.items() if v is None],
                "aliases": outcome.aliases, "dtypes": outcome.dtypes,
            }, sent)
        except BaseException as exc:  # noqa: BLE001  # e.g. MemoryError on huge returned arrays
            message = wire.encode({
                "kind": "outcome", "raised": False, "bad": {}, "notes": [], "replaced": [],
                "reshaped": [], "aliases": {},
                "failure": (f"what {adapter.label} returned could not be sent back: "
                            f"{calling.describe_exception(exc)}"),
            }, {})
        _write(fd_out, message)


def main(argv: list[str]) -> int:
    fd_in, fd_out, path_text, name, megabytes = int(argv[0]), int(argv[1]), argv[2], argv[3], int(argv[4])
    net = pickle.loads(base64.b64decode(argv[5]))  # the parent's own Network, not user data
    return run(fd_in, fd_out, path_text, name, megabytes, net)


def run(fd_in: int, fd_out: int, path_text: str, name: str, megabytes: int, net) -> int:
    """The worker's life: limits, FILE, FUNC, then requests until the parent stops."""
    _send(fd_out, {"kind": "started"})  # the checker's own start-up is not FUNC's time
    limit_memory(megabytes)
    try:
        adapter = load(path_text, name, net)
    except conventions.CallingError as exc:
        _send(fd_out, {"kind": "load-error", "message": calling.safe_text(exc, 500)})
        return 0
    _send(fd_out, {"kind": "ready", "name": adapter.label,
                   "notes": [calling.safe_text(n, 500) for n in adapter.notes],
                   "texts": [_wire(n) for n in adapter.notes],
                   "data_names": list(adapter.data_names),
                   "takes_masks": bool(adapter.takes_masks),
                   "settings": {calling.safe_text(k, 50): v
                                for k, v in list(adapter.settings.items())[:10]}})
    serve(fd_in, fd_out, adapter)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
