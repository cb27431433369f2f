"""The network's output P and loss from its logits G_L, evaluated in arbitrary precision.

`gradscribe verify` compares the kernel's P and loss with the network's definitions. Evaluated
in float64 from the registry's definitions, the loss is not accurate where the kernel's is:
binary cross-entropy's log(1 - P) cancels once sigmoid(G_L) is near 1 (an error of u / (1 - P),
3e-8 at G_L = 22) and becomes log(0) = -inf past G_L = 37, and softmax underflows to P = 0 and
log(0). Here the output activation and the loss term are the registry's *definitions* (not the
stable forms the kernel prints), computed with mpmath at a precision that makes the float64
logits G_L exact inputs and every cancellation harmless; only the final values are rounded.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from ..derive import activations, losses
from ..derive.functions import elementary

#: Decimal digits kept beyond those that cancel (1 - sigmoid(g) loses about |g| log10(e)).
GUARD_DIGITS = 40


@dataclass
class OutputAndLoss:
    """P, the loss and what their rounding bound needs, at one point (float64 arrays).

    Attributes:
        P: f_L(G_L), correctly rounded.
        loss: scale * sum of term(P, T), correctly rounded.
        magnitude: per element, M of the form the kernel evaluates (the logit form for a
            fused loss, else term(p, t)): see `magnitude_form`.
        slope: per element, |scale * d term / d p| at (P, T); ``None`` for a fused loss (its
            sensitivity to G_L is delta_L itself).
    """

    P: np.ndarray
    loss: float
    magnitude: np.ndarray
    slope: np.ndarray | None


_compiled: dict = {}


def _mp(expr: sp.Expr, args: tuple) -> typing.Callable:
    """`expr` (elementary form) as an mpmath function of `args` (compiled once)."""
    key = (expr, args)
    if key not in _compiled:
        _compiled[key] = sp.lambdify(
            args, elementary(expr), modules=[{"Heaviside": _heaviside}, "mpmath"]
        )
    return _compiled[key]


def _heaviside(x, h0=0):
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(h0 if x == 0 else 0)


def output_and_loss(network, scale: sp.Expr, G, T) -> OutputAndLoss:
    """P = f_L(G_L) and the loss of `network` at float64 logits `G` and targets `T`.

    Args:
        network: the `Network` (its last layer's activation and its loss are used).
        scale: the loss's factor with the batch size substituted (an exact SymPy number).
        G, T: G_L and the targets, in the network's layout.
    """
    G = np.asarray(G, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    layer = network.layers[-1]
    act = layer.act
    loss = network.loss_def
    axis = 0 if network.layout == "column" else 1
    biggest = float(np.max(np.abs(G))) if G.size else 0.0
    digits = GUARD_DIGITS + math.ceil(biggest * math.log10(math.e))
    with mpmath.workdps(digits):
        g = [[mpmath.mpf(float(v)) for v in row] for row in G]
        t = [[mpmath.mpf(float(v)) for v in row] for row in T]
        rows, cols = G.shape
        if act.over_units is None:
            value = _mp(act.value_at(activations.z, network.alpha_of(network.depth)), (activations.z,))
            p = [[value(x) for x in row] for row in g]
            lse = None
        else:
            p, lse = _over_units(act.over_units, g, axis)
        term = _mp(loss.term, (losses.p, losses.t))
        c = mpmath.mpf(sp.Rational(scale).p) / mpmath.mpf(sp.Rational(scale).q)
        total = mpmath.fsum(term(p[i][j], t[i][j]) for i in range(rows) for j in range(cols))
        form = loss.logit_term if loss.fused else loss.term
        form_args = (losses.g, losses.t, activations.lse) if loss.fused else (losses.p, losses.t)
        size = _mp(magnitude_form(form, set(form_args) - {activations.lse}), form_args)
        magnitude = np.zeros(G.shape)
        for i in range(rows):
            for j in range(cols):
                if loss.fused:
                    at = (g[i][j], t[i][j], lse[j] if axis == 0 else lse[i]) if lse else (g[i][j], t[i][j], 0)
                else:
                    at = (p[i][j], t[i][j])
                magnitude[i, j] = float(size(*at))
        slope = None
        if not loss.fused:
            derivative = _mp(sp.diff(loss.term, losses.p), (losses.p, losses.t))
            slope = np.array([[float(abs(c * derivative(p[i][j], t[i][j]))) for j in range(cols)]
                              for i in range(rows)])
        P = np.array([[float(x) for x in row] for row in p], dtype=np.float64).reshape(G.shape)
        return OutputAndLoss(P, float(c * total), abs(float(c)) * magnitude, slope)


def magnitude_form(expr: sp.Expr, exact: set) -> sp.Expr:
    """M(expr) with |fl(expr) - expr| <= c u M(expr) to first order, for a float evaluation
    of `expr` whose `exact` symbols are exact inputs and whose other symbols (lse) are computed.

    A sum or difference of exact inputs rounds once, relative to its value; other sums add
    their parts' magnitudes; products multiply them; a function's value counts by its
    absolute value, plus 1 (the absolute error of a logarithm of a rounded argument, of a
    log-sum-exp); a computed symbol counts by its absolute value plus 1 likewise.
    """
    if expr.is_Number or expr in exact:
        return abs(expr)
    if expr.is_Symbol:
        return abs(expr) + 1
    if isinstance(expr, sp.Add):
        if len(expr.args) == 2 and all(a.is_Number or a in exact or -a in exact for a in expr.args):
            return abs(expr)  # one rounding: fl(a - b) = (a - b)(1 + delta)
        return sp.Add(*[magnitude_form(a, exact) for a in expr.args])
    if isinstance(expr, sp.Mul):
        return sp.Mul(*[magnitude_form(a, exact) for a in expr.args])
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return magnitude_form(expr.base, exact) ** expr.exp
    return abs(expr) + 1


def _over_units(record: activations.OverUnits, g: list, axis: int):
    """The activation's definition value(z, s), s = sum of summand(z_k) over each sample's
    units, and lse = log s per sample."""
    summand = _mp(record.summand, (activations.z,))
    value = _mp(record.value, (activations.z, activations.s))
    rows, cols = len(g), len(g[0]) if g else 0
    if axis == 0:
        s = [mpmath.fsum(summand(g[i][j]) for i in range(rows)) for j in range(cols)]
        p = [[value(g[i][j], s[j]) for j in range(cols)] for i in range(rows)]
    else:
        s = [mpmath.fsum(summand(x) for x in row) for row in g]
        p = [[value(x, s[i]) for x in row] for i, row in enumerate(g)]
    return p, [mpmath.log(v) for v in s]
