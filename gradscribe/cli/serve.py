"""`gradscribe serve [--port N]`: the local page (contract section 10) until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading

from .errors import UsageError


def run_serve(args) -> int:
    """Serve the page on 127.0.0.1:PORT, print its URL (with the token), stop on Ctrl-C (or
    SIGTERM) with every checker's worker stopped and its pasted code removed."""
    from ..page import remove_folders
    from ..server import PageServer, stop_workers

    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be from 0 to 65535 (0: any free port)")
    try:
        server = PageServer(args.port)
    except OSError as exc:
        raise UsageError(f"--port {args.port}: cannot listen on 127.0.0.1 "
                         f"({exc.strerror or exc})") from None
    signal.signal(signal.SIGTERM, _stop)  # `kill PID` stops it as cleanly as Ctrl-C
    threading.Thread(target=_warm, daemon=True).start()
    print(f"gradscribe serve: open {server.url}", flush=True)
    print("gradscribe serve: listening on 127.0.0.1 only; Ctrl-C stops it", file=sys.stderr,
          flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        stop_workers()
        remove_folders()
    print("gradscribe serve: stopped", file=sys.stderr, flush=True)
    return 0


def _stop(signum, frame):
    raise KeyboardInterrupt


def _warm() -> None:
    """Load SymPy and derive the default network while the user opens the URL, so the first
    page is as quick as the next ones."""
    from .. import page

    try:
        page.prepared(page.Form())
    except Exception:  # noqa: BLE001  # only a head start; the request itself reports
        pass
