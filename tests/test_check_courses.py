"""`check --python` on code shaped like course and textbook networks (tests/backprops/courses.py):
layer objects that share the parameter arrays, params dicts read with other key spellings,
constructors named for their sizes, training steps inside the backward pass.

Each verdict is held against an independent reference: central finite differences of the
code's own loss (its `loss` method, or a loss written here in plain NumPy), computed by
calling the code by hand as its author would.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradscribe.check.judge import check_function

BACKPROPS = Path(__file__).parent / "backprops"
COURSES = BACKPROPS / "courses.py"
_spec = importlib.util.spec_from_file_location("backprops_courses", COURSES)
courses = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(courses)


def finite_differences(loss, params: dict, h: float = 1e-6) -> dict:
    """Central differences of loss() with respect to every entry of every array in params
    (changed in place and put back, so objects that share the arrays see the changes)."""
    grads = {}
    for k, v in params.items():
        g = np.zeros_like(v, dtype=float)
        for i in np.ndindex(v.shape):
            keep = v[i]
            v[i] = keep + h
            up = loss()
            v[i] = keep - h
            down = loss()
            v[i] = keep
            g[i] = (up - down) / (2 * h)
        grads[k] = g
    return grads


def _agrees(got: dict, reference: dict, tol: float = 1e-6) -> bool:
    return all(np.allclose(got[k], reference[k], rtol=tol, atol=tol) for k in reference)


def _data(rng, n=4, d=3, c=2, labels=False):
    X = rng.normal(size=(n, d))
    if labels:
        return X, rng.integers(0, c, size=n)
    T = rng.uniform(0.1, 1, size=(n, c))
    return X, T / T.sum(axis=1, keepdims=True)


def _fill(params: dict, rng) -> None:
    """New values written into the arrays a network holds (its layers keep seeing them)."""
    for v in params.values():
        v[...] = rng.normal(size=v.shape) * 0.8


def _json(cli, net, target, *extra):
    status, out, err = cli("check", net, "--python", f"{COURSES}:{target}", "--json", *extra)
    assert out.strip(), err
    return status, json.loads(out), err


# ------------------------------------------------------------------------------ references


def test_the_references_agree_with_the_course_code():
    """The right programs are right and the slipped ones wrong by finite differences: the
    verdicts below are checked against this, not against gradscribe."""
    rng = np.random.default_rng(1)
    X, T = _data(rng)
    net = courses.TwoLayerNet(3, 4, 2)
    _fill(net.params, rng)
    assert _agrees(net.gradient(X, T), finite_differences(lambda: net.loss(X, T), net.params))
    slipped = SkipsRelu(3, 4, 2)
    _fill(slipped.params, rng)
    assert not _agrees(slipped.gradient(X, T),
                       finite_differences(lambda: slipped.loss(X, T), slipped.params))

    multi = courses.MultiLayerNet(3, [4, 4], 2)
    _fill(multi.params, rng)
    assert _agrees(multi.gradient(X, T), finite_differences(lambda: multi.loss(X, T), multi.params))
    decay = courses.MultiLayerNetDecay(3, [4, 4], 2)
    _fill(decay.params, rng)
    assert _agrees(decay.gradient(X, T), finite_differences(lambda: decay.loss(X, T), decay.params))

    Xl, y = _data(rng, labels=True)
    fc = courses.FullyConnectedNet([4, 4], input_dim=3, num_classes=2)
    _fill(fc.params, rng)
    assert _agrees(fc.loss(Xl, y)[1], finite_differences(lambda: fc.loss(Xl, y)[0], fc.params))

    hidden = courses.HiddenOnly(5)
    p = {"W1": hidden.W1, "b1": hidden.b1, "W2": hidden.W2, "b2": hidden.b2}
    _fill(p, rng)

    def hidden_loss():
        probs = courses.softmax(np.tanh(X @ hidden.W1 + hidden.b1) @ hidden.W2 + hidden.b2)
        return -np.sum(T * np.log(probs)) / len(X)

    assert _agrees(hidden.backprop(X, T), finite_differences(hidden_loss, p))


def _half_sse_sigmoid(params):
    def loss(X, T):
        h = courses.sigmoid(X @ params["W1"] + params["B1"])
        return 0.5 * np.sum((courses.sigmoid(h @ params["W2"] + params["B2"]) - T) ** 2)
    return loss


def test_the_lower_case_references():
    rng = np.random.default_rng(2)
    X, T = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    params = {"W1": rng.normal(size=(3, 4)), "B1": rng.normal(size=4),
              "W2": rng.normal(size=(4, 2)), "B2": rng.normal(size=2)}
    loss = _half_sse_sigmoid(params)
    reference = finite_differences(lambda: loss(X, T), params)
    lower = {k.lower(): v for k, v in params.items()}
    got = {k[1:].upper(): v for k, v in courses.lower_case_keys(lower, X, T).items()}
    assert _agrees(got, reference)
    spelled = {f"{k[0].replace('B', 'b')}_{k[1]}": v for k, v in params.items()}
    got = courses.underscored_keys(spelled, X, T)
    assert _agrees({k.upper(): v for k, v in got.items()}, reference)


# ------------------------------------------------------------------------------ layer objects


class SkipsRelu(courses.TwoLayerNet):
    """Its Relu layer passes the gradient through unmasked (relu' left out)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.layers["Relu1"].backward = lambda dout: dout


def test_layer_objects_that_share_the_parameter_arrays_are_right(cli):
    for net, target in (("3-4-2:relu,softmax:cross_entropy:row", "TwoLayerNet.gradient"),
                        ("3-4-4-2:relu,relu,softmax:cross_entropy:row", "MultiLayerNet.gradient")):
        status, data, err = _json(cli, net, target)
        assert status == 0, data
        assert all(p["ok"] for p in data["params"].values())
        assert len(data["params"]) == 2 * (net.count("-"))


def test_a_slip_in_a_layer_object_is_named():
    report = check_function("3-4-2:relu,softmax:cross_entropy:row",
                            _target(SkipsRelu, "gradient"))
    assert [k for k, p in report.params.items() if not p.ok] == ["W1", "B1"]
    assert report.params["W1"].diagnosis == (
        "dW1: leaves out the activation derivative relu'(G1) of layer 1")


def _target(cls, method):
    from gradscribe.check.conventions import Target
    return Target(f"{cls.__name__}.{method}", cls=cls, method=method)


def test_a_training_step_inside_the_backward_pass(cli):
    status, data, _ = _json(cli, "3-4-2:relu,softmax:cross_entropy:row", "SgdInside.train_step")
    assert status == 0 and data["ok"]
    assert ("SgdInside.train_step changed self.params['W1'], self.params['b1'], "
            "self.params['W2'], self.params['b2'] during the call (a parameter update inside "
            "it?): the parameters are set again before every call, and its gradients are "
            "judged as returned") in data["notes"]


# ------------------------------------------------------------------------------ key spellings


def test_params_read_with_other_spellings(cli):
    net = "3-4-2:sigmoid,sigmoid:half_sse:row"
    status, data, _ = _json(cli, net, "lower_case_keys")
    assert status == 0 and data["ok"], data
    assert ("lower_case_keys read params['w1'], params['b1'], params['w2'], params['b2'] (given "
            "the network's W1, B1, W2, B2)") in data["notes"]
    status, data, _ = _json(cli, net, "underscored_keys")
    assert status == 0 and data["ok"], data
    assert any(n.startswith("underscored_keys read params['W_1'], params['b_1']")
               for n in data["notes"])


def test_a_replaced_parameter_under_another_spelling_is_still_seen():
    def replaces(params, X, T):
        grads = courses.lower_case_keys(params, X, T)
        params["w2"] = params["w2"] - 0.1 * grads["dw2"]
        return grads

    report = check_function("3-4-2:sigmoid,sigmoid:half_sse:row", replaces)
    assert not report.params["W2"].ok
    assert "replaced params['W2']" in report.params["W2"].diagnosis


# ------------------------------------------------------------------------------ constructors


def test_constructors_built_from_their_parameter_names(cli):
    cases = [
        ("3-4-4-2:relu,relu,softmax:cross_entropy:row", "MultiLayerNet.gradient", (),
         "MultiLayerNet(input_size=3, hidden_size_list=[4, 4], output_size=2) built"),
        ("3-5-2:relu,softmax:cross_entropy:row", "MultiLayerNet.gradient", (),
         "MultiLayerNet(input_size=3, hidden_size_list=[5], output_size=2) built"),
        ("3-4-4-2:relu,relu,softmax:cross_entropy:row", "FullyConnectedNet.loss",
         ("--targets", "labels"),
         "FullyConnectedNet(hidden_dims=[4, 4], input_dim=3, num_classes=2) built"),
        ("3-5-2:tanh,softmax:cross_entropy:row", "HiddenOnly.backprop", (),
         "HiddenOnly(num_hidden=5) built"),
    ]
    for net, target, extra, built in cases:
        status, data, err = _json(cli, net, target, *extra)
        assert status == 0 and data["ok"], (target, data, err)
        assert any(n.startswith(built) for n in data["notes"]), data["notes"]
    # defaulted arguments that change the loss are named
    _, data, _ = _json(cli, "3-4-2:relu,softmax:cross_entropy:row", "FullyConnectedNet.loss",
                       "--targets", "labels")
    assert ("FullyConnectedNet.loss: reg=0.0 left at its default; it changes the loss (a "
            "penalty on the weights)") in data["notes"]
    _, data, _ = _json(cli, "3-4-2:relu,softmax:cross_entropy:row", "MultiLayerNet.gradient")
    assert ("MultiLayerNet.gradient: weight_decay_lambda=0 left at its default; it changes the "
            "loss (a penalty on the weights)") in data["notes"]


def test_float32_parameters_held_by_a_class_are_judged_at_their_precision(cli):
    status, data, _ = _json(cli, "3-4-4-2:relu,relu,softmax:cross_entropy:row",
                            "FullyConnectedNet32.loss", "--targets", "labels")
    assert status == 0 and data["ok"], data
    assert max(p["max_rel_err"] for p in data["params"].values()) > 1e-9  # float32 rounding


def test_a_constructor_that_cannot_fit_names_its_signature(cli):
    status, out, err = cli("check", "3-5-5-2:tanh,tanh,softmax:cross_entropy:row", "--python",
                           f"{COURSES}:HiddenOnly.backprop")
    assert status == 2 and out == ""
    line = err.strip()
    assert "\n" not in line
    assert "it holds self.W2 of shape (5, 2) where (5, 5) belongs" in line
    assert line.endswith("its constructor is HiddenOnly(num_hidden)")


# ------------------------------------------------------------------------------ the worker


def test_a_crashing_func_does_not_dump_the_checkers_stack(tmp_path):
    """A checker with faulthandler enabled (as pytest has it): the forked worker must not
    inherit it, or FUNC's crash dumps the checker's whole stack."""
    log = tmp_path / "faults.log"
    script = (
        "import faulthandler, sys\n"
        f"log = open({str(log)!r}, 'w')\n"
        "faulthandler.enable(file=log)\n"
        "from gradscribe.check.judge import check_function\n"
        "report = check_function('2-3-1:tanh,identity:mse', "
        f"{str(BACKPROPS / 'pathological.py') + ':segfaults'!r})\n"
        "print(report.error)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert "ended its process with SIGSEGV" in done.stdout, done.stderr
    assert log.read_text() == ""


# ------------------------------------------------------------------------------ imports


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_file_in_a_package_imports_as_its_package_does(cli, tmp_path, monkeypatch):
    """`from ..layers import *` and `from course.layers import ...` work with no PYTHONPATH,
    from the project's folder and from anywhere else."""
    _write(tmp_path / "course" / "__init__.py", "")
    _write(tmp_path / "course" / "classifiers" / "__init__.py", "")
    _write(tmp_path / "course" / "layers.py",
           "def affine_forward(x, w, b):\n    return x @ w + b, (x, w)\n\n\n"
           "def affine_backward(dout, cache):\n    x, w = cache\n"
           "    return dout @ w.T, x.T @ dout, dout.sum(axis=0)\n")
    net_file = _write(tmp_path / "course" / "classifiers" / "linear.py",
                      "from ..layers import *\nfrom course.layers import affine_forward as forward\n\n\n"
                      "def grads(params, X, T):\n"
                      "    out, cache = forward(X, params['W1'], params['b1'])\n"
                      "    _, dw, db = affine_backward(out - T, cache)\n"
                      "    return {'W1': dw, 'b1': db}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd, target in ((tmp_path, "course/classifiers/linear.py"), (elsewhere, str(net_file))):
        monkeypatch.chdir(cwd)
        status, out, err = cli("check", "3-2:identity:half_sse:row", "--python", f"{target}:grads")
        assert status == 0, err
        assert out.strip().endswith("all right")


def test_python2_and_data_read_at_import_get_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = {
        "old.py": ("import numpy as np\n\ndef grads(params, X, T):\n    print 'step'\n"
                   "    return {}\n",
                   "'old.py' is Python 2 code (print without parentheses, line 4): gradscribe "
                   "checks Python 3 code; port it to Python 3 first"),
        "older.py": ("def grads(params, X, T):\n    for i in xrange(3):\n        pass\n"
                     "    return {}\n\ngrads(None, None, None)\n",
                     "'older.py' is Python 2 code (the Python 2 name 'xrange')"),
        "loads.py": ("import numpy as np\nX_train = np.load('data/train.npy')\n\n\n"
                     "def grads(params, X, T):\n    return {}\n",
                     "importing 'loads.py' failed: it opens 'data/train.npy' when imported "
                     f"(FileNotFoundError, running from {tmp_path}); put the code that loads "
                     "data under `if __name__ == \"__main__\":` so that importing the file only "
                     "defines the function"),
    }
    for name, (text, line) in cases.items():
        _write(tmp_path / name, text)
        status, out, err = cli("check", "3-2:identity:half_sse:row", "--python", f"{name}:grads")
        assert status == 2 and out == ""
        assert err.count("\n") == 1 and line in err, err


# ------------------------------------------------------------------------------ L2 terms


def _l2_reference(params, X, y, reg):
    """The loss l2_loss differentiates: mean cross-entropy of relu -> softmax, + reg ΣW²."""
    h = np.maximum(X @ params["W1"] + params["b1"], 0)
    probs = courses.softmax(h @ params["W2"] + params["b2"])
    data = -np.mean(np.log(probs[np.arange(len(y)), y]))
    return data + reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))


def test_the_l2_references():
    rng = np.random.default_rng(3)
    X, y = _data(rng, labels=True)
    p = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4),
         "W2": rng.normal(size=(4, 2)), "b2": rng.normal(size=2)}
    assert _agrees(courses.l2_loss(p, X, y), finite_differences(lambda: _l2_reference(p, X, y, 0.1), p))
    # and against the network without the penalty, the weights are off by exactly 0.2 W
    plain = finite_differences(lambda: _l2_reference(p, X, y, 0.0), p)
    got = courses.l2_loss(p, X, y)
    assert np.allclose(got["W2"] - plain["W2"], 0.2 * p["W2"], atol=1e-6)
    assert np.allclose(got["b2"], plain["b2"], atol=1e-6)


def test_an_l2_term_is_named_with_the_codes_own_argument(cli):
    net = "3-4-2:relu,softmax:cross_entropy:row"
    status, data, _ = _json(cli, net, "l2_loss", "--targets", "labels")
    assert status == 1
    assert [k for k, p in data["params"].items() if not p["ok"]] == ["W1", "W2"]
    assert data["params"]["W2"]["diagnosis"] == (
        "dW2 has 0.2·W2 added and the biases nothing: an L2 penalty 0.1·ΣW² (reg = 0.1) in the "
        "code's loss, which cross_entropy has not (the loss cross_entropy+l2@0.1 has it)")
    assert "l2_loss: reg=0.1 left at its default; it changes the loss (a penalty on the weights)" in (
        data["notes"])
    # half of it as the gradient (0.5 * reg * ΣW²): weight decay
    status, data, _ = _json(cli, "3-4-4-2:relu,relu,softmax:cross_entropy:row",
                            "Regularized.loss", "--targets", "labels")
    assert status == 1
    assert data["params"]["W3"]["diagnosis"] == (
        "dW3 has 0.1·W3 added and the biases nothing: weight decay 0.1, a penalty (0.1/2)·ΣW² "
        "(reg = 0.1) in the code's loss, which cross_entropy has not (the loss "
        "cross_entropy+wd@0.1 has it)")
    status, data, _ = _json(cli, "3-4-4-2:relu,relu,softmax:cross_entropy:row",
                            "MultiLayerNetDecay.gradient")
    assert "(weight_decay_lambda = 0.1)" in data["params"]["W1"]["diagnosis"]


def test_an_l2_term_and_a_slip():
    def l2_and_missing_relu(params, X, y):
        z1, h, d2 = courses._relu_softmax(params, X, y)
        d1 = d2 @ params["W2"].T  # relu'(G1) left out
        return {"W1": X.T @ d1 + 0.2 * params["W1"], "b1": d1.sum(axis=0),
                "W2": h.T @ d2 + 0.2 * params["W2"], "b2": d2.sum(axis=0)}

    report = check_function("3-4-2:relu,softmax:cross_entropy:row", l2_and_missing_relu,
                            targets="labels")
    assert report.params["W2"].diagnosis.startswith("dW2 has 0.2·W2 added and the biases nothing: "
                                                    "an L2 penalty 0.1·ΣW² or weight decay 0.2")
    assert report.params["W1"].diagnosis.endswith(
        "; besides, dW1: leaves out the activation derivative relu'(G1) of layer 1")
    assert report.params["B1"].diagnosis == (
        "dB1: leaves out the activation derivative relu'(G1) of layer 1")


# ------------------------------------------------------------------------------ two slips at once


def test_two_slips_at_once_are_both_named():
    net = "3-4-4-2:sigmoid,sigmoid,sigmoid:half_sse:row"
    report = check_function(net, courses.missing_prime_and_inherited)
    assert report.params["W2"].diagnosis == (
        "dW2: leaves out the activation derivative sigmoid'(G2) of layer 2")
    for k in ("W1", "B1"):
        assert report.params[k].diagnosis == (
            f"d{k} (layer 1) has two slips: the error starts in layer 2, which leaves out the "
            "activation derivative sigmoid'(G2) of layer 2, and propagates down; and layer 1 "
            "leaves out the activation derivative sigmoid'(G1) of layer 1 as well")
    assert report.params["W3"].ok and report.params["B3"].ok

    report = check_function("3-4-2:tanh,sigmoid:half_sse:row",
                            courses.bias_unsummed_and_missing_prime)
    assert [k for k, p in report.params.items() if not p.ok] == ["B2"]
    assert report.params["B2"].diagnosis == (
        "dB2 (layer 2) has two slips: it is not reduced over the batch (shape (3, 2) where (2,) "
        "belongs); undoing it, dB2 leaves out the activation derivative sigmoid'(G2) of layer 2")


def test_an_unexplained_error_above_and_a_slip_of_the_layers_own():
    report = check_function("3-4-4-2:tanh,tanh,identity:mse:row", courses.odd_top_and_own_slip)
    assert report.params["W1"].diagnosis.startswith(
        "dW1 (layer 1) has two slips: the error starts in layer 3 above it and propagates down, "
        "and its own step from the δ2 the code used leaves out the activation derivative "
        "tanh'(G1) of layer 1")
    assert "its own step from δ3 is right" in report.params["W2"].diagnosis


# ------------------------------------------------------------------------------ hints


def test_a_flag_is_the_fix(cli):
    status, data, _ = _json(cli, "3-4-2:relu,softmax:cross_entropy:row", "classifier")
    assert status == 1 and data["error"].startswith("classifier raised IndexError")
    assert data["error"].endswith("with integer class labels for T (shape (N,)) it runs: check "
                                  "it with --targets labels (and every gradient is right there)")
    status, data, _ = _json(cli, "3-4-2:tanh,identity:mse:row", "column_code")
    assert status == 1 and data["error"].startswith("column_code raised ValueError")
    assert data["error"].endswith("in the column layout it runs: check it as "
                                  "`3-4-2:tanh,identity:mse:column` (and every gradient is right "
                                  "there)")


def test_the_loss_whose_delta_the_code_computes_is_named():
    report = check_function("3-4-2:tanh,sigmoid:half_sse:row", courses.cross_entropy_delta)
    assert report.params["W2"].diagnosis == (
        "dW2: leaves out the activation derivative sigmoid'(G2) of layer 2; right for "
        "binary_cross_entropy@sum (check it as `3-4-2:tanh,sigmoid:binary_cross_entropy@sum:row`)")
    assert ("every gradient is right for binary_cross_entropy@sum: your code computes its δ2, not "
            "half_sse's (check it as `3-4-2:tanh,sigmoid:binary_cross_entropy@sum:row` if that is "
            "your loss)") in report.notes
    again = check_function("3-4-2:tanh,sigmoid:binary_cross_entropy@sum:row",
                           courses.cross_entropy_delta)
    assert again.ok, again.table()


def _row_loss(acts, loss):
    """The loss of a row-layout network with these activations, in plain NumPy."""
    funcs = {"sigmoid": courses.sigmoid, "tanh": np.tanh, "identity": lambda z: z}

    def value(params, X, T):
        a = X
        for l, act in enumerate(acts, start=1):
            a = funcs[act](a @ params[f"W{l}"] + params[f"B{l}"])
        if loss == "half_sse":
            return 0.5 * np.sum((a - T) ** 2)
        return np.mean((a - T) ** 2)
    return value


@pytest.mark.parametrize("func,acts,loss", [
    ("missing_prime_and_inherited", ("sigmoid", "sigmoid", "sigmoid"), "half_sse"),
    ("bias_unsummed_and_missing_prime", ("tanh", "sigmoid"), "half_sse"),
    ("cross_entropy_delta", ("tanh", "sigmoid"), "half_sse"),
    ("odd_top_and_own_slip", ("tanh", "tanh", "identity"), "mse"),
])
def test_the_verdicts_on_slips_agree_with_finite_differences(func, acts, loss):
    rng = np.random.default_rng(4)
    sizes = [3] + [4] * (len(acts) - 1) + [2]
    params = {}
    for l in range(1, len(acts) + 1):
        params[f"W{l}"] = rng.normal(size=(sizes[l - 1], sizes[l]))
        params[f"B{l}"] = rng.normal(size=sizes[l]) * 0.5
    X, T = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
    value = _row_loss(acts, loss)
    reference = finite_differences(lambda: value(params, X, T), params)
    got = getattr(courses, func)({**params, **{k.lower(): v for k, v in params.items()}}, X, T)
    got = {k.upper(): v for k, v in got.items()}
    wrong_by_fd = sorted(k for k in params if np.shape(got[k]) != reference[k].shape
                         or not np.allclose(got[k], reference[k], rtol=1e-5, atol=1e-6))
    net = f"{'-'.join(map(str, sizes))}:{','.join(acts)}:{loss}:row"
    report = check_function(net, getattr(courses, func))
    assert sorted(k for k, p in report.params.items() if not p.ok) == wrong_by_fd
    # every slip is named (the odd output δ of odd_top_and_own_slip is no modelled slip)
    named = [k for k in wrong_by_fd if not report.params[k].diagnosis.startswith(
        f"d{k} (layer {k[1]}): no simple cause")]
    assert named == (["B1", "B2", "W1", "W2"] if func == "odd_top_and_own_slip" else wrong_by_fd)
