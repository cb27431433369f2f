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

Contract section 7 adds, per layer, batch norm between G_l and the activation (MU_l, VAR_l,
GH_l, Y_l forward; DY_l, DGH_l, dgamma_l, dbeta_l and the compact delta_l backward, from
`normalization`, the one definition of batch norm), inverted dropout after it (A_l =
f(Y_l), R_l = A_l * M_l / (1 - p), the mask M_l an input like X), and a penalty c sum ||W_l||^2 on the
loss (dW_l gains 2c W_l). A batch-norm layer that keeps B_l has dB_l = 0 exactly: the batch
mean takes B_l away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose, ZeroMatrix

from .losses import N as loss_N
from .losses import n as loss_n
from .nodes import Activated, ActivationPrime
from .spec import Network

#: The symbolic batch size.
N = sp.Symbol("N", integer=True, positive=True)


@dataclass(frozen=True)
class Equation:
    """`lhs = rhs`, labelled like the write-up (`eq:dW3`).

    `role` is one of "linear", "mean", "variance", "normalized", "batchnorm", "activation",
    "dropout", "prediction", "delta" (also DY_l and DGH_l of a batch-norm layer), "weight", "bias",
    "gamma", "beta".
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
    """L = scale * sum over all elements of term(P_ij, T_ij) [+ penalty * sum_l ||W_l||^2]."""

    scale: sp.Expr
    term: sp.Expr
    label: str = "eq:L"
    penalty: sp.Expr | None = None  # c of the weights' penalty (lambda/2 or lambda), or None


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
        """The parameter gradients (dW_l, dB_l, dgamma_l, dbeta_l), output layer first."""
        return tuple(eq for eq in self.backward if eq.role in GRADIENT_ROLES)

    def deltas(self) -> tuple[Equation, ...]:
        return tuple(eq for eq in self.backward if eq.role == "delta")

    def forward_names(self, *roles: str) -> list[str]:
        """Names of the forward equations with one of `roles`."""
        return [eq.name for eq in self.forward if eq.role in roles]

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
        if name.startswith(("dW", "dB", "dgamma", "dbeta")):
            name = name[1:]
        rows, cols = self.symbols[name].shape
        if name.startswith(VECTOR_STEMS) and self.layout == "row":
            return (cols,)
        return (rows, cols)

    def shape_text(self, name: str) -> str:
        """The shape as readers write it: `(8, N)`, `(8, 1)`, `(8,)`."""
        dims = self.shape(name)
        if len(dims) == 1:
            return f"({dims[0]},)"
        return "(" + ", ".join(str(d) for d in dims) + ")"


#: Roles of the parameter gradients.
GRADIENT_ROLES = ("weight", "bias", "gamma", "beta")
#: Per-unit vectors, shaped like B_l: a flat (n_l,) array in the row layout.
VECTOR_STEMS = ("B", "gamma", "beta", "MU", "VAR")


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
        if network.batch_norm(l):
            for stem in ("gamma", "beta", "dgamma", "dbeta", "MU", "VAR"):
                symbols[f"{stem}{l}"] = mat(f"{stem}{l}", sizes[l], 1)
            for stem in ("GH", "Y", "DY", "DGH"):
                symbols[f"{stem}{l}"] = mat(f"{stem}{l}", sizes[l], N)
        if network.dropout(l) is not None:
            symbols[f"M{l}"] = mat(f"M{l}", sizes[l], N)
            symbols[f"A{l}"] = mat(f"A{l}", sizes[l], N)

    def s(name):
        return symbols["X"] if name == "R0" else symbols[name]

    ones_row = OneMatrix(1, N)  # 1^T, spreads a column over the batch (column layout)
    ones_col = OneMatrix(N, 1)  # 1, sums over the batch / spreads a row (row layout)
    from . import normalization  # imports N from here

    def bn_symbols(l):
        """Layer l's matrices under the names `normalization` writes its equations in."""
        return {
            "x": s(f"G{l}"), "gamma": s(f"gamma{l}"), "beta": s(f"beta{l}"),
            "mu": s(f"MU{l}"), "var": s(f"VAR{l}"), "xhat": s(f"GH{l}"),
            "dout": s(f"DY{l}"), "dxhat": s(f"DGH{l}"),
        }

    bn_names = {"mu": "MU", "var": "VAR", "xhat": "GH", "out": "Y",
                "dxhat": "DGH", "dx": "D", "dgamma": "dgamma", "dbeta": "dbeta"}
    bn_roles = {"mu": "mean", "var": "variance", "xhat": "normalized", "out": "batchnorm",
                "dxhat": "delta", "dx": "delta", "dgamma": "gamma", "dbeta": "beta"}

    def bn_equations(l, which):
        eps = {normalization.EPSILON: network.layers[l - 1].eps}
        out = []
        for name, rhs in which(bn_symbols(l), column):
            lhs = f"{bn_names[name]}{l}"
            out.append(Equation(s(lhs), rhs.xreplace(eps), f"eq:{lhs}", l, bn_roles[name]))
        return out

    def pre_activation(l):
        """Y_l, what the activation of layer l is applied to (G_l without batch norm)."""
        return s(f"Y{l}") if network.batch_norm(l) else s(f"G{l}")

    def activated(l):
        act = network.layers[l - 1].act
        return Activated(act, network.alpha_of(l), pre_activation(l), axis=0 if column else 1)

    def keep_scale(l):
        """1 / (1 - p) of a dropout layer."""
        return 1 / (1 - network.dropout(l))

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
        if network.batch_norm(l):
            forward += bn_equations(l, normalization.forward)
        if network.dropout(l) is None:
            forward.append(Equation(s(f"R{l}"), activated(l), f"eq:R{l}", l, "activation"))
        else:  # inverted dropout: A_l = f(Y_l), R_l = A_l * M_l / (1 - p)
            forward.append(Equation(s(f"A{l}"), activated(l), f"eq:A{l}", l, "activation"))
            dropped = HadamardProduct(s(f"A{l}"), s(f"M{l}"))
            if keep_scale(l) != 1:
                dropped = MatMul(keep_scale(l), dropped)
            forward.append(Equation(s(f"R{l}"), dropped, f"eq:R{l}", l, "dropout"))
    forward.append(Equation(s("P"), s(f"R{depth}"), "eq:P", depth, "prediction"))

    # ------------------------------------------------------------------ loss
    loss_def = network.loss_def

    scale = loss_def.scale.xreplace({loss_N: N, loss_n: sizes[-1]})
    loss = LossEquation(scale, loss_def.term, penalty=network.penalty_coefficient)

    # ------------------------------------------------------------------ backward
    def prime(l):
        """f'_l(G_l) as a matrix, or None where it is identically 1."""
        act = network.layers[l - 1].act
        if act.derivative == 1:
            return None
        # The activation's output f(Y_l): R_l, or A_l before dropout masked and scaled it.
        out = s(f"R{l}") if network.dropout(l) is None else s(f"A{l}")
        return ActivationPrime(act, network.alpha_of(l), pre_activation(l), out)

    def hadamard(a, b):
        return a if b is None else HadamardProduct(a, b)

    def upstream(l, back):
        """dL/dY_l (dL/dG_l without batch norm) from dL/dR_l = `back`: dropout's mask, f'."""
        if network.dropout(l) is not None:
            back = HadamardProduct(back, s(f"M{l}"))
            if keep_scale(l) != 1:
                back = MatMul(keep_scale(l), back)
        return hadamard(back, prime(l))

    def delta_equations(l, rhs):
        """delta_l, through batch norm when layer l has it (rhs is then DY_l's)."""
        if not network.batch_norm(l):
            return [Equation(s(f"D{l}"), rhs, f"eq:D{l}", l, "delta")]
        eqs = [Equation(s(f"DY{l}"), rhs, f"eq:DY{l}", l, "delta")]
        by_name = {eq.name: eq for eq in bn_equations(l, normalization.vjp)}
        # dgamma_l and dbeta_l first, then DGH_l and delta_l: the parameters of the layer's own
        # normalization, then the way down.
        return eqs + [by_name[f"{stem}{l}"] for stem in ("dgamma", "dbeta", "DGH", "D")]

    coeff = loss_def.delta_coefficient.xreplace({loss_N: N, loss_n: sizes[-1]})
    error = MatAdd(s("P"), MatMul(sp.S.NegativeOne, s("T")))
    scaled = error if coeff == 1 else MatMul(coeff, error)
    delta_out = scaled if loss_def.fused else hadamard(scaled, prime(depth))

    backward = delta_equations(depth, delta_out)
    for l in range(depth, 0, -1):
        D, prev, W = s(f"D{l}"), s(f"R{l - 1}"), s(f"W{l}")
        if column:
            dW = MatMul(D, Transpose(prev))
            dB = MatMul(D, ones_col)
        else:
            # Row layout: dL/dW_l = R_{l-1}^T delta_l (the product flips with the layout).
            dW = MatMul(Transpose(prev), D)
            dB = MatMul(Transpose(ones_col), D)
        if loss.penalty is not None:  # d/dW_l of c ||W_l||^2
            dW = MatAdd(dW, MatMul(2 * loss.penalty, W), evaluate=False)
        backward.append(Equation(s(f"dW{l}"), dW, f"eq:dW{l}", l, "weight"))
        if network.has_bias(l):
            if network.batch_norm(l):  # the batch mean subtracts B_l again: no gradient
                dB = ZeroMatrix(*s(f"B{l}").shape)
            backward.append(Equation(s(f"dB{l}"), dB, f"eq:dB{l}", l, "bias"))
        if l > 1:
            back = MatMul(Transpose(W), D) if column else MatMul(D, Transpose(W))
            backward += delta_equations(l - 1, upstream(l - 1, back))
    return Derivation(network, symbols, tuple(forward), loss, tuple(backward))
