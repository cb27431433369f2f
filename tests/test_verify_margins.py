"""The kernel check never calls a correct kernel wrong, and never waves an unchecked value
through: the forward and loss check at saturated outputs, where float64 definitions used to
cancel (log(1 - P) of binary cross-entropy) or overflow (log 0 after softmax underflows)."""

import json
import math

import numpy as np
import pytest
from gradscribe.check import finite_differences as fd
from gradscribe.codegen.kernel import render_kernel
from gradscribe.derive import spec
from gradscribe.derive.chain import derive

EPS = float(np.finfo(np.float64).eps)
#: error / tolerance a correct kernel stays below (the bound is a worst case, so far below 1)
MARGIN = 0.3

LOSS_OFF = (
    "\n\n_original_loss = loss\n\n\n"
    "def loss(P, T):\n"
    "    return _original_loss(P, T) * (1 + 1e-9)\n"
)


def forward_check(text: str, G, T, plant: str = ""):
    """The P and loss checks of the one-layer network `text` at the point whose logits are G.

    X is the identity (n_0 = N) and B1 = 0, so W1 is G itself in either layout.
    """
    net = spec.load(text)
    derivation = derive(net)
    module = fd.load_kernel(render_kernel(derivation) + plant, "_gradscribe_margin_probe")
    G, T = np.array(G, dtype=float), np.array(T, dtype=float)
    column = net.layout == "column"
    batch = G.shape[1] if column else G.shape[0]
    units = G.shape[0] if column else G.shape[1]
    params = {"W1": G.copy(), "B1": np.zeros((units, 1) if column else units)}
    X = np.eye(batch)
    defs = fd.Definitions(derivation, params, X, T)
    err_P, eta = defs.rounding(EPS)
    return {v.name: v for v in fd._check_forward(module, params, X, T, defs, err_P, eta)}


def softplus(g: float) -> float:
    return float(np.logaddexp(0.0, g))


# Logits from the cancellation zone (22 <= g <= 36: 1 - sigmoid(g) keeps few digits) to
# saturation (sigmoid(g) == 1.0 in float64 from g = 37) and both extremes.
BCE_G = [[22.0, 25.0, -3.0], [30.0, 36.5, 0.5], [40.0, 700.0, -700.0]]
BCE_T = [[0.25, 0.5, 0.9], [0.0, 0.75, 0.3], [0.5, 0.1, 1.0]]


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "binary_cross_entropy@sum"])
@pytest.mark.parametrize("layout", ["column", "row"])
def test_binary_cross_entropy_at_saturated_logits(loss, layout):
    G, T = np.array(BCE_G), np.array(BCE_T)
    if layout == "row":
        G, T = G.T, T.T
    text = f"3-3:sigmoid:{loss}:{layout}"
    checks = forward_check(text, G, T)
    terms = [softplus(g) - t * g for g, t in zip(G.ravel(), T.ravel())]
    want = math.fsum(terms) / (1 if loss.endswith("@sum") else G.size)
    value = checks["loss"]
    assert value.definition == pytest.approx(want, rel=1e-15)
    assert value.kernel == pytest.approx(want, rel=1e-13)
    # Before the definitions were evaluated in high precision: at g = 22..36 the float log(1 - P)
    # was off by u / (1 - P) (error/tolerance up to 1e6), past g = 37 both were infinite.
    assert 0 < value.tolerance < 1e-13 * want and value.error <= MARGIN * value.tolerance
    P = checks["P"]
    assert P.ok and P.error <= MARGIN * P.tolerance
    # A kernel loss off by 1e-9 relative is still caught at the same point.
    off = forward_check(text, G, T, plant=LOSS_OFF)["loss"]
    assert not off.ok and off.error == pytest.approx(1e-9 * want, rel=1e-3)


# A logit 720 below its sample's largest: softmax's P = 2e-313 is subnormal in float64, with
# 9 digits, so -t log P was off by 1e-9 (the 4096-4096-10 relu/softmax false alarm: logits up
# to 400 made error 3.2e-8 against a bound of 2.3e-8). 800 below: P = 0, log P = -inf, and the
# infinite bound passed anything.
SOFTMAX_G = {
    "subnormal": [[0.0, 5.0], [-720.0, 0.0], [3.0, -2.0]],
    "zero": [[0.0, 5.0], [-800.0, 0.0], [3.0, -40.0]],
}


@pytest.mark.parametrize("loss", ["cross_entropy", "cross_entropy@sum"])
@pytest.mark.parametrize("layout", ["column", "row"])
@pytest.mark.parametrize("case", sorted(SOFTMAX_G))
def test_cross_entropy_where_softmax_underflows(loss, layout, case):
    G = np.array(SOFTMAX_G[case])
    T = np.array([[0.2, 0.5], [0.3, 0.25], [0.5, 0.25]])
    if layout == "row":
        G, T = G.T, T.T
    text = f"2-3:softmax:{loss}:{layout}"
    checks = forward_check(text, G, T)
    axis = 0 if layout == "column" else 1
    lse = np.logaddexp.reduce(G, axis=axis, keepdims=True)
    want = math.fsum((-T * (G - lse)).ravel()) / (1 if loss.endswith("@sum") else 2)
    value = checks["loss"]
    assert value.definition == pytest.approx(want, rel=1e-15)
    assert 0 < value.tolerance < 1e-12 * want and value.error <= MARGIN * value.tolerance
    assert checks["P"].ok and checks["P"].error <= MARGIN * checks["P"].tolerance
    off = forward_check(text, G, T, plant=LOSS_OFF)["loss"]
    assert not off.ok and off.error == pytest.approx(1e-9 * want, rel=1e-3)


def test_mse_of_a_saturated_sigmoid():
    """The loss's sensitivity to P's own rounding counts, not delta_L's (which a small f'
    hides): at these g the kernel's sigmoid and the definition's differ by one ulp and T is
    within 1e-6 of P, so the loss differs by 1e-22, where the old bound
    (|delta_L| (|dG| + 4 eps (|G| + 1))) allowed 5e-25."""
    G = np.array([[13.001, 13.002], [13.003, 13.005]])
    p = 1 / (1 + np.exp(-G))
    T = p + np.array([[1e-6, -1e-6], [1e-6, 1e-6]])
    checks = forward_check("2-2:sigmoid:mse", G, T)
    value = checks["loss"]
    assert value.definition == pytest.approx(math.fsum(((p - T) ** 2).ravel()) / 4, rel=1e-6)
    assert value.ok and value.error <= MARGIN * value.tolerance
    assert value.tolerance < 1e-6 * value.definition


@pytest.mark.parametrize("seed", [1, 6])
def test_a_wide_sigmoid_output_is_no_false_alarm(seed):
    """The drawn points where `verify` used to call this correct kernel wrong (loss error
    3.7e-6 against a bound of 1.3e-11 at seed 1, 7.6e-5 against 1.7e-11 at seed 6)."""
    check = fd.check_kernel(spec.load("2000-2:sigmoid:binary_cross_entropy"), seed=seed)
    assert check.ok and check.full_size
    P, value = check.forward
    assert P.error <= MARGIN * P.tolerance and value.error <= MARGIN * value.tolerance
    assert value.tolerance < 1e-10 * abs(value.definition)
    assert check.worst.ratio < MARGIN


def test_worst_case_gamma():
    assert fd.gamma_worst(10, EPS) == pytest.approx(10 * EPS / 2, rel=1e-13)
    assert fd.gamma_worst(4098, EPS) > 4098 * EPS / 2  # n u / (1 - n u), never below n u
    assert fd.gamma_probable(4098, EPS) == pytest.approx(5 * 4098**0.5 * EPS / 2)


def test_a_point_where_the_definitions_overflow_is_redrawn(monkeypatch):
    calls = []
    original = fd.Definitions.finite

    def finite_after_two(self):
        calls.append(1)
        return len(calls) > 2 and original(self)

    monkeypatch.setattr(fd.Definitions, "finite", finite_after_two)
    check = fd.check_kernel(spec.load("2-3-1:tanh,identity:mse"))
    assert check.ok and len(calls) == 3
    monkeypatch.setattr(fd.Definitions, "finite", lambda self: False)
    with pytest.raises(fd.PointNotFound, match="the definitions stay finite in float64"):
        fd.check_kernel(spec.load("2-3-1:tanh,identity:mse"))


def test_a_kernel_giving_nan_fails_and_the_json_stays_json(monkeypatch, cli):
    original = fd.render_kernel

    def planted(derivation):  # P[1, 0] is NaN
        return original(derivation) + (
            "\n\n_original_forward = forward\n\n\n"
            "def forward(params, X, workspace=None):\n"
            "    P, cache = _original_forward(params, X, workspace)\n"
            "    P = P.copy()\n"
            "    P[1, 0] = np.nan\n"
            "    return P, cache\n"
        )

    monkeypatch.setattr(fd, "render_kernel", planted)

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    status, out, err = cli("verify", "2-3-2:tanh,identity:mse", "--json")
    data = json.loads(out, parse_constant=refuse)
    assert status == 1 and "Traceback" not in err and data["ok"] is False
    P, value = data["kernel"]["forward"]["P"], data["kernel"]["forward"]["loss"]
    assert P["ok"] is False and P["index"] == [1, 0] and P["kernel"] is None and P["error"] is None
    assert value["ok"] is False and value["kernel"] is None and value["definition"] > 0
