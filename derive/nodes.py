"""Matrix-expression nodes SymPy lacks: an activation applied to a matrix, and its derivative.

They are SymPy `MatrixExpr`s, so they sit inside `MatMul`, `HadamardProduct` and `Transpose`
like any matrix symbol, and printers dispatch on them by class name. Each node holds its
activation's record (from `gradscribe.derive.activations`) itself, so what an expression means
never depends on a registry looked up later.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.basic import Atom
from sympy.matrices.expressions.matexpr import MatrixExpr

from . import activations


class Record(Atom):
    """An activation record as a SymPy atom: equal, hashed and sorted by the record it holds.

    It prints as the activation's name, so expressions read and sort as they did when nodes
    held only the name.
    """

    __slots__ = ("record",)

    def __new__(cls, record: activations.Activation):
        obj = super().__new__(cls)
        obj.record = record
        return obj

    def __getnewargs__(self):
        return (self.record,)

    def _hashable_content(self):
        return (self.record,)

    @property
    def name(self) -> str:
        return self.record.name

    def _sympystr(self, printer) -> str:
        return self.record.name

    def _sympyrepr(self, printer) -> str:
        return f"{type(self).__name__}({self.record.name!r})"


class _ActivationNode(MatrixExpr):
    """Shared by the nodes below: args[0] holds the activation's record, args[1] its alpha."""

    @property
    def record(self) -> activations.Activation:
        return self.args[0].record

    @property
    def activation(self) -> activations.Activation:
        return self.args[0].record

    @property
    def name(self) -> str:
        return self.args[0].record.name

    @property
    def alpha(self):
        return self.args[1] if self.record.takes_alpha else None


class Activated(_ActivationNode):
    """f(A): the activation `record` (with `alpha`) applied to the matrix A.

    Elementwise for every activation but softmax, which normalises over the unit axis
    (`axis` 0 in the column layout, 1 in the row layout). `record` is an
    `activations.Activation`; a name is looked up once, when the node is built.
    """

    def __new__(cls, record, alpha, arg: MatrixExpr, axis: int = 0):
        return super().__new__(cls, _record(record), _alpha(alpha), arg, sp.Integer(axis))

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
    """f'(G): the elementwise derivative of an activation at G, given its output R = f(G).

    `record` as for `Activated`.
    """

    def __new__(cls, record, alpha, g: MatrixExpr, out: MatrixExpr):
        return super().__new__(cls, _record(record), _alpha(alpha), g, out)

    @property
    def g(self) -> MatrixExpr:
        return self.args[2]

    @property
    def out(self) -> MatrixExpr:
        return self.args[3]

    @property
    def shape(self):
        return self.g.shape


def _record(record) -> Record:
    if isinstance(record, Record):
        return record
    if isinstance(record, str):
        record = activations.get(record)
    return Record(record)


def _alpha(alpha):
    return sp.S.Zero if alpha is None else sp.sympify(alpha)


class InverseSqrt(MatrixExpr):
    """(A + ε)^(-1/2), elementwise: batch norm's 1 / sqrt(σ² + ε). `eps` is a number or a
    scalar symbol whose value the evaluation's environment gives (the checker reads it from
    the code's own output)."""

    def __new__(cls, arg: MatrixExpr, eps):
        return super().__new__(cls, arg, sp.sympify(eps))

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]

    @property
    def eps(self):
        return self.args[1]

    @property
    def shape(self):
        return self.arg.shape
