"""The proof: every formula equals sympy.diff for every activation x loss x layout, and a
broken rule is caught."""

import dataclasses
import json

import pytest
import sympy as sp
from gradscribe.derive import activations, proof, spec
from gradscribe.derive.activations import r
from gradscribe.derive.functions import sigmoid, softplus

ELEMENTWISE = [a.name for a in activations.ACTIVATIONS.values() if a.elementwise]
LAYOUTS = ["column", "row"]


def combos():
    """Every activation in the hidden and the output position, with every loss it pairs with."""
    for layout in LAYOUTS:
        for act in ELEMENTWISE:
            alpha = "@0.2" if activations.get(act).takes_alpha else ""
            for loss in ("mse", "half_sse"):
                yield f"2-2-2:{act}{alpha},{act}{alpha}:{loss}:{layout}"
            yield f"2-2-2:{act}{alpha},softmax:cross_entropy:{layout}"
            yield f"2-2-2:{act}{alpha},sigmoid:binary_cross_entropy:{layout}"


@pytest.mark.parametrize("net", list(combos()))
def test_every_formula_equals_sympy_diff(net):
    report = proof.prove(spec.load(net), points=2)
    failures = [(v.name, v.mismatch) for v in report.verdicts if not v.ok]
    assert report.ok, failures
    depth = 2
    assert [v.name for v in report.verdicts] == ["D2", "dW2", "dB2", "D1", "dW1", "dB1"][: 3 * depth]


@pytest.mark.parametrize(
    "net",
    [
        "2-2-2-1:tanh,leaky_relu,softplus:mse:row",
        "2-2-2-1:elu,relu,sigmoid:binary_cross_entropy",
        "2-2-2-2:leaky_relu,elu,softmax:cross_entropy:row",
        "2-2-2-2-1:tanh,silu,softplus,tanh:half_sse",
    ],
)
def test_deeper_chains_of_mixed_activations(net):
    """Kinks whose branch is a sum, logs under exp, exp(-m) against exp(m): all exact."""
    report = proof.prove(spec.load(net))
    assert report.ok, [(v.name, v.mismatch) for v in report.verdicts if not v.ok]


def broken(monkeypatch, name, derivative):
    record = dataclasses.replace(activations.get(name), derivative=derivative)
    monkeypatch.setitem(activations.ACTIVATIONS, name, record)


@pytest.mark.parametrize(
    "name, wrong",
    [
        ("sigmoid", r * (1 + r)),  # sign slip
        ("tanh", 1 - r),  # forgot the square
        ("relu", sp.Integer(1)),  # forgot the mask
        ("silu", sp.Integer(1)),
        ("elu", sp.Piecewise((1, r > 0), (r, True))),  # forgot + alpha
    ],
)
def test_a_broken_derivative_is_caught(monkeypatch, name, wrong):
    broken(monkeypatch, name, wrong)
    report = proof.prove(spec.load(f"2-2-1:{name},identity:mse"))
    assert not report.ok
    bad = {v.name for v in report.verdicts if not v.ok}
    # The hidden layer's delta and both its gradients are wrong; the output layer is not.
    assert bad == {"D1", "dW1", "dB1"}
    assert all(v.ok for v in report.verdicts if v.name.endswith("2"))


def test_a_broken_loss_coefficient_is_caught(monkeypatch):
    from gradscribe.derive import losses

    # delta_L = 3 / (N n_L) (P - T) instead of 2 / (N n_L) (P - T).
    monkeypatch.setattr(
        losses.Loss, "delta_coefficient", property(lambda self: 3 / (losses.N * losses.n))
    )
    report = proof.prove(spec.load("2-2-2:tanh,identity:mse"))
    assert not report.ok
    assert {v.name for v in report.verdicts if not v.ok} == {"D2", "dW2", "dB2", "D1", "dW1", "dB1"}


def test_exact_identity_test_tells_equal_from_unequal():
    e = sp.exp(sp.Rational(3, 2))
    assert proof.exactly_zero(e * e - sp.exp(3))
    assert proof.exactly_zero(1 / (1 + sp.exp(-2)) - sp.exp(2) / (sp.exp(2) + 1))
    assert proof.exactly_zero(1 - sp.tanh(3) ** 2 - (1 - sp.tanh(-3) ** 2))
    assert not proof.exactly_zero(sp.exp(2) - sp.exp(1) - 1)
    assert not proof.exactly_zero(sp.tanh(1) - sp.Rational(3, 4))


def test_the_identity_test_rewrites_to_exp_before_deciding():
    e2, e6 = sp.exp(2), sp.exp(6)
    assert proof.exactly_zero(sp.tanh(3) - (e6 - 1) / (e6 + 1))
    assert proof.exactly_zero(sp.sech(2) ** 2 - (1 - sp.tanh(2) ** 2))
    assert proof.exactly_zero(sp.cosh(sp.Rational(1, 2)) ** 2 - sp.sinh(sp.Rational(1, 2)) ** 2 - 1)
    assert proof.exactly_zero(sp.exp(-2) / (1 + sp.exp(-2)) ** 2 - sigmoid(2) * (1 - sigmoid(2)))
    assert proof.exactly_zero(sp.log(6) - sp.log(2) - sp.log(3))
    assert proof.exactly_zero(softplus(-2) - softplus(2) + 2)  # log(1 + e**-a) = log(1 + e**a) - a
    assert proof.exactly_zero(sp.exp(sp.tanh(1)) * sp.exp(1 - sp.tanh(1)) - sp.E)
    f = sp.Function("f")  # unknown, but the same value either way: equal
    assert proof.exactly_zero(f(sp.tanh(1)) - f((e2 - 1) / (e2 + 1)))
    assert not proof.exactly_zero(sp.tanh(1) - (e2 - 1) / (e2 + 2))
    assert not proof.exactly_zero(softplus(-2) - softplus(2))
    assert not proof.exactly_zero(sp.log(1 + e2) - sp.log(1 + sp.E))
    assert not proof.exactly_zero(sp.log(1 + sp.exp(3)) - sp.log(1 + sp.E))  # share 1 + e, yet unequal


@pytest.mark.parametrize(
    "expr",
    [
        sp.Function("f")(2) - 1,  # a function outside exp/log: never "not equal"
        sp.sin(2) - 1,
        # 0, through a factorisation the test does not make: 1 + e**3 = (1 + e)(1 - e + e**2)
        sp.log(1 + sp.exp(3)) - sp.log(1 + sp.E) - sp.log(1 - sp.E + sp.exp(2)),
        sp.exp(sp.tanh(1)) * sp.exp(1 / (1 + sp.exp(2))) - sp.exp(2),  # tanh 1 + 2/(1 + e**2) = 1
    ],
)
def test_what_the_identity_test_cannot_reduce_is_undecided(expr):
    with pytest.raises(proof.NotReducible, match="nonzero, but"):
        proof.exactly_zero(expr)


z = activations.z


@pytest.mark.parametrize(
    "name, derivative",
    [
        ("tanh", sp.sech(z) ** 2),
        ("tanh", 1 - ((sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z))) ** 2),
        ("sigmoid", sp.exp(-z) / (1 + sp.exp(-z)) ** 2),
        ("softplus", 1 - sp.exp(-r)),  # sigma(z) = 1 - exp(-softplus(z))
    ],
)
@pytest.mark.parametrize("hidden", [1, 2])
def test_a_right_derivative_in_another_form_is_proven(monkeypatch, name, derivative, hidden):
    broken(monkeypatch, name, derivative)
    net = spec.load("-".join(["2"] * (hidden + 1)) + "-1:" + ",".join([name] * hidden) + ",identity:mse")
    report = proof.prove(net)
    assert report.ok, [(v.name, v.mismatch) for v in report.verdicts if not v.ok]


@pytest.mark.parametrize(
    "name, wrong",
    [("tanh", sp.sech(z)), ("sigmoid", sp.exp(-z) / (1 + sp.exp(-z))), ("softplus", sp.exp(-r))],
)
def test_a_wrong_derivative_in_another_form_still_fails(monkeypatch, name, wrong):
    broken(monkeypatch, name, wrong)
    report = proof.prove(spec.load(f"2-2-1:{name},identity:mse"))
    bad = [v for v in report.verdicts if not v.ok]
    assert {v.name for v in bad} == {"D1", "dW1", "dB1"}
    assert not any(v.undecided for v in bad), [v.mismatch for v in bad]
    assert "!= sympy.diff" in bad[0].mismatch


def test_verify_reports_undecided_as_undecided(monkeypatch, cli):
    broken(monkeypatch, "tanh", sp.Function("f")(z))
    status, out, _ = cli("verify", "2-2-1:tanh,identity:mse")
    assert status == 1
    assert "??   D1 " in out and "undecided, the identity test cannot tell" in out
    assert "3 of 6 formulas proven; 3 undecided (neither proven nor shown wrong)" in out
    assert "MISMATCH" not in out
    status, out, _ = cli("verify", "2-2-1:tanh,identity:mse", "--json")
    data = json.loads(out)
    assert data["ok"] is False and data["undecided"] == ["D1", "dW1", "dB1"]
    assert data["formulas"]["D1"]["undecided"] is True and data["formulas"]["D2"]["undecided"] is False


def test_verify_cli_reports_each_formula_and_caps_widths(cli):
    status, out, err = cli("verify", "1-8-4-1:relu,relu,identity:mse")
    assert status == 0, err
    assert "proven on sizes 1-3-3-1, batch N = 2" in out
    assert "widths capped at 3" in out
    for name in ("D3", "dW3", "dB3", "D2", "dW2", "dB2", "D1", "dW1", "dB1"):
        assert f"ok   {name} " in out
    assert "9 of 9 formulas proven" in out


def test_verify_json(cli):
    status, out, _ = cli("verify", "2-3-2:sigmoid,softmax:cross_entropy:row", "--json")
    data = json.loads(out)
    assert status == 0 and data["ok"] is True
    assert data["proven_on"] == {"sizes": [2, 3, 2], "batch": 2, "points": 2, "capped": False}
    assert data["formulas"]["dW1"] == {
        "ok": True, "label": "eq:dW1", "shape": [2, 3], "mismatch": None, "undecided": False,
        "reference": "sympy.diff of the loss", "reference_kind": "loss",
    }
    assert data["formulas"]["dB2"]["shape"] == [1, 2]


def test_verify_exits_1_on_a_broken_rule(monkeypatch, cli):
    broken(monkeypatch, "sigmoid", r * (1 + r))
    status, out, _ = cli("verify", "2-2-1:sigmoid,identity:mse", "--json")
    data = json.loads(out)
    assert status == 1 and data["ok"] is False
    assert data["formulas"]["D1"]["ok"] is False and "entry" in data["formulas"]["D1"]["mismatch"]
    assert data["formulas"]["D2"]["ok"] is True


def test_loss_logit_forms_equal_their_definitions():
    """The stable forms the kernels use are the same function as the definition."""
    from gradscribe.derive import losses
    from gradscribe.derive.functions import elementary

    g, t = losses.g, losses.t
    bce = losses.get("binary_cross_entropy")
    definition = bce.term.xreplace({losses.p: 1 / (1 + sp.exp(-g))})
    stable = elementary(bce.logit_term)
    # Same derivative in g and the same value at g = 0: the same function.
    assert sp.simplify(sp.diff(definition, g) - sp.diff(stable, g)) == 0
    assert sp.simplify(definition.subs(g, 0) - stable.subs(g, 0)) == 0
    ce = losses.get("cross_entropy")
    g1, g2 = sp.symbols("g1 g2", real=True)
    lse = sp.log(sp.exp(g1) + sp.exp(g2))
    p1 = sp.exp(g1) / (sp.exp(g1) + sp.exp(g2))
    definition = ce.term.xreplace({losses.p: p1})
    stable = ce.logit_term.xreplace({g: g1, losses.lse: lse})
    assert sp.simplify(sp.expand_log(definition - stable, force=True)) == 0


def test_deep_networks_chain_the_reference_one_layer_at_a_time(monkeypatch):
    net = spec.load("2-2-2-2-2-2-1:tanh,relu,sigmoid,elu,tanh,identity:mse:row")
    report = proof.prove(net, points=1)
    assert report.ok, [(v.name, v.mismatch) for v in report.verdicts if not v.ok]
    methods = {v.name: v.reference for v in report.verdicts}
    kinds = {v.name: v.reference_kind for v in report.verdicts}
    assert methods["dW6"] == methods["D4"] == "sympy.diff of the loss"
    assert kinds["dW6"] == kinds["dB4"] == "loss"
    assert methods["D3"] == "sympy.diff of layer 4's definition chained with the proven D4"
    assert methods["D1"] == "sympy.diff of layer 2's definition chained with the proven D2"
    assert methods["dW1"] == "sympy.diff of G1's definition chained with the proven D1"
    assert kinds["D3"] == "chained_delta" and kinds["dB3"] == kinds["dW1"] == "chained_linear"
    # A wrong derivative deep down is still caught, exactly where it acts.
    broken(monkeypatch, "tanh", 1 - r**3)
    report = proof.prove(spec.load("2-2-2-2-2-1:tanh,relu,relu,relu,identity:mse"), points=1)
    assert {v.name for v in report.verdicts if not v.ok} == {"D1", "dW1", "dB1"}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "net",
    [
        # Each kinked activation with two or more layers above it; layer 1 is chained.
        "2-3-2-2-1:silu,step,relu,identity:half_sse",
        "2-2-2-2-2-1:elu@0.5,step,leaky_relu@0.2,tanh,identity:mse",
        "2-2-2-2-2-1:leaky_relu,elu,step,sigmoid,identity:half_sse",
    ],
)
def test_kinked_activations_under_other_layers(net, layout):
    """sympy.diff of a step leaves Dirac deltas (0 away from the kink) in the reference; a
    step's delta is 0, and so is every gradient below it."""
    report = proof.prove(spec.load(f"{net}:{layout}"), points=1)
    assert report.ok, [(v.name, v.mismatch) for v in report.verdicts if not v.ok]
    assert len(report.verdicts) == 3 * spec.load(net).depth


def test_step_layers_stop_the_gradient_and_a_wrong_one_is_caught(monkeypatch):
    net = spec.load("2-3-2-2-1:silu,step,relu,identity:half_sse:row")
    # A step whose derivative were 1 (a straight-through estimator) is not its derivative.
    broken(monkeypatch, "step", sp.Integer(1))
    report = proof.prove(net, points=1)
    assert {v.name for v in report.verdicts if not v.ok} == {"D2", "dW2", "dB2", "D1", "dW1", "dB1"}


def test_a_dirac_delta_is_zero_only_away_from_its_kink():
    values = proof.NamedValues()
    x = sp.Rational(3, 2)
    assert proof.exactly_zero(5 * sp.DiracDelta(x - 3), values)
    assert proof.exactly_zero(sp.DiracDelta(-x, 1) * sp.exp(2), values)
    with pytest.raises(proof.NotReducible):
        proof.exactly_zero(sp.DiracDelta(x - x / 3 - 1) + 1, values)


def test_a_deep_point_is_drawn_at_once(monkeypatch):
    """Kinked layers are shifted off their kinks, not redrawn: one draw at any depth (a
    redraw-until-clear point cost grows exponentially with the number of kinked layers)."""
    import random

    from gradscribe.derive import chain

    acts = ["tanh", "sigmoid", "relu", "elu"]
    names = [acts[i % 4] for i in range(32)] + ["identity"]
    net = spec.load("-".join(["3"] * 33 + ["1"]) + ":" + ",".join(names) + ":mse")
    results = []
    original = proof._shift_off_kinks

    def counted(*args):
        results.append(original(*args))
        return results[-1]

    monkeypatch.setattr(proof, "_shift_off_kinks", counted)
    proof.draw_point(chain.derive(net), 2, random.Random(0))
    assert results == [True]


@pytest.mark.parametrize("alpha", ["0.5", "2"])
def test_an_elu_derivative_that_mistreats_alpha_is_caught(monkeypatch, alpha):
    """f' = r + alpha below 0; the slip alpha * (r + alpha) agrees with it only at alpha = 1."""
    from gradscribe.derive.activations import alpha as a

    net = spec.load(f"2-2-1:elu@{alpha},identity:mse")
    assert proof.prove(net).ok
    wrong = sp.Piecewise((1, r > 0), (a * (r + a), True))
    broken(monkeypatch, "elu", wrong)
    report = proof.prove(net)
    bad = [v for v in report.verdicts if not v.ok]
    assert {v.name for v in bad} == {"D1", "dW1", "dB1"}
    assert not any(v.undecided for v in bad)
    assert proof.prove(spec.load("2-2-1:elu,identity:mse")).ok  # invisible at alpha = 1
