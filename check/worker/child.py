"""The worker process of `check --python`: imports FILE, runs FUNC on the draws it is sent.

Started by `gradscribe.check.worker.runner` as ``python -m gradscribe.check.worker.child FD_IN FD_OUT FILE FUNC
MEMORY_MB NETWORK`` (NETWORK: the parent's `Network`, pickled and base64-encoded). It limits
its own address space, makes FILE's folder importable (as ``python FILE`` would), imports
FILE, locates and builds FUNC through `conventions`, then answers requests on FD_IN with
messages on FD_OUT (see `gradscribe.check.worker.wire`). Its stdout and stderr are pipes the parent drains and
truncates. Whatever FUNC does here, the parent believes only well-formed float64 arrays.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import pickle
import sys
from pathlib import Path

from .. import calling, conventions
from . import wire

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


def load(path_text: str, name: str, net):
    """FUNC from FILE as a `conventions.Adapter`; raises conventions.CallingError with the
    line to report."""
    path = Path(path_text)
    folder = str(path.resolve().parent)
    sys.path[0:1] = [folder]  # like `python FILE`: FILE's folder first, not the cwd
    module_name = "_gradscribe_check_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise conventions.CallingError(f"cannot import '{path_text}'")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except conventions.CallingError:
        raise
    except BaseException as exc:  # noqa: BLE001  # the user's module failing to import is bad input
        raise conventions.CallingError(
            f"importing '{path_text}' failed: {calling.describe_exception(exc)}") from None
    try:
        target = conventions.resolve(module, name, f"'{path_text}'")
        return conventions.Adapter(target, net)
    except conventions.CallingError:
        raise
    except BaseException as exc:  # noqa: BLE001  # building the user's class ran their code
        raise conventions.CallingError(
            f"{name}: cannot be built or called as specified: "
            f"{calling.describe_exception(exc)}") from None


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
        if T.ndim == 0:
            T = T[()]  # one sample's class label, a scalar as `X[i]`-style code has it
        outcome = calling.call_and_collect(adapter, arrays, X, T, batch)
        try:
            sent = {"g:" + k: v for k, v in outcome.grads.items()}
            sent.update(("m:" + k, v) for k, v in outcome.modified.items() if v is not None)
            message = wire.encode({
                "kind": "outcome", "failure": outcome.failure, "raised": outcome.raised,
                "bad": outcome.bad, "notes": outcome.notes, "replaced": outcome.replaced,
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
                   "data_names": list(adapter.data_names),
                   "settings": {calling.safe_text(k, 50): v
                                for k, v in list(adapter.settings.items())[:10]}})
    serve(fd_in, fd_out, adapter)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
