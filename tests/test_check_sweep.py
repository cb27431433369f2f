"""The sweep of issue 18: course-shaped code over every activation, loss and layout.

- Right programs in the course styles (layer objects sharing the arrays of ``self.params`` and
  built from ``(input_size, hidden_size_list, output_size)``, a classifier built from
  ``(hidden_dims, input_dim=..., num_classes=...)`` returning ``(loss, grads)``, a params dict
  read with lower-case keys, a training step inside the backward pass): no false WRONG.
- One slip (each of `handwritten.BUGS`) in those styles: every wrong gradient's slip named.
- Two slips at once: both named; the gradients left as "no simple cause" are counted, and
  are only those where no single or double modelled slip reproduces them.

The backward passes are `tests/backprops/handwritten.py`'s (their own activation table, not
gradscribe's), wrapped in each style here.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

from gradscribe.check.conventions import Target
from gradscribe.check.judge import check_function

BACKPROPS = Path(__file__).parent / "backprops"
_spec = importlib.util.spec_from_file_location("handwritten_sweep", BACKPROPS / "handwritten.py")
hw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hw)

ACTIVATIONS = ("identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "silu", "step")
SIZES = (3, 4, 4, 2)


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
    return f"{'-'.join(map(str, SIZES))}:{','.join(acts)}:{loss}:{layout}"


# ------------------------------------------------------------------------------ the styles


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b


def layered(acts, loss, layout, bug=None):
    """A class whose layer objects hold the arrays of self.params (keys W1, b1, ...)."""
    backward = hw.make(list(acts), loss, layout, bug=bug)
    col = layout == "column"

    class LayerNet:
        def __init__(self, input_size, hidden_size_list, output_size, weight_decay_lambda=0):
            sizes = [input_size, *hidden_size_list, output_size]
            self.params, self.layers = {}, []
            for l in range(1, len(sizes)):
                m, n = sizes[l - 1], sizes[l]
                self.params[f"W{l}"] = np.ones((n, m) if col else (m, n))
                self.params[f"b{l}"] = np.zeros((n, 1) if col else n)
                self.layers.append(Affine(self.params[f"W{l}"], self.params[f"b{l}"]))

        def gradient(self, x, t):
            p = {}
            for l, layer in enumerate(self.layers, start=1):
                p[f"W{l}"], p[f"B{l}"] = layer.W, layer.b
            return {(k if k[0] == "W" else "b" + k[1:]): v for k, v in backward(p, x, t).items()}

        def train_step(self, x, t, lr=0.01):
            grads = self.gradient(x, t)
            for k, v in grads.items():
                self.params[k] -= lr * v
            return grads

    return LayerNet


def classifier(acts, loss, layout, bug=None):
    """Built from (hidden_dims, input_dim=..., num_classes=...); loss(X, y) -> (loss, grads)."""
    backward = hw.make(list(acts), loss, layout, bug=bug)
    col = layout == "column"

    class FullyConnected:
        def __init__(self, hidden_dims, input_dim=3072, num_classes=10, reg=0.0):
            dims = [input_dim, *hidden_dims, num_classes]
            self.reg, self.params = reg, {}
            for l in range(1, len(dims)):
                m, n = dims[l - 1], dims[l]
                self.params[f"W{l}"] = np.ones((n, m) if col else (m, n))
                self.params[f"b{l}"] = np.zeros((n, 1) if col else n)

        def loss(self, X, y):
            p = {("B" + k[1:] if k[0] == "b" else k): v for k, v in self.params.items()}
            return 0.0, backward(p, X, y)

    return FullyConnected


def lower_keys(acts, loss, layout, bug=None):
    backward = hw.make(list(acts), loss, layout, bug=bug)

    def grads(params, X, T):
        p = {f"{kind}{l}": params[f"{kind.lower()}{l}"]
             for l in range(1, len(acts) + 1) for kind in "WB"}
        return {"d" + k.lower(): v for k, v in backward(p, X, T).items()}

    return grads


STYLES = {
    "layers": lambda *a, **k: Target("LayerNet.gradient", cls=layered(*a, **k), method="gradient"),
    "sgd": lambda *a, **k: Target("LayerNet.train_step", cls=layered(*a, **k), method="train_step"),
    "classifier": lambda *a, **k: Target("FullyConnected.loss", cls=classifier(*a, **k), method="loss"),
    "lower": lower_keys,
}


# ------------------------------------------------------------------------------ right programs


@pytest.mark.parametrize("layout", ["column", "row"])
@pytest.mark.parametrize("style", sorted(STYLES))
def test_right_course_code_is_right_everywhere(style, layout):
    wrong = []
    for acts, loss, targets in networks():
        report = check_function(_net(acts, loss, layout), STYLES[style](acts, loss, layout),
                                targets=targets)
        if not report.ok:
            wrong.append(f"{_net(acts, loss, layout)} ({targets}):\n{report.table()}")
    assert not wrong, "\n".join(wrong)


# ------------------------------------------------------------------------------ slips

#: networks the slips are swept on (every bug applies to each: a hidden layer of each kind,
#: a fused and an unfused output)
SLIP_NETS = [
    (("sigmoid", "sigmoid", "identity"), "mse"),
    (("tanh", "relu", "softmax"), "cross_entropy"),
    (("leaky_relu", "elu", "sigmoid"), "binary_cross_entropy"),
    (("relu", "relu", "tanh"), "sse"),
]
#: bugs that apply only to some networks (f' of a fused output, of an identity output)
APPLIES = {
    "extra_prime": lambda acts, loss: "cross_entropy" in loss,
    "missing_prime_top": lambda acts, loss: "cross_entropy" not in loss and acts[-1] != "identity",
}


def usable(acts, loss):
    return [b for b in hw.BUGS if APPLIES.get(b, lambda *_: True)(acts, loss)]


def _unexplained(report):
    return [k for k, p in report.params.items()
            if not p.ok and p.diagnosis and f"d{k} (layer {k[1]}): no simple cause" in p.diagnosis]


def sweep(bugs_of, layouts=("column", "row"), style="lower"):
    """(checks, wrong gradients, gradients left as 'no simple cause', their cases)."""
    checks = wrong = 0
    unexplained = []
    for (acts, loss), layout in itertools.product(SLIP_NETS, layouts):
        for bug in bugs_of(acts, loss):
            report = check_function(_net(acts, loss, layout),
                                    STYLES[style](acts, loss, layout, bug=bug))
            assert not report.ok, (bug, _net(acts, loss, layout))
            checks += 1
            wrong += sum(not p.ok for p in report.params.values())
            unexplained += [(bug, _net(acts, loss, layout), k) for k in _unexplained(report)]
    return checks, wrong, unexplained


def test_one_slip_is_named_everywhere():
    checks, wrong, unexplained = sweep(usable)
    assert checks == 70 and wrong > checks
    assert unexplained == []


def test_one_slip_in_layer_objects_is_named():
    checks, _, unexplained = sweep(usable, layouts=("row",), style="layers")
    assert checks == 35 and unexplained == []


def test_two_slips_are_named():
    """Every pair of slips on every slip network, both layouts: no gradient is left as 'no
    simple cause' (in the run that closed issue 18: 272 checks, 1024 wrong gradients, 218 of
    them named with two slips, the others touched by one slip only)."""
    def pairs(acts, loss):
        return list(itertools.combinations(usable(acts, loss), 2))

    checks, wrong, unexplained = sweep(pairs)
    assert checks == 272 and wrong > 2 * checks
    assert unexplained == []


def test_two_slips_in_one_gradient_name_both():
    acts, loss = ("relu", "relu", "tanh"), "sse"
    report = check_function(_net(acts, loss, "row"),
                            lower_keys(acts, loss, "row", bug=("off_by_one", "missing_1_over_N")))
    assert report.params["W2"].diagnosis == (
        "dW2 (layer 2) has two slips: it pairs δ2 with R2 instead of R1, the input of layer 2 (a "
        "layer index off by one); and it is off by a factor of N (multiplied by the batch size, "
        "which the summed loss does not have)")
    report = check_function(_net(acts, loss, "column"),
                            lower_keys(acts, loss, "column", bug=("wrong_axis", "missing_prime_top")))
    assert report.params["B3"].diagnosis == (
        "dB3 (layer 3) has two slips: it is summed over the units of layer 3 instead of over the "
        "batch (dB3 needs one entry per unit, 2 of them): got shape (3, 1); and it leaves out "
        "the activation derivative tanh'(G3) of layer 3")
