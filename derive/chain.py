"""The symbolic chain G1 -> R1 -> ... -> L and its back-propagation in textbook delta form.

`derive(network)` returns a `Derivation`: the forward equations, the loss, and the backward
equations delta_L, dW_l, dB_l, delta_{l-1} for every layer, as SymPy matrix expressions over
named matrix symbols (X, T, P, W1, B1, G1, R1, D1, dW1, dB1, ...). Each right-hand side
refers only to symbols defined before it, so the list reads like the write-up, and the same
objects are printed as LaTeX, as NumPy and are checked by the proof.

Column layout: G_l = W_l R_{l-1} + B_l 1^T, delta_{l-1} = (W_l^T delta_l) * f'_{l-1}.
Row layout mirrors it: G_l = R_{l-1} W_l + 1 B_l, delta_{l-1} = (delta_l W_l^T) * f'_{l-1},
with B_l a 1 x n_l row (a NumPy vector of shape (n_l,)). A layer without bias has no B_l
term, no B_l or dB_l symbol and no dB_l equation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose

from .losses import N as loss_N
from .losses import n as loss_n
from .nodes import Activated, ActivationPrime
from .spec import Network

#: The symbolic batch size.
N = sp.Symbol("N", integer=True, positive=True)


@dataclass(frozen=True)
class Equation:
    """`lhs = rhs`, labelled like the write-up (`eq:dW3`).

    `role` is one of "linear", "activation", "prediction", "delta", "weight", "bias".
    """

    lhs: MatrixSymbol
    rhs: sp.Basic
    label: str
    layer: int
    role: str

    def __post_init__(self):
        if tuple(self.lhs.shape) != tuple(self.rhs.shape):
            raise ShapeMismatch(self.lhs.name, tuple(self.lhs.shape), tuple(self.rhs.shape))

    @property
    def name(self) -> str:
        return self.lhs.name


class ShapeMismatch(ValueError):
    """An equation whose right-hand side has another shape than its left-hand side."""

    def __init__(self, name: str, lhs_shape: tuple, rhs_shape: tuple):
        self.name, self.lhs_shape, self.rhs_shape = name, lhs_shape, rhs_shape
        super().__init__(
            f"{name}: the right-hand side has shape {_shape_text(rhs_shape)}, "
            f"but {name} has shape {_shape_text(lhs_shape)}"
        )


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


@dataclass(frozen=True)
class LossEquation:
    """L = scale * sum over all elements of term(P_ij, T_ij)."""

    scale: sp.Expr
    term: sp.Expr
    label: str = "eq:L"


@dataclass(frozen=True)
class Derivation:
    """Everything derived for one network."""

    network: Network
    symbols: dict[str, MatrixSymbol]
    forward: tuple[Equation, ...]
    loss: LossEquation
    backward: tuple[Equation, ...]
    _by_name: dict[str, Equation] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        for eq in self.forward + self.backward:
            self._by_name[eq.name] = eq

    @property
    def depth(self) -> int:
        return self.network.depth

    @property
    def layout(self) -> str:
        return self.network.layout

    def equation(self, name: str) -> Equation:
        """The equation defining `name` (G2, R2, P, D2, dW2, dB2)."""
        return self._by_name[name]

    def gradients(self) -> tuple[Equation, ...]:
        """The dW_l and dB_l equations, output layer first."""
        return tuple(eq for eq in self.backward if eq.role in ("weight", "bias"))

    def deltas(self) -> tuple[Equation, ...]:
        return tuple(eq for eq in self.backward if eq.role == "delta")

    def expanded(self, name: str) -> sp.Basic:
        """The right-hand side of `name` with every delta substituted by its definition."""
        deltas = {eq.lhs: eq.rhs for eq in self.deltas()}
        expr = self.equation(name).rhs
        while True:
            replaced = expr.xreplace(deltas)
            if replaced == expr:
                return expr
            expr = replaced

    def shape(self, name: str) -> tuple:
        """The symbolic shape of a named matrix, as the generated NumPy arrays have it."""
        if name.startswith(("dW", "dB")):
            name = name[1:]
        rows, cols = self.symbols[name].shape
        if name.startswith("B") and self.layout == "row":
            return (cols,)
        return (rows, cols)

    def shape_text(self, name: str) -> str:
        """The shape as readers write it: `(8, N)`, `(8, 1)`, `(8,)`."""
        dims = self.shape(name)
        if len(dims) == 1:
            return f"({dims[0]},)"
        return "(" + ", ".join(str(d) for d in dims) + ")"


def derive(network: Network) -> Derivation:
    """The forward chain, the loss and every layer's gradients of `network`."""
    column = network.layout == "column"
    sizes = network.sizes
    depth = network.depth

    def mat(name, rows, cols):
        return MatrixSymbol(name, rows, cols) if column else MatrixSymbol(name, cols, rows)

    symbols: dict[str, MatrixSymbol] = {
        "X": mat("X", sizes[0], N),
        "T": mat("T", sizes[-1], N),
        "P": mat("P", sizes[-1], N),
    }
    for l in range(1, depth + 1):
        for stem in ("G", "R", "D"):
            symbols[f"{stem}{l}"] = mat(f"{stem}{l}", sizes[l], N)
        symbols[f"W{l}"] = mat(f"W{l}", sizes[l], sizes[l - 1])
        symbols[f"dW{l}"] = mat(f"dW{l}", sizes[l], sizes[l - 1])
        if network.has_bias(l):  # a layer without bias has no B_l and no dB_l at all
            symbols[f"B{l}"] = mat(f"B{l}", sizes[l], 1)
            symbols[f"dB{l}"] = mat(f"dB{l}", sizes[l], 1)

    def s(name):
        return symbols["X"] if name == "R0" else symbols[name]

    ones_row = OneMatrix(1, N)  # 1^T, spreads a column over the batch (column layout)
    ones_col = OneMatrix(N, 1)  # 1, sums over the batch / spreads a row (row layout)

    # ------------------------------------------------------------------ forward
    forward = []
    for l in range(1, depth + 1):
        W, prev = s(f"W{l}"), s(f"R{l - 1}")
        linear = MatMul(W, prev) if column else MatMul(prev, W)
        if network.has_bias(l):
            B = s(f"B{l}")
            spread = MatMul(B, ones_row) if column else MatMul(ones_col, B)
            linear = MatAdd(linear, spread)
        forward.append(Equation(s(f"G{l}"), linear, f"eq:G{l}", l, "linear"))
        act = network.layers[l - 1].act
        applied = Activated(act, network.alpha_of(l), s(f"G{l}"), axis=0 if column else 1)
        forward.append(Equation(s(f"R{l}"), applied, f"eq:R{l}", l, "activation"))
    forward.append(Equation(s("P"), s(f"R{depth}"), "eq:P", depth, "prediction"))

    # ------------------------------------------------------------------ loss
    loss_def = network.loss_def

    scale = loss_def.scale.xreplace({loss_N: N, loss_n: sizes[-1]})
    loss = LossEquation(scale, loss_def.term)

    # ------------------------------------------------------------------ backward
    def prime(l):
        """f'_l(G_l) as a matrix, or None where it is identically 1."""
        act = network.layers[l - 1].act
        if act.derivative == 1:
            return None
        return ActivationPrime(act, network.alpha_of(l), s(f"G{l}"), s(f"R{l}"))

    def hadamard(a, b):
        return a if b is None else HadamardProduct(a, b)

    coeff = loss_def.delta_coefficient.xreplace({loss_N: N, loss_n: sizes[-1]})
    error = MatAdd(s("P"), MatMul(sp.S.NegativeOne, s("T")))
    scaled = error if coeff == 1 else MatMul(coeff, error)
    delta_out = scaled if loss_def.fused else hadamard(scaled, prime(depth))

    backward = [Equation(s(f"D{depth}"), delta_out, f"eq:D{depth}", depth, "delta")]
    for l in range(depth, 0, -1):
        D, prev, W = s(f"D{l}"), s(f"R{l - 1}"), s(f"W{l}")
        if column:
            dW = MatMul(D, Transpose(prev))
            dB = MatMul(D, ones_col)
        else:
            # Row layout: dL/dW_l = R_{l-1}^T delta_l (the product flips with the layout).
            dW = MatMul(Transpose(prev), D)
            dB = MatMul(Transpose(ones_col), D)
        backward.append(Equation(s(f"dW{l}"), dW, f"eq:dW{l}", l, "weight"))
        if network.has_bias(l):
            backward.append(Equation(s(f"dB{l}"), dB, f"eq:dB{l}", l, "bias"))
        if l > 1:
            back = MatMul(Transpose(W), D) if column else MatMul(D, Transpose(W))
            backward.append(
                Equation(s(f"D{l - 1}"), hadamard(back, prime(l - 1)), f"eq:D{l - 1}", l - 1, "delta")
            )
    return Derivation(network, symbols, tuple(forward), loss, tuple(backward))
