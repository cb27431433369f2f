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


class inv_sqrt(sp.Function):
    """x^(-1/2), batch norm's 1 / sqrt(sigma^2 + eps), kept unevaluated even at a number.

    The proof treats inv_sqrt(a) as an indeterminate s with ds/da = -s^3 / 2 (the power
    rule): a derived formula equal to sympy.diff of the loss as a polynomial in s is equal
    for the true root too, and no square root of a rational has to be compared.
    """

    nargs = 1
    is_extended_real = True
    is_positive = True  # the root of a positive sigma^2 + eps (spares SymPy's sign queries)

    def fdiff(self, argindex=1):
        return -inv_sqrt(self.args[0]) ** 3 / 2

    def _eval_evalf(self, prec):
        return (1 / sp.sqrt(self.args[0]))._eval_evalf(prec)

    def _eval_rewrite_as_Pow(self, x, **kwargs):
        return 1 / sp.sqrt(x)


def elementary(expr: sp.Expr) -> sp.Expr:
    """`expr` with the named functions above replaced by their exp/log definitions."""
    return expr.replace(sigmoid, lambda z: 1 / (1 + sp.exp(-z))).replace(
        softplus, lambda z: sp.log(1 + sp.exp(z))
    )
