"""The worker process of `check layer:... --python`: imports FILE, runs one layer's forward and
backward on the draws it is sent.

Started like `child` (forked by `runner`, or ``python -m gradscribe.check.worker.layer_child
FD_IN FD_OUT FILE NAME MEMORY_MB JOB``, JOB a pickled `layer_calling.LayerJob`, plain data). It
limits its address space, imports FILE (and --forward's file), finds NAME through
`layer_calling`, then answers each request with the arrays the code returned, as float64.
"""

from __future__ import annotations

import base64
import importlib.util
import pickle
import sys
from pathlib import Path

from .. import calling, conventions, layer_calling
from . import wire
from .child import (
    MAX_REQUEST,
    _import_path,
    _read_exact,
    _send,
    _wire,
    _write,
    import_failure,
    limit_memory,
)


def _import(path_text: str, tag: str):
    path = Path(path_text)
    if not path.is_file():
        raise conventions.CallingError(f"no such file '{path_text}'")
    # as `check --python` imports a network's FILE: its folder, its package's top, the cwd
    sys.path[0:0] = [p for p in _import_path(path.resolve()) if p not in sys.path]
    module_name = f"_gradscribe_layer_{tag}_" + "".join(c if c.isalnum() else "_" for c in path.stem)
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
        raise conventions.CallingError(import_failure(path_text, exc)) from None
    return module


def load(path_text: str, name: str, job: layer_calling.LayerJob) -> layer_calling.Target:
    """NAME from FILE as a `layer_calling.Target`; CallingError with the line to report."""
    module = _import(path_text, "main")
    forward = None
    if job.forward is not None:
        forward_path, _, forward_name = job.forward.rpartition(":")
        if not forward_path or not forward_name:
            raise conventions.CallingError(f"--forward: expected FILE:FUNC, got '{job.forward}'")
        forward = (_import(forward_path, "forward"), forward_name)
    try:
        return layer_calling.Target(module, name, job, forward)
    except conventions.CallingError as exc:
        raise conventions.CallingError(f"'{path_text}': {exc}") from None


def serve(fd_in: int, fd_out: int, target: layer_calling.Target) -> None:
    """Answer call requests until the parent closes the pipe."""
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
        for key in header.get("float32", []):
            if key in arrays:
                arrays[key] = arrays[key].astype("float32")
        outcome = layer_calling.collect(target, arrays, header)
        try:
            message = wire.encode({
                "kind": "outcome", "failure": outcome.failure, "raised": outcome.raised,
                "bad": outcome.bad, "notes": [calling.safe_text(n, 500) for n in outcome.notes],
                "texts": [_wire(n) for n in outcome.notes], "failure_text": _wire(outcome.failure),
                "dtypes": outcome.dtypes, "replaced": [], "reshaped": [], "aliases": {},
            }, {"g:" + k: v for k, v in outcome.grads.items()})
        except BaseException as exc:  # noqa: BLE001  # e.g. MemoryError on huge returned arrays
            message = wire.encode({
                "kind": "outcome", "raised": False, "bad": {}, "notes": [], "dtypes": {},
                "replaced": [], "reshaped": [], "aliases": {},
                "failure": f"what {target.label} returned could not be sent back: "
                           f"{calling.describe_exception(exc)}",
            }, {})
        _write(fd_out, message)


def run(fd_in: int, fd_out: int, path_text: str, name: str, megabytes: int, job) -> int:
    """The worker's life: limits, FILE, NAME, then requests until the parent stops."""
    _send(fd_out, {"kind": "started"})
    limit_memory(megabytes)
    try:
        target = load(path_text, name, job)
    except conventions.CallingError as exc:
        _send(fd_out, {"kind": "load-error", "message": calling.safe_text(exc, 500)})
        return 0
    _send(fd_out, {"kind": "ready", "name": target.label,
                   "notes": [calling.safe_text(n, 500) for n in target.notes],
                   "texts": [_wire(n) for n in target.notes], "data_names": []})
    serve(fd_in, fd_out, target)
    return 0


def main(argv: list[str]) -> int:
    fd_in, fd_out, path_text, name, megabytes = int(argv[0]), int(argv[1]), argv[2], argv[3], int(argv[4])
    job = pickle.loads(base64.b64decode(argv[5]))  # the parent's own LayerJob, not user data
    return run(fd_in, fd_out, path_text, name, megabytes, job)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
