"""The fast kernel's regrouped batch norm (codegen/fusion.py): the same gradients as the
textbook style (which prints the derivation as written) in both layouts, with and without
dropout's 1/(1 - p); fewer passes; dx-hat never formed; the labels still cited."""

import re

import numpy as np
import pytest

from gradscribe.codegen.fusion import fast_equations
from gradscribe.codegen.kernel import render_kernel
from gradscribe.derive import spec
from gradscribe.derive.chain import derive

from test_regularization_kernel import draw, load, params_of

NETS = [
    "3-5-4-2:bn+relu+dropout@0.5,bn@0.001+tanh+dropout@0.25,softmax:cross_entropy+wd@0.1:row",
    "3-5-4-2:bn+relu+dropout@0.5,bn@0.001+tanh+dropout@0.25,softmax:cross_entropy+wd@0.1:column",
    "3-4-2:bn+sigmoid,bn+identity:mse:row",
    "3-4-2:bn+elu@0.2,bn+identity:mse+l2@0.05:column",
]


@pytest.mark.parametrize("net", NETS)
def test_fast_gradients_equal_the_textbook_styles(net):
    rng = np.random.default_rng(5)
    fast, textbook = load(net, "fast"), load(net, "textbook")
    n, X, T, masks = draw(net, 7, rng)
    params = params_of(fast, rng)
    value, grads = fast.loss_and_grads(params, X, T, masks=masks)
    expected_value, expected = textbook.loss_and_grads(params, X, T, masks=masks)
    assert float(value) == pytest.approx(float(expected_value), rel=1e-12)
    for name, g in expected.items():
        g = np.asarray(g)
        assert np.abs(grads[name] - g).max() <= 1e-12 * (1 + np.abs(g).max()), name
    # the step's DY_l is used only inside it: forward and backward give the same gradients
    P, cache = fast.forward(params, X, masks=masks)
    for name, g in fast.backward(params, cache, T).items():
        assert np.abs(g - np.asarray(expected[name])).max() <= 1e-12 * (1 + np.abs(expected[name]).max())


def test_fewer_passes_and_dxhat_folded_into_delta():
    net = spec.load(NETS[0])
    derivation = derive(net)
    forward, backward = fast_equations(derivation)
    assert [s.name for s in backward if s.name.startswith("DGH")] == []
    assert [s.name for s in forward].count("GH1") == 2  # x - mu, then scaled in place
    source = render_kernel(derivation)
    step = source[source.index("def loss_and_grads"):]
    assert not re.search(r"\bDGH\d", step.replace("eq:DGH", ""))  # only as a cited label
    d1 = next(line for line in step.splitlines() if "# eq:D1;" in line)
    assert "eq:DGH1" in d1 and "N / 1" not in d1
    dy1 = next(line for line in step.splitlines() if "# eq:DY1;" in line)
    assert ", 2, out=DY1" not in dy1 and "1/(1 - p) = 2" in dy1
    # one G1 - MU1 in the step, where the derivation's equations have two
    assert len(re.findall(r"np\.subtract\(G1, MU1", step)) == 1
    textbook = render_kernel(derivation, "textbook")
    assert "DGH1" in textbook  # the textbook style prints the derivation as written


def test_unmatched_equations_are_printed_as_derived():
    derivation = derive(spec.load("3-4-2:relu,identity:mse:row"))
    forward, backward = fast_equations(derivation)
    assert [(s.name, s.rhs) for s in forward] == [(e.name, e.rhs) for e in derivation.forward]
    assert [(s.name, s.rhs) for s in backward] == [(e.name, e.rhs) for e in derivation.backward]
