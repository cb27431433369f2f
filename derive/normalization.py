"""Batch normalization, defined once: its forward pass and its vector-Jacobian products.

Training mode (contract sections 7 and 8): per unit, the batch's mean μ and biased variance
σ², x̂ = (x − μ) / sqrt(σ² + ε), out = γ ⊙ x̂ + β. `forward` and `vjp` return the equations
as SymPy matrix expressions over the caller's matrix symbols, in the row layout (samples are
rows; μ, σ², γ, β are 1 × D rows spread over the batch by 1) or the column layout (samples
are columns; D × 1 columns spread by 1ᵀ). The gradient at x is the compact form

    dx = (1/N) ⊙ (σ² + ε)^(-1/2) ⊙ (N dx̂ − 1 1ᵀ dx̂ − x̂ ⊙ 1 1ᵀ (dx̂ ⊙ x̂)),   dx̂ = dout ⊙ γ

(row layout), which the proof checks against sympy.diff of ⟨dout, out⟩ like every formula.
"""

from __future__ import annotations

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose

from .chain import N
from .nodes import InverseSqrt

#: ε as a symbol of the equations (its value is the layer's, or the one read from code).
EPSILON = sp.Symbol("epsilon", positive=True)


def symbols(mat, width: int) -> dict[str, MatrixSymbol]:
    """The matrices batch norm adds to x, out, dout and dx: γ, β, μ, σ², x̂, dx̂ and the
    parameter gradients; `mat(name, units, batch)` orients them by the layout."""
    return {
        "gamma": mat("gamma", width, 1), "beta": mat("beta", width, 1),
        "dgamma": mat("dgamma", width, 1), "dbeta": mat("dbeta", width, 1),
        "mu": mat("mu", width, 1), "var": mat("var", width, 1),
        "xhat": mat("xhat", width), "dxhat": mat("dxhat", width),
    }


def spread(v, column: bool):
    """A per-unit vector spread over the batch: 1 v (row layout), v 1ᵀ (column layout)."""
    ones = OneMatrix(N, 1)
    return MatMul(v, Transpose(ones)) if column else MatMul(ones, v)


def batch_sum(a, column: bool):
    """The sum over the batch: 1ᵀ a (row layout), a 1 (column layout)."""
    ones = OneMatrix(N, 1)
    return MatMul(a, ones) if column else MatMul(Transpose(ones), a)


def forward(s: dict, column: bool) -> list[tuple[str, sp.Basic]]:
    """(name, rhs) for μ, σ², x̂ and out, over the symbols `s` (x, gamma, beta, mu, var, xhat)."""
    x = s["x"]
    centred = MatAdd(x, MatMul(sp.S.NegativeOne, spread(s["mu"], column)), evaluate=False)
    return [
        ("mu", MatMul(1 / N, batch_sum(x, column))),
        ("var", MatMul(1 / N, batch_sum(HadamardProduct(centred, centred), column))),
        ("xhat", HadamardProduct(centred, spread(InverseSqrt(s["var"], EPSILON), column))),
        ("out", MatAdd(HadamardProduct(s["xhat"], spread(s["gamma"], column)),
                       spread(s["beta"], column), evaluate=False)),
    ]


def vjp(s: dict, column: bool) -> list[tuple[str, sp.Basic]]:
    """(name, rhs) for dx̂ and the local gradients dx, dγ, dβ of dout."""
    dxhat, xhat = s["dxhat"], s["xhat"]
    terms = MatAdd(
        MatMul(N, dxhat),
        MatMul(sp.S.NegativeOne, spread(batch_sum(dxhat, column), column)),
        MatMul(sp.S.NegativeOne,
               HadamardProduct(xhat, spread(batch_sum(HadamardProduct(dxhat, xhat), column),
                                              column))),
        evaluate=False,
    )
    dx = MatMul(1 / N, HadamardProduct(spread(InverseSqrt(s["var"], EPSILON), column), terms))
    return [
        ("dxhat", HadamardProduct(s["dout"], spread(s["gamma"], column))),
        ("dx", dx),
        ("dgamma", batch_sum(HadamardProduct(s["dout"], xhat), column)),
        ("dbeta", batch_sum(s["dout"], column)),
    ]
