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
