"""What the local page (`gradscribe serve`, contract section 10) does with a submitted form.

`Form` is the page's fields; `answer(form, action, checks)` derives the network, runs what
the action asks (derive, verify, a formula, pasted backward code) and returns a `PageView`
for `templates/page.html.jinja`; `download(form, what)` is one of the write-ups or kernels.
Every input is bounded as on the command line: the network is an inline form, a `layer:`
form or a pasted TOML spec (held to `derive.limits`; never a path: the page reads no file of
the server's), a formula to `check.formula`'s limits, code to `MAX_CODE` characters, and
code runs in the checker's isolated worker (`check_function("FILE:FUNC")`) under the command
line's time and memory limits. Bad input comes back as a one-line `message`, never a trace.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

MAX_CODE = 256 * 1024  # characters of pasted backward code
MAX_FUNC = 200  # characters of the FUNC name
MAX_FORMULA_FIELD = 10_000  # characters taken from the formula box (check.formula allows fewer)
_FUNC = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
LANGS = ("en", "ko")
LAYOUTS = ("spec", "column", "row")
DEFAULT_NET = "1-8-4-1:relu,relu,identity:mse"


class PageError(Exception):
    """Bad input from the page: its message is shown on the page as it is."""


@dataclass
class Form:
    """The page's fields, as submitted (strings; `example` a checkbox)."""

    net: str = DEFAULT_NET
    lang: str = "en"
    layout: str = "spec"
    example: bool = False
    formula: str = ""
    code: str = ""
    func: str = "backward"

    @classmethod
    def from_fields(cls, fields: dict[str, list[str]]) -> Form:
        """The form from parsed `application/x-www-form-urlencoded` fields (first values)."""
        def one(name: str, default: str = "") -> str:
            return fields.get(name, [default])[0]

        lang, layout = one("lang", "en"), one("layout", "spec")
        return cls(
            net=one("net", DEFAULT_NET).replace("\r\n", "\n"),
            lang=lang if lang in LANGS else "en",
            layout=layout if layout in LAYOUTS else "spec",
            example=one("example") == "on",
            formula=one("formula"),
            code=one("code").replace("\r\n", "\n"),
            func=one("func", "backward").strip(),
        )


@dataclass
class Verdict:
    """A check's or verification's outcome for the page: a headline, rows, notes, details."""

    ok: bool
    headline: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # name, verdict, diagnosis
    notes: list[str] = field(default_factory=list)
    details: str = ""


@dataclass
class PageView:
    """What `page.html.jinja` lays out."""

    token: str
    form: Form
    doc: object | None = None  # codegen.html_writeup.HtmlDocument
    inline: str = ""
    message: str = ""
    verify: Verdict | None = None
    formula: Verdict | None = None
    code: Verdict | None = None
    downloads: list[tuple[str, str]] = field(default_factory=list)  # (what, label)
    seconds: str = ""
    langs: tuple = LANGS
    layouts: tuple = LAYOUTS


# --------------------------------------------------------------------------- the network
def network(form: Form):
    """The network the form describes: an inline form, `layer:...`, or a pasted TOML spec
    (never a file path), in the layout asked for.

    Raises:
        SpecError: the network is malformed (the message names where).
        PageError: the field is empty, or the layout cannot be changed (an [example] table).
    """
    from .derive import layers, spec

    text = form.net.strip()
    if not text:
        raise PageError("type a network, e.g. 1-8-4-1:relu,relu,identity:mse, or paste a spec")
    if "\n" in text or "=" in text:
        net = spec.parse_toml(text, "the pasted spec")
    elif layers.is_layer(text):
        net = layers.parse_layer(text)
    else:
        net = spec.parse_inline(text)
    if form.layout != "spec" and form.layout != net.layout:
        if getattr(net, "example", None) is not None:
            raise PageError(f"the spec's [example] table is written in the {net.layout} layout; "
                            "change the layout in the spec, or choose 'as written'")
        net = dataclasses.replace(net, layout=form.layout)
    return net


_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 16
_CACHE_LOCK = threading.Lock()
#: SymPy work (deriving, rendering) is done one request at a time
_SYMPY = threading.Lock()


def prepared(form: Form):
    """(network, derivation, HtmlDocument) for the form, the last few kept."""
    key = (form.net.strip(), form.layout, form.lang, form.example)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    net = network(form)
    from .codegen import html_writeup
    from .derive import layers

    with _SYMPY:
        if isinstance(net, layers.LayerSpec):
            derivation = layers.derive_layer(net)
            doc = html_writeup.layer_document(derivation, True, form.lang)
        else:
            from .derive.chain import derive

            derivation = derive(net)
            doc = html_writeup.network_document(derivation, form.example, form.lang)
    with _CACHE_LOCK:
        _CACHE[key] = (net, derivation, doc)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return net, derivation, doc


# --------------------------------------------------------------------------- answering
def answer(form: Form, action: str, token: str, checks: threading.Lock,
           timeout: float | None = None, memory_mb: int | None = None) -> PageView:
    """The page after `action` ("derive", "verify", "formula", "code") on `form`.

    `checks` is the server's lock: a verification or check runs only when no other is running.
    `timeout`, `memory_mb`: the worker's limits for pasted code (the command line's defaults).
    """
    from .derive.errors import SpecError

    view = PageView(token=token, form=form)
    start = time.perf_counter()
    try:
        net, _, doc = prepared(form)
    except (SpecError, PageError, ValueError) as exc:
        view.message = _line(exc)
        return view
    view.doc, view.inline = doc, net.inline()
    view.downloads = _downloads(net)
    view.seconds = f"{time.perf_counter() - start:.2f}"
    if action == "derive":
        return view
    if not checks.acquire(blocking=False):
        view.message = "another check is running on this server; submit again when it has ended"
        return view
    try:
        if action == "verify":
            view.verify = _verify(net)
        elif action == "formula":
            view.formula = _formula(net, form.formula)
        elif action == "code":
            view.code = _code(net, form, timeout, memory_mb)
    except PageError as exc:
        view.message = _line(exc)
    finally:
        checks.release()
    return view


def _line(exc: Exception) -> str:
    from .derive.errors import one_line

    return one_line(str(exc))


def _downloads(net) -> list[tuple[str, str]]:
    items = [("tex", "LaTeX"), ("md", "Markdown"), ("html", "HTML")]
    if hasattr(net, "layers"):
        items += [("kernel", "kernel (fast)"), ("kernel_textbook", "kernel (textbook)")]
    return items


def _verify(net) -> Verdict:
    with _SYMPY:
        if hasattr(net, "layers"):
            from .check.verification import verify

            result = verify(net)
        else:
            from .derive.layer_proof import prove_layer

            result = prove_layer(net)
    text = result.report()
    if result.ok:
        return Verdict(True, "verified: every formula is proven", details=text)
    return Verdict(False, "NOT verified", details=text)


def _formula(net, text: str) -> Verdict:
    from .check import judge
    from .check.formula import FormulaError

    if not hasattr(net, "layers"):
        raise PageError(f"formulas are checked on networks; {net.inline()} is one layer: "
                        "paste its backward code instead")
    text = text.strip()
    if not text:
        raise PageError("type a formula, e.g. dW2 = D2 @ R1.T")
    if len(text) > MAX_FORMULA_FIELD:
        raise PageError(f"the formula is {len(text):,} characters long; at most "
                        f"{MAX_FORMULA_FIELD:,} are read")
    try:
        with _SYMPY:
            report = judge.check_formula(net, text)
    except FormulaError as exc:
        raise PageError(f"formula: {_line(exc)}") from None
    return _report(report)


def _code(net, form: Form, timeout, memory_mb) -> Verdict:
    from .check import conventions, judge
    from .check.worker import runner

    code, func = form.code, form.func
    if not code.strip():
        raise PageError("paste the backward code, and name its function (or Class.method)")
    if len(code) > MAX_CODE:
        raise PageError(f"the code is {len(code):,} characters long; at most {MAX_CODE:,} are read")
    if len(func) > MAX_FUNC or not _FUNC.fullmatch(func):
        raise PageError("the function's name must be NAME or Class.method (Python identifiers)")
    limits = {"timeout": timeout or runner.DEFAULT_TIMEOUT,
              "memory_mb": memory_mb or runner.DEFAULT_MEMORY_MB}
    folder = tempfile.mkdtemp(prefix="gradscribe-page-")
    _FOLDERS.add(folder)
    try:
        path = os.path.join(folder, "backward.py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(code)
        try:
            if hasattr(net, "layers"):
                report = judge.check_function(net, f"{path}:{func}", **limits)
            else:
                from .check import layer_judge

                report = layer_judge.check_layer(net, f"{path}:{func}", **limits)
        except conventions.CallingError as exc:
            raise PageError(_line(exc).replace(path, "the pasted code")) from None
        except ValueError as exc:
            raise PageError(_line(exc)) from None
    finally:
        remove_folders([folder])
    verdict = _report(report)
    verdict.details = report.output.replace(path, "backward.py")
    return verdict


#: the folders pasted code is written to, removed when its check ends or the server stops
_FOLDERS: set[str] = set()


def remove_folders(folders=None) -> None:
    """Remove `folders` (default: every one still there, as the server stops)."""
    for folder in list(_FOLDERS if folders is None else folders):
        shutil.rmtree(folder, ignore_errors=True)
        _FOLDERS.discard(folder)


def _report(report) -> Verdict:
    """A `CheckReport` through its contract JSON (contract section 6)."""
    data = report.to_json()
    rows = []
    for name, p in data["params"].items():
        mark = "ok" if p["ok"] else "WRONG"
        if p.get("max_abs_err") is not None:
            mark += f" (max abs err {p['max_abs_err']:.3g})"
        rows.append((name, mark, p.get("diagnosis") or ""))
    if "error" in data:
        headline = f"FAILED: {data['error']}"
    elif not rows:
        headline = "FAILED: no gradients returned"
    elif data["ok"]:
        headline = "all right"
    else:
        headline = "WRONG: " + ", ".join(n for n, p in data["params"].items() if not p["ok"])
    return Verdict(bool(data["ok"]), headline, rows, list(data.get("notes", [])))


# --------------------------------------------------------------------------- downloads
def download(form: Form, what: str) -> tuple[str, str, str]:
    """(file name, media type, text) of one write-up or kernel of the form's network.

    Raises:
        SpecError, PageError: as for `network`; PageError also for an unknown `what`.
    """
    from .codegen import html_writeup

    net, derivation, _ = prepared(form)
    one_layer = not hasattr(net, "layers")
    with _SYMPY:
        if what in ("tex", "md"):
            if one_layer:
                from .codegen.layer_writeup import render_layer

                text = render_layer(derivation, what, lang=form.lang)
            else:
                from .codegen.writeup import render_writeup

                text = render_writeup(derivation, what, example=form.example, lang=form.lang)
        elif what == "html":
            text = (html_writeup.render_layer_html(derivation, lang=form.lang) if one_layer
                    else html_writeup.render_html(derivation, form.example, form.lang))
        elif what in ("kernel", "kernel_textbook") and not one_layer:
            from .codegen.kernel import render_kernel

            text = render_kernel(derivation, "fast" if what == "kernel" else "textbook")
        else:
            raise PageError(f"nothing to download as {what!r}")
    suffix = {"tex": ".tex", "md": ".md", "html": ".html", "kernel": ".py",
              "kernel_textbook": "_textbook.py"}[what]
    media = {"tex": "application/x-tex", "md": "text/markdown", "html": "text/html",
             "kernel": "text/x-python", "kernel_textbook": "text/x-python"}[what]
    return net.name + suffix, media + "; charset=utf-8", text


def log(line: str) -> None:
    """One line on the server's stderr."""
    print(line, file=sys.stderr, flush=True)
