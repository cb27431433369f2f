"""No false verdicts on hand-written backward passes: every activation and loss of the contract,
both layouts, in the styles people write them, are judged right; the usual bugs are judged
wrong, each with the one-line diagnosis that names it.

The backward passes are in `tests/backprops/handwritten.py` (their own activation table, not
gradscribe's registry).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from gradscribe.check import conventions
from gradscribe.check.judge import check_function

from gradscribe.cli import main

HANDWRITTEN = Path(__file__).parent / "backprops" / "handwritten.py"
_spec = importlib.util.spec_from_file_location("handwritten", HANDWRITTEN)
hw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hw)

ACTIVATIONS = ("identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "silu", "step")


def networks():
    """(activations, loss, targets): every activation hidden and at the output, every loss."""
    for a in ACTIVATIONS:
        for loss in ("mse", "half_sse", "sse"):
            yield (a, a, "identity"), loss, "soft"
        yield ("tanh", "tanh", a), "mse", "soft"
    for loss in ("cross_entropy", "cross_entropy@sum"):
        for targets in ("soft", "onehot", "labels"):
            yield ("relu", "sigmoid", "softmax"), loss, targets
    for loss in ("binary_cross_entropy", "binary_cross_entropy@sum"):
        for targets in ("soft", "onehot"):
            yield ("elu", "tanh", "sigmoid"), loss, targets


def _net(acts, loss, layout):
    return f"3-4-4-2:{','.join(acts)}:{loss}:{layout}"


@pytest.mark.parametrize("layout", ["column", "row"])
@pytest.mark.parametrize("style", ["plain", "einsum", "loop", "list", "inplace", "float32"])
def test_right_code_in_every_style_is_right(style, layout):
    wrong = []
    for acts, loss, targets in networks():
        dtype = np.float32 if style == "float32" else None
        func = hw.make(list(acts), loss, layout, "plain" if dtype else style, dtype=dtype)
        report = check_function(_net(acts, loss, layout), func, targets=targets)
        if not report.ok:
            wrong.append(f"{_net(acts, loss, layout)} ({targets}):\n{report.table()}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("layout", ["column", "row"])
def test_weights_stored_transposed_in_a_class(layout):
    for acts, loss in ((("tanh", "sigmoid", "identity"), "mse"),
                       (("relu", "elu", "softmax"), "cross_entropy")):
        cls = type("Net", (hw.TransposedMLP,), {"acts": acts, "loss": loss, "layout": layout})
        report = check_function(_net(acts, loss, layout),
                                conventions.Target("Net.gradients", cls=cls, method="gradients"))
        assert report.ok, report.table()
        assert any("W1 is stored transposed" in n for n in report.notes)
        # W2 (4, 4) looks the same either way: it is stored like the others
        assert "W2 is square: taken as stored transposed like the other weights" in report.notes


def test_float32_code_through_the_command_line(tmp_path, capsys):
    """float32 results cross the worker as float64 and are judged at float32's precision;
    a float32 bug is still named."""
    (tmp_path / "mine.py").write_text(
        "import sys\nimport numpy as np\n"
        f"sys.path.insert(0, {str(HANDWRITTEN.parent)!r})\n"
        "from handwritten import make\n"
        "acts = ['relu', 'sigmoid', 'softmax']\n"
        "backward = make(acts, 'cross_entropy', 'row', dtype=np.float32)\n"
        "buggy = make(acts, 'cross_entropy', 'row', bug='wrong_axis', dtype=np.float32)\n")
    net = _net(("relu", "sigmoid", "softmax"), "cross_entropy", "row")
    status = main(["check", net, "--python", f"{tmp_path / 'mine.py'}:backward", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 0 and data["ok"], data
    assert max(p["max_rel_err"] for p in data["params"].values()) > 1e-7  # float32, not float64
    status = main(["check", net, "--python", f"{tmp_path / 'mine.py'}:buggy"])
    out = capsys.readouterr().out
    assert status == 1
    assert ("dB3 is summed over the units of layer 3 instead of over the batch (dB3 needs one "
            "entry per unit, 2 of them): got shape (3,)") in out


def test_float32_still_catches_small_slips():
    """The float32 tolerance comes from the measured rounding, not a blanket one: a slip of
    1e-4 of the gradient's size is wrong."""
    acts, loss = ["tanh", "tanh", "identity"], "mse"
    right = hw.make(acts, loss, "column", dtype=np.float32)

    def slightly_off(params, X, T):
        g = right(params, X, T)
        g["W2"] = g["W2"] * np.float32(1 + 1e-4)
        return g

    report = check_function(_net(acts, loss, "column"), slightly_off)
    assert [k for k, p in report.params.items() if not p.ok] == ["W2"]
    assert report.params["W2"].diagnosis.startswith("dW2 (layer 2) is off by a factor of 1.0001")


SIG = (("sigmoid", "sigmoid", "identity"), "mse")
SOFTMAX = (("tanh", "relu", "softmax"), "cross_entropy")
BCE = (("leaky_relu", "elu", "sigmoid"), "binary_cross_entropy")
TANH_OUT = (("relu", "relu", "tanh"), "sse")
EVERY = ("W1", "B1", "W2", "B2", "W3", "B3")

BUG_CASES = [
    # (bug, network, {param: fragment of its diagnosis}; every other parameter is right)
    ("transposed_dW", SIG, {"W1": "dW1 is transposed (layer 1): shape"}),
    ("transposed_dW", SOFTMAX, {"W1": "dW1 is transposed (layer 1): shape"}),
    ("missing_1_over_N", SIG, {k: (f"d{k} (layer {k[1]}) is off by a factor of N (summed over the "
                                   "batch where the loss averages: a missing 1/N)") for k in EVERY}),
    ("missing_1_over_N", SOFTMAX, {k: "your code matches cross_entropy@sum, not cross_entropy"
                                   for k in EVERY}),
    ("wrong_axis", SIG, {"B3": "dB3 is summed over the units of layer 3 instead of over the batch"}),
    ("wrong_axis", BCE, {"B3": "dB3 is summed over the units of layer 3 instead of over the batch"}),
    ("missing_prime", SIG, {k: f"d{k}: leaves out the activation derivative sigmoid'(G1) of layer 1"
                            for k in ("W1", "B1")}),
    ("missing_prime", BCE, {k: f"d{k}: leaves out the activation derivative leaky_relu'(G1) of layer 1"
                            for k in ("W1", "B1")}),
    ("wrong_act", SIG, {k: f"d{k}: uses tanh's derivative where layer 1's sigmoid' belongs"
                        for k in ("W1", "B1")}),
    ("wrong_act", SOFTMAX, {k: f"d{k}: uses sigmoid's derivative where layer 1's tanh' belongs"
                            for k in ("W1", "B1")}),
    ("s1s_of_z", SIG, {k: f"d{k}: uses G1 where layer 1's sigmoid' formula needs the output R1"
                       for k in ("W1", "B1")}),
    ("s1s_of_z", SOFTMAX, {k: (f"d{k}: uses sigmoid's derivative formula r (1 - r) on G1 (the "
                               "pre-activation) where layer 1's tanh' belongs") for k in ("W1", "B1")}),
    ("off_by_one", SIG, {"W2": ("dW2: pairs δ2 with R2 instead of R1, the input of layer 2 (a layer "
                                "index off by one)")}),
    ("off_by_one", BCE, {"W2": ("dW2: pairs δ2 with R2 instead of R1, the input of layer 2 (a layer "
                                "index off by one)")}),
    ("prime_wrong_layer", SIG, {k: (f"d{k}: computes layer 1's sigmoid'(·) at G2 instead of G1 (a "
                                    "layer index off by one)") for k in ("W1", "B1")}),
    ("prime_wrong_layer", SOFTMAX, {k: (f"d{k}: computes layer 1's tanh'(·) at G2 instead of G1 (a "
                                        "layer index off by one)") for k in ("W1", "B1")}),
    ("missing_prime_top", TANH_OUT, {"W3": "dW3: leaves out the activation derivative tanh'(G3) of layer 3",
                                     "B3": "dB3: leaves out the activation derivative tanh'(G3) of layer 3",
                                     **{k: "the error starts in layer 3, which leaves out the activation "
                                        "derivative tanh'(G3) of layer 3, and propagates down"
                                        for k in EVERY[:4]}}),
    ("extra_prime", SOFTMAX, {k: ("multiplies δ3 by P ⊙ (1 - P) (softmax's diagonal), which the fused "
                                  "softmax + cross_entropy delta (P - T) already accounts for")
                              for k in EVERY}),
    ("extra_prime", BCE, {k: ("multiplies δ3 by sigmoid'(G3), which the fused sigmoid + "
                              "binary_cross_entropy delta (P - T) already accounts for") for k in EVERY}),
]


@pytest.mark.parametrize("layout", ["column", "row"])
@pytest.mark.parametrize("bug,network,wrong", BUG_CASES,
                         ids=[f"{b}-{n[1]}" for b, n, _ in BUG_CASES])
def test_each_common_bug_is_wrong_and_named(bug, network, wrong, layout):
    acts, loss = network
    report = check_function(_net(acts, loss, layout), hw.make(list(acts), loss, layout, bug=bug))
    assert not report.ok
    for k, p in report.params.items():
        if k in wrong:
            assert not p.ok and wrong[k] in p.diagnosis, f"{k}: {p.diagnosis}"
            assert "\n" not in p.diagnosis
        else:
            assert p.ok, f"{k}: {p.diagnosis}"
