"""Running FUNC for `check`: in a worker process (the command line) or in-process (notebooks).

`WorkerAdapter` stands in for a `conventions.Adapter` (same `label`, `notes`, `data_names`,
`call(params, X, T) -> conventions.Outcome`) while FUNC itself lives in a worker process:
``python -m gradscribe.check.worker.child`` imports FILE and builds and runs FUNC there, under an address-space limit, with its stdout/stderr drained into a bounded
buffer. The time FUNC may take in all (its import and every call) is `timeout` seconds; past
it, or when the worker ends or sends anything malformed, the worker's whole process group
is killed and the outcome says why. The parent reads back only float64 arrays (`wire`):
nothing FUNC controls is ever unpickled or run here. A call that fails raises `FuncFailed`
with the one line to report.
"""

from __future__ import annotations

import base64
import os
import pickle
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from .. import calling, conventions
from ..messages import Text, from_wire
from . import wire

DEFAULT_TIMEOUT = 60.0  # seconds, for FUNC's import and all its calls together
DEFAULT_MEMORY_MB = 4096  # address space FUNC may add to the worker
MAX_OUTPUT = 8192  # bytes of FUNC's stdout/stderr kept for the report
STARTUP_TIMEOUT = 300.0  # seconds for the worker's own imports (NumPy, SymPy), not FUNC's


class FuncFailed(Exception):
    """FUNC raised, hung, ended its process or returned something that is not gradients."""

    def __init__(self, message: str, raised: bool):
        super().__init__(message)
        self.message, self.raised = message, raised


class _Drain(threading.Thread):
    """Reads a pipe to its end, keeping the first MAX_OUTPUT bytes and counting the rest."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.kept = bytearray()
        self.total = 0

    def run(self):
        try:
            while True:
                chunk = self.stream.read1(1 << 16) if hasattr(self.stream, "read1") else self.stream.read(1 << 16)
                if not chunk:
                    break
                self.total += len(chunk)
                room = MAX_OUTPUT - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]
        except (OSError, ValueError):
            pass

    def text(self) -> str:
        shown = bytes(self.kept).decode("utf-8", errors="replace")
        if self.total > len(self.kept):
            shown += f"\n[... {self.total - len(self.kept)} more bytes of output not shown]"
        return shown


class WorkerAdapter:
    """FUNC from ``FILE:FUNC`` run in a worker process with a time and memory limit."""

    #: the worker's module (`child`; `layer_child` for one layer's code)
    entry = "child"

    def __init__(self, path: str, func_name: str, net, timeout: float = DEFAULT_TIMEOUT,
                 memory_mb: int = DEFAULT_MEMORY_MB, reply_limit: int = 1 << 28):
        """Start the worker (it imports FILE meanwhile); `ready()` waits for it."""
        if not Path(path).is_file():
            raise conventions.CallingError(f"no such file '{path}'")
        self.path, self.name, self.timeout = path, func_name, float(timeout)
        self.label = func_name
        self.notes: list[str] = []
        self.data_names: tuple = ()
        self.settings: dict = {}
        self.takes_masks = False
        #: the dropout masks sent with each call (M1 -> 0/1 array), set by the checker
        self.given_masks: dict = {}
        self.batch_axis = 1 if net.layout == "column" else 0
        self.reply_limit = reply_limit
        self.budget = self.timeout
        self.fatal = False
        self._failure = None
        self._started = False
        req_read, self._req = os.pipe()
        self._resp, resp_write = os.pipe()
        if hasattr(os, "fork"):
            self.process = _fork_worker(req_read, resp_write, path, func_name, memory_mb, net,
                                        self.entry)
        else:  # a fresh interpreter where there is no fork
            env = dict(os.environ)
            env.setdefault("OPENBLAS_NUM_THREADS", "1")
            try:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", f"gradscribe.check.worker.{self.entry}", str(req_read),
                     str(resp_write), str(path), func_name, str(int(memory_mb)),
                     base64.b64encode(pickle.dumps(net)).decode("ascii")],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    pass_fds=(req_read, resp_write), start_new_session=True, env=env,
                )
            finally:
                os.close(req_read)
                os.close(resp_write)
        self._drain = _Drain(self.process.stdout)
        self._drain.start()

    # ------------------------------------------------------------------ lifecycle
    def ready(self) -> None:
        """Wait until FILE is imported and FUNC found.

        Raises:
            conventions.CallingError: FILE failed to import, has no such FUNC (or it cannot be
                built), or did not finish importing within the timeout.
        """
        if self._started:
            return
        self._started = True
        budget, self.budget = self.budget, STARTUP_TIMEOUT
        try:
            header, _ = self._receive()
        except _Ended as ended:
            self.close()
            raise conventions.CallingError(f"the checker's worker for '{self.path}' did not "
                                           f"start: it {ended.why}") from None
        self.budget = budget
        if header.get("kind") != "started":
            self.close()
            raise conventions.CallingError(f"the checker's worker for '{self.path}' did not start")
        try:
            header, _ = self._receive()
        except _Ended as ended:
            self.close()
            raise conventions.CallingError(f"importing '{self.path}' {ended.why}") from None
        if header.get("kind") == "load-error" and isinstance(header.get("message"), str):
            self.close()
            raise conventions.CallingError(header["message"][:500])
        notes, names = header.get("notes"), header.get("data_names")
        if (header.get("kind") != "ready" or not isinstance(header.get("name"), str)
                or not isinstance(notes, list) or not isinstance(names, list)
                or not all(isinstance(n, str) for n in notes + names)):
            self.close()
            raise conventions.CallingError(f"importing '{self.path}' disturbed the checker's worker")
        self.label = self.name = header["name"][:100] or self.name
        self.notes = _texts(notes[:20], header.get("texts"), 500)
        self.data_names = tuple(n[:50] for n in names[:4])
        self.takes_masks = header.get("takes_masks") is True
        settings = header.get("settings", {})
        if isinstance(settings, dict):
            self.settings = {k[:50]: v for k, v in list(settings.items())[:10]
                             if isinstance(k, str) and isinstance(v, (int, float))
                             and not isinstance(v, bool) and np.isfinite(v)}

    def close(self) -> None:
        """Stop the worker and everything it started; keep what it printed."""
        if getattr(self, "process", None) is None:
            return
        for fd in (self._req, self._resp):
            try:
                os.close(fd)
            except OSError:
                pass
        self._kill()
        self._drain.join(timeout=1.0)
        self.process = None

    def _kill(self) -> None:
        process = self.process
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            try:
                process.kill()
            except OSError:
                pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    @property
    def output(self) -> str:
        """What FUNC printed (stdout and stderr), truncated."""
        return self._drain.text()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ calls
    def call(self, params: dict, X, T) -> conventions.Outcome:
        """FUNC's gradients at (params, X, T), like `conventions.Adapter.call`; what FUNC did to
        params, X and T in its process is done to them here, so the checker sees it.

        Raises:
            FuncFailed: FUNC raised, hung, ended its process, misbehaved, or returned
                something that is not gradients.
        """
        self.ready()
        if self.fatal:
            raise FuncFailed(self._failure, raised=False)
        arrays = dict(params)
        arrays["X"], arrays["T"] = X, T
        arrays.update((k, np.asarray(v, dtype=np.float64)) for k, v in self.given_masks.items())
        try:
            self._transmit(wire.encode({"kind": "call", "batch": int(self.batch_of(X))}, arrays))
            header, sent = self._receive()
        except _Ended as ended:
            why = Text("worker.instead", why=ended.why) if ended.why.startswith("ended") else ended.why
            raise FuncFailed(self._give_up(Text("worker.failed", label=self.label, why=why,
                                                batch=self.batch_of(X))), raised=False) from None
        outcome = _outcome(header, sent, params)
        if outcome is None:
            raise FuncFailed(self._give_up(f"{self.label} disturbed the checker's worker: it "
                                           "sent back a malformed reply"), raised=False)
        if outcome.failure is not None:
            raise FuncFailed(outcome.failure, raised=outcome.raised)
        for k, after in outcome.modified.items():  # in place in FUNC's process: here too
            if after is None or after.shape != params[k].shape:
                params[k][...] = np.nan
            else:
                params[k][...] = after
        for k in outcome.replaced:
            params[k] = params[k].copy()
        grads = dict(outcome.grads)
        grads.update((k, calling.Bad(v)) for k, v in outcome.bad.items())
        for key, k in outcome.aliases.items():
            grads[key] = params[k] if k in params else grads.get(key)
        return conventions.Outcome(grads, outcome.notes, outcome.masks)

    def batch_of(self, X) -> int:
        return int(X.shape[self.batch_axis]) if X.ndim == 2 else 1  # 1-D: one sample

    def _give_up(self, why: str) -> str:
        self.fatal = True
        self._failure = why
        self.close()
        return why

    # ------------------------------------------------------------------ the pipes, with a deadline
    def _transmit(self, data: bytes) -> None:
        view = memoryview(data)
        os.set_blocking(self._req, False)
        start = time.monotonic()
        try:
            while view:
                left = self.budget - (time.monotonic() - start)
                if left <= 0:
                    raise _Ended(self._timed_out())
                _, writable, _ = select.select([], [self._req], [], left)
                if not writable:
                    continue
                try:
                    view = view[os.write(self._req, view):]
                except BlockingIOError:
                    continue
                except (BrokenPipeError, OSError):
                    raise _Ended(self._ended()) from None
        finally:
            self.budget -= time.monotonic() - start

    def _receive(self) -> tuple[dict, dict]:
        start = time.monotonic()
        try:
            prefix = self._read(8, start)
            try:
                length = wire.frame_length(prefix, self.reply_limit)
            except wire.WireError:
                raise _Ended(f"returned more data than the network's gradients can take "
                             f"(over {self.reply_limit >> 20} MiB)") from None
            payload = self._read(length, start)
        finally:
            self.budget -= time.monotonic() - start
        try:
            return wire.decode(payload)
        except wire.WireError:
            raise _Ended("disturbed the checker's worker: it sent back a malformed reply") from None

    def _read(self, count: int, start: float) -> bytes:
        chunks, left = [], count
        while left:
            remaining = self.budget - (time.monotonic() - start)
            if remaining <= 0:
                raise _Ended(self._timed_out())
            readable, _, _ = select.select([self._resp], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self._resp, min(left, 1 << 20))
            if not chunk:
                raise _Ended(self._ended())
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _timed_out(self) -> str:
        self._kill()
        return Text("worker.timeout", timeout=self.timeout)

    def _ended(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill()
            code = self.process.returncode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return Text("worker.signal", name=name)
        return Text("worker.exit", code=code)


class _Forked:
    """A forked worker, with the bits of `subprocess.Popen` the adapter uses."""

    def __init__(self, pid: int, stdout):
        self.pid, self.stdout, self.returncode = pid, stdout, None

    def poll(self):
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -signal.SIGKILL
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float):
        end = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > end:
                raise subprocess.TimeoutExpired("worker", timeout)
            time.sleep(0.005)
        return self.returncode

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)


def _fork_worker(req_read: int, resp_write: int, path: str, name: str, memory_mb: int, net,
                 entry: str = "child"):
    """Fork a worker (the checker's modules already loaded, so it starts at once) that runs
    `run` of module `entry` (`child`, `layer_child`) and never returns into the checker's code."""
    out_read, out_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        code = 70
        try:
            # the parent's fault handler (pytest's, say) would dump the parent's stack into
            # FUNC's output when FUNC crashes the worker
            import faulthandler

            faulthandler.disable()
            os.setsid()
            for fd in (out_read,):
                os.close(fd)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_write, 1)
            os.dup2(out_write, 2)
            sys.stdin = open(0, closefd=False)  # noqa: SIM115
            sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
            from importlib import import_module

            code = import_module(f"{__package__}.{entry}").run(
                req_read, resp_write, path, name, int(memory_mb), net)
        except BaseException:  # noqa: BLE001  # never return into the checker
            code = 70
        finally:
            os._exit(code)
    os.close(req_read)
    os.close(resp_write)
    os.close(out_write)
    return _Forked(pid, os.fdopen(out_read, "rb"))


class _Ended(Exception):
    """The worker stopped answering: timed out, exited, or broke the protocol."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def _outcome(header: dict, sent: dict, params: dict) -> calling.Outcome | None:
    """A `calling.Outcome` from a worker's reply, or None if any field is not what the worker
    sends."""
    if header.get("kind") != "outcome":
        return None
    failure, raised = header.get("failure"), header.get("raised")
    bad, notes = header.get("bad"), header.get("notes")
    replaced, reshaped, aliases = header.get("replaced"), header.get("reshaped"), header.get("aliases")
    if not (failure is None or isinstance(failure, str)) or not isinstance(raised, bool):
        return None
    if not (isinstance(bad, dict) and isinstance(aliases, dict) and isinstance(notes, list)
            and isinstance(replaced, list) and isinstance(reshaped, list)):
        return None
    texts = list(bad.items()) + list(aliases.items())
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in texts):
        return None
    if not all(isinstance(n, str) for n in notes):
        return None
    if not all(isinstance(k, str) and k in params for k in replaced + reshaped + list(aliases.values())):
        return None
    grads, modified, masks = {}, {}, {}
    for name, array in sent.items():
        if type(array) is not np.ndarray or array.dtype != np.float64:
            return None
        if name.startswith("g:"):
            grads[name[2:]] = array
        elif name.startswith("k:") and re.fullmatch(r"M[0-9]{1,4}", name[2:]) and array.ndim == 2:
            masks[name[2:]] = (array != 0).astype(np.float64)
        elif name.startswith("m:") and name[2:] in params:
            modified[name[2:]] = array
        else:
            return None
    modified.update((k, None) for k in reshaped)
    dtypes = header.get("dtypes", {})
    if not isinstance(dtypes, dict) or not all(
            k in grads and v in calling.LOW_PRECISION for k, v in dtypes.items()):
        return None
    for k, v in dtypes.items():  # float32 results judged at float32's precision
        grads[k] = grads[k].astype(v)
    return calling.Outcome(
        failure=None if failure is None else _texts([failure[:1000]], [header.get("failure_text")],
                                                    1000)[0],
        grads=grads, raised=raised,
        bad={k[:100]: v[:500] for k, v in bad.items()},
        modified=modified, replaced=list(replaced),
        aliases={k[:100]: v for k, v in aliases.items()},
        notes=_texts(notes[:20], header.get("texts"), 500), masks=masks,
    )


def _texts(english: list, texts, limit: int) -> list:
    """The worker's sentences, each the catalogue's `Text` where what it sent alongside renders
    exactly the English sent (else the English, cut at `limit`)."""
    texts = texts if isinstance(texts, list) and len(texts) >= len(english) else [None] * len(english)
    return [from_wire(e[:limit], t) if t is not None and len(e) <= limit else e[:limit]
            for e, t in zip(english, texts)]
