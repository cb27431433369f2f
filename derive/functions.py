"""Scalar SymPy functions that activations and losses are built from.

`sigmoid` and `softplus` are kept as named functions (rather than their exp/log forms) so
printers can give them a readable LaTeX name and a numerically stable NumPy form. Their
elementary definitions are reachable through `elementary()`, which the proof uses so that
it never trusts a derivative written here.
"""

import sympy as sp


class sigmoid(sp.Function):
    """The logistic function 1 / (1 + exp(-z))."""

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_Number:
            return 1 / (1 + sp.exp(-z))
        return None

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + sp.exp(-z))


class softplus(sp.Function):
    """log(1 + exp(z))."""

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_Number:
            return sp.log(1 + sp.exp(z))
        return None

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return sp.log(1 + sp.exp(z))


def elementary(expr: sp.Expr) -> sp.Expr:
    """`expr` with the named functions above replaced by their exp/log definitions."""
    return expr.replace(sigmoid, lambda z: 1 / (1 + sp.exp(-z))).replace(
        softplus, lambda z: sp.log(1 + sp.exp(z))
    )
