"""One layer at a time (contract section 8): `layer:KIND:SIZES[:LAYOUT]`, its forward pass and
each local gradient as a vector-Jacobian product of the upstream gradient `dout`.

A `LayerSpec` is the validated one-layer NET. `derive_layer(spec)` returns a `LayerDerivation`:
forward equations and backward equations as SymPy matrix expressions over named matrix symbols
(x, w, b, out, dout, dx, dw, db, ...), built from the same records the network chain uses: an
activation layer applies its `activations` record (`Activated`, `ActivationPrime`), a loss layer
takes its term, scale and output error from its `losses` record, batch norm's equations come from
`normalization`. The same objects are printed as LaTeX, evaluated exactly by the proof and
evaluated in floating point by the checker.

Row layout (the default, as course code writes it): x is (N, D), out = x w + 1 b,
dx = dout wᵀ, dw = xᵀ dout, db = 1ᵀ dout. Column layout: x is (D, N), out = w x + b 1ᵀ,
dx = wᵀ dout, dw = dout xᵀ, db = dout 1.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose

from . import activations, losses, normalization
from .chain import N
from .errors import SpecError, show_text
from .limits import MAX_UNITS
from .nodes import Activated, ActivationPrime

LAYOUTS = ("row", "column")
PREFIX = "layer:"
#: Batch norm's epsilon when the NET gives none (PyTorch's and most course code's).
DEFAULT_EPS = sp.Rational(1, 100000)

#: The loss layers: (the loss record, the output activation it is fused with or follows).
LOSS_KINDS = {
    "softmax_cross_entropy": ("cross_entropy", "softmax"),
    "sigmoid_binary_cross_entropy": ("binary_cross_entropy", "sigmoid"),
    "mse": ("mse", "identity"),
    "half_sse": ("half_sse", "identity"),
    "sse": ("sse", "identity"),
}


@dataclass(frozen=True)
class Kind:
    """What one kind of layer is: its family, sizes, option, parameters and gradients.

    Attributes:
        name: the NET's name for it (`affine`, `relu`, `batchnorm`, `dropout`, `mse`, ...).
        family: "affine", "activation", "batchnorm", "dropout" or "loss".
        size_names: the names of SIZES' parts (("D", "M") for affine, ("D",) or ("C",)).
        option: what `@value` sets: "alpha", "eps", "p", or None when it takes none.
        params: the parameters in the order code passes them ((w, b), (gamma, beta)).
        grads: the local gradients in the order code returns them (dx first).
    """

    name: str
    family: str
    size_names: tuple[str, ...]
    option: str | None = None
    params: tuple[str, ...] = ()
    grads: tuple[str, ...] = ("dx",)

    @property
    def activation(self) -> activations.Activation | None:
        """The activation record of an activation layer, or a loss layer's output activation."""
        if self.family == "activation":
            return activations.get(self.name)
        if self.family == "loss":
            return activations.get(LOSS_KINDS[self.name][1])
        return None

    @property
    def loss(self) -> losses.Loss | None:
        return losses.get(LOSS_KINDS[self.name][0]) if self.family == "loss" else None


KINDS: dict[str, Kind] = {}


def _register(kind: Kind) -> None:
    KINDS[kind.name] = kind


# ---------------------------------------------------------------- the kinds, from the registries
_register(Kind("affine", "affine", ("D", "M"), params=("w", "b"), grads=("dx", "dw", "db")))
for _act in activations.ACTIVATIONS.values():
    if _act.elementwise:  # softmax normalises over the units: only as softmax_cross_entropy
        _register(Kind(_act.name, "activation", ("D",), "alpha" if _act.takes_alpha else None))
_register(Kind("batchnorm", "batchnorm", ("D",), "eps", params=("gamma", "beta"),
               grads=("dx", "dgamma", "dbeta")))
_register(Kind("dropout", "dropout", ("D",), "p"))
for _name in LOSS_KINDS:
    _register(Kind(_name, "loss", ("C",)))


@dataclass(frozen=True)
class LayerSpec:
    """A validated `layer:KIND:SIZES[:LAYOUT]`.

    Attributes:
        kind: the layer's `Kind`.
        sizes: (D, M) for affine, (D,) or (C,) otherwise.
        layout: "row" (x is (N, D)) or "column" (x is (D, N)).
        option: the value after `@` (alpha, epsilon or p), exact; None where the kind takes
            none (an activation's default alpha and batch norm's default epsilon are filled in).
    """

    kind: Kind
    sizes: tuple[int, ...]
    layout: str = "row"
    option: sp.Rational | None = None
    source: str = field(default="<layer>", compare=False)

    @property
    def name(self) -> str:
        return "layer_" + self.kind.name

    @property
    def width_in(self) -> int:
        return self.sizes[0]

    @property
    def width_out(self) -> int:
        return self.sizes[-1]

    @property
    def alpha(self):
        return self.option if self.kind.option == "alpha" else None

    @property
    def eps(self):
        return self.option if self.kind.option == "eps" else None

    @property
    def p(self):
        return self.option if self.kind.option == "p" else None

    def inline(self) -> str:
        """The layer in the NET form, its option and layout spelled out."""
        kind = self.kind.name
        if self.option is not None:
            kind += f"@{format_option(self.option)}"
        return f"{PREFIX}{kind}:{'-'.join(map(str, self.sizes))}:{self.layout}"

    def digest(self) -> str:
        import hashlib

        return hashlib.sha256(self.inline().encode()).hexdigest()


def format_option(value: sp.Rational) -> str:
    """A short decimal for an option that came from a decimal literal (1/100000 -> '1e-05')."""
    text = repr(float(value))
    return text.removesuffix(".0")


# ------------------------------------------------------------------------------- parsing


def is_layer(arg: str) -> bool:
    """Whether a NET argument names one layer (`layer:...`)."""
    return isinstance(arg, str) and arg.startswith(PREFIX)


def parse_layer(text: str) -> LayerSpec:
    """`layer:KIND:SIZES[:LAYOUT]`, e.g. `layer:affine:4-3`, `layer:batchnorm@1e-7:5:column`.

    Raises:
        SpecError: one line naming the part that is wrong.
    """
    source = f"layer {show_text(text)}"
    parts = text.split(":")
    if len(parts) not in (3, 4) or parts[0] != "layer":
        raise SpecError(f"{source}: expected layer:KIND:SIZES[:LAYOUT], e.g. layer:affine:4-3")
    kind_text, sizes_text = parts[1], parts[2]
    layout = parts[3] if len(parts) == 4 else "row"
    if layout not in LAYOUTS:
        raise SpecError(f"{source}: layout: must be row or column, got {show_text(layout)}")
    name, at, option_text = kind_text.strip().partition("@")
    if name not in KINDS:
        raise SpecError(f"{source}: kind: unknown kind {show_text(name)} (known: {', '.join(KINDS)})")
    kind = KINDS[name]
    option = _option(kind, option_text if at else None, source)
    size_texts = sizes_text.split("-")
    if len(size_texts) != len(kind.size_names):
        want = "-".join(kind.size_names)
        raise SpecError(
            f"{source}: sizes: {kind.name} takes {want} ({len(kind.size_names)} "
            f"size{'s' if len(kind.size_names) > 1 else ''}), got {show_text(sizes_text)}"
        )
    sizes = []
    for size_name, size in zip(kind.size_names, size_texts):
        digits = size.strip()
        if not re.fullmatch(r"[0-9]+", digits):
            raise SpecError(f"{source}: sizes: {size_name} is {show_text(size)}, not a whole number")
        digits = digits.lstrip("0") or "0"
        if len(digits) > len(str(MAX_UNITS)) or int(digits) > MAX_UNITS:
            raise SpecError(f"{source}: sizes: {size_name} is more than the {MAX_UNITS} units "
                            "gradscribe handles")
        if int(digits) < 1:
            raise SpecError(f"{source}: sizes: {size_name} must be at least 1")
        sizes.append(int(digits))
    return LayerSpec(kind, tuple(sizes), layout, option, source)


def _option(kind: Kind, text: str | None, source: str):
    """The exact value after `@`, checked against what the kind takes."""
    if kind.option is None:
        if text is not None:
            raise SpecError(f"{source}: kind: {kind.name} takes no @ value")
        return None
    if text is None:
        if kind.option == "p":
            raise SpecError(f"{source}: kind: dropout needs its drop probability, e.g. dropout@0.5")
        if kind.option == "eps":
            return DEFAULT_EPS
        return activations.get(kind.name).default_alpha
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"{source}: kind: {kind.name}@{show_text(text)}: not a number") from None
    what = {"alpha": "alpha", "eps": "epsilon", "p": "the drop probability p"}[kind.option]
    if not math.isfinite(value):
        raise SpecError(f"{source}: kind: {what} must be a finite number, got {text}")
    if kind.option == "p" and not 0 < value < 1:
        raise SpecError(f"{source}: kind: {what} must be above 0 and below 1, got {text}")
    if kind.option == "alpha" and not 0 < value <= 1000:
        raise SpecError(f"{source}: kind: {what} must be a positive number up to 1000, got {text}")
    if kind.option == "eps" and not 0 < value <= 1:
        raise SpecError(f"{source}: kind: {what} must be above 0 and at most 1, got {text}")
    return sp.Rational(repr(value))


# ------------------------------------------------------------------------------- derivation


@dataclass(frozen=True)
class LayerEquation:
    """`lhs = rhs`, labelled like the write-up (`eq:dx`); role "forward" or "backward"."""

    lhs: MatrixSymbol
    rhs: sp.Basic
    label: str
    role: str

    @property
    def name(self) -> str:
        return self.lhs.name


@dataclass(frozen=True)
class LayerDerivation:
    """A layer's symbols, forward equations, loss (loss layers) and local gradients.

    `inputs` names what the layer is given (x, its parameters, dout or the targets t, the
    dropout mask); `backward` holds one equation per local gradient, in `kind.grads` order,
    after any intermediate it uses.
    """

    spec: LayerSpec
    symbols: dict[str, MatrixSymbol]
    inputs: tuple[str, ...]
    forward: tuple[LayerEquation, ...]
    backward: tuple[LayerEquation, ...]
    loss: tuple[sp.Expr, sp.Expr] | None = None  # (scale, term in losses.p and losses.t)
    #: scalar values the equations name (batch norm's epsilon), exact
    constants: dict = field(default_factory=dict)

    @property
    def layout(self) -> str:
        return self.spec.layout

    def equation(self, name: str) -> LayerEquation:
        for eq in self.forward + self.backward:
            if eq.name == name:
                return eq
        raise KeyError(name)

    def gradients(self) -> tuple[LayerEquation, ...]:
        """The equations of the local gradients the layer returns (dx, dw, db, ...)."""
        return tuple(eq for eq in self.backward if eq.name in self.spec.kind.grads)

    def shape(self, name: str, batch: int | None = None) -> tuple:
        """The shape of a named matrix as code holds it (a row-layout bias or γ is 1-D)."""
        rows, cols = self.symbols[name].shape
        if batch is not None:
            rows, cols = (int(sp.sympify(d).xreplace({N: batch})) for d in (rows, cols))
        if name.lstrip("d") in VECTOR_PARAMS and self.layout == "row":
            return (cols,)
        return (rows, cols)


#: Parameters that row-layout code holds as 1-D vectors.
VECTOR_PARAMS = ("b", "gamma", "beta")


def derive_layer(spec: LayerSpec) -> LayerDerivation:
    """The forward pass and every local gradient of one layer."""
    column = spec.layout == "column"

    def mat(name, units, batch=N):
        """A (units, batch) matrix in the column layout, (batch, units) in the row layout."""
        return MatrixSymbol(name, units, batch) if column else MatrixSymbol(name, batch, units)

    kind = spec.kind
    width_in, width_out = spec.width_in, spec.width_out
    symbols = {"x": mat("x", width_in), "dx": mat("dx", width_in)}
    if kind.family != "loss":
        symbols |= {"out": mat("out", width_out), "dout": mat("dout", width_out)}
    ones = OneMatrix(N, 1)
    forward: list[LayerEquation] = []
    backward: list[LayerEquation] = []
    inputs = ["x"]
    constants = {}
    loss = None
    x = symbols["x"]

    def eq(name, rhs, role):
        return LayerEquation(symbols[name], rhs, f"eq:{name}", role)

    if kind.family == "affine":
        symbols |= {
            "w": mat("w", width_out, width_in), "dw": mat("dw", width_out, width_in),
            "b": mat("b", width_out, 1), "db": mat("db", width_out, 1),
        }
        w, b, dout = symbols["w"], symbols["b"], symbols["dout"]
        inputs += ["w", "b", "dout"]
        if column:
            linear = MatAdd(MatMul(w, x), MatMul(b, Transpose(ones)))
            grads = (MatMul(Transpose(w), dout), MatMul(dout, Transpose(x)), MatMul(dout, ones))
        else:
            # Row layout: the products flip (x w, not w x), and so does each gradient's.
            linear = MatAdd(MatMul(x, w), MatMul(ones, b))
            grads = (MatMul(dout, Transpose(w)), MatMul(Transpose(x), dout),
                     MatMul(Transpose(ones), dout))
        forward.append(eq("out", linear, "forward"))
        backward += [eq(name, g, "backward") for name, g in zip(("dx", "dw", "db"), grads)]
    elif kind.family == "activation":
        act = kind.activation
        dout = symbols["dout"]
        inputs.append("dout")
        forward.append(eq("out", Activated(act, spec.alpha, x, axis=0 if column else 1), "forward"))
        if act.derivative == 1:
            dx = dout
        else:
            dx = HadamardProduct(dout, ActivationPrime(act, spec.alpha, x, symbols["out"]))
        backward.append(eq("dx", dx, "backward"))
    elif kind.family == "dropout":
        symbols["mask"] = mat("mask", width_in)
        mask, dout = symbols["mask"], symbols["dout"]
        inputs += ["mask", "dout"]
        keep = 1 / (1 - spec.p)  # inverted dropout: the kept units scaled by 1 / (1 - p)
        forward.append(eq("out", MatMul(keep, HadamardProduct(x, mask)), "forward"))
        backward.append(eq("dx", MatMul(keep, HadamardProduct(dout, mask)), "backward"))
    elif kind.family == "batchnorm":
        symbols |= normalization.symbols(mat, width_in)
        inputs += ["gamma", "beta", "dout"]
        constants[normalization.EPSILON.name] = spec.eps
        forward += [eq(name, rhs, "forward") for name, rhs in normalization.forward(symbols, column)]
        backward += [eq(name, rhs, "backward") for name, rhs in normalization.vjp(symbols, column)]
    else:  # a loss of scores x and targets t
        record, act = kind.loss, kind.activation
        symbols["t"] = mat("t", width_in)
        inputs.append("t")
        loss = (record.scale.xreplace({losses.N: N, losses.n: width_in}), record.term)
        if act.name == "identity":
            prediction = x
        else:
            symbols["p"] = mat("p", width_in)
            forward.append(eq("p", Activated(act, None, x, axis=0 if column else 1), "forward"))
            prediction = symbols["p"]
        coeff = record.delta_coefficient.xreplace({losses.N: N, losses.n: width_in})
        error = MatAdd(prediction, MatMul(sp.S.NegativeOne, symbols["t"]))
        dx = error if coeff == 1 else MatMul(coeff, error)
        if not record.fused and act.derivative != 1:
            dx = HadamardProduct(dx, ActivationPrime(act, None, x, prediction))
        backward.append(eq("dx", dx, "backward"))
    return LayerDerivation(spec, symbols, tuple(inputs), tuple(forward), tuple(backward), loss,
                           constants)
