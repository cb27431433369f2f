"""The kernel printer, pinned one construct per line (sympy's printing/tests/test_numpy.py style).

`fast(expr)` is what the fast style writes for `R1 = expr` (calls into buffers), `textbook(expr)`
what the textbook style writes (one expression over the array API namespace `xp`).
"""

from __future__ import annotations

import sympy as sp
from gradscribe.codegen.kernel import render_network
from gradscribe.codegen.numpy_printer import kernel_printer
from gradscribe.derive import spec
from gradscribe.derive.chain import N, derive
from gradscribe.derive.functions import sigmoid, softplus
from gradscribe.derive.nodes import Activated, ActivationPrime
from sympy import HadamardProduct, MatMul, MatrixSymbol, Transpose

G = MatrixSymbol("G1", 3, N)
R = MatrixSymbol("R1", 3, N)
W = MatrixSymbol("W2", 2, 3)
D = MatrixSymbol("D2", 2, N)
x = sp.Symbol("G1", real=True)


def fast(expr, out="R1") -> str:
    return "; ".join(kernel_printer("fast").statement(expr, out, "(3, N)"))


def textbook(expr) -> str:
    return kernel_printer("textbook").doprint(expr)


def scalar(expr, style="textbook") -> str:
    return kernel_printer(style).elementwise(expr, like="G1")


def eq(net: str, name: str, style: str = "fast") -> str:
    """The printed lines of one equation of `net`, temporaries first."""
    d = derive(spec.load(net))
    return "; ".join(kernel_printer(style).statement(d.equation(name).rhs, name, d.shape_text(name)))


def test_matrix_constructs():
    assert textbook(MatMul(W, R)) == "W2 @ R1"
    assert textbook(Transpose(W)) == "W2.T"
    assert textbook(MatMul(Transpose(W), D)) == "W2.T @ D2"
    assert textbook(HadamardProduct(G, R)) == "G1 * R1"
    assert textbook(MatMul(sp.Rational(1, 2) / N, G)) == "G1 / (2*N)"
    assert textbook(MatMul(2 / N, G)) == "2 / N * G1"
    assert fast(MatMul(W, R), "G2") == "np.dot(W2, R1, out=G2)"
    assert fast(MatMul(Transpose(W), D), "D1") == "np.dot(W2.T, D2, out=D1)"
    assert fast(HadamardProduct(G, R)) == "np.multiply(G1, R1, out=R1)"
    assert fast(MatMul(sp.Rational(1, 2) / N, G)) == "np.divide(G1, 2*N, out=R1)"
    assert fast(MatMul(2 / N, G)) == "np.multiply(G1, 2 / N, out=R1)"


def test_equations_column_and_row():
    assert eq("2-3-2:relu,identity:mse", "G1") == "np.add(np.dot(W1, X, out=G1), B1, out=G1)"
    assert eq("2-3-2:relu,identity:mse:row", "G1") == "np.add(np.dot(X, W1, out=G1), B1, out=G1)"
    assert eq("2-3-2:relu,identity:mse", "dW1") == "np.dot(D1, X.T, out=dW1)"
    assert eq("2-3-2:relu,identity:mse:row", "dW1") == "np.dot(X.T, D1, out=dW1)"
    assert eq("2-3-2:relu,identity:mse", "dB2") == "np.dot(D2, _ones_N, out=dB2)"
    assert eq("2-3-2:relu,identity:mse:row", "dB2") == "np.dot(_ones_N, D2, out=dB2)"
    assert eq("2-3-2:relu,identity:mse", "D2") == "np.divide(np.subtract(P, T, out=D2), N, out=D2)"
    assert eq("2-3-2:relu,identity:half_sse", "D2") == "np.subtract(P, T, out=D2)"
    assert eq("2-3-2:relu,identity:mse", "P") == "R2"
    assert eq("2-3-2:relu,identity:mse", "D1") == (
        "np.multiply(np.dot(W2.T, D2, out=D1), np.greater(R1, 0.0, out=_t0), out=D1)"
    )
    assert eq("2-3-2:relu,identity:mse:row", "D1") == (
        "np.multiply(np.dot(D2, W2.T, out=D1), np.greater(R1, 0.0, out=_t0), out=D1)"
    )
    assert eq("2-3-2:relu,tanh:mse", "D2") == (
        "np.multiply(np.divide(np.subtract(P, T, out=D2), N, out=D2), "
        "np.subtract(1.0, np.square(R2, out=_t0), out=_t0), out=D2)"
    )


def test_textbook_equations_column_and_row():
    assert eq("2-3-2:relu,identity:mse", "G1", "textbook") == "W1 @ X + B1"
    assert eq("2-3-2:relu,identity:mse:row", "G1", "textbook") == "X @ W1 + B1"
    assert eq("2-3-2:relu,identity:mse:row", "dW1", "textbook") == "X.T @ D1"
    assert eq("2-3-2:relu,identity:mse", "dB2", "textbook") == "xp.sum(D2, axis=1, keepdims=True)"
    assert eq("2-3-2:relu,identity:mse:row", "dB2", "textbook") == "xp.sum(D2, axis=0)"
    assert eq("2-3-2:relu,identity:mse", "D2", "textbook") == "(P - T) / N"
    assert eq("2-3-2:relu,identity:sse", "D2", "textbook") == "2 * (P - T)"
    assert eq("2-2-1:relu,identity:mse", "D2", "textbook") == "2 / N * (P - T)"
    assert eq("2-3-2:relu,sigmoid:binary_cross_entropy", "D2", "textbook") == "(P - T) / (2*N)"
    assert eq("2-3-2:relu,softmax:cross_entropy@sum", "D2", "textbook") == "P - T"
    assert eq("2-3-2:relu,identity:mse", "D1", "textbook") == "(W2.T @ D2) * xp.astype(R1 > 0, R1.dtype)"
    assert eq("2-3-2:relu,identity:mse:row", "D1", "textbook") == "(D2 @ W2.T) * xp.astype(R1 > 0, R1.dtype)"
    assert eq("2-3-2:tanh,identity:mse", "D1", "textbook") == "(W2.T @ D2) * (1 - R1**2)"
    assert eq("2-3-2:relu,tanh:mse", "D2", "textbook") == "((P - T) / N) * (1 - R2**2)"
    assert eq("2-3-2:relu,softmax:cross_entropy:row", "R2", "textbook") == "xp.exp(G2 - logsumexp(G2, axis=1))"


def test_activation_values():
    assert fast(Activated("relu", None, G)) == "np.maximum(G1, 0.0, out=R1)"
    assert fast(Activated("identity", None, G)) == "G1"
    assert fast(Activated("softplus", None, G)) == "np.logaddexp(0.0, G1, out=R1)"
    assert fast(Activated("tanh", None, G)) == "np.tanh(G1, out=R1)"
    assert fast(Activated("step", None, G)) == "np.greater(G1, 0.0, out=R1)"
    assert fast(Activated("sigmoid", None, G)) == (
        "np.exp(np.negative(np.logaddexp(0.0, np.negative(G1, out=R1), out=R1), out=R1), out=R1)"
    )
    assert fast(Activated("leaky_relu", sp.Rational(1, 5), G)) == (
        "_where(np.greater(G1, 0.0, out=_t0), G1, np.multiply(G1, 0.2, out=R1), out=R1)"
    )
    assert fast(Activated("elu", 1, G)) == (
        "_where(np.greater(G1, 0.0, out=_t0), G1, "
        "np.subtract(np.exp(np.minimum(G1, 0.0, out=R1), out=R1), 1.0, out=R1), out=R1)"
    )


def test_textbook_activation_values():
    assert textbook(Activated("relu", None, G)) == "xp.maximum(G1, 0.0)"
    assert textbook(Activated("identity", None, G)) == "G1"
    assert textbook(Activated("sigmoid", None, G)) == "sigmoid(G1)"
    assert textbook(Activated("softplus", None, G)) == "softplus(G1)"
    assert textbook(Activated("silu", None, G)) == "G1*sigmoid(G1)"
    assert textbook(Activated("tanh", None, G)) == "xp.tanh(G1)"
    assert textbook(Activated("leaky_relu", sp.Rational(1, 5), G)) == "xp.where(G1 > 0, G1, 0.2*G1)"
    assert textbook(Activated("elu", 1, G)) == "xp.where(G1 > 0, G1, xp.exp(xp.minimum(G1, 0.0)) - 1)"
    assert textbook(Activated("elu", sp.Rational(1, 2), G)) == (
        "xp.where(G1 > 0, G1, 0.5*xp.exp(xp.minimum(G1, 0.0)) - 0.5)"
    )
    assert textbook(Activated("step", None, G)) == "xp.astype(G1 > 0, G1.dtype)"
    assert textbook(Activated("softmax", None, G, 0)) == "xp.exp(G1 - logsumexp(G1, axis=0))"


def test_activation_derivatives():
    assert fast(ActivationPrime("relu", None, G, R), "_d") == "np.greater(R1, 0.0, out=_d)"
    assert fast(ActivationPrime("sigmoid", None, G, R), "_d") == "np.multiply(R1, np.subtract(1.0, R1, out=_d), out=_d)"
    assert fast(ActivationPrime("tanh", None, G, R), "_d") == "np.subtract(1.0, np.square(R1, out=_d), out=_d)"
    assert fast(ActivationPrime("step", None, G, R), "_d") == "0.0"
    assert fast(ActivationPrime("leaky_relu", sp.Rational(1, 100), G, R), "_d") == (
        "_where(np.greater(R1, 0.0, out=_t0), 1.0, 0.01, out=_d)"
    )
    assert fast(ActivationPrime("elu", sp.Rational(1, 2), G, R), "_d") == (
        "_where(np.greater(R1, 0.0, out=_t0), 1.0, np.add(R1, 0.5, out=_d), out=_d)"
    )


def test_textbook_activation_derivatives():
    assert textbook(ActivationPrime("relu", None, G, R)) == "xp.astype(R1 > 0, R1.dtype)"
    assert textbook(ActivationPrime("sigmoid", None, G, R)) == "R1*(1 - R1)"
    assert textbook(ActivationPrime("tanh", None, G, R)) == "1 - R1**2"
    assert textbook(ActivationPrime("softplus", None, G, R)) == "sigmoid(G1)"
    assert textbook(ActivationPrime("step", None, G, R)) == "xp.zeros_like(R1)"
    assert textbook(ActivationPrime("leaky_relu", sp.Rational(1, 100), G, R)) == (
        "xp.where(R1 > 0, 1.0, xp.full_like(R1, 0.01))"
    )
    assert textbook(ActivationPrime("elu", 1, G, R)) == "xp.where(R1 > 0, 1.0, R1 + 1)"
    assert textbook(ActivationPrime("silu", None, G, R)) == "(G1*(1 - sigmoid(G1)) + 1)*sigmoid(G1)"


def test_shared_subexpressions_use_the_workspace_temporaries():
    assert eq("2-3-2:silu,identity:mse", "D1") == (
        "np.exp(np.negative(np.logaddexp(0.0, np.negative(G1, out=_t1), out=_t1), out=_t1), out=_t1); "
        "np.multiply(np.dot(W2.T, D2, out=D1), np.multiply(_t1, np.add(np.multiply(G1, "
        "np.subtract(1.0, _t1, out=_t0), out=_t0), 1.0, out=_t0), out=_t0), out=D1)"
    )


def test_scalar_functions():
    assert scalar(sigmoid(x)) == "sigmoid(G1)"
    assert scalar(softplus(x)) == "softplus(G1)"
    assert scalar(softplus(x), "fast") == "np.logaddexp(0.0, G1)"
    assert scalar(sp.log(x), "fast") == "np.log(G1)"
    assert scalar(sp.log(x)) == "xp.log(G1)"
    assert scalar(sp.Heaviside(x, 0)) == "xp.astype(G1 > 0, G1.dtype)"
    assert scalar(sp.Max(x, 0)) == "xp.maximum(G1, 0.0)"
    assert scalar(sp.Min(0, x)) == "xp.minimum(G1, 0.0)"
    assert scalar(sp.Rational(1, 5) * x) == "0.2*G1"
    assert scalar(x / 3) == "(1/3)*G1"
    assert scalar(sp.Piecewise((1, x > 0), (sp.Rational(1, 5), True))) == (
        "xp.where(G1 > 0, 1.0, xp.full_like(G1, 0.2))"
    )
    assert scalar(sp.Piecewise((sp.exp(x), x < 0), (x + 1, True))) == (
        "xp.where(G1 < 0, xp.exp(xp.minimum(G1, 0.0)), G1 + 1)"
    )


def test_rendering_is_deterministic():
    net = spec.load("2-3-3-2:silu,elu@0.5,softmax:cross_entropy:row")
    assert render_network(net) == render_network(net)
