"""The write-up of one layer (`derive layer:...`): its forward pass, each local gradient as a
vector-Jacobian product of dout, and a worked example, as LaTeX or Markdown (KaTeX).

`layer_view` turns a `LayerDerivation` into plain strings (every formula printed from the
derivation's SymPy objects); `layer.tex.jinja` and `layer.md.jinja` only place them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .. import __version__
from ..derive import activations, losses
from ..derive.layer_example import layer_example
from ..derive.layers import LayerDerivation, format_option
from .latex_printer import WriteupLatexPrinter, activation_latex
from .messages import activation_warning, catalogue, loss_title
from .render import render
from .stamp import stamp
from .writeup import (
    LANGUAGE_PACKAGES,
    ExampleRow,
    Row,
    Shape,
    _size,
    decimal,
    matrix_latex,
    tex_escape,
)

#: How the layer's matrices are written (the names course code uses, d-prefixed gradients).
_NAMES = {
    "x": "x", "w": "w", "b": "b", "out": r"\mathrm{out}", "mask": "m", "t": "t", "p": "p",
    "gamma": r"\gamma", "beta": r"\beta", "mu": r"\mu", "var": r"\sigma^{2}",
    "xhat": r"\hat{x}", "istd": r"\frac{1}{\sqrt{\sigma^{2} + \epsilon}}",
}


def name_latex(name: str) -> str:
    """x -> x, dout -> \\mathrm{d}\\mathrm{out}, dgamma -> \\mathrm{d}\\gamma."""
    if name in _NAMES:
        return _NAMES[name]
    if name.startswith("d") and name[1:] in _NAMES:
        return r"\mathrm{d}" + _NAMES[name[1:]]
    return rf"\mathrm{{{name}}}"


class LayerLatexPrinter(WriteupLatexPrinter):
    """The write-up's printer, with the layer's own names."""

    def _print_MatrixSymbol(self, expr) -> str:
        return name_latex(expr.name)

    def _print_InverseSqrt(self, expr) -> str:
        # batch norm's 1 / sqrt(var + eps), elementwise
        return rf"\left({self._print(expr.arg)} + {self._print(expr.eps)}\right)^{{-1/2}}"

    def _print_Symbol(self, expr, style="plain"):
        if expr.name == "epsilon":
            return r"\epsilon"
        return super()._print_Symbol(expr, style)


def latex(expr) -> str:
    return LayerLatexPrinter().doprint(expr)


@dataclass
class LayerView:
    title: str
    inline: str
    digest: str
    version: str
    intro: str
    symbols: str
    shapes: list[Shape]
    activation: dict | None
    forward: list[Row]
    loss_title: str | None
    loss: Row | None
    vjp_intro: str
    backward: list[Row]
    notes: list[str]
    messages: dict[str, str]
    packages: list[str]
    example: dict | None = None
    example_intro: str = ""
    shape_head: list[str] = field(default_factory=list)


def layer_view(derivation: LayerDerivation, example: bool = True, lang: str = "en") -> LayerView:
    """The plain view the layer templates render; `lang` picks the prose's catalogue."""
    spec = derivation.spec
    kind = spec.kind
    m = catalogue(lang)
    column = spec.layout == "column"

    def row(eq) -> Row:
        return Row(latex(eq.lhs), latex(eq.rhs), eq.name, eq.label)

    shapes = []
    names = [n for n in derivation.inputs if n != "dout"] + [eq.name for eq in derivation.forward]
    for name in names + (["dout"] if "dout" in derivation.inputs else []):
        what_key = "layer.shape.scores" if name == "x" and derivation.loss else f"layer.shape.{name}"
        shapes.append(Shape(name_latex(name), _shape_latex(derivation, name), m.get(what_key, name)))

    act = None
    record = kind.activation
    if record is not None and record.elementwise and record.name != "identity":
        act = {
            "name": activation_latex(record.name),
            "value": latex(record.value_at(activations.z, spec.alpha)),
            "derivative": latex(record.derivative_at(activations.z, activations.r, spec.alpha)),
            "note": (m["activations.with_r"] if record.derivative.has(activations.r) else "")
            + (f", $\\alpha = {format_option(spec.alpha)}$" if record.takes_alpha else ""),
        }

    loss_row = None
    title = None
    if derivation.loss is not None:
        scale, term = derivation.loss
        term = term.xreplace({losses.p: sp.Symbol("p_{ij}"), losses.t: sp.Symbol("t_{ij}")})
        summand = latex(term)
        if term.is_Add:
            summand = f"\\left({summand}\\right)"
        rhs = f"\\sum_{{i,j}} {summand}"
        if scale != 1:
            rhs = f"{latex(scale)} {rhs}"
        if kind.activation.name == "identity":
            rhs = rhs.replace("p_{ij}", "x_{ij}")
        loss_row = Row("L", rhs, "L", "eq:L")
        title = loss_title(m, kind.loss)

    notes = []
    if record is not None and record.warning and kind.family == "activation":
        notes.append(m["notes.warning"].format(l=1, activation=record.name,
                                               warning=activation_warning(m, record)))
    if kind.family == "dropout":
        notes.append(m["layer.note.dropout"].format(keep=format_option(1 - spec.p)))
    if kind.family == "batchnorm":
        notes.append(m["layer.note.batchnorm"].format(eps=format_option(spec.eps)))
    if kind.loss is not None and kind.loss.targets == "distribution":
        notes.append(m["layer.note.labels"])

    layout = m["layer.layout.column" if column else "layer.layout.row"]
    view = LayerView(
        title=m["layer.title"].format(kind=kind.name),
        inline=spec.inline(),
        digest=spec.digest(),
        version=__version__,
        intro=m["layer.intro"].format(net="{net}", sizes="-".join(map(str, spec.sizes)),
                                      layout=layout),
        symbols=m["layer.symbols"].format(),
        shapes=shapes,
        activation=act,
        forward=[row(eq) for eq in derivation.forward],
        loss_title=title,
        loss=loss_row,
        vjp_intro=(m["layer.vjp.loss"] if derivation.loss else m["layer.vjp.intro"]).format(),
        backward=[row(eq) for eq in derivation.backward],
        notes=notes,
        messages=m,
        packages=list(LANGUAGE_PACKAGES.get(lang, ())),
    )
    if example:
        view.example = _example_view(derivation, loss_row)
        view.example_intro = m["layer.example.seeded"].format(batch=view.example["batch"])
    return view


def _shape_latex(derivation: LayerDerivation, name: str) -> str:
    dims = derivation.shape(name)
    if len(dims) == 1:
        return f"({dims[0]},)"
    return "(" + ", ".join(str(d) for d in dims) + ")"


def _example_view(derivation: LayerDerivation, loss_row: Row | None) -> dict:
    worked = layer_example(derivation)

    def row(value) -> ExampleRow:
        eq = value.equation
        return ExampleRow(latex(eq.lhs), latex(eq.rhs), matrix_latex(value.matrix), eq.name,
                          _size(value.matrix))

    return {
        "batch": worked.batch,
        "inputs": [ExampleRow(name_latex(v.name), "", matrix_latex(v.matrix, exact=True), "",
                              _size(v.matrix)) for v in worked.inputs],
        "forward": [row(v) for v in worked.forward],
        "loss": (None if worked.loss is None
                 else ExampleRow("L", loss_row.rhs, decimal(worked.loss), "L")),
        "backward": [row(v) for v in worked.backward],
    }


def render_layer(derivation: LayerDerivation, fmt: str, example: bool = True,
                 lang: str = "en") -> str:
    """The layer's write-up as LaTeX (`fmt` "tex") or Markdown ("md"), prose in `lang`; the
    worked example is always there unless `example` is False."""
    template = {"tex": "layer.tex.jinja", "md": "layer.md.jinja"}[fmt]
    view = layer_view(derivation, example, lang)
    code = "\\texttt{" + tex_escape(view.inline) + "}" if fmt == "tex" else f"`{view.inline}`"
    view.intro = view.intro.replace("{net}", code)
    return stamp(render(template, view=view, m=view.messages, tex_escape=tex_escape))


def equations_latex(derivation: LayerDerivation) -> str:
    """The forward pass and the local gradients as one tagged `align` (for Jupyter)."""
    view = layer_view(derivation, example=False)
    rows = view.forward + ([view.loss] if view.loss else []) + view.backward
    lines = [f"{r.lhs} &= {r.rhs} \\tag{{{r.tag}}}" for r in rows]
    return "\\begin{align}\n" + " \\\\\n".join(lines) + "\n\\end{align}"
