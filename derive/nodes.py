"""Matrix-expression nodes SymPy lacks: an activation applied to a matrix, and its derivative.

They are SymPy `MatrixExpr`s, so they sit inside `MatMul`, `HadamardProduct` and `Transpose`
like any matrix symbol, and printers dispatch on them by class name.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions.matexpr import MatrixExpr

from . import activations


class _ActivationNode(MatrixExpr):
    """Shared by the nodes below: args[0] names the activation, args[1] is its alpha."""

    @property
    def activation(self) -> activations.Activation:
        return activations.get(self.args[0].name)

    @property
    def alpha(self):
        return self.args[1] if self.activation.takes_alpha else None


class Activated(_ActivationNode):
    """f(A): activation `name` (with `alpha`) applied to the matrix A.

    Elementwise for every activation but softmax, which normalises over the unit axis
    (`axis` 0 in the column layout, 1 in the row layout).
    """

    def __new__(cls, name: str, alpha, arg: MatrixExpr, axis: int = 0):
        alpha = sp.S.Zero if alpha is None else sp.sympify(alpha)
        return super().__new__(cls, _str(name), alpha, arg, sp.Integer(axis))

    @property
    def arg(self) -> MatrixExpr:
        return self.args[2]

    @property
    def axis(self) -> int:
        return int(self.args[3])

    @property
    def shape(self):
        return self.arg.shape


class ActivationPrime(_ActivationNode):
    """f'(G): the elementwise derivative of an activation at G, given its output R = f(G)."""

    def __new__(cls, name: str, alpha, g: MatrixExpr, out: MatrixExpr):
        alpha = sp.S.Zero if alpha is None else sp.sympify(alpha)
        return super().__new__(cls, _str(name), alpha, g, out)

    @property
    def g(self) -> MatrixExpr:
        return self.args[2]

    @property
    def out(self) -> MatrixExpr:
        return self.args[3]

    @property
    def shape(self):
        return self.g.shape


def _str(name) -> Str:
    return name if isinstance(name, Str) else Str(name)
