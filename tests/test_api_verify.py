"""`gradscribe.network(NET).verify()` carries both halves of `gradscribe verify`: the proof and the
check of the generated kernel; `ok` needs both."""

import json

import pytest
from gradscribe.check import finite_differences as fd
from gradscribe.derive import proof

import gradscribe


def test_verify_returns_the_proof_and_the_kernel_check(cli):
    result = gradscribe.network("2-3-1:tanh,identity:mse").verify()
    assert isinstance(result, gradscribe.Verification)
    assert result.ok and result.proof.ok and result.kernel_ok and result.kernel_error is None
    assert isinstance(result.proof, proof.ProofReport) and isinstance(result.kernel, fd.KernelCheck)
    # The proof report's attributes, as `verify` returned them before.
    assert [v.name for v in result.verdicts] == ["D2", "dW2", "dB2", "D1", "dW1", "dB1"]
    assert all(v.ok and v.reference == "sympy.diff of the loss" for v in result.verdicts)
    assert result.network.inline() == "2-3-1:tanh,identity:mse:column"
    assert result.proven_on.sizes == (2, 3, 1) and not result.capped and result.built
    assert (result.batch, result.points) == (2, 2)
    # The kernel check: every one of the 13 gradient entries differenced, forward within bounds.
    assert result.kernel.entries == result.kernel.checked == 13 and result.kernel.full_size
    assert [v.name for v in result.kernel.forward] == ["P", "loss"]
    assert all(v.error <= 0.3 * v.tolerance for v in result.kernel.forward)
    assert result.kernel.worst.ratio < 0.3
    # The same JSON and text as the command line.
    status, out, _ = cli("verify", "2-3-1:tanh,identity:mse", "--json")
    assert status == 0 and json.loads(out) == json.loads(json.dumps(result.to_json()))
    status, out, _ = cli("verify", "2-3-1:tanh,identity:mse")
    assert out == str(result) + "\n" == repr(result) + "\n"
    text = str(result)
    assert text.startswith("verify 2-3-1:tanh,identity:mse:column\n")
    assert "6 of 6 formulas proven\ngenerated NumPy kernel (full sizes 2-3-1; float64, batch 3" in text
    assert "ok   loss equals the definitions" in text and "FAIL" not in text
    assert result._repr_markdown_().startswith("**verify** `2-3-1:tanh,identity:mse:column`: ok\n\n```\n")


def test_a_wrong_kernel_fails_verify_though_the_proof_holds(monkeypatch):
    original = fd.render_kernel

    def planted(derivation):  # dB1 scaled by 1.0001 on its way out of loss_and_grads
        return original(derivation) + (
            "\n\n_original_loss_and_grads = loss_and_grads\n\n\n"
            "def loss_and_grads(params, X, T):\n"
            "    value, grads = _original_loss_and_grads(params, X, T)\n"
            "    return value, dict(grads, B1=grads['B1'] * 1.0001)\n"
        )

    monkeypatch.setattr(fd, "render_kernel", planted)
    result = gradscribe.network("2-3-1:tanh,identity:mse").verify()
    assert result.proof.ok and not result.kernel_ok and not result.ok
    assert [p.name for p in result.kernel.params if not p.ok] == ["B1"]
    assert result.to_json()["ok"] is False and result.to_json()["kernel"]["ok"] is False
    assert "FAIL dB1: worst B1[" in str(result)
    assert result._repr_markdown_().startswith("**verify** `2-3-1:tanh,identity:mse:column`: FAIL")


def test_a_kernel_that_cannot_be_checked_fails_verify(monkeypatch):
    def no_point(*args, **kwargs):
        raise fd.PointNotFound("could not draw a point (planted)")

    monkeypatch.setattr(fd, "check_kernel", no_point)
    result = gradscribe.network("2-3-1:relu,identity:mse").verify()
    assert result.proof.ok and result.kernel is None and not result.ok
    assert result.kernel_error == "could not draw a point (planted)"
    assert result.to_json()["kernel"] == {"ok": False, "error": "could not draw a point (planted)"}
    assert str(result).endswith("generated NumPy kernel: FAIL could not draw a point (planted)")


def test_verify_options_reach_the_proof_and_bad_ones_are_refused():
    result = gradscribe.network("5-4-3:sigmoid,identity:half_sse:row").verify(max_width=2, batch=1, points=1)
    assert result.ok and result.capped and result.proven_on.sizes == (2, 2, 2)
    assert (result.batch, result.points) == (1, 1) and result.kernel.full_size
    with pytest.raises(ValueError, match="max_width must be at least 1, not 0"):
        gradscribe.network("2-3-1:tanh,identity:mse").verify(max_width=0)
