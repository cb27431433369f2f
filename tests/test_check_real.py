"""`check --python` on code shaped like real from-scratch networks, with no adapter.

Each case's verdicts are compared with an independent reference: the test calls the code by
hand (as its author would), and compares what it returns with central finite differences of
the loss, written here in plain NumPy.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from gradscribe.cli import main

REAL = Path(__file__).parent / "backprops" / "real.py"
_spec = importlib.util.spec_from_file_location("backprops_real", REAL)
real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(real)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ------------------------------------------------------------------------------ losses, by hand


def half_sse_sigmoid(p, X, T):  # column layout, sigmoid layers
    a = X
    for l in (1, 2):
        a = _sigmoid(p[f"W{l}"] @ a + p[f"B{l}"])
    return 0.5 * np.sum((a - T) ** 2)


def cross_entropy_labels(p, X, y):  # row layout, relu then softmax, mean over the batch
    scores = np.maximum(X @ p["W1"] + p["B1"], 0) @ p["W2"] + p["B2"]
    logp = scores - np.log(np.sum(np.exp(scores), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y])


def sse_bias_free(p, X, T):  # column layout, sigmoid then identity, no biases, plain sum
    out = p["W2"] @ _sigmoid(p["W1"] @ X)
    return np.sum((out - T) ** 2)


def bce_summed(p, X, T):  # column layout, sigmoid layers, summed binary cross-entropy
    a = X
    for l in (1, 2):
        a = _sigmoid(p[f"W{l}"] @ a + p[f"B{l}"])
    return -np.sum(T * np.log(a) + (1 - T) * np.log(1 - a))


def mse_tanh(p, X, T):  # row layout, tanh then identity, mean over all elements
    out = np.tanh(X @ p["W1"] + p["B1"]) @ p["W2"] + p["B2"]
    return np.mean((out - T) ** 2)


def finite_differences(loss, p, X, T, h=1e-6):
    grads = {}
    for k, v in p.items():
        g = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            up = {**p, k: v.copy()}
            down = {**p, k: v.copy()}
            up[k][i] += h
            down[k][i] -= h
            g[i] = (loss(up, X, T) - loss(down, X, T)) / (2 * h)
        grads[k] = g
    return grads


# ------------------------------------------------------------------------------ calls, by hand


def nielsen_by_hand(cls, p, X, T):
    net = cls([X.shape[0], p["W1"].shape[0], p["W2"].shape[0]])
    net.weights, net.biases = [p["W1"], p["W2"]], [p["B1"], p["B2"]]
    total = {k: np.zeros_like(v) for k, v in p.items()}
    for i in range(X.shape[1]):
        nabla_b, nabla_w = net.backprop(X[:, i:i + 1], T[:, i:i + 1])
        for l in (1, 2):
            total[f"B{l}"] = total[f"B{l}"] + nabla_b[l - 1]
            total[f"W{l}"] = total[f"W{l}"] + nabla_w[l - 1]
    return total


def cs231n_by_hand(cls, p, X, y):
    net = cls(p["W1"].shape[0], p["W1"].shape[1], p["W2"].shape[1])
    net.params = {"W1": p["W1"], "b1": p["B1"], "W2": p["W2"], "b2": p["B2"]}
    _, grads = net.loss(X, y)
    return {"W1": grads["W1"], "B1": grads["b1"], "W2": grads["W2"], "B2": grads["b2"]}


def bias_free_by_hand(func, p, X, T):
    return dict(zip(("W1", "W2"), func(X, T, p["W1"], p["W2"])))


def tuple_by_hand(func, p, X, T):
    return dict(zip(("W1", "B1", "W2", "B2"), func(X, T, p["W1"], p["B1"], p["W2"], p["B2"])))


# ------------------------------------------------------------------------------ the cases

NIELSEN = ("4-5-3:sigmoid,sigmoid:half_sse", "column", half_sse_sigmoid, nielsen_by_hand, "soft")
CS231N = ("5-6-4:relu,softmax:cross_entropy:row", "row", cross_entropy_labels, cs231n_by_hand,
          "labels")
TUPLE = ("3-4-2:tanh,identity:mse:row", "row", mse_tanh, tuple_by_hand, "soft")
BIAS_FREE_SPEC = Path(__file__).parent / "backprops" / "bias_free_sse.toml"
BIAS_FREE = (str(BIAS_FREE_SPEC), "column", sse_bias_free, bias_free_by_hand, "soft")
SUMMED_BCE = ("4-5-3:sigmoid,sigmoid:binary_cross_entropy@sum", "column", bce_summed,
              nielsen_by_hand, "soft")

CASES = {
    # target: (case, fragments the diagnoses of the wrong parameters must contain)
    "Network.backprop": (NIELSEN, {}),
    "BuggyNetwork.backprop": (NIELSEN, {"W1": "computes layer 1's sigmoid'(·) at R1 instead of G1",
                                        "B1": "computes layer 1's sigmoid'(·) at R1 instead of G1"}),
    "TwoLayerNet.loss": (CS231N, {}),
    "BuggyTwoLayerNet.loss": (CS231N, {"W1": "the error is confined to rows 2–3 of dW1"}),
    "WrongAxisTwoLayerNet.loss": (CS231N, {"B1": "summed over the units of layer 1 instead of "
                                                 "over the batch"}),
    "bias_free": (BIAS_FREE, {}),
    "bias_free_halved": (BIAS_FREE, {"W1": "your code matches half_sse, not sse",
                                     "W2": "your code matches half_sse, not sse"}),
    "CrossEntropyNetwork.backprop": (SUMMED_BCE, {}),
    "BuggyCrossEntropyNetwork.backprop": (SUMMED_BCE, {"W2": "multiplies δ2 by sigmoid'(G2)"}),
    "grads_tuple": (TUPLE, {}),
    "grads_tuple_buggy": (TUPLE, {"W1": "leaves out the activation derivative tanh'(G1)",
                                  "B1": "leaves out the activation derivative tanh'(G1)"}),
}


def _draw(net_text, layout, targets, rng):
    bias = not net_text.endswith(".toml")
    sizes = [int(s) for s in net_text.split(":")[0].split("-")] if bias else [3, 4, 2]
    p = {}
    for l in (1, 2):
        w = rng.normal(size=(sizes[l], sizes[l - 1]))
        b = rng.normal(size=(sizes[l], 1)) * 0.5
        p[f"W{l}"] = w if layout == "column" else w.T
        if bias:
            p[f"B{l}"] = b if layout == "column" else b[:, 0]
    N = 4
    X = rng.normal(size=(sizes[0], N))
    if targets == "labels":
        T = rng.integers(0, sizes[-1], size=N)
    else:
        T = rng.uniform(0, 1, size=(sizes[-1], N))
    if layout == "row":
        X = X.T
        T = T if T.ndim == 1 else T.T
    return p, X, T


def reference_verdicts(target: str) -> dict:
    (net_text, layout, loss, by_hand, targets), _ = CASES[target]
    owner = getattr(real, target.split(".")[0])
    p, X, T = _draw(net_text, layout, targets, np.random.default_rng(7))
    got = by_hand(owner, p, X, T)
    want = finite_differences(loss, p, X, T)
    return {k: bool(np.shape(got[k]) == want[k].shape
                    and np.allclose(got[k], want[k], rtol=1e-5, atol=1e-7)) for k in want}


@pytest.mark.parametrize("target", list(CASES))
def test_real_code_is_judged_like_finite_differences(target, capsys):
    (net_text, _, _, _, targets), fragments = CASES[target]
    reference = reference_verdicts(target)
    assert all(reference.values()) == (not fragments)  # the reference sees the bug too
    status = main(["check", net_text, "--python", f"{REAL}:{target}", "--targets", targets,
                   "--json"])
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"ok", "params", "notes"}  # the notes say how FUNC was called
    verdicts = {k: v["ok"] for k, v in report["params"].items()}
    assert verdicts == reference, report
    assert status == (0 if all(reference.values()) else 1)
    for key, fragment in fragments.items():
        assert fragment in report["params"][key]["diagnosis"]


def test_summed_cross_entropy_code_checked_as_the_mean_names_the_convention():
    from gradscribe.check.conventions import Target
    from gradscribe.check.judge import check_function

    target = Target("CrossEntropyNetwork.backprop", cls=real.CrossEntropyNetwork, method="backprop")
    report = check_function("4-5-3:sigmoid,sigmoid:binary_cross_entropy", target)
    assert not report.ok
    for p in report.params.values():
        assert ("a loss convention: your code matches binary_cross_entropy@sum, not "
                "binary_cross_entropy") in p.diagnosis


def test_the_report_says_what_was_assumed(capsys):
    status = main(["check", NIELSEN[0], "--python", f"{REAL}:Network.backprop"])
    out = capsys.readouterr().out
    assert status == 0 and "all right" in out
    assert ("Network([4, 5, 3]) built; parameters set in W1 -> self.weights[0], B1 -> "
            "self.biases[0], W2 -> self.weights[1], B2 -> self.biases[1]") in out
    assert ("Network.backprop takes one sample: for a batch (N = 3) it returned dB1 of shape "
            "(5, 3) and it names its data for one sample (x), for one sample (a batch of one) "
            "every shape is right, so it is called once per sample and the results summed") in out
    assert "returned a tuple of 2 lists (4 arrays), read by shape and order as (B1, B2, W1, W2)" in out
    status = main(["check", CS231N[0], "--python", f"{REAL}:TwoLayerNet.loss", "--targets", "labels"])
    out = capsys.readouterr().out
    assert status == 0
    assert "TwoLayerNet(5, 6, 4) built; parameters set in W1 -> self.params['W1'], B1 -> self.params['b1']" in out
    assert "TwoLayerNet.loss returned (loss, gradients): the loss is not judged" in out


def test_soft_targets_make_label_code_fail_and_bad_targets_exit_2(capsys):
    # the classifier indexes with y: soft (float) targets are not labels
    status = main(["check", CS231N[0], "--python", f"{REAL}:TwoLayerNet.loss"])
    assert status == 1
    capsys.readouterr()
    for net, targets, message in [
        (TUPLE[0], "labels", "--targets labels is for the cross-entropies only"),
        ("3-4-2:tanh,sigmoid:binary_cross_entropy", "labels", "needs one output unit"),
    ]:
        status = main(["check", net, "--python", f"{REAL}:grads_tuple", "--targets", targets])
        err = capsys.readouterr().err
        assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_onehot_targets():
    from gradscribe.check.judge import check_function

    def onehot_only(params, X, T):  # only looks at the targets it gets
        assert set(np.unique(T)) <= {0.0, 1.0} and np.all(T.sum(axis=0) == 1)
        return {"W1": np.zeros((2, 3))}

    report = check_function("3-2:softmax:cross_entropy", onehot_only, targets="onehot")
    assert report.error is None and not report.ok


# ------------------------------------------------------------------------------ diagnoses

HALF = "3-4-4-2:tanh,tanh,identity:half_sse"


def column_backprop(params, X, T, bias=None, scale=1.0, weight_scale=None):
    """Right for HALF (δ3 = P - T), with hooks: bias(l, D) replaces dB_l, scale multiplies δ3,
    weight_scale(l) multiplies dW_l."""
    R = [X]
    for l in (1, 2, 3):
        G = params[f"W{l}"] @ R[-1] + params[f"B{l}"]
        R.append(np.tanh(G) if l < 3 else G)
    D = scale * (R[3] - T)
    grads = {}
    for l in (3, 2, 1):
        grads[f"W{l}"] = D @ R[l - 1].T * (weight_scale(l) if weight_scale else 1.0)
        grads[f"B{l}"] = bias(l, D) if bias else D.sum(axis=1, keepdims=True)
        if l > 1:
            D = (params[f"W{l}"].T @ D) * (1 - R[l - 1] ** 2)
    return grads


def test_a_layers_right_weights_clear_the_layer_above():
    from gradscribe.check.judge import check_function

    def first_sample_twice(params, X, T):  # dB counts the first sample twice in layers 1 and 2
        return column_backprop(params, X, T, bias=lambda l, D: (
            D.sum(axis=1, keepdims=True) + D[:, :1] if l < 3 else D.sum(axis=1, keepdims=True)))

    report = check_function(HALF, first_sample_twice)
    assert [k for k, p in report.params.items() if not p.ok] == ["B1", "B2"]
    b1 = report.params["B1"].diagnosis
    assert b1.startswith("dB1 (layer 1) has an error of its own: dW1 of the same layer is right, so "
                         "δ1 is right and the error is in dB1's own step from δ1, not in the layers above")
    assert "propagates" not in b1 and "starts in layer 2" not in b1
    assert "worst dB1[" in b1

    def mean_bias(params, X, T):  # averaged over the batch in layers 1 and 2
        return column_backprop(params, X, T, bias=lambda l, D: (
            D.mean(axis=1, keepdims=True) if l < 3 else D.sum(axis=1, keepdims=True)))

    b1 = check_function(HALF, mean_bias).params["B1"].diagnosis
    assert "off by a factor of 1/N" in b1 and "dW1 of the same layer is right" in b1
    assert "starts in layer 2" not in b1


def test_c_no_batch_mean_sentence_for_summed_losses():
    from gradscribe.check.judge import check_function

    def over_n(params, X, T):
        return column_backprop(params, X, T, weight_scale=lambda l: 1 / X.shape[1] if l == 1 else 1)

    text = check_function(HALF, over_n).params["W1"].diagnosis
    assert "off by a factor of 1/N" in text
    assert "the loss is a sum over the batch with no 1/N" in text
    assert "already in δ" not in text
    mse = check_function("3-4-4-2:tanh,tanh,identity:mse",
                         lambda params, X, T: column_backprop(params, X, T, scale=2 / (X.shape[1] * 2),
                                                              weight_scale=lambda l: 1 / X.shape[1] if l == 1 else 1))
    assert "the loss's mean over the batch is already in δ" in mse.params["W1"].diagnosis


def test_d_a_factor_in_every_layer_is_named_as_a_loss_convention():
    from gradscribe.check.judge import check_function

    report = check_function("3-4-4-2:tanh,tanh,identity:mse", column_backprop)
    assert not report.ok
    for p in report.params.values():
        assert "the same in every layer: a loss convention: your code matches half_sse, not mse" in p.diagnosis
    assert any("check it as `3-4-4-2:tanh,tanh,identity:half_sse:column`" in n for n in report.notes)
    # a factor 3 in every layer matches no registered loss: still a convention, from δ3
    report = check_function(HALF, lambda params, X, T: column_backprop(params, X, T, scale=3.0))
    assert all("it comes from δ3, the loss's derivative: a loss convention" in p.diagnosis
               for p in report.params.values())
    # a flipped sign is a slip
    report = check_function(HALF, lambda params, X, T: column_backprop(params, X, T, scale=-1.0))
    assert "convention" not in report.params["W1"].diagnosis


def test_e_per_sample_code_called_with_a_batch_suggests_batch_1():
    from gradscribe.check.judge import check_function

    def per_sample(params, X, T):  # written for one column: the biases keep the batch axis
        return column_backprop(params, X, T, bias=lambda l, D: D)

    report = check_function(HALF, per_sample)
    assert [k for k, p in report.params.items() if not p.ok] == ["B1", "B2", "B3"]
    for k in ("B1", "B2", "B3"):
        assert "check it with --batch 1" in report.params[k].diagnosis
    assert check_function(HALF, per_sample, batch=1).ok

    def per_sample_x(params, x, y):  # the same, its data named for one sample: called per sample
        return per_sample(params, x, y)

    report = check_function(HALF, per_sample_x)
    assert report.ok
    assert any("called once per sample and the results summed" in n for n in report.notes)
