"""`check --formula` on networks with batch norm, dropout, weight decay and the L2 penalty
(contract sections 6 and 7), as a user runs it: the textbook formulas judged right (exactly),
each slip of section 7 named, symbols the network does not have refused in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from gradscribe.check.formula import FormulaError
from gradscribe.check.judge import check_formula

import gradscribe
from gradscribe.cli import main

#: column layout: batch norm, ReLU and dropout (p = 0.5) in layer 1, weight decay λ = 0.1
COL = "3-4-2:bn+relu+dropout@0.5,identity:mse+wd@0.1"
#: row layout: batch norm, tanh and dropout (p = 0.25), softmax/cross-entropy, L2 λ = 0.05
ROW = "3-4-3:bn+tanh+dropout@0.25,softmax:cross_entropy+l2@0.05:row"
#: column layout: batch norm with eps = 1e-3, sigmoid, dropout 0.2, sigmoid/BCE, L2 λ = 0.01
BCE = "2-3-2:bn@1e-3+sigmoid+dropout@0.2,sigmoid:binary_cross_entropy+l2@0.01"
#: row layout, two batch-norm layers with different dropout rates
DEEP = "3-4-3-2:bn+relu+dropout@0.5,bn+elu+dropout@0.25,identity:sse+wd@0.01:row"

#: wider than the exact judgement (numerically only), two batch-norm layers with different eps
WIDE = "20-64-32-10:bn@1e-8+relu+dropout@0.5,bn+tanh+dropout@0.1,softmax:cross_entropy+wd@1e-4:row"

NOBIAS_TOML = """\
name = "nobias_bn"
layout = "row"
inputs = 3
loss = "half_sse"
weight_decay = 0.5

[[layer]]
units = 4
activation = "leaky_relu"
alpha = 0.1
batch_norm = true
eps = 0.01
bias = false

[[layer]]
units = 2
activation = "identity"
"""


@pytest.fixture(scope="module")
def nobias(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("nets") / "nobias_bn.toml"
    path.write_text(NOBIAS_TOML)
    return str(path)


def _run(capsys, *args):
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def _keys(text) -> set:
    """Every catalogue key in a diagnosis, its nested sentences included."""
    keys = set()
    key = getattr(text, "key", None)
    if key is not None:
        keys.add(key)
        for value in text.fields.values():
            for item in value if isinstance(value, list) else [value]:
                keys |= _keys(item)
    return keys


# the pieces of the textbook formulas, column layout (row layout mirrored below)
_COL_SUM = ".sum(axis=1, keepdims=True)"
_BN_COL = ("(1/N) * (VAR1 + eps)**(-1/2) * (N*DGH1 - DGH1 @ ones @ ones.T "
           "- GH1 * ((DGH1 * GH1) @ ones @ ones.T))")
_BN_ROW = ("(1/N) * (VAR1 + eps)**(-1/2) * (N*DGH1 - DGH1.sum(axis=0) "
           "- GH1 * (DGH1 * GH1).sum(axis=0))")


# ------------------------------------------------------------------------------ right formulas

RIGHT = [
    # --- column: bn + relu + dropout@0.5, identity/mse, weight decay λ = 0.1 (dW gains λW)
    (COL, "D2 = 2 * (P - T) / (N * 2)"),
    (COL, "dW2 = D2 @ R1.T + lam * W2"),
    (COL, "dW2 = D2 @ R1.T + 0.1 * W2"),
    (COL, "dB2 = D2 @ ones"),
    (COL, "dbeta1 = ((W2.T @ D2) * M1 / (1 - p) * relu_prime(Y1)) @ ones"),
    (COL, "dbeta1 = ((W2.T @ D2) * M1 / (1 - 0.5) * (Y1 > 0)).sum(axis=1, keepdims=True)"),
    (COL, "dgamma1 = (((W2.T @ D2) * M1 / (1 - p) * relu_prime(Y1)) * GH1) @ ones"),
    (COL, "dgamma1 = (DY1 * GH1) @ ones"),
    (COL, "dgamma1 = np.sum(DY1 * GH1, axis=1, keepdims=True)"),
    (COL, "dbeta1 = DY1 @ ones"),
    (COL, "dbeta1 = DY1" + _COL_SUM),
    (COL, "D1 = " + _BN_COL),
    (COL, "D1 = (1/N) / np.sqrt(VAR1 + eps) * (N*DGH1 - DGH1" + _COL_SUM
          + " - GH1 * (DGH1 * GH1)" + _COL_SUM + ")"),
    (COL, "D1 = gamma1 * (VAR1 + eps)**(-0.5) / N * (N*DY1 - DY1" + _COL_SUM
          + " - GH1 * (DY1 * GH1)" + _COL_SUM + ")"),
    (COL, "D1 = gamma1 / (N * sqrt(VAR1 + eps1)) * (N*DY1 - DY1 @ ones @ ones.T"
          " - GH1 * ((DY1 * GH1) @ ones @ ones.T))"),
    # the same with Ĝ written out as (G − μ)/sqrt(σ² + ε)
    (COL, "D1 = gamma1 * (VAR1 + eps)**(-1/2) / N * (N*DY1 - DY1" + _COL_SUM
          + " - (G1 - MU1) / (VAR1 + eps) * (DY1 * (G1 - MU1))" + _COL_SUM + ")"),
    (COL, "dW1 = D1 @ X.T + lam * W1"),
    (COL, "dW1 = D1 @ R0.T + lam * W1"),
    (COL, "dB1 = D1 @ ones"),  # B1 of a batch-norm layer: exactly 0, as δ1 sums to 0
    (COL, "dB1 = 0 * B1"),
    # --- row: bn + tanh + dropout@0.25, softmax/cross-entropy, L2 λ = 0.05 (dW gains 2λW)
    (ROW, "D2 = (P - T) / N"),
    (ROW, "dW2 = R1.T @ D2 + 2 * lam * W2"),
    (ROW, "dW2 = R1.T @ D2 + 0.1 * W2"),
    (ROW, "dB2 = ones @ D2"),
    (ROW, "dB2 = D2.sum(axis=0)"),
    (ROW, "dbeta1 = ones @ ((D2 @ W2.T) * M1 / (1 - p) * (1 - A1**2))"),
    (ROW, "dbeta1 = ((D2 @ W2.T) * M1 / (1 - p) * tanh_prime(Y1)).sum(axis=0)"),
    (ROW, "dgamma1 = ((D2 @ W2.T) * M1 / (1 - p) * (1 - tanh(Y1)**2) * GH1).sum(axis=0)"),
    (ROW, "dgamma1 = ones @ (DY1 * GH1)"),
    (ROW, "dgamma1 = np.sum(DY1 * GH1, axis=0)"),
    (ROW, "dbeta1 = np.sum(DY1, axis=0)"),
    (ROW, "D1 = " + _BN_ROW),
    (ROW, "D1 = (1/N) * (VAR1 + eps)**(-1/2) * (N*DGH1 - ones @ DGH1 - GH1 * (ones @ (DGH1 * GH1)))"),
    (ROW, "D1 = 1/(N*np.sqrt(VAR1 + eps)) * (N*gamma1*DY1 - (gamma1*DY1).sum(axis=0, keepdims=True)"
          " - GH1 * (gamma1*DY1*GH1).sum(axis=0, keepdims=True))"),
    (ROW, "D1 = gamma1 * (VAR1 + eps)**-0.5 / N * (N*DY1 - DY1.sum(axis=0)"
          " - (G1 - MU1) * (VAR1 + eps)**-1 * (DY1*(G1 - MU1)).sum(axis=0))"),
    (ROW, "dW1 = X.T @ D1 + 2 * lam * W1"),
    (ROW, "dB1 = D1.sum(axis=0)"),
    # --- column: bn@1e-3 + sigmoid + dropout@0.2, sigmoid/BCE, L2 λ = 0.01
    (BCE, "D2 = (P - T) / (N * 2)"),
    (BCE, "dW2 = D2 @ R1.T + 2 * lam * W2"),
    (BCE, "dW2 = D2 @ R1.T + 0.02 * W2"),
    (BCE, "dbeta1 = ((W2.T @ D2) * M1 / (1 - p) * A1 * (1 - A1)) @ ones"),
    (BCE, "dbeta1 = ((W2.T @ D2) * M1 / 0.8 * sigmoid(Y1) * (1 - sigmoid(Y1))) @ ones"),
    (BCE, "dgamma1 = ((W2.T @ D2) * M1 / (1 - p) * sigmoid_prime(Y1) * GH1).sum(axis=1, keepdims=True)"),
    (BCE, "D1 = " + _BN_COL),
    (BCE, "D1 = (1/N) * (VAR1 + 1e-3)**(-1/2) * (N*DGH1 - DGH1 @ ones @ ones.T"
          " - GH1 * ((DGH1 * GH1) @ ones @ ones.T))"),
    (BCE, "dW1 = D1 @ X.T + 2 * lam * W1"),
    # --- row, two batch-norm layers with p1 = 0.5 and p2 = 0.25
    (DEEP, "dW3 = R2.T @ D3 + lam * W3"),
    (DEEP, "dbeta2 = ((D3 @ W3.T) * M2 / (1 - p2) * where(Y2 > 0, 1, A2 + 1)).sum(axis=0)"),
    (DEEP, "D2 = gamma2 * (VAR2 + eps)**(-1/2) / N * (N*DY2 - DY2.sum(axis=0)"
           " - GH2 * (DY2 * GH2).sum(axis=0))"),
    (DEEP, "dbeta1 = ((D2 @ W2.T) * M1 * 2 * (Y1 > 0)).sum(axis=0)"),
    # the mean form and the long form of batch norm's δ (dx̂, dvar, dmu)
    (COL, "D1 = gamma1 / np.sqrt(VAR1 + eps) * (DY1 - DY1.mean(axis=1, keepdims=True)"
          " - GH1 * (DY1*GH1).mean(axis=1, keepdims=True))"),
    (ROW, "D1 = DGH1/np.sqrt(VAR1+eps) + ((DGH1*(G1-MU1)).sum(axis=0)*(-0.5)*(VAR1+eps)**(-1.5))"
          "*2*(G1-MU1)/N + (-DGH1.sum(axis=0)/np.sqrt(VAR1+eps) + ((DGH1*(G1-MU1)).sum(axis=0)"
          "*(-0.5)*(VAR1+eps)**(-1.5)) * (-2*(G1-MU1)).mean(axis=0))/N"),
    # batch norm's δ^Y_l and δ^Ĝ_l claimed on the left-hand side
    (COL, "DY1 = (W2.T @ D2) * M1 / (1 - p) * relu_prime(Y1)"),
    (COL, "DY1 = (W2.T @ D2) * M1 / (1 - p) * (R1 > 0)"),  # R1 > 0 exactly where A1 > 0 and M1 = 1
    (COL, "DGH1 = gamma1 * DY1"),
    (ROW, "DY1 = (D2 @ W2.T) * M1 / (1 - p) * (1 - A1**2)"),
    (ROW, "DGH1 = DY1 * gamma1"),
    (BCE, "DY1 = (W2.T @ D2) * M1 / (1 - p) * A1 * (1 - A1)"),
    (DEEP, "DY2 = (D3 @ W3.T) * M2 / (1 - p2) * elu_prime(Y2)"),
    # dW of the layer above a dropout layer from the mask written out
    (ROW, "dW2 = (A1 * M1 / (1 - p)).T @ D2 + 2 * lam * W2"),
    # a batch-norm output layer (softmax after it): δ^Y is P - T over N
    ("3-4-3:relu,bn+softmax:cross_entropy:row", "DY2 = (P - T) / N"),
    ("3-4-3:relu,bn+softmax:cross_entropy:row",
     "D2 = gamma2 / np.sqrt(VAR2 + eps) * (DY2 - DY2.mean(axis=0) - GH2 * (DY2*GH2).mean(axis=0))"),
    # the mirrored 1 1ᵀ of the row layout
    (ROW, "D1 = (1/N) * (VAR1 + eps)**(-1/2) * (N*DGH1 - ones @ ones.T @ DGH1"
          " - GH1 * (ones @ ones.T @ (DGH1 * GH1)))"),
    # dB_l of a batch-norm layer as zeros
    (COL, "dB1 = np.zeros_like(B1)"),
    (ROW, "dB1 = zeros_like(B1)"),
]


@pytest.mark.parametrize("net,text", RIGHT)
def test_textbook_formulas_are_right_exactly(net, text, capsys):
    status, out, err = _run(capsys, "check", net, "--formula", text)
    assert status == 0, out + err
    lhs = text.split("=", 1)[0].strip()
    assert out.rstrip().endswith("all right")
    assert f"{lhs} is also exactly equal to the derivation's (exact point, N = 2)" in out


WIDE_RIGHT = [
    "D1 = gamma1 / np.sqrt(VAR1 + eps1) * (DY1 - DY1.mean(axis=0) - GH1 * (DY1*GH1).mean(axis=0))",
    "D2 = DGH2/np.sqrt(VAR2+eps2) + ((DGH2*(G2-MU2)).sum(axis=0)*(-0.5)*(VAR2+eps2)**(-1.5))*2*(G2-MU2)/N"
    " + (-DGH2.sum(axis=0)/np.sqrt(VAR2+eps2) + ((DGH2*(G2-MU2)).sum(axis=0)*(-0.5)*(VAR2+eps2)**(-1.5))"
    " * (-2*(G2-MU2)).mean(axis=0))/N",
    "dB1 = ones @ (gamma1 / np.sqrt(VAR1 + eps1) * (DY1 - DY1.mean(axis=0) - GH1 * (DY1*GH1).mean(axis=0)))",
    "dB2 = D2.sum(axis=0)",
    "dW1 = X.T @ D1 + lam * W1",
    "DY2 = (D3 @ W3.T) * M2 / 0.9 * (1 - A2**2)",
    "dgamma2 = ((D3 @ W3.T) * M2 / 0.9 * (1 - A2**2) * (G2 - MU2) / np.sqrt(VAR2 + 1e-5)).sum(axis=0)",
]


@pytest.mark.parametrize("text", WIDE_RIGHT)
def test_wide_network_judged_numerically_right(text):
    """Past the exact judgement's width the float judgement alone must not call rounding wrong
    (dB of a batch-norm layer sums to 0 only up to rounding)."""
    report = check_formula(WIDE, text)
    assert report.ok, report.params
    assert any("judged numerically only" in n for n in report.notes)


def test_batch_norm_layer_without_bias_from_a_spec_file(nobias, capsys):
    for text in ("D2 = P - T",
                 "dW2 = R1.T @ D2 + lam * W2",
                 "dbeta1 = ((D2 @ W2.T) * where(Y1 > 0, 1, 0.1)).sum(axis=0)",
                 "dbeta1 = ((D2 @ W2.T) * leaky_relu_prime(Y1)).sum(axis=0)",
                 "D1 = gamma1 / N / sqrt(VAR1 + eps) * (N*DY1 - DY1.sum(axis=0)"
                 " - GH1 * (DY1 * GH1).sum(axis=0))",
                 "dW1 = X.T @ D1 + 0.5 * W1"):
        status, out, err = _run(capsys, "check", nobias, "--formula", text)
        assert status == 0, (text, out, err)
    # the layer has no B1, so no dB1 and no B1 on the right
    for text, piece in (("dB1 = D1.sum(axis=0)", "left-hand side 'dB1': layer 1 has no bias"),
                        ("D1 = DY1 * B1", "'B1': layer 1 has no bias (bias = false), so no B1")):
        status, out, err = _run(capsys, "check", nobias, "--formula", text)
        assert status == 2 and out == ""
        assert err.count("\n") == 1 and piece in err, err
    # f' at G where Y belongs, in a layer without bias too
    report = check_formula(nobias, "dbeta1 = ((D2 @ W2.T) * where(G1 > 0, 1, 0.1)).sum(axis=0)")
    assert not report.ok
    assert "freg.slip.prime_at_g" in _keys(report.params["dbeta1"].diagnosis)


def test_python_api_judges_the_same(capsys):
    net = gradscribe.network(COL)
    right = net.check_formula("dgamma1 = (DY1 * GH1) @ ones")
    assert right.ok and right.params["dgamma1"].max_abs_err == 0.0
    wrong = net.check_formula("dgamma1 = DY1 @ ones")
    assert not wrong.ok
    assert "is dbeta1's value" in wrong.params["dgamma1"].diagnosis
    korean = gradscribe.network(ROW).check_formula("dW1 = X.T @ D1 + lam * W1", lang="ko")
    assert not korean.ok
    assert "L2" in korean.to_json()["params"]["dW1"]["diagnosis"]


# ------------------------------------------------------------------------------ each slip named

WRONG = [
    # dropout: the mask left out, 1/(1 − p) left out, both, 1 − p or p in place of 1/(1 − p)
    (COL, "dbeta1 = ((W2.T @ D2) / (1 - p) * relu_prime(Y1)) @ ones", "freg.slip.no_mask",
     "leaves out the dropout mask M1 of layer 1"),
    (COL, "dbeta1 = ((W2.T @ D2) * M1 * relu_prime(Y1)) @ ones", "freg.slip.no_scale",
     "masks with M1 but leaves out dropout's 1/(1 − p) = 2 (p = 0.5)"),
    (COL, "dbeta1 = ((W2.T @ D2) * relu_prime(Y1)) @ ones", "freg.slip.no_dropout",
     "leaves out dropout of layer 1"),
    (ROW, "dbeta1 = ((D2 @ W2.T) / (1 - p) * tanh_prime(Y1)).sum(axis=0)", "freg.slip.no_mask",
     "leaves out the dropout mask M1 of layer 1"),
    (ROW, "dgamma1 = ((D2 @ W2.T) * M1 * tanh_prime(Y1) * GH1).sum(axis=0)", "freg.slip.no_scale",
     "masks with M1 but leaves out dropout's 1/(1 − p)"),
    (BCE, "dbeta1 = ((W2.T @ D2) * M1 * 0.8 * sigmoid_prime(Y1)) @ ones", "freg.slip.times_q",
     "multiplies layer 1's masked δ by 1 − p = 0.8 where inverted dropout divides by it"),
    (BCE, "dbeta1 = ((W2.T @ D2) * M1 / 0.2 * sigmoid_prime(Y1)) @ ones", "freg.slip.over_p",
     "divides layer 1's masked δ by p = 0.2"),
    # f' at G (before batch norm) where Y belongs, or left out
    (COL, "dgamma1 = (((W2.T @ D2) * M1 / (1 - p) * relu_prime(G1)) * GH1) @ ones",
     "freg.slip.prime_at_g", "computes layer 1's relu'(·) at G1, before batch norm, instead of at Y1"),
    (ROW, "dbeta1 = ((D2 @ W2.T) * M1 / (1 - p) * tanh_prime(G1)).sum(axis=0)",
     "freg.slip.prime_at_g", "computes layer 1's tanh'(·) at G1"),
    (BCE, "dbeta1 = ((W2.T @ D2) * M1 / (1 - p) * sigmoid_prime(G1)) @ ones",
     "freg.slip.prime_at_g", "computes layer 1's sigmoid'(·) at G1"),
    (BCE, "dbeta1 = ((W2.T @ D2) * M1 / (1 - p)) @ ones", "freg.slip.prime_missing",
     "leaves out the activation derivative sigmoid'(Y1) of layer 1"),
    # batch norm's δ: γ left out, the naive form, one of the mean/variance terms left out
    (COL, "D1 = (1/N) * (VAR1 + eps)**(-1/2) * (N*DY1 - DY1 @ ones @ ones.T"
          " - GH1 * ((DY1 * GH1) @ ones @ ones.T))", "freg.slip.no_gamma",
     "leaves γ1 out of batch norm's δ1"),
    (ROW, "D1 = (1/N) * (VAR1 + eps)**(-1/2) * (N*DY1 - DY1.sum(axis=0) - GH1 * (DY1 * GH1).sum(axis=0))",
     "freg.slip.no_gamma", "leaves γ1 out of batch norm's δ1"),
    (COL, "D1 = gamma1 / np.sqrt(VAR1 + eps) * DY1", "freg.slip.naive",
     "is batch norm's δ1 without the terms through the batch's mean and variance"),
    (ROW, "D1 = gamma1 * DY1 * (VAR1 + eps)**(-0.5)", "freg.slip.naive",
     "without the terms through the batch's mean and variance"),
    (BCE, "D1 = DGH1 / sqrt(VAR1 + eps)", "freg.slip.naive",
     "without the terms through the batch's mean and variance"),
    (COL, "D1 = DY1 / np.sqrt(VAR1 + eps)", "freg.slip.naive_no_gamma",
     "is DY1 / sqrt(VAR1 + eps) alone"),
    (COL, "D1 = (1/N) * (VAR1 + eps)**(-1/2) * (N*DGH1 - DGH1 @ ones @ ones.T)", "freg.slip.novar",
     "leaves out the term through the batch variance σ²1"),
    (ROW, "D1 = (1/N) * (VAR1 + eps)**(-1/2) * (N*DGH1 - GH1 * (DGH1 * GH1).sum(axis=0))",
     "freg.slip.nomean", "leaves out the term through the batch mean μ1"),
    # dγ and dβ: swapped, the unnormalized G, the wrong axis
    (COL, "dgamma1 = DY1 @ ones", "freg.slip.dgamma_is_dbeta", "dgamma1: is dbeta1's value"),
    (COL, "dbeta1 = (DY1 * GH1) @ ones", "freg.slip.dbeta_is_dgamma", "dbeta1: is dgamma1's value"),
    (ROW, "dgamma1 = DY1.sum(axis=0)", "freg.slip.dgamma_is_dbeta", "is dbeta1's value"),
    (ROW, "dbeta1 = (DY1 * GH1).sum(axis=0)", "freg.slip.dbeta_is_dgamma", "is dgamma1's value"),
    (COL, "dgamma1 = (DY1 * G1) @ ones", "freg.slip.dgamma_on_g",
     "sums DY1 * G1, the input before normalizing"),
    (COL, "dgamma1 = (DY1 * GH1).sum(axis=0, keepdims=True)", "freg.red.units",
     "dgamma1 (layer 1) is DY1 * GH1 summed over the units (axis 0) instead of over the batch (axis 1)"),
    (COL, "dbeta1 = DY1.sum(axis=0)", "freg.red.units",
     "dbeta1 (layer 1) is DY1 summed over the units (axis 0) instead of over the batch (axis 1)"),
    (ROW, "dbeta1 = DY1.sum(axis=1)", "freg.red.units",
     "dbeta1 (layer 1) is DY1 summed over the units (axis 1) instead of over the batch (axis 0)"),
    (ROW, "dgamma1 = (DY1 * GH1).sum(axis=1)", "freg.red.units", "summed over the units (axis 1)"),
    (COL, "dbeta1 = DY1.sum()", "freg.red.all", "summed over every entry (one number)"),
    (COL, "dbeta1 = DY1", "freg.red.none", "is not reduced over the batch"),
    # the penalty: the other convention's factor, left out, on a bias or on γ
    (COL, "dW2 = D2 @ R1.T + 2 * lam * W2", "freg.pen.as_l2",
     "the term of an L2 penalty (+l2@0.1, L += λ Σ‖W‖²); the network has weight decay +wd@0.1"),
    (COL, "dW1 = D1 @ X.T + 0.2 * W1", "freg.pen.as_l2", "whose term is 0.1·W1 (λ = 0.1)"),
    (ROW, "dW2 = R1.T @ D2 + lam * W2", "freg.pen.as_weight_decay",
     "the term of weight decay (+wd@0.05, L += (λ/2) Σ‖W‖²); the network has an L2 penalty +l2@0.05"),
    (BCE, "dW1 = D1 @ X.T + lam * W1", "freg.pen.as_weight_decay", "whose term is 0.02·W1 (λ = 0.01)"),
    (COL, "dW2 = D2 @ R1.T", "freg.pen.missing", "dW2 (layer 2) leaves out the penalty's term 0.1·W2"),
    (ROW, "dW1 = X.T @ D1", "freg.pen.missing", "dW1 (layer 1) leaves out the penalty's term 0.1·W1"),
    (COL, "dB2 = D2 @ ones + lam * B2", "freg.pen.what.bias",
     "dB2 (layer 2) has 0.1·B2 added: a penalty on a bias"),
    (ROW, "dB2 = D2.sum(axis=0) + 2 * lam * B2", "freg.pen.what.bias",
     "dB2 (layer 2) has 0.1·B2 added: a penalty on a bias"),
    (COL, "dgamma1 = (DY1 * GH1) @ ones + lam * gamma1", "freg.pen.what.bn",
     "a penalty on batch norm's γ or β"),
    # dB of a batch-norm layer summing δ^Y (dβ's value) where the batch mean makes it 0
    (COL, "dB1 = DY1 @ ones", "freg.slip.bias_of_bn", "B1 of a batch-norm layer has no gradient"),
    (COL, "dB1 = 0", "diag.reshaped", "dB1 (layer 1) has the right values in another shape: () "
                                      "instead of (4, 1)"),
    # the slips on DY_l and DGH_l claimed on the left
    (COL, "DY1 = (W2.T @ D2) / (1 - p) * relu_prime(Y1)", "freg.slip.no_mask",
     "DY1: leaves out the dropout mask M1 of layer 1"),
    (COL, "DY1 = (W2.T @ D2) * M1 * relu_prime(Y1)", "freg.slip.no_scale",
     "DY1: masks with M1 but leaves out dropout's 1/(1 − p) = 2"),
    (COL, "DY1 = (W2.T @ D2) * M1 / (1 - p) * relu_prime(G1)", "freg.slip.prime_at_g",
     "DY1: computes layer 1's relu'(·) at G1"),
    (BCE, "DY1 = (W2.T @ D2) * M1 / (1 - p)", "freg.slip.prime_missing",
     "DY1: leaves out the activation derivative sigmoid'(Y1)"),
    (COL, "DY1 = ((W2.T @ D2) * M1 / (1 - p) * relu_prime(Y1)).T", "diag.transposed_shape",
     "DY1 is transposed (layer 1): shape (3, 4) where (4, 3) belongs"),
    (COL, "DGH1 = DY1", "freg.slip.no_gamma", "DGH1: leaves γ1 out of batch norm's δ1"),
    # f' from R_l, after dropout, where the activation's own output A_l belongs
    (ROW, "DY1 = (D2 @ W2.T) * M1 / (1 - p) * (1 - R1**2)", "freg.slip.prime_of_r",
     "DY1: computes layer 1's tanh'(·) from R1, the output after dropout, where the activation's "
     "own output A1 belongs"),
    (ROW, "dbeta1 = ones @ ((D2 @ W2.T) * M1 / (1 - p) * (1 - R1**2))", "freg.slip.prime_of_r",
     "from R1, the output after dropout"),
    ("3-4-2:sigmoid+dropout@0.5,identity:mse", "D1 = (W2.T @ D2) * M1 / (1 - p) * R1 * (1 - R1)",
     "freg.slip.prime_of_r", "D1: computes layer 1's sigmoid'(·) from R1"),
    # batch norm left out of δ altogether: δ_l taken as δ^Y_l (also on a batch-norm output layer)
    (ROW, "D1 = DY1", "freg.slip.skips_bn", "D1: is DY1, the gradient at batch norm's output Y1"),
    ("3-4-3:relu,bn+softmax:cross_entropy:row", "D2 = (P - T) / N", "freg.slip.skips_bn",
     "D2: is DY2, the gradient at batch norm's output Y2"),
    # the layer above's dW built from the activation before dropout, or masked but not rescaled
    (ROW, "dW2 = A1.T @ D2 + 2 * lam * W2", "freg.slip.dw_before_dropout",
     "dW2: uses A1, layer 1's activation before dropout, where its output R1 = A1 ⊙ M1 / (1 − p) belongs"),
    ("3-4-2:relu+dropout@0.3,identity:mse+wd@0.1", "dW2 = D2 @ (A1 * M1).T + lam * W2",
     "freg.slip.dw_unscaled", "dW2: uses A1 ⊙ M1 without dropout's 1/(1 − p) = 1.42857 (p = 0.3)"),
    ("3-4-2:relu+dropout@0.3,identity:mse+wd@0.1", "D1 = (W2.T @ D2) * M1 * relu_prime(G1)",
     "freg.slip.no_scale", "D1: masks with M1 but leaves out dropout's 1/(1 − p) = 1.42857 (p = 0.3)"),
    (ROW, "dbeta1 = ((D2 @ W2.T) * M1 * tanh_prime(Y1)).sum(axis=0)", "freg.slip.no_scale",
     "1/(1 − p) = 1.33333 (p = 0.25)"),
    # a common ε written where the network's is another
    (BCE, "D1 = (1/N) * (VAR1 + 1e-5)**(-1/2) * (N*DGH1 - DGH1 @ ones @ ones.T"
          " - GH1 * ((DGH1 * GH1) @ ones @ ones.T))", "freg.eps",
     "D1 (layer 1) normalizes with ε = 1e-05 where the network's batch norm has ε = 0.001"),
    (COL, "D1 = (1/N) / np.sqrt(VAR1 + 1e-8) * (N*DGH1 - DGH1" + _COL_SUM
          + " - GH1 * (DGH1 * GH1)" + _COL_SUM + ")", "freg.eps",
     "normalizes with ε = 1e-08 where the network's batch norm has ε = 1e-05: write eps (or 1e-05)"),
    # the ε of another layer of the network written in this one's
    (WIDE, "D1 = gamma1 / np.sqrt(VAR1 + 1e-5) * (DY1 - DY1.mean(axis=0) - GH1 * (DY1*GH1).mean(axis=0))",
     "freg.eps", "D1 (layer 1) normalizes with ε = 1e-05 where the network's batch norm has ε = 1e-08: "
                 "write eps1 (or 1e-08)"),
]


@pytest.mark.parametrize("net,text,key,fragment", WRONG)
def test_each_slip_is_named(net, text, key, fragment):
    report = check_formula(net, text)
    assert not report.ok
    lhs = text.split("=", 1)[0].strip()
    result = report.params[lhs]
    assert key in _keys(result.diagnosis), result.diagnosis
    assert fragment in result.diagnosis, result.diagnosis


@pytest.mark.parametrize("net,text,fragment", [
    (COL, "dbeta1 = ((W2.T @ D2) * M1 * relu_prime(Y1)) @ ones",
     "dbeta1: masks with M1 but leaves out dropout's 1/(1 − p) = 2 (p = 0.5)"),
    (ROW, "D1 = gamma1 * DY1 / np.sqrt(VAR1 + eps)",
     "D1: is batch norm's δ1 without the terms through the batch's mean and variance"),
    (COL, "dW2 = D2 @ R1.T + 2 * lam * W2", "the term of an L2 penalty (+l2@0.1"),
])
def test_cli_wrong_formula_exits_1_naming_the_slip(net, text, fragment, capsys):
    status, out, err = _run(capsys, "check", net, "--formula", text)
    assert status == 1, out + err
    assert fragment in out
    lhs = text.split("=", 1)[0].strip()
    assert out.rstrip().endswith(f"WRONG: {lhs}")
    status, out, _ = _run(capsys, "check", net, "--formula", text, "--json")
    data = json.loads(out)
    assert status == 1 and data["ok"] is False
    assert fragment in data["params"][lhs]["diagnosis"]


@pytest.mark.parametrize("net,text,fragment", [
    (COL, "dbeta1 = ((W2.T @ D2) / (1 - p) * relu_prime(Y1)) @ ones",
     "층 1의 드롭아웃 마스크 M1이 빠졌습니다"),
    (COL, "dbeta1 = ((W2.T @ D2) * M1 * relu_prime(Y1)) @ ones",
     "M1로 마스크는 했지만 드롭아웃의 1/(1 − p) = 2"),
    (ROW, "D1 = gamma1 * DY1 / np.sqrt(VAR1 + eps)",
     "배치의 평균과 분산을 거치는 항이 없는 배치 정규화의 δ1입니다"),
    (ROW, "dW2 = R1.T @ D2 + lam * W2", "+l2@0.05"),
    (COL, "dW2 = D2 @ R1.T + 2 * lam * W2", "2λ·W2을 더했습니다: L2 벌점"),
    (ROW, "DY1 = (D2 @ W2.T) * M1 / (1 - p) * (1 - R1**2)", "드롭아웃 뒤의 출력 R1로 계산했습니다"),
    (BCE, "D1 = (1/N) / sqrt(VAR1 + 1e-8) * (N*DGH1 - DGH1 @ ones @ ones.T"
          " - GH1 * ((DGH1 * GH1) @ ones @ ones.T))", "ε = 1e-08로 정규화하지만"),
])
def test_korean_names_the_slip(net, text, fragment, capsys):
    status, out, err = _run(capsys, "check", net, "--formula", text, "--lang", "ko")
    assert status == 1, out + err
    assert fragment in out, out
    assert "틀림" in out and "WRONG" not in out


def test_korean_right_formula(capsys):
    status, out, _ = _run(capsys, "check", ROW, "--formula", "dB1 = D1.sum(axis=0)", "--lang", "ko")
    assert status == 0
    assert "dB1(은)는 유도한 값과도 정확히 같습니다" in out


# ------------------------------------------------------------------------------ bad input

BAD = [
    (COL, "dW1 = gamma9 * D1 @ X.T", "'gamma9': the network has layers 1..2, so no gamma9"),
    (COL, "dW2 = D2 @ (gamma2 * R1).T", "'gamma2': layer 2 has no batch norm, so no gamma2"),
    (COL, "dbeta2 = D2 @ ones", "left-hand side 'dbeta2': layer 2 has no batch norm, so no beta2"),
    (COL, "dgamma3 = D2 @ ones", "left-hand side 'dgamma3': the network has layers 1..2"),
    (COL, "D2 = (P - T) * M2 / N", "'M2': layer 2 has no dropout, so no M2"),
    (COL, "D2 = (P - T) * A2 / N", "'A2': layer 2 has no dropout, so no A2"),
    (COL, "D1 = DY1 * VAR2", "'VAR2': layer 2 has no batch norm, so no VAR2"),
    (COL, "D1 = DY1 * MU0", "'MU0': the network has layers 1..2, so no MU0"),
    (ROW, "dW1 = X.T @ (D1 * M3)", "'M3': the network has layers 1..2, so no M3"),
    ("3-4-2:relu+dropout@0.5,identity:mse", "D1 = DY1 * 2", "'DY1': layer 1 has no batch norm"),
    ("3-4-2:bn+relu,identity:mse", "D1 = (W2.T @ D2) * M1", "'M1': layer 1 has no dropout, so no M1"),
    ("3-4-2:bn+relu,identity:mse", "D1 = DY1 * (1 - p)", "'p': the network has no dropout, so no p"),
    ("3-4-2:relu+dropout@0.5,identity:mse", "D1 = eps * D1", "'eps': the network has no batch norm"),
    ("3-4-2:bn+relu,identity:mse", "dW1 = D1 @ X.T + lam * W1",
     "'lam': the network has no penalty on the weights (+wd@λ or +l2@λ), so no lam"),
    (DEEP, "dbeta2 = ((D3 @ W3.T) * M2 / (1 - p) * elu_prime(Y2)).sum(axis=0)",
     "'p': the dropout layers differ in p: write p<l> (p1, p2)"),
    (COL, "dB1 = Q1 @ ones", "'Q1': unknown symbol (known: X, T, N, P, W<l>, B<l>, G<l>, R<l>, D<l>, "
                             "gamma<l>, beta<l>, MU<l>, VAR<l>, GH<l>, Y<l>, DY<l>, DGH<l>, eps, "
                             "M<l>, A<l>, p, lam, ones)"),
    (COL, "dW1 = D1 @ X.T * VAR1 ** 0.25", "a half (0.5, -1/2, ...) for a square root"),
    (COL, "DY2 = D2", "left-hand side 'DY2': layer 2 has no batch norm, so no DY2 (its δ is D2)"),
    ("3-4-2:relu+dropout@0.5,identity:mse", "DGH1 = D1",
     "left-hand side 'DGH1': layer 1 has no batch norm"),
    (COL, "A1 = R1", "left-hand side 'A1': must be dW<l>, dB<l> or D<l>, dgamma<l>, dbeta<l>, "
                     "DY<l>, DGH<l>"),
]


@pytest.mark.parametrize("net,text,fragment", BAD)
def test_symbols_the_network_lacks_exit_2_in_one_line(net, text, fragment, capsys):
    status, out, err = _run(capsys, "check", net, "--formula", text)
    assert status == 2
    assert out == ""
    assert err.startswith("gradscribe: error: --formula: ") and err.count("\n") == 1, err
    assert fragment in err, err
    with pytest.raises(FormulaError):
        check_formula(net, text)


def test_bad_input_from_the_command_line_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "gradscribe", "check", COL, "--formula", "dW1 = gamma9 * D1 @ X.T"],
        capture_output=True, text=True, timeout=120, env=_env(), check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == ("gradscribe: error: --formula: 'gamma9': the network has layers 1..2, "
                           "so no gamma9\n")


# ------------------------------------------------------------------------------ determinism


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "random"  # nothing may depend on the order of a set of strings
    return env


@pytest.mark.parametrize("args,status,fragment", [
    ((COL, "--formula", "D1 = " + _BN_COL), 0, b"all right"),
    ((ROW, "--formula", "D1 = gamma1 * DY1 / np.sqrt(VAR1 + eps)", "--json"), 1,
     b"without the terms through the batch's mean and variance"),
    ((BCE, "--formula", "dW1 = D1 @ X.T + lam * W1", "--lang", "ko"), 1, "틀림: dW1".encode()),
])
def test_same_command_twice_gives_the_same_bytes(args, status, fragment):
    runs = [subprocess.run([sys.executable, "-m", "gradscribe", "check", *args],
                           capture_output=True, timeout=300, env=_env(), check=False)
            for _ in range(2)]
    assert runs[0].returncode == runs[1].returncode == status
    assert fragment in runs[0].stdout
    assert runs[0].stdout == runs[1].stdout
    assert runs[0].stderr == runs[1].stderr == b""
