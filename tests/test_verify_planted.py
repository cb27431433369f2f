"""Planted bugs are caught by `gradscribe verify` itself: exit 1, FAIL, no traceback.

(The kernel-side plants, a bias gradient scaled by 1.0001, a transposed weight gradient and a
kernel ignoring alpha, are in test_verify_kernel.py.)
"""

import dataclasses
import json

import pytest
import sympy as sp
from gradscribe.derive import activations, chain, losses, proof, spec
from gradscribe.derive.activations import r


def test_an_equation_refuses_a_right_hand_side_of_another_shape():
    derivation = chain.derive(spec.load("2-3-1:tanh,identity:mse:row"))
    dW1 = derivation.equation("dW1")
    assert dW1.lhs.shape == (2, 3)
    with pytest.raises(chain.ShapeMismatch, match=r"dW1: the right-hand side has shape \(3, 2\), but dW1 has shape \(2, 3\)"):
        chain.Equation(dW1.lhs, dW1.rhs.T, dW1.label, dW1.layer, dW1.role)


def test_a_derivation_with_a_transposed_weight_gradient_fails_verify(monkeypatch, cli):
    original = chain.derive

    def transposed(network):
        derivation = original(network)
        eq = derivation.equation("dW1")
        # Raises ShapeMismatch, as the derivation would if its dW1 were built transposed.
        chain.Equation(eq.lhs, eq.rhs.T, eq.label, eq.layer, eq.role)
        return derivation

    monkeypatch.setattr(proof, "derive", transposed)
    status, out, err = cli("verify", "2-3-1:tanh,identity:mse:row")
    assert status == 1 and "Traceback" not in err
    assert "FAIL dW1" in out and "the right-hand side has shape (3, 2), but dW1 has shape (2, 3)" in out
    assert "generated NumPy kernel: FAIL not checked: the derivation could not be built" in out
    status, out, _ = cli("verify", "2-3-1:tanh,identity:mse:row", "--json")
    data = json.loads(out)
    assert status == 1 and data["ok"] is False and data["built"] is False
    assert data["formulas"]["dW1"]["ok"] is False and data["formulas"]["dW1"]["reference_kind"] == "none"


def test_a_changed_activation_derivative_fails_verify(monkeypatch, cli):
    record = dataclasses.replace(activations.get("tanh"), derivative=1 - r**3)
    monkeypatch.setitem(activations.ACTIVATIONS, "tanh", record)
    status, out, err = cli("verify", "2-3-1:tanh,identity:mse")
    assert status == 1 and "Traceback" not in err
    assert "FAIL D1" in out and "FAIL dW1" in out and "ok   D2" in out
    # The kernel prints the same registry derivative, so finite differences fail it too.
    assert "FAIL gradients vs central finite differences" in out


def test_a_changed_loss_coefficient_fails_verify(monkeypatch, cli):
    # delta_L = 3 (P - T) / (N n_L) instead of 2 (P - T) / (N n_L).
    monkeypatch.setattr(losses.Loss, "delta_coefficient", property(lambda self: 3 / (losses.N * losses.n)))
    status, out, err = cli("verify", "2-2-1:sigmoid,identity:mse", "--json")
    data = json.loads(out)
    assert status == 1 and "Traceback" not in err and data["ok"] is False
    assert {k for k, v in data["formulas"].items() if not v["ok"]} == {"D2", "dW2", "dB2", "D1", "dW1", "dB1"}
    assert data["kernel"]["ok"] is False
    worst = data["kernel"]["worst"]
    assert worst["kernel"] == pytest.approx(1.5 * worst["finite_differences"], rel=1e-6)


def test_a_wrong_step_in_the_middle_of_a_deep_chain_fails_verify(monkeypatch, cli):
    """A straight-through step (derivative 1) is not step's derivative, even five layers down."""
    record = dataclasses.replace(activations.get("step"), derivative=sp.Integer(1))
    monkeypatch.setitem(activations.ACTIVATIONS, "step", record)
    status, out, err = cli("verify", "2-2-2-2-2-1:tanh,step,relu,sigmoid,identity:mse", "--points", "1")
    assert status == 1 and "Traceback" not in err
    assert "FAIL D2" in out and "FAIL dW1" in out and "ok   D3" in out
