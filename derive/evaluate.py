"""Evaluate the derivation's matrix expressions on concrete matrices.

Two backends share one walker over the expression tree: `ExactBackend` works on SymPy
matrices (exact rationals, and symbols where the proof needs them), `NumpyBackend` on float
arrays. Activations are evaluated from their registry definitions (the exact backend uses
their elementary exp/log forms, so the proof never trusts a named function's own derivative).
"""

from __future__ import annotations

import typing

import numpy as np
import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose, ZeroMatrix

from . import activations
from .chain import N
from .functions import elementary
from .nodes import Activated, ActivationPrime, InverseSqrt


class ExactBackend:
    """SymPy matrices; values stay exact."""

    def ones(self, rows: int, cols: int):
        return sp.ones(rows, cols)

    def add(self, a, b):
        return a + b

    def scale(self, c, a):
        return a * c

    def matmul(self, a, b):
        return a * b

    def hadamard(self, a, b):
        return a.multiply_elementwise(b)

    def transpose(self, a):
        return a.T

    def apply(self, act: activations.Activation, alpha, a, axis: int):
        if act.over_units is not None:
            return over_units_exact(act.over_units, a, axis)
        value = elementary(act.value_at(activations.z, alpha))
        return a.applyfunc(lambda x: value.xreplace({activations.z: x}))

    def inverse_sqrt(self, a, eps):
        return a.applyfunc(lambda v: 1 / sp.sqrt(v + eps))

    def prime(self, act: activations.Activation, alpha, g, out):
        deriv = elementary(act.derivative_at(activations.z, activations.r, alpha))
        return sp.Matrix(
            g.rows,
            g.cols,
            lambda i, j: deriv.xreplace({activations.z: g[i, j], activations.r: out[i, j]}),
        )


def over_units_exact(record: activations.OverUnits, a, axis: int):
    """An activation over the unit axis (0: each column is a sample) of a SymPy matrix,
    from its definition value(z_i, s), s = sum of summand(z_k) over the sample's units."""
    z, s = activations.z, activations.s
    parts = a.applyfunc(lambda x: record.summand.xreplace({z: x}))
    if axis == 0:
        sums = [sum(parts[:, j]) for j in range(a.cols)]
        return sp.Matrix(a.rows, a.cols, lambda i, j: record.value.xreplace({z: a[i, j], s: sums[j]}))
    sums = [sum(parts[i, :]) for i in range(a.rows)]
    return sp.Matrix(a.rows, a.cols, lambda i, j: record.value.xreplace({z: a[i, j], s: sums[i]}))


class NumpyBackend:
    """float arrays; activations through `sympy.lambdify` of the registry's expressions."""

    #: lambdified activations, shared by every instance (lambdify is the slow part of a run)
    _cache: typing.ClassVar[dict] = {}

    def ones(self, rows: int, cols: int):
        return np.ones((rows, cols))

    def add(self, a, b):
        return a + b

    def scale(self, c, a):
        return float(c) * a

    def matmul(self, a, b):
        return a @ b

    def hadamard(self, a, b):
        return a * b

    def transpose(self, a):
        return a.T

    def apply(self, act, alpha, a, axis: int):
        if act.over_units is not None:
            return self._over_units(act, a, axis)
        fn = self._lambda("value", act, alpha)
        return np.broadcast_to(fn(a, a), a.shape).astype(float)

    def _over_units(self, act, a, axis: int):
        """The record's stable form, with lse a log-sum-exp of u(a) over `axis`."""
        key = ("over_units", act.over_units)
        if key not in self._cache:
            record = act.over_units
            self._cache[key] = (
                sp.lambdify(activations.z, record.exponent, "numpy"),
                sp.lambdify((activations.z, activations.lse), record.stable, "numpy"),
            )
        exponent, stable = self._cache[key]
        u = np.broadcast_to(exponent(a), a.shape).astype(float)
        top = u.max(axis=axis, keepdims=True)
        lse = top + np.log(np.exp(u - top).sum(axis=axis, keepdims=True))
        return np.broadcast_to(stable(a, lse), a.shape).astype(float)

    def inverse_sqrt(self, a, eps):
        return 1.0 / np.sqrt(a + float(eps))

    def prime(self, act, alpha, g, out):
        fn = self._lambda("derivative", act, alpha)
        return np.broadcast_to(fn(g, out), g.shape).astype(float)

    def _lambda(self, which, act, alpha):
        key = (which, act, alpha)  # the record itself: a changed record is compiled anew
        if key not in self._cache:
            if which == "value":
                expr = act.value_at(activations.z, alpha)
            else:
                expr = act.derivative_at(activations.z, activations.r, alpha)
            expr = elementary(expr)
            self._cache[key] = sp.lambdify(
                (activations.z, activations.r), expr, modules=[{"Heaviside": _heaviside}, "numpy"]
            )
        return self._cache[key]


def _heaviside(x, h0=0):
    return np.heaviside(x, h0)


def evaluate(expr, env: dict, batch: int, backend) -> object:
    """The value of matrix expression `expr`, with symbols looked up by name in `env`.

    Args:
        expr: a matrix expression from a `Derivation` (or built from the same nodes).
        env: symbol name -> concrete matrix in the backend's type.
        batch: the value of the batch size N.
        backend: `ExactBackend()` or `NumpyBackend()`.
    """
    def go(e):
        if isinstance(e, MatrixSymbol):
            return env[e.name]
        if isinstance(e, OneMatrix):
            rows, cols = (int(sp.sympify(d).xreplace({N: batch})) for d in e.shape)
            return backend.ones(rows, cols)
        if isinstance(e, ZeroMatrix):  # a batch-norm layer's dB_l
            rows, cols = (int(sp.sympify(d).xreplace({N: batch})) for d in e.shape)
            return backend.scale(0, backend.ones(rows, cols))
        if isinstance(e, Transpose):
            return backend.transpose(go(e.arg))
        if isinstance(e, MatAdd):
            parts = [go(a) for a in e.args]
            out = parts[0]
            for part in parts[1:]:
                out = backend.add(out, part)
            return out
        if isinstance(e, MatMul):
            coeff = sp.Integer(1)
            out = None
            for a in e.args:
                if not getattr(a, "is_Matrix", False):
                    coeff *= a
                    continue
                value = go(a)
                out = value if out is None else backend.matmul(out, value)
            coeff = sp.sympify(coeff).xreplace({N: batch})
            return out if coeff == 1 else backend.scale(coeff, out)
        if isinstance(e, HadamardProduct):
            parts = [go(a) for a in e.args]
            out = parts[0]
            for part in parts[1:]:
                out = backend.hadamard(out, part)
            return out
        if isinstance(e, Activated):
            return backend.apply(e.activation, e.alpha, go(e.arg), e.axis)
        if isinstance(e, ActivationPrime):
            return backend.prime(e.activation, e.alpha, go(e.g), go(e.out))
        if isinstance(e, InverseSqrt):  # a symbolic epsilon takes its value from env
            eps = env[e.eps.name] if isinstance(e.eps, sp.Symbol) else e.eps
            return backend.inverse_sqrt(go(e.arg), eps)
        raise TypeError(f"cannot evaluate {type(e).__name__}: {e}")

    return go(expr)


def run(derivation, env: dict, batch: int, backend, names=None) -> dict:
    """Evaluate every equation of `derivation` in order, adding each result to a copy of `env`.

    `env` must hold X, T and every W_l, B_l. Returns the extended env. With `names`, stops
    once all of them are computed.
    """
    env = dict(env)
    wanted = set(names or ())
    for eq in derivation.forward + derivation.backward:
        env[eq.name] = evaluate(eq.rhs, env, batch, backend)
        if wanted and wanted <= env.keys():
            break
    return env
