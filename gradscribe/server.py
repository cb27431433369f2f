"""The local page's HTTP server (`gradscribe serve`): the standard library's
`ThreadingHTTPServer`, bound to 127.0.0.1 only.

Every request must carry the server's random token (`?token=...`, printed in its URL) and a
Host header naming the server itself (127.0.0.1:PORT or localhost:PORT, against DNS
rebinding); a POST must also come from the page's own origin (its Origin header). Anything
else gets 403 and no work is done. GET / is the page; POST / runs an action of the form
(derive, verify, formula, code); POST /download returns a write-up or a kernel. Request
bodies are bounded (`MAX_BODY`), and at most one check runs at a time.
"""

from __future__ import annotations

import hmac
import os
import secrets
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .derive.limits import MAX_SPEC_BYTES

#: a form's body: a spec, pasted code and the small fields, urlencoded (up to 3 bytes a byte)
MAX_BODY = 3 * (MAX_SPEC_BYTES + 256 * 1024) + 65536
ACTIONS = ("derive", "verify", "formula", "code")
DOWNLOADS = ("tex", "md", "html", "kernel", "kernel_textbook")
#: what the page may load: nothing from anywhere, its own inline style, forms to itself
POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
          "frame-ancestors 'none'; base-uri 'none'")


class PageServer(ThreadingHTTPServer):
    """The server: its port, token, and the lock that lets one check run at a time."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 8000, timeout: float | None = None,
                 memory_mb: int | None = None):
        super().__init__(("127.0.0.1", port), PageHandler)
        self.port = self.server_address[1]
        self.token = secrets.token_urlsafe(24)
        self.checks = threading.Lock()
        self.limits = {"timeout": timeout, "memory_mb": memory_mb}
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"


class PageHandler(BaseHTTPRequestHandler):
    server: PageServer
    server_version = "gradscribe"
    sys_version = ""
    timeout = 60  # seconds a client may take to send its request

    # ---------------------------------------------------------------- gatekeeping
    def _admitted(self, post: bool) -> bool:
        """Whether the request is the page's own; if not, a 403 has been sent."""
        host = self.headers.get("Host", "")
        if host not in self.server.hosts:
            return self._refuse("this server answers only to its own address "
                                f"(127.0.0.1:{self.server.port})")
        query = parse_qs(urlsplit(self.path).query)
        token = query.get("token", [""])[0]
        if not hmac.compare_digest(token.encode(), self.server.token.encode()):
            return self._refuse("open the URL gradscribe serve printed (it carries the token)")
        if post:
            origin = self.headers.get("Origin", "")
            if origin not in {f"http://{h}" for h in self.server.hosts}:
                return self._refuse("a form is accepted only from this page")
        return True

    def _refuse(self, why: str) -> bool:
        self._send(403, "text/plain; charset=utf-8", f"403 refused: {why}\n".encode())
        return False

    # ---------------------------------------------------------------- methods
    def do_GET(self):
        if not self._admitted(post=False):
            return
        if urlsplit(self.path).path != "/":
            self._send(404, "text/plain; charset=utf-8", b"404 not found\n")
            return
        from . import page

        self._page(page.Form(), "derive")

    def do_POST(self):
        if not self._admitted(post=True):
            return
        from . import page

        route = urlsplit(self.path).path
        if route not in ("/", "/download"):
            self._send(404, "text/plain; charset=utf-8", b"404 not found\n")
            return
        fields = self._fields()
        if fields is None:
            return
        form = page.Form.from_fields(fields)
        if route == "/download":
            self._download(form, parse_qs(urlsplit(self.path).query).get("what", [""])[0])
            return
        action = fields.get("action", ["derive"])[0]
        self._page(form, action if action in ACTIONS else "derive")

    def do_PUT(self):  # every other method: gatekept as a POST, then refused
        if self._admitted(post=True):
            self._send(405, "text/plain; charset=utf-8", b"405 method not allowed\n")

    do_DELETE = do_PATCH = do_PUT

    # ---------------------------------------------------------------- work
    def _fields(self) -> dict | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(411, "text/plain; charset=utf-8", b"411 a form needs a Content-Length\n")
            return None
        if not 0 <= length <= MAX_BODY:
            self._send(413, "text/plain; charset=utf-8",
                       f"413 the form is larger than {MAX_BODY:,} bytes\n".encode())
            return None
        kind = self.headers.get("Content-Type", "").split(";")[0].strip()
        body = self.rfile.read(length)
        if kind != "application/x-www-form-urlencoded":
            self._send(415, "text/plain; charset=utf-8", b"415 expected a form\n")
            return None
        try:
            return parse_qs(body.decode("utf-8"), max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            self._send(400, "text/plain; charset=utf-8", b"400 the form is not UTF-8 text\n")
            return None

    def _page(self, form, action: str) -> None:
        from . import page
        from .codegen.render import render

        start = time.perf_counter()
        try:
            view = page.answer(form, action, self.server.token, self.server.checks,
                               **self.server.limits)
        except Exception as exc:  # noqa: BLE001  # the page shows a line, never a trace
            page.log(f"gradscribe serve: {action}: {type(exc).__name__}: {exc}")
            view = page.PageView(token=self.server.token, form=form,
                                 message=f"gradscribe failed on this input ({type(exc).__name__}); "
                                 "the server's terminal has the details")
        text = render("page.html.jinja", view=view)
        self._send(200, "text/html; charset=utf-8", text.encode("utf-8"))
        page.log(f"gradscribe serve: {action} {time.perf_counter() - start:.2f} s")

    def _download(self, form, what: str) -> None:
        from . import page
        from .derive.errors import SpecError

        try:
            name, media, text = page.download(form, what)
        except (SpecError, page.PageError, ValueError) as exc:
            self._send(400, "text/plain; charset=utf-8", f"400 {page._line(exc)}\n".encode())
            return
        self._send(200, media, text.encode("utf-8"),
                   {"Content-Disposition": f'attachment; filename="{name}"'})

    def _send(self, status: int, media: str, body: bytes, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "same-origin")  # "no-referrer" makes Origin "null"
        self.send_header("Cache-Control", "no-store")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):  # the URL carries the token: not logged
        pass


def stop_workers() -> None:
    """Kill the checker's workers this process started (each leads its own process group)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return
    children = set()
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as handle:
                children.update(int(pid) for pid in handle.read().split())
        except (OSError, ValueError):
            continue
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)  # the worker and whatever FUNC started
        except OSError:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass
