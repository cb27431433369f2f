"""`check --formula`: every wrong formula ends in WRONG, exit 1, figures and a diagnosis."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(
    "net,text,worst",
    [
        ("2-3-1:tanh,identity:mse", "dW2 = D2 @ G1.T", "dW2["),
        ("2-3-1:tanh,identity:mse", "dB1 = D1.sum(axis=1, keepdims=True) + 1", "dB1["),
        ("2-3-1:tanh,identity:mse:row", "dW1 = X.T @ D1 + 1", "dW1["),
    ],
)
def test_unexplained_wrong_formula_names_its_worst_element(cli, net, text, worst):
    status, out, err = cli("check", net, "--formula", text, "--json")
    assert status == 1, err
    entry = next(iter(json.loads(out)["params"].values()))
    assert entry["ok"] is False and entry["max_abs_err"] > 0
    assert "no simple cause found" in entry["diagnosis"]
    assert worst in entry["diagnosis"] and "expected" in entry["diagnosis"]


def test_worst_element_is_the_largest_error():
    import numpy as np
    from gradscribe.mathematics.check import worst_element
    from gradscribe.mathematics.diagnose import Draw

    want = [np.zeros((2, 2)), np.zeros((2, 2))]
    got = [np.array([[0.0, 0.1], [0.0, 0.0]]), np.array([[0.0, 0.0], [-0.5, 0.0]])]
    draws = [Draw(3, {}, {}), Draw(5, {}, {})]
    assert worst_element("dW1", got, want, draws) == "dW1[1, 0]: got -0.5, expected 0 (N = 5)"
