"""`verify` checks the generated kernel: forward against the definitions, gradients against
central finite differences, with tolerances from a rounding-error analysis."""

import dataclasses
import json

import numpy as np
import pytest
import sympy as sp
from gradscribe.check import finite_differences as fd
from gradscribe.derive import activations, spec
from gradscribe.derive.activations import alpha as a
from gradscribe.derive.activations import r

CYCLE = ["tanh", "sigmoid", "relu", "elu"]


def chain(depth: int, layout: str = "column") -> str:
    """The issue's deep chain 3-3-...-3-1, activations cycling tanh, sigmoid, relu, elu."""
    acts = [CYCLE[i % 4] for i in range(depth - 1)] + ["identity"]
    return "-".join(["3"] * depth + ["1"]) + ":" + ",".join(acts) + f":mse:{layout}"


def planted(monkeypatch, wrap: str):
    """Make the rendered kernel's loss_and_grads pass its gradients through `wrap` (Python text
    defining `_plant(grads)`), the way a slip in the template would."""
    original = fd.render_kernel

    def render(derivation):
        return original(derivation) + (
            "\n\n" + wrap + "\n\n_original_loss_and_grads = loss_and_grads\n\n\n"
            "def loss_and_grads(params, X, T):\n"
            "    value, grads = _original_loss_and_grads(params, X, T)\n"
            "    return value, _plant(dict(grads))\n"
        )

    monkeypatch.setattr(fd, "render_kernel", render)


@pytest.mark.parametrize(
    "net",
    [
        "1-8-4-1:relu,relu,identity:mse",
        "3-4-2:leaky_relu@0.2,softmax:cross_entropy:row",
        "3-4-2:elu,sigmoid:binary_cross_entropy",
        "2-5-3:silu,softplus:half_sse:row",
        "2-3-2-2-1:silu,step,relu,identity:half_sse",
    ],
)
def test_correct_kernels_pass_with_a_wide_margin(net):
    check = fd.check_kernel(spec.load(net))
    assert check.ok and check.full_size
    assert check.checked == check.entries == fd._parameters(spec.load(net))
    # Every entry's error is far inside its tolerance: no false alarm hides in the margin.
    assert check.worst.ratio < 0.2, check.worst.to_json()
    assert all(v.error <= 0.2 * v.tolerance for v in check.forward)


@pytest.mark.parametrize("depth, layout", [(17, "column"), (33, "row")])
def test_deep_chains_pass(depth, layout):
    """Tiny gradients deep down (1e-6 and less) are judged with an absolute term, not relatively."""
    check = fd.check_kernel(spec.load(chain(depth, layout)))
    assert check.ok, check.worst.to_json()
    assert check.worst.ratio < 0.2
    assert check.checked == check.entries == 12 * depth - 8


@pytest.mark.parametrize("depth", [3, 33])
def test_one_bias_entry_off_by_1e_4_relative_is_caught(monkeypatch, depth):
    net = spec.load(chain(depth))
    clean = fd.check_kernel(net)
    # The largest bias gradient below the top three layers (the output layer's is easier).
    rows = [r for p in clean.params if p.name.startswith("B") and int(p.name[1:]) <= max(1, depth - 3)
            for r in p.rows]
    target = max(rows, key=lambda r: abs(r.kernel))
    assert abs(target.kernel) > 1e-3
    name, index = target.param, target.index
    planted(monkeypatch, f"def _plant(grads):\n    g = grads['{name}'].copy()\n"
                         f"    g[{index}] *= 1 + 1e-4\n    grads['{name}'] = g\n    return grads")
    check = fd.check_kernel(net)
    assert not check.ok and check.forward_ok
    assert [p.name for p in check.params if not p.ok] == [name]
    worst = check.worst
    assert (worst.param, worst.index) == (name, index)
    assert worst.kernel == pytest.approx(target.kernel * (1 + 1e-4), rel=1e-12)
    assert worst.numeric == pytest.approx(target.kernel, rel=1e-6)


def test_verify_cli_names_the_worst_element_and_prints_the_tolerance(monkeypatch, cli):
    planted(monkeypatch, "def _plant(grads):\n    g = grads['B1'].copy()\n"
                         "    g[1, 0] *= 1.0001\n    grads['B1'] = g\n    return grads")
    status, out, err = cli("verify", "2-3-1:tanh,identity:mse")
    assert status == 1 and "Traceback" not in err
    assert "6 of 6 formulas proven" in out  # the derivation is right; the kernel is not
    assert "FAIL dB1: worst B1[1, 0]: kernel " in out
    assert "tolerance: |kernel - fd| <= |D(h) - D(2h)| + 2 eta/h + rtol |kernel|" in out
    status, out, _ = cli("verify", "2-3-1:tanh,identity:mse", "--json")
    data = json.loads(out)
    assert status == 1 and data["ok"] is False
    worst = data["kernel"]["worst"]
    assert (worst["param"], worst["index"]) == ("B1", [1, 0])
    assert worst["kernel"] == pytest.approx(worst["finite_differences"] * 1.0001, rel=1e-7)
    assert data["kernel"]["params"]["B1"]["ok"] is False and data["kernel"]["params"]["W1"]["ok"] is True


def test_a_transposed_gradient_is_a_failure_not_a_traceback(monkeypatch, cli):
    planted(monkeypatch, "def _plant(grads):\n    grads['W1'] = grads['W1'].T\n    return grads")
    status, out, err = cli("verify", "2-3-1:tanh,identity:mse:row")
    assert status == 1 and err.count("\n") <= 1 and "Traceback" not in err
    assert "FAIL dW1: the kernel's gradient has shape (3, 2), the parameter (2, 3)" in out


def test_a_kernel_ignoring_alpha_fails_the_forward_check(monkeypatch, cli):
    original = fd.render_kernel

    def ignore_alpha(derivation):
        text = original(derivation)
        assert text.count("0.2") >= 2  # forward and backward both use the spec's alpha
        return text.replace("0.2", "0.01")  # the registry default, as if alpha were dropped

    monkeypatch.setattr(fd, "render_kernel", ignore_alpha)
    status, out, err = cli("verify", "2-3-2:leaky_relu@0.2,identity:mse")
    assert status == 1 and "Traceback" not in err
    assert "FAIL forward P differs from the definitions" in out
    # Backward is consistent with the kernel's own (wrong) forward: only the forward check sees it.
    assert "ok   gradients vs central finite differences" in out


def test_verify_json_reports_the_kernel_check(cli):
    status, out, _ = cli("verify", "2-3-2:tanh,sigmoid:binary_cross_entropy:row", "--json")
    data = json.loads(out)
    assert status == 0 and data["ok"] is True
    kernel = data["kernel"]
    assert kernel["ok"] is True and kernel["full_size"] is True and kernel["sizes"] == [2, 3, 2]
    assert kernel["entries"] == kernel["entries_checked_one_by_one"] == 17
    assert set(kernel["params"]) == {"W1", "B1", "W2", "B2"}
    assert kernel["tolerance"]["dtype"] == "float64"
    assert kernel["tolerance"]["step"] == pytest.approx(np.finfo(float).eps ** (1 / 3))
    assert kernel["forward"]["P"]["ok"] is True and kernel["forward"]["loss"]["ok"] is True
    assert kernel["worst"]["error"] <= kernel["worst"]["tolerance"]


def test_sizes_checked_are_full_up_to_the_parameter_bound():
    small = spec.load("3-4-2:relu,identity:mse")
    assert fd.sized_for_differences(small) == small
    full = spec.load("1024-1024-10:relu,softmax:cross_entropy")
    assert fd.sized_for_differences(full) == full  # about 1.06 million parameters
    huge = spec.load("4000-3000-10:relu,softmax:cross_entropy")
    capped = fd.sized_for_differences(huge)
    assert fd._parameters(capped) <= fd.MAX_PARAMETERS < fd._parameters(fd.capped_network(huge, max(capped.sizes) + 1))
    assert capped.activations == huge.activations and capped.loss == huge.loss


def test_large_networks_sample_entries_and_say_so(cli):
    status, out, _ = cli("verify", "300-200-10:relu,softmax:cross_entropy:row", "--max-width", "2")
    assert status == 0
    assert "generated NumPy kernel (full sizes 300-200-10;" in out
    assert "of 62,210 gradient entries one by one (every bias entry" in out
    assert "and each parameter along a random direction" in out


def test_a_wide_network_is_checked_at_a_point_where_a_small_slip_shows(monkeypatch):
    # The point's weights move by 0.3 / sqrt(fan-in): at width 2000 a fixed 0.3 made the logits
    # some 20 times too large, the loss's rounding bound (and with it every gradient
    # tolerance) large enough to pass a bias gradient off by 5e-5 (ratio 0.24).
    net = spec.load("2000-100-10:relu,softmax:cross_entropy:row")
    check = fd.check_kernel(net)
    assert check.ok and check.full_size and check.worst.ratio < 0.2, check.worst.to_json()
    assert check.forward[-1].kernel < 5.0  # the loss at the point: saturated outputs gave ~48
    planted(monkeypatch, "def _plant(grads):\n    grads['B1'] = grads['B1'] * 1.00005\n    return grads")
    check = fd.check_kernel(net)
    assert not check.ok and check.worst.to_json()["param"] == "B1" and check.worst.ratio > 2


@pytest.mark.parametrize(
    "net", ["2-3-1:tanh,identity:mse", "2-3-2:elu@0.5,sigmoid:binary_cross_entropy:row",
            "3-3-2:relu,softmax:cross_entropy"],
)
def test_one_hidden_entry_off_by_1e_6_relative_is_caught(monkeypatch, net):
    """Pins the tolerance: a relative slip of 1e-6 in the first layer's largest gradient entry
    is over ten times its tolerance (a tolerance ten times looser fails this test)."""
    clean = fd.check_kernel(spec.load(net))
    assert clean.ok and clean.worst.ratio < 0.2
    target = max((r for p in clean.params if p.name[1:] == "1" for r in p.rows), key=lambda r: abs(r.kernel))
    assert abs(target.kernel) > 0.05
    name, index = target.param, target.index
    planted(monkeypatch, f"def _plant(grads):\n    g = grads['{name}'].copy()\n"
                         f"    g[{index}] *= 1 + 1e-6\n    grads['{name}'] = g\n    return grads")
    check = fd.check_kernel(spec.load(net))
    assert not check.ok and check.forward_ok
    assert [p.name for p in check.params if not p.ok] == [name]
    assert (check.worst.param, check.worst.index) == (name, index)
    assert check.worst.ratio > 10, check.worst.to_json()


def test_verify_fails_on_a_1e_6_relative_slip(monkeypatch, cli):
    planted(monkeypatch, "def _plant(grads):\n    g = grads['W1'].copy()\n"
                         "    g[0, 1] *= 1 + 1e-6\n    grads['W1'] = g\n    return grads")
    status, out, err = cli("verify", "2-3-1:tanh,identity:mse")
    assert status == 1 and "Traceback" not in err
    assert "6 of 6 formulas proven" in out and "FAIL dW1: worst W1[0, 1]: kernel " in out


@pytest.mark.parametrize("alpha", ["0.5", "2"])
def test_an_elu_kernel_that_mistreats_alpha_fails(monkeypatch, alpha):
    """ELU's f' = r + alpha below 0; alpha * (r + alpha) agrees with it only at alpha = 1."""
    net = spec.load(f"2-3-1:elu@{alpha},identity:mse")
    assert fd.check_kernel(net).ok
    wrong = sp.Piecewise((1, r > 0), (a * (r + a), True))
    monkeypatch.setitem(activations.ACTIVATIONS, "elu", dataclasses.replace(activations.get("elu"), derivative=wrong))
    check = fd.check_kernel(net)
    assert check.forward_ok and not check.ok
    assert {p.name for p in check.params if not p.ok} >= {"W1", "B1"}
    assert all(p.ok for p in check.params if p.name.endswith("2"))
    assert fd.check_kernel(spec.load("2-3-1:elu,identity:mse")).ok  # at alpha = 1 it is invisible
