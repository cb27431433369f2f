"""The NumPy printer, pinned one construct per line (sympy's printing/tests/test_numpy.py style)."""

from __future__ import annotations

import sympy as sp
from gradscribe.codegen.kernel import render_network
from gradscribe.codegen.numpy_printer import KernelPrinter
from gradscribe.derive import spec
from gradscribe.derive.chain import N, derive
from gradscribe.derive.functions import sigmoid, softplus
from gradscribe.derive.nodes import Activated, ActivationPrime
from sympy import HadamardProduct, MatMul, MatrixSymbol, OneMatrix, Transpose

G = MatrixSymbol("G1", 3, N)
R = MatrixSymbol("R1", 3, N)
W = MatrixSymbol("W2", 2, 3)
D = MatrixSymbol("D2", 2, N)
x = sp.Symbol("G1", real=True)


def p(expr) -> str:
    return KernelPrinter().doprint(expr)


def e(expr, like="G1") -> str:
    return KernelPrinter().elementwise(expr, like)


def eq(net: str, name: str) -> str:
    """The printed lines of one equation of `net`, temporaries first."""
    printer = KernelPrinter()
    d = derive(spec.load(net))
    return "; ".join(f"{lhs} = {rhs}" for lhs, rhs in printer.statement(name, d.equation(name).rhs))


def test_matrix_constructs():
    assert p(MatMul(W, R)) == "W2 @ R1"
    assert p(Transpose(W)) == "W2.T"
    assert p(OneMatrix(N, 1)) == "np.ones((N, 1))"
    assert p(MatMul(Transpose(W), D)) == "W2.T @ D2"
    assert p(HadamardProduct(G, R)) == "G1 * R1"
    assert p(MatMul(sp.Rational(1, 2) / N, G)) == "G1 / (2*N)"
    assert p(MatMul(G, OneMatrix(N, 1))) == "G1.sum(axis=1, keepdims=True)"
    assert p(MatMul(Transpose(OneMatrix(N, 1)), G.T)) == "(G1.T).sum(axis=0)"


def test_equations_column_and_row():
    assert eq("2-3-2:relu,identity:mse", "G1") == "G1 = W1 @ X + B1"
    assert eq("2-3-2:relu,identity:mse:row", "G1") == "G1 = X @ W1 + B1"
    assert eq("2-3-2:relu,identity:mse", "dW1") == "dW1 = D1 @ X.T"
    assert eq("2-3-2:relu,identity:mse:row", "dW1") == "dW1 = X.T @ D1"
    assert eq("2-3-2:relu,identity:mse", "dB2") == "dB2 = D2.sum(axis=1, keepdims=True)"
    assert eq("2-3-2:relu,identity:mse:row", "dB2") == "dB2 = D2.sum(axis=0)"
    assert eq("2-3-2:relu,identity:mse", "D2") == "D2 = (P - T) / N"
    assert eq("2-3-2:relu,identity:half_sse", "D2") == "D2 = P - T"
    assert eq("2-3-2:relu,sigmoid:binary_cross_entropy", "D2") == "D2 = (P - T) / (2*N)"
    assert eq("2-3-2:relu,identity:mse", "D1") == "D1 = (W2.T @ D2) * (R1 > 0).astype(R1.dtype)"
    assert eq("2-3-2:relu,identity:mse:row", "D1") == "D1 = (D2 @ W2.T) * (R1 > 0).astype(R1.dtype)"
    assert eq("2-3-2:tanh,identity:mse", "D1") == "D1 = (W2.T @ D2) * (1 - R1**2)"
    assert eq("2-3-2:relu,tanh:mse", "D2") == "D2 = ((P - T) / N) * (1 - R2**2)"


def test_activation_values():
    assert p(Activated("relu", None, G)) == "np.maximum(G1, 0)"
    assert p(Activated("identity", None, G)) == "G1"
    assert p(Activated("sigmoid", None, G)) == "np.exp(-np.logaddexp(0.0, -G1))"
    assert p(Activated("softplus", None, G)) == "np.logaddexp(0.0, G1)"
    assert p(Activated("silu", None, G)) == "G1*np.exp(-np.logaddexp(0.0, -G1))"
    assert p(Activated("tanh", None, G)) == "np.tanh(G1)"
    assert p(Activated("leaky_relu", sp.Rational(1, 5), G)) == "np.where(G1 > 0, G1, 0.2*G1)"
    assert p(Activated("elu", 1, G)) == "np.where(G1 > 0, G1, np.exp(np.minimum(G1, 0)) - 1)"
    assert p(Activated("elu", sp.Rational(1, 2), G)) == (
        "np.where(G1 > 0, G1, 0.5*np.exp(np.minimum(G1, 0)) - 0.5)"
    )
    assert p(Activated("step", None, G)) == "(G1 > 0).astype(G1.dtype)"
    assert p(Activated("softmax", None, G, 0)) == "np.exp(G1 - _logsumexp(G1, axis=0))"
    assert p(Activated("softmax", None, G, 1)) == "np.exp(G1 - _logsumexp(G1, axis=1))"


def test_activation_derivatives():
    assert p(ActivationPrime("relu", None, G, R)) == "(R1 > 0).astype(R1.dtype)"
    assert p(ActivationPrime("sigmoid", None, G, R)) == "R1*(1 - R1)"
    assert p(ActivationPrime("tanh", None, G, R)) == "1 - R1**2"
    assert p(ActivationPrime("softplus", None, G, R)) == "np.exp(-np.logaddexp(0.0, -G1))"
    assert p(ActivationPrime("step", None, G, R)) == "np.zeros_like(R1)"
    assert p(ActivationPrime("leaky_relu", sp.Rational(1, 100), G, R)) == (
        "np.where(R1 > 0, 1, 0.01).astype(R1.dtype)"
    )
    assert p(ActivationPrime("elu", 1, G, R)) == "np.where(R1 > 0, 1, R1 + 1)"


def test_shared_subexpressions_use_a_fixed_name_stream():
    assert eq("2-3-2:silu,identity:mse", "D1") == (
        "_t0 = np.exp(-np.logaddexp(0.0, -G1)); D1 = (W2.T @ D2) * _t0*(G1*(1 - _t0) + 1)"
    )


def test_scalar_functions():
    assert e(sigmoid(x)) == "np.exp(-np.logaddexp(0.0, -G1))"
    assert e(softplus(x)) == "np.logaddexp(0.0, G1)"
    assert e(sp.Heaviside(x, 0)) == "(G1 > 0).astype(G1.dtype)"
    assert e(sp.Max(x, 0)) == "np.maximum(G1, 0)"
    assert e(sp.Min(0, x)) == "np.minimum(G1, 0)"
    assert e(sp.Rational(1, 5) * x) == "0.2*G1"
    assert e(x / 3) == "(1/3)*G1"
    assert e(sp.Piecewise((1, x > 0), (sp.Rational(1, 5), True))) == (
        "np.where(G1 > 0, 1, 0.2).astype(G1.dtype)"
    )
    assert e(sp.Piecewise((sp.exp(x), x < 0), (x + 1, True))) == (
        "np.where(G1 < 0, np.exp(np.minimum(G1, 0)), G1 + 1)"
    )


def test_rendering_is_deterministic():
    net = spec.load("2-3-3-2:silu,elu@0.5,softmax:cross_entropy:row")
    assert render_network(net) == render_network(net)
