"""Contract section 7 in derive/: the spec keys and inline syntax of weight decay, the L2
penalty, batch norm and dropout, their bad input, and the proof of every new formula against
sympy.diff of the loss (through the batch statistics, at two batch sizes, masks exact)."""

import dataclasses

import pytest
import sympy as sp
from sympy import HadamardProduct, MatMul

from gradscribe.derive import activations, chain, proof, spec
from gradscribe.derive.errors import SpecError

# ------------------------------------------------------------------------------ spec


def test_inline_form_of_the_contract():
    net = spec.parse_inline("784-256-10:bn+relu+dropout@0.5,softmax:cross_entropy+wd@1e-4:row")
    first, second = net.layers
    assert first.batch_norm and first.eps == sp.Rational(1, 10**5) and first.momentum == sp.Rational(9, 10)
    assert first.dropout == sp.Rational(1, 2) and first.activation == "relu"
    assert not second.batch_norm and second.dropout is None
    assert net.penalty == "weight_decay" and net.penalty_lambda == sp.Rational(1, 10**4)
    assert net.penalty_coefficient == sp.Rational(1, 20000)  # lambda / 2
    assert net.param_names() == ["W1", "B1", "gamma1", "beta1", "W2", "B2"]
    assert net.mask_names() == ["M1"]
    assert net.inline() == "784-256-10:bn+relu+dropout@0.5,softmax:cross_entropy+wd@0.0001:row"


def test_inline_eps_alpha_and_l2():
    net = spec.parse_inline("2-3-1:bn@1e-7+leaky_relu@0.2,identity:mse+l2@0.01")
    assert net.layers[0].eps == sp.Rational(1, 10**7) and net.layers[0].alpha == sp.Rational(1, 5)
    assert net.penalty == "l2" and net.penalty_coefficient == sp.Rational(1, 100)  # lambda
    assert spec.parse_inline(net.inline()) == net


def test_toml_keys_round_trip_through_the_canonical_form():
    text = """
name = "reg"
inputs = 2
loss = "binary_cross_entropy"
l2 = 0.5

[[layer]]
units = 3
activation = "tanh"
batch_norm = true
eps = 0.001
momentum = 0.8
bias = false
dropout = 0.25

[[layer]]
units = 1
activation = "sigmoid"
"""
    net = spec.parse_toml(text, "reg.toml")
    layer = net.layers[0]
    assert (layer.batch_norm, layer.eps, layer.momentum, layer.bias, layer.dropout) == (
        True, sp.Rational(1, 1000), sp.Rational(4, 5), False, sp.Rational(1, 4))
    assert net.penalty == "l2" and net.penalty_lambda == sp.Rational(1, 2)
    again = spec.parse_toml(net.to_toml())
    assert again == net and again.digest() == net.digest()
    assert net.param_names() == ["W1", "gamma1", "beta1", "W2", "B2"]


BAD_INLINE = [
    ("2-3-1:relu,identity+dropout@0.5:mse", "layer[2].dropout: dropout is for hidden layers"),
    ("2-3-1:relu+dropout@1,identity:mse", "layer 1 dropout: the probability of dropping a unit must be in [0, 1)"),
    ("2-3-1:relu+dropout@-0.1,identity:mse", "layer 1 dropout: the probability"),
    ("2-3-1:bn@0+relu,identity:mse", "layer 1 bn eps: must be a positive number"),
    ("2-3-1:bn@-1e-5+relu,identity:mse", "layer 1 bn eps: must be a positive number"),
    ("2-3-1:relu,identity:mse+wd@1e-4+l2@1e-4", "loss: a network takes one penalty on the weights"),
    ("2-3-1:relu,identity:mse+wd", "loss wd: needs its lambda"),
    ("2-3-1:relu,identity:mse+wd@x", "loss wd: 'x' is not a number"),
    ("2-3-1:relu,identity:mse+reg@1", "loss: 'reg@1' is not a penalty"),
    ("2-3-1:relu+dropout,identity:mse", "layer 1 dropout: needs its probability"),
    ("2-3-1:bn+relu+relu,identity:mse", "layer 1 activation: 'bn+relu+relu' is not"),
]


@pytest.mark.parametrize("text, message", BAD_INLINE)
def test_bad_inline_input_names_the_key(text, message):
    with pytest.raises(SpecError) as info:
        spec.parse_inline(text)
    assert message in str(info.value) and "\n" not in str(info.value)


HEAD = 'name = "a"\ninputs = 2\nloss = "mse"\n'
HIDDEN = '[[layer]]\nunits = 2\nactivation = "relu"\n'
OUT = '[[layer]]\nunits = 1\nactivation = "identity"\n'

BAD_TOML = [
    (HEAD + "weight_decay = 0.1\nl2 = 0.1\n" + HIDDEN + OUT, "a.toml: l2: a spec takes one penalty"),
    (HEAD + "weight_decay = -1\n" + HIDDEN + OUT, "a.toml: weight_decay: must be a number from 0"),
    (HEAD + "l2 = true\n" + HIDDEN + OUT, "a.toml: l2: must be a number"),
    (HEAD + HIDDEN + "eps = 0.1\n" + OUT, "a.toml: layer[1].eps: only a layer with batch_norm = true"),
    (HEAD + HIDDEN + "batch_norm = true\neps = 0\n" + OUT, "a.toml: layer[1].eps: must be a positive number"),
    (HEAD + HIDDEN + "batch_norm = 1\n" + OUT, "a.toml: layer[1].batch_norm: must be true or false"),
    (HEAD + HIDDEN + "batch_norm = true\nmomentum = 1.5\n" + OUT, "a.toml: layer[1].momentum: must be a number from 0 to 1"),
    (HEAD + HIDDEN + "dropout = 1.0\n" + OUT, "a.toml: layer[1].dropout: the probability"),
    (HEAD + HIDDEN + OUT + "dropout = 0.5\n", "a.toml: layer[2].dropout: dropout is for hidden layers"),
    (HEAD + HIDDEN + OUT + "[example]\nX = [[1, 2], [3, 4]]\nT = [[1, 2]]\ngamma1 = [[1], [2]]\n",
     "a.toml: example.gamma1: layer 1 has no batch norm"),
    (HEAD + HIDDEN + OUT + "[example]\nX = [[1, 2], [3, 4]]\nT = [[1, 2]]\nM1 = [[1, 0], [0, 1]]\n",
     "a.toml: example.M1: layer 1 has no dropout"),
    (HEAD + HIDDEN + "dropout = 0.5\n" + OUT + "[example]\nX = [[1, 2], [3, 4]]\nT = [[1, 2]]\nM1 = [[1, 0], [2, 1]]\n",
     "a.toml: example.M1: a dropout mask holds only 0 and 1"),
    (HEAD + HIDDEN + "batch_norm = true\n" + OUT + "[example]\nX = [[1], [3]]\nT = [[1]]\n",
     "a.toml: example.X: batch norm (layer 1) needs a batch of at least 2 samples, got 1"),
]


@pytest.mark.parametrize("text, message", BAD_TOML)
def test_bad_spec_input_names_the_key(text, message):
    with pytest.raises(SpecError) as info:
        spec.parse_toml(text, "a.toml")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_batch_norm_at_one_sample_is_refused_by_the_proof():
    with pytest.raises(SpecError, match="needs a batch of at least 2 samples, got 1"):
        proof.prove(spec.load("2-2-1:bn+relu,identity:mse"), batch=1)


# ------------------------------------------------------------------------------ derivation


def test_batch_norm_layer_equations_in_order():
    d = chain.derive(spec.load("3-4-2:bn+relu+dropout@0.5,softmax:cross_entropy+wd@1e-4:row"))
    assert [eq.name for eq in d.forward] == ["G1", "MU1", "VAR1", "GH1", "Y1", "A1", "R1", "G2", "R2", "P"]
    assert [eq.name for eq in d.backward] == [
        "D2", "dW2", "dB2", "DY1", "dgamma1", "dbeta1", "DGH1", "D1", "dW1", "dB1"]
    # dB1 of a batch-norm layer that keeps its bias is exactly zero.
    assert isinstance(d.equation("dB1").rhs, sp.ZeroMatrix)
    # Row layout: gamma, beta, MU and VAR are flat (n_l,) arrays like B_l.
    assert [d.shape_text(n) for n in ("gamma1", "dbeta1", "MU1", "VAR1", "GH1", "M1")] == [
        "(4,)", "(4,)", "(4,)", "(4,)", "(N, 4)", "(N, 4)"]
    # Weight decay adds lambda W_l; inverted dropout scales by 1 / (1 - p).
    assert d.equation("dW2").rhs.args[1] == MatMul(sp.Rational(1, 10**4), d.symbols["W2"]) or \
        MatMul(sp.Rational(1, 10**4), d.symbols["W2"]) in d.equation("dW2").rhs.args
    r1 = d.equation("R1").rhs
    assert isinstance(r1, MatMul) and r1.args[0] == 2 and isinstance(r1.args[1], HadamardProduct)
    assert d.loss.penalty == sp.Rational(1, 20000)


def test_l2_doubles_the_penalty_gradient():
    d = chain.derive(spec.load("2-2-1:relu,identity:mse+l2@0.5"))
    assert MatMul(sp.Integer(1), d.symbols["W1"]) in d.equation("dW1").rhs.args or \
        d.symbols["W1"] in d.equation("dW1").rhs.args  # 2 * 0.5 * W1


# ------------------------------------------------------------------------------ proof

ELEMENTWISE = [a.name for a in activations.ACTIVATIONS.values() if a.elementwise]


def _alpha(act):
    return "@0.2" if activations.get(act).takes_alpha else ""


def sweep():
    """Every activation after batch norm (hidden, with dropout, and at the output), every loss,
    both layouts, both penalties, a layer without bias."""
    outputs = [
        ("identity", "mse"), ("tanh", "half_sse"), ("sigmoid", "sse"),
        ("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"),
        ("softmax", "cross_entropy@sum"), ("sigmoid", "binary_cross_entropy@sum"),
    ]
    penalties = ["+wd@0.1", "+l2@0.25", ""]
    for i, act in enumerate(ELEMENTWISE):
        out, loss = outputs[i % len(outputs)]
        layout = ("column", "row")[i % 2]
        penalty = penalties[i % 3]
        yield f"2-3-2:bn+{act}{_alpha(act)}+dropout@0.5,bn+{out}:{loss}{penalty}:{layout}"
    for i, (out, loss) in enumerate(outputs):
        act = ELEMENTWISE[(i + 3) % len(ELEMENTWISE)]
        layout = ("row", "column")[i % 2]
        yield f"2-2-2:{act}{_alpha(act)}+dropout@0.25,{out}:{loss}{penalties[i % 3]}:{layout}"


@pytest.mark.parametrize("net", list(sweep()))
def test_every_new_formula_equals_sympy_diff(net):
    report = proof.prove(spec.load(net), points=1)
    assert report.ok, [(v.name, v.mismatch) for v in report.verdicts if not v.ok]
    names = {v.name for v in report.verdicts}
    if "bn+" in net:
        assert report.batches == (2, 3)
        assert {"DY1", "dgamma1", "dbeta1", "DGH1", "D1", "DY2", "dgamma2", "dbeta2"} <= names
    assert {"dW1", "dB1", "dW2", "dB2"} <= names


def test_without_bias_and_three_normalized_layers():
    net = spec.parse_toml("""
name = "deep"
layout = "row"
inputs = 2
loss = "mse"
weight_decay = 0.5
[[layer]]
units = 2
activation = "elu"
batch_norm = true
bias = false
dropout = 0.5
[[layer]]
units = 2
activation = "relu"
batch_norm = true
eps = 0.25
[[layer]]
units = 1
activation = "identity"
batch_norm = true
""")
    report = proof.prove(net, points=1)
    assert report.ok, [(v.name, v.mismatch) for v in report.verdicts if not v.ok]
    assert "dB1" not in {v.name for v in report.verdicts}


def _tampered(monkeypatch, name, change):
    """Make proof.prove see a derivation whose equation `name` has rhs change(rhs, derivation)."""
    real = proof.derive

    def derive(net):
        d = real(net)
        swap = lambda eqs: tuple(
            dataclasses.replace(eq, rhs=change(eq.rhs, d)) if eq.name == name else eq for eq in eqs)
        return dataclasses.replace(d, forward=d.forward, backward=swap(d.backward), _by_name={})

    monkeypatch.setattr(proof, "derive", derive)


@pytest.mark.parametrize("name, change, failing", [
    # batch norm's dx without the mean terms: gamma / sigma * dout alone
    ("D1", lambda rhs, d: MatMul(sp.Integer(1), HadamardProduct(d.symbols["DGH1"], rhs.args[-1].args[0])),
     {"D1", "dW1"}),
    # dgamma from the un-normalized G instead of GH
    ("dgamma1", lambda rhs, d: rhs.xreplace({d.symbols["GH1"]: d.symbols["G1"]}), {"dgamma1"}),
    # dropout's mask left out of the delta below
    ("DY1", lambda rhs, d: rhs.xreplace({d.symbols["M1"]: sp.OneMatrix(*d.symbols["M1"].shape)}),
     {"DY1", "dgamma1", "dbeta1", "DGH1", "D1", "dW1"}),
    # the weight decay's lambda W as 2 lambda W (the L2 convention)
    ("dW2", lambda rhs, d: rhs.xreplace({sp.Rational(1, 10): sp.Rational(1, 5)}), {"dW2"}),
])
def test_a_wrong_formula_is_caught_where_it_acts(monkeypatch, name, change, failing):
    _tampered(monkeypatch, name, change)
    report = proof.prove(spec.load("2-2-2:bn+tanh+dropout@0.5,identity:mse+wd@0.1"), points=1)
    assert {v.name for v in report.verdicts if not v.ok} == failing
