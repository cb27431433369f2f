"""The write-up: a derivation laid out as LaTeX or Markdown (KaTeX).

`writeup_view` turns a `Derivation` into plain strings (every formula printed by
`latex_printer` from the derivation's SymPy objects); the templates
`derivation.tex.jinja` and `derivation.md.jinja` only place them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

import sympy as sp

from .. import __version__
from ..derive import activations, losses
from ..derive.chain import Derivation, Equation
from ..derive.example import worked_example
from ..derive.spec import format_number
from .drawing import DrawingView, drawing_view
from .latex_printer import activation_latex, latex, symbol_latex
from .messages import activation_warning, catalogue, loss_title
from .render import render
from .stamp import stamp

#: LaTeX packages a language needs (kotex sets Hangul with pdflatex).
LANGUAGE_PACKAGES = {"ko": (r"\usepackage{kotex}",)}


@dataclass(frozen=True)
class Row:
    """One displayed equation: `lhs = rhs`, tagged and labelled (`dW3`, `eq:dW3`)."""

    lhs: str
    rhs: str
    tag: str
    label: str


@dataclass(frozen=True)
class Shape:
    symbol: str
    shape: str
    what: str


@dataclass(frozen=True)
class ActivationRow:
    layers: str
    name: str
    value: str
    derivative: str
    note: str


@dataclass(frozen=True)
class LayerBlock:
    index: int
    rows: list[Row]


@dataclass(frozen=True)
class ExampleRow:
    """One evaluated quantity: `lhs = formula = value` (no formula for inputs), tagged like its equation.

    `size` is the LaTeX font size that lets the matrix fit the page (wide matrices print smaller).
    """

    lhs: str
    formula: str
    value: str
    tag: str
    size: str = r"\normalsize"


@dataclass
class ExampleView:
    """The worked example: where the numbers come from, then every quantity at them."""

    seeded: bool
    batch: int
    inputs: list[ExampleRow]
    forward: list[ExampleRow]
    loss: ExampleRow
    backward: list[ExampleRow]


@dataclass
class WriteupView:
    name: str
    inline: str
    layout: str
    layout_note: str
    digest: str
    version: str
    sizes: str
    shapes: list[Shape]
    forward: list[Row]
    loss_title: str
    loss: Row
    derivatives: list[ActivationRow]
    delta_out: Row
    delta_note: str
    layers: list[LayerBlock]
    expanded: list[Row]
    drawing: DrawingView
    messages: dict[str, str]
    packages: list[str]
    notes: list[str] = field(default_factory=list)
    example: ExampleView | None = None


def writeup_view(derivation: Derivation, example: bool = False, lang: str = "en") -> WriteupView:
    """The plain view both write-up templates render.

    With `example` (or when the spec has an `[example]` table) the view carries the worked
    example, every equation evaluated at those numbers. `lang` picks the message catalogue
    every sentence comes from (codegen/messages); the mathematics is the same in all.
    """
    net = derivation.network
    depth = net.depth
    column = net.layout == "column"
    m = catalogue(lang)

    def row(eq: Equation, rhs=None) -> Row:
        return Row(latex(eq.lhs), latex(eq.rhs if rhs is None else rhs), eq.name, eq.label)

    shapes = [Shape("X", _math_shape(derivation, "X"), m["shape.X.column" if column else "shape.X.row"])]
    for l in range(1, depth + 1):
        act = activation_latex(net.layers[l - 1].activation)
        shapes.append(
            Shape(symbol_latex(f"W{l}"), _math_shape(derivation, f"W{l}"), m["shape.W"].format(l=l))
        )
        if net.has_bias(l):
            shapes.append(
                Shape(symbol_latex(f"B{l}"), _math_shape(derivation, f"B{l}"), m["shape.B"].format(l=l))
            )
        shapes.append(
            Shape(symbol_latex(f"G{l}"), _math_shape(derivation, f"G{l}"), m["shape.G"].format(l=l))
        )
        if net.batch_norm(l):
            shapes += [
                Shape(symbol_latex(f"{stem}{l}"), _math_shape(derivation, f"{stem}{l}"),
                      m[f"shape.{stem}"].format(l=l))
                for stem in ("MU", "VAR", "GH", "gamma", "beta", "Y")
            ]
        if net.dropout(l) is not None:
            shapes += [
                Shape(symbol_latex(f"A{l}"), _math_shape(derivation, f"A{l}"),
                      m["shape.A"].format(l=l, act=f"${act}$")),
                Shape(symbol_latex(f"M{l}"), _math_shape(derivation, f"M{l}"),
                      m["shape.M"].format(l=l, p=format_number(net.dropout(l)))),
            ]
        shapes.append(
            Shape(
                symbol_latex(f"R{l}"), _math_shape(derivation, f"R{l}"),
                m["shape.R"].format(l=l, act=f"${act}$"),
            )
        )
    shapes += [
        Shape("P", _math_shape(derivation, "P"), m["shape.P"].format(p=f"$P = R_{{{depth}}}$")),
        Shape("T", _math_shape(derivation, "T"), m["shape.T"]),
    ]

    loss_def = net.loss_def
    loss = derivation.loss
    term = loss.term.xreplace({losses.p: sp.Symbol("P_{ij}"), losses.t: sp.Symbol("T_{ij}")})
    summand = latex(term)
    if term.is_Add:  # the sum runs over the whole term
        summand = f"\\left({summand}\\right)"
    loss_rhs = f"\\sum_{{i,j}} {summand}"
    if loss.scale != 1:
        loss_rhs = f"{latex(loss.scale)} {loss_rhs}"
    if loss.penalty is not None:  # the weights' penalty: c sum_l ||W_l||_F^2
        loss_rhs += (
            f" + {latex(loss.penalty)} \\sum_{{l=1}}^{{{depth}}} \\lVert W_{{l}} \\rVert_F^{{2}}"
        )

    derivatives = _activation_rows(derivation, m)
    # The output layer's delta: dL/dY_L before its batch norm, if it has one.
    out = derivation.equation(f"DY{depth}" if net.batch_norm(depth) else f"D{depth}")
    if loss_def.fused:
        delta_note = m["delta.fused"].format(
            title=loss_title(m, loss_def),
            output=loss_def.output,
            g=f"$Y_{{{depth}}}$" if net.batch_norm(depth) else f"$G_{{{depth}}}$",
            tail=m["delta.fused.softmax" if loss_def.output == "softmax" else "delta.fused.end"],
        )
    else:
        delta_note = m["delta.plain"]

    layers = []
    for l in range(depth, 0, -1):
        rows = []
        if l == depth:  # through the output layer's batch norm, after delta_out
            rows += [row(eq) for eq in _delta_equations(derivation, l)[1:]]
        rows += [row(derivation.equation(name)) for name in _gradient_names(net, l)]
        if l > 1:
            rows += [row(eq) for eq in _delta_equations(derivation, l - 1)]
        layers.append(LayerBlock(l, rows))

    expanded = []
    for l in range(depth, max(depth - 2, 0), -1):
        if net.batch_norm(l):  # substituted, batch norm's delta fills a page: see its equations
            continue
        for name in _gradient_names(net, l):
            eq = derivation.equation(name)
            expanded.append(Row(latex(eq.lhs), latex(derivation.expanded(eq.name)), f"{eq.name}*", ""))

    notes = []
    for l, layer in enumerate(net.layers, start=1):
        if not layer.bias:
            notes.append(m["notes.no_bias"].format(l=l))
        if layer.batch_norm:
            notes.append(m["notes.batch_norm"].format(
                l=l, eps=_number_latex(layer.eps), momentum=format_number(layer.momentum)))
            if layer.bias:
                notes.append(m["notes.batch_norm_bias"].format(l=l))
        if layer.dropout is not None:
            notes.append(m["notes.dropout"].format(
                l=l, p=format_number(layer.dropout), scale=latex(1 / (1 - layer.dropout))))
    if net.penalty is not None:
        notes.append(m[f"notes.{net.penalty}"].format(lam=_number_latex(net.penalty_lambda)))
    for l, layer in enumerate(net.layers, start=1):
        if layer.act.warning:
            notes.append(
                m["notes.warning"].format(
                    l=l, activation=layer.activation, warning=activation_warning(m, layer.act)
                )
            )

    return WriteupView(
        name=net.name,
        inline=net.inline(),
        layout=net.layout,
        layout_note=m["layout.column" if column else "layout.row"],
        digest=net.digest(),
        version=__version__,
        sizes="-".join(map(str, net.sizes)),
        shapes=shapes,
        forward=[row(eq) for eq in derivation.forward],
        loss_title=loss_title(m, loss_def),
        loss=Row("L", loss_rhs, "L", "eq:L"),
        derivatives=derivatives,
        delta_out=row(out),
        delta_note=delta_note,
        layers=layers,
        expanded=expanded,
        drawing=drawing_view(net, m),
        messages=m,
        packages=list(LANGUAGE_PACKAGES.get(lang, ())),
        notes=notes,
        example=(
            _example_view(derivation, loss_rhs)
            if example or net.example is not None
            else None
        ),
    )


def _example_view(derivation: Derivation, loss_rhs: str) -> ExampleView:
    """The worked example's rows: inputs, then each equation with its formula and its numbers."""
    worked = worked_example(derivation)

    def row(value) -> ExampleRow:
        eq = value.equation
        return ExampleRow(
            latex(eq.lhs), latex(eq.rhs), matrix_latex(value.matrix), eq.name, _size(value.matrix)
        )

    backward = []
    for value in worked.backward:
        for prime in worked.primes.get(value.name, ()):
            backward.append(
                ExampleRow(latex(prime.node), "", matrix_latex(prime.matrix), "", _size(prime.matrix))
            )
        backward.append(row(value))
    return ExampleView(
        seeded=worked.seeded,
        batch=worked.batch,
        inputs=[
            ExampleRow(symbol_latex(v.name), "", matrix_latex(v.matrix, exact=True), "", _size(v.matrix))
            for v in worked.inputs
        ],
        forward=[row(v) for v in worked.forward],
        loss=ExampleRow("L", loss_rhs, decimal(worked.loss), "L"),
        backward=backward,
    )


def _size(matrix) -> str:
    """A font size at which `matrix.cols` numbers of 8 decimals fit an A4 text line."""
    if matrix.cols <= 4:
        return r"\normalsize"
    size = r"\footnotesize" if matrix.cols <= 6 else r"\scriptsize"
    return size + r"\setlength{\arraycolsep}{3pt}"


def matrix_latex(matrix, exact: bool = False) -> str:
    """A pmatrix of the entries to 8 decimal places (`exact`: the given numbers as written)."""
    show = exact_decimal if exact else decimal
    rows = [" & ".join(show(matrix[i, j]) for j in range(matrix.cols)) for i in range(matrix.rows)]
    return r"\begin{pmatrix} " + r" \\ ".join(rows) + r" \end{pmatrix}"


def decimal(value, places: int = 8) -> str:
    """`value` rounded half-even to `places` decimals, never `-0.00000000`."""
    quantum = Decimal(1).scaleb(-places)
    text = format(Decimal(str(sp.Float(value, 40))).quantize(quantum, rounding=ROUND_HALF_EVEN), "f")
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def exact_decimal(value) -> str:
    """An exact rational with a terminating decimal (as an [example] gives it), in full: 0.1, -2, 0.005."""
    value = sp.Rational(value)
    text = format(Decimal(int(value.p)) / Decimal(int(value.q)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _gradient_names(net, l: int) -> list[str]:
    """dW_l, and dB_l where layer l has a bias."""
    return [f"dW{l}"] + ([f"dB{l}"] if net.has_bias(l) else [])


def _delta_equations(derivation: Derivation, l: int) -> list[Equation]:
    """How delta_l is computed: D_l alone, or through batch norm DY_l, dgamma_l, dbeta_l,
    DGH_l, D_l (in the derivation's order)."""
    return [eq for eq in derivation.backward
            if eq.layer == l and eq.role in ("delta", "gamma", "beta")]


def _number_latex(value) -> str:
    """A spec's decimal as LaTeX: 1e-05 -> 10^{-5}, 0.0001 -> 10^{-4}, 0.25 -> 0.25."""
    text = format_number(value)
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        if sp.Rational(value).q > 1000 and sp.Rational(value).p == 1:
            return f"10^{{{-len(str(sp.Rational(value).q)) + 1}}}"
        return text
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else f"{mantissa} \\cdot {power}"


def _math_shape(derivation: Derivation, name: str) -> str:
    dims = derivation.shape(name)
    if len(dims) == 1:
        return f"({dims[0]},)"
    return "(" + ", ".join(latex(d) if not isinstance(d, int) else str(d) for d in dims) + ")"


def _activation_rows(derivation: Derivation, m: dict[str, str]) -> list[ActivationRow]:
    """One row per distinct (activation, alpha) in the network: f(z) and f'(z)."""
    net = derivation.network
    seen: dict = {}
    for l, layer in enumerate(net.layers, start=1):
        seen.setdefault((layer.activation, net.alpha_of(l)), []).append(l)
    rows = []
    for (name, alpha), layer_list in seen.items():
        act = activations.get(name)
        op = activation_latex(name)
        which = ", ".join(map(str, layer_list))
        if act.over_units is not None:
            rows.append(
                ActivationRow(
                    which,
                    op,
                    _over_units_latex(act.over_units, net.sizes[layer_list[0]]),
                    "",
                    m["activations.softmax"],
                )
            )
            continue
        note = m["activations.with_r"] if act.derivative.has(activations.r) else ""
        if act.takes_alpha:
            note = (note + ", " if note else "") + f"$\\alpha = {format_number(alpha)}$"
        value = latex(act.value_at(activations.z, alpha))
        deriv = latex(act.derivative_at(activations.z, activations.r, alpha))
        rows.append(ActivationRow(which, op, value, deriv, note))
    return rows


def _over_units_latex(record: activations.OverUnits, units: int) -> str:
    """f(z)_i of an activation over the units, its sum written out over k = 1..units."""
    k = sp.Symbol("k", integer=True, positive=True)
    z_i, z_k = sp.Symbol("z_i", real=True), sp.Symbol("z_k", real=True)
    total = sp.Sum(record.summand.xreplace({activations.z: z_k}), (k, 1, units))
    return latex(record.value.xreplace({activations.z: z_i, activations.s: total}))


def render_writeup(
    derivation: Derivation, fmt: str, example: bool = False, lang: str = "en"
) -> str:
    """The write-up as LaTeX (`fmt` "tex") or Markdown (`fmt` "md"), its prose in `lang`.

    `example`: include the worked example even without an `[example]` table (seeded values).
    """
    template = {"tex": "derivation.tex.jinja", "md": "derivation.md.jinja"}[fmt]
    view = writeup_view(derivation, example, lang)
    text = render(
        template,
        view=view,
        m=view.messages,
        tex_escape=tex_escape,
        tex_breakable=tex_breakable,
    )
    return stamp(text)


def tex_escape(text: str) -> str:
    """Text safe inside LaTeX's text mode."""
    table = {
        "\\": r"\textbackslash{}", "_": r"\_", "&": r"\&", "%": r"\%", "$": r"\$",
        "#": r"\#", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    }
    return "".join(table.get(ch, ch) for ch in text)


def tex_breakable(text: str) -> str:
    """`tex_escape`d text that may break after `-`, `,` and `:` (long inline network forms)."""
    out = tex_escape(text)
    for ch in "-,:":
        out = out.replace(ch, ch + r"\allowbreak{}")
    return out


def equations_latex(derivation: Derivation) -> str:
    """Every equation of the write-up (forward, loss, backward) as one tagged `align`.

    Math only, no document around it: what Jupyter's `_repr_latex_` hands to MathJax.
    """
    view = writeup_view(derivation)
    rows = view.forward + [view.loss, view.delta_out]
    for layer in view.layers:
        rows += layer.rows
    lines = [f"{r.lhs} &= {r.rhs} \\tag{{{r.tag}}}" for r in rows]
    return "\\begin{align}\n" + " \\\\\n".join(lines) + "\n\\end{align}"
