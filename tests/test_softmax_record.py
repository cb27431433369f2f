"""Softmax has one definition (its registry record) that the write-up, the kernel, float and
exact evaluation and the proof all follow: a change planted in the record shows up in each."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import sympy as sp
from gradscribe.check.finite_differences import load_kernel
from gradscribe.codegen.kernel import render_network
from gradscribe.codegen.writeup import render_writeup
from gradscribe.derive import activations, proof, spec
from gradscribe.derive.activations import lse, s, z
from gradscribe.derive.chain import derive
from gradscribe.derive.evaluate import ExactBackend, NumpyBackend, run

NET = "2-3:softmax:cross_entropy"
G = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]])  # column layout: one sample per column


def softmax(g, axis=0):
    """Restated from the contract: exp(g_i) / sum_k exp(g_k) over the units."""
    e = np.exp(g - g.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_the_stable_form_is_the_definition():
    record = activations.get("softmax").over_units
    assert record.summand == sp.exp(z)
    assert sp.simplify(record.stable.xreplace({lse: sp.log(s)}) - record.value) == 0


def test_float_and_exact_evaluation_follow_the_record():
    act = activations.get("softmax")
    np.testing.assert_allclose(NumpyBackend().apply(act, None, G, 0), softmax(G), rtol=1e-14)
    np.testing.assert_allclose(NumpyBackend().apply(act, None, G.T, 1), softmax(G).T, rtol=1e-14)
    exact = ExactBackend().apply(act, None, sp.Matrix([[1, 2], [0, -1]]), 0)
    assert sp.simplify(exact[0, 0] - sp.E / (sp.E + 1)) == 0
    assert sp.simplify(exact[1, 1] - 1 / (1 + sp.exp(3))) == 0


@pytest.fixture
def planted(monkeypatch):
    """softmax with temperature 1/2 planted in the registry: exp(2 z_i) / sum_k exp(2 z_k)."""
    record = activations.OverUnits(
        summand=sp.exp(2 * z), value=sp.exp(2 * z) / s, stable=sp.exp(2 * z - lse)
    )
    changed = dataclasses.replace(activations.get("softmax"), over_units=record)
    monkeypatch.setitem(activations.ACTIVATIONS, "softmax", changed)
    return changed


def test_a_planted_change_shows_in_the_writeup(planted):
    md = render_writeup(derive(spec.load(NET)), "md")
    assert r"\frac{e^{2 z_{i}}}{\sum_{k=1}^{3} e^{2 z_{k}}}" in md


def test_a_planted_change_shows_in_the_kernel(planted):
    net = spec.load(NET)
    source = render_network(net)
    assert "_logsumexp(2*G1, axis=0)" in source
    module = load_kernel(source, "planted_softmax")
    params = {"W1": np.eye(3, 2), "B1": np.zeros((3, 1))}
    X = np.array([[0.5, -1.0], [2.0, 0.25]])
    P, _ = module.forward(params, X)
    np.testing.assert_allclose(P, softmax(2 * (params["W1"] @ X)), rtol=1e-13)


def test_a_planted_change_shows_in_float_evaluation(planted):
    np.testing.assert_allclose(NumpyBackend().apply(planted, None, G, 0), softmax(2 * G), rtol=1e-14)


def test_a_planted_change_shows_in_the_proof(planted):
    # The fused delta P - T is the derivative of cross-entropy after softmax(z); after
    # softmax(2 z) it is 2 (P - T), so the proof, differentiating the record, must refuse it.
    net = spec.load(NET)
    derivation = derive(net)
    env = proof.draw_point(derivation, 2, random.Random(0))
    R1 = run(derivation, env, 2, ExactBackend())["R1"]
    G1 = env["W1"] * env["X"] + env["B1"] * sp.ones(1, 2)
    expected = [sp.exp(2 * G1[i, 0]) / sum(sp.exp(2 * G1[k, 0]) for k in range(3)) for i in range(3)]
    assert all(sp.simplify(R1[i, 0] - expected[i]) == 0 for i in range(3))
    report = proof.prove(net)
    assert not report.ok and {v.name for v in report.verdicts if not v.ok} == {"D1", "dW1", "dB1"}
