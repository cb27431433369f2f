"""check layer:... --python: one layer's backward code judged right when right, in the course
style (functions paired forward/backward, loss functions) and the book's (layer classes), over
a sweep of sizes, batch sizes and float32/float64; each common slip named.

The layer code is in tests/layer_code/ (written for these tests, with its own formulas).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gradscribe.check.layer_judge import check_layer, read_eps

CODE = Path(__file__).parent / "layer_code"
COURSE, BOOK, SLIPS = CODE / "course_layers.py", CODE / "book_layers.py", CODE / "slips.py"

ACTIVATIONS = {  # kind -> (course function, book class)
    "identity": ("identity", "Identity"), "relu": ("relu", "Relu"),
    "leaky_relu@0.01": ("leaky_relu", None), "leaky_relu@0.2": (None, "LeakyRelu"),
    "elu": ("elu", "Elu"), "sigmoid": ("sigmoid", "Sigmoid"), "tanh": ("tanh", "Tanh"),
    "softplus": ("softplus", "Softplus"), "silu": ("silu", "Silu"), "step": ("step", "Step"),
}
LOSSES = {
    "softmax_cross_entropy": ("softmax_loss", "SoftmaxWithLoss"),
    "sigmoid_binary_cross_entropy": ("sigmoid_cross_entropy_loss", "SigmoidWithLoss"),
    "mse": ("mse_loss", "MeanSquaredError"),
    "half_sse": ("half_sse_loss", None),
    "sse": ("sse_loss", None),
}


def right_code():
    """(NET without sizes, sizes, FILE:NAME) for every layer and style that is right."""
    for sizes in ("6-3", "12-5", "1-1"):
        yield "affine", sizes, f"{COURSE}:affine"
        yield "affine", sizes, f"{BOOK}:Affine"
    for width in ("1", "4", "9"):
        for kind, (course, book) in ACTIVATIONS.items():
            if course:
                yield kind, width, f"{COURSE}:{course}"
            if book:
                yield kind.replace("@0.2", "@0.2"), width, f"{BOOK}:{book}"
        for p in ("0.2", "0.5"):
            yield f"dropout@{p}", width, f"{COURSE}:dropout"
            yield f"dropout@{p}", width, f"{BOOK}:Dropout"
    for width in ("1", "3", "8"):
        for eps in ("1e-5", "1e-7", "1e-8"):
            yield f"batchnorm@{eps}", width, f"{COURSE}:batchnorm"
            yield f"batchnorm@{eps}", width, f"{COURSE}:batchnorm_backward_alt"
            yield f"batchnorm@{eps}", width, f"{BOOK}:BatchNormalization"
    for width in ("2", "5"):
        for kind, (course, book) in LOSSES.items():
            yield kind, width, f"{COURSE}:{course}"
            if book:
                yield kind, width, f"{BOOK}:{book}"


def test_no_false_wrong_over_the_sweep(monkeypatch):
    """Every right layer, both styles, float64 and float32, batch sizes (3, 5, 4) and 2; batch
    norm with epsilon 1e-5, 1e-7 and 1e-8 (the class's own epsilon set to the same)."""
    judged = wrong = 0
    failures = []
    for dtype in ("float64", "float32"):
        monkeypatch.setenv("LAYER_DTYPE", dtype)
        for kind, sizes, code in right_code():
            if kind.startswith("batchnorm"):
                monkeypatch.setenv("LAYER_EPS", kind.partition("@")[2])
            for batch in (None, 2):
                if kind == "elu" and "Elu" in code:
                    net = f"layer:elu@1.0:{sizes}"
                else:
                    net = f"layer:{kind}:{sizes}"
                report = check_layer(net, code, batch=batch)
                judged += len(report.params)
                if not report.ok:
                    wrong += 1
                    failures.append((net, code, dtype, batch, report.table()))
    assert not failures, failures[0]
    assert wrong == 0 and judged >= 700


def test_elementwise_layers_in_the_column_layout():
    """Elementwise code is the same code in either layout: x (D, N) is judged as such."""
    for kind, (course, _) in ACTIVATIONS.items():
        if course:
            report = check_layer(f"layer:{kind}:4:column", f"{COURSE}:{course}")
            assert report.ok and report.params["dx"].expected_shape == (4, 3), report.table()
    assert check_layer("layer:dropout@0.5:4:column", f"{COURSE}:dropout").ok
    assert check_layer("layer:mse:3:column", f"{COURSE}:mse_loss").ok


def test_float32_code_is_held_to_float32(monkeypatch):
    monkeypatch.setenv("LAYER_DTYPE", "float32")
    report = check_layer("layer:affine:6-3", f"{COURSE}:affine")
    assert report.ok
    assert 1e-9 < report.params["dw"].max_rel_err < 1e-5  # float32 rounding, judged as such


def test_a_float32_slip_is_still_named(tmp_path):
    code = tmp_path / "bn32.py"
    code.write_text(
        "import sys\nimport numpy as np\n"
        f"sys.path.insert(0, {str(CODE)!r})\n"
        "from slips import batchnorm_forward as forward, _right\n"
        "def batchnorm_forward(x, gamma, beta, bn_param):\n"
        "    f = np.float32\n"
        "    return forward(x.astype(f), gamma.astype(f), beta.astype(f), bn_param)\n"
        "def batchnorm_backward(dout, cache):\n"
        "    return _right(dout.astype(np.float32), cache, use_gamma=False)\n"
    )
    report = check_layer("layer:batchnorm:4", f"{code}:batchnorm")
    assert report.params["dgamma"].ok and report.params["dbeta"].ok
    assert "it is missing γ" in report.params["dx"].diagnosis


def test_the_n_d_input_comes_back_in_x_shape():
    report = check_layer("layer:affine:6-3", f"{COURSE}:affine")
    assert report.ok and report.batches == (3, 5, 4)
    report = check_layer("layer:affine:6-3", f"{SLIPS}:affine_not_reshaped")
    dx = report.params["dx"]
    assert not dx.ok and "dx is not reshaped" in dx.diagnosis and "(5, 2, 3)" in dx.diagnosis
    assert report.params["dw"].ok and report.params["db"].ok


SLIP_CASES = [
    ("affine:6-3", "affine_dw_transposed", "dw", "dw is transposed"),
    ("affine:6-3", "affine_db_not_summed", "db", "db is not summed over the batch"),
    ("affine:6-3", "affine_db_wrong_axis", "db", "summed over the wrong axis"),
    ("affine:6-3", "affine_db_mean", "db", "the mean over the batch, where the sum belongs"),
    ("affine:4-4", "affine_w_not_transposed", "dx", "it uses w where wᵀ belongs"),
    ("affine:5-3", "AffineTransposedDW", "dw", "dw is transposed"),
    ("relu:4", "relu_out_mask", "dx", "a mask that holds everywhere (out >= 0)"),
    ("relu:4", "relu_dout_mask", "dx", "the mask is taken from dout"),
    ("sigmoid:4", "sigmoid_on_input", "dx", "r(1 − r) is written in terms of the output"),
    ("tanh:3", "tanh_missing", "dx", "f'(x) is missing"),
    ("dropout@0.4:5", "dropout_unmasked", "dx", "but not masked"),
    ("dropout@0.4:5", "dropout_unscaled", "dx", "masked but not scaled"),
    ("softmax_cross_entropy:4", "softmax_loss_not_divided", "dx", "not divided by the batch size N"),
    ("softmax_cross_entropy:4", "softmax_loss_on_scores", "dx", "uses the scores x"),
    ("batchnorm:4", "batchnorm_no_gamma", "dx", "it is missing γ"),
    ("batchnorm@1e-8:4", "batchnorm_naive", "dx", "the terms through the batch's mean and variance"),
    ("batchnorm:4", "batchnorm_dgamma_x", "dgamma", "it sums dout ⊙ x"),
]


def test_batchnorm_gradients_over_the_wrong_axis():
    report = check_layer("layer:batchnorm:4", f"{SLIPS}:batchnorm_dgamma_axis")
    assert report.params["dx"].ok
    for name in ("dgamma", "dbeta"):
        assert "summed over the wrong axis: over the units (axis 1)" in report.params[name].diagnosis


def test_batchnorm_epsilon_is_read_from_the_output(monkeypatch):
    # the book's class writes 10e-7 (1e-6); the NET's default is 1e-5: read, not assumed
    report = check_layer("layer:batchnorm:5", f"{BOOK}:BatchNormalization")
    assert report.ok and any("ε read from the forward's output: 1e-06" in n for n in report.notes)


@pytest.mark.parametrize("layer, name, grad, words", SLIP_CASES)
def test_each_slip_is_named(layer, name, grad, words):
    report = check_layer(f"layer:{layer}", f"{SLIPS}:{name}")
    assert not report.ok and report.error is None
    result = report.params[grad]
    assert not result.ok and words in result.diagnosis, result.diagnosis
    others = [p for k, p in report.params.items() if k != grad]
    assert all(p.ok for p in others), report.table()


def test_the_worst_element_is_named():
    report = check_layer("layer:tanh:3", f"{SLIPS}:tanh_missing")
    dx = report.params["dx"]
    assert "worst dx[" in dx.diagnosis and "expected" in dx.diagnosis
    assert dx.max_abs_err > 0.01


def test_conventions_are_read_not_assumed():
    inverted = check_layer("layer:dropout@0.3:6", f"{COURSE}:dropout")
    assert inverted.ok and any("scaled by 1.42857" in n for n in inverted.notes)
    at_test = check_layer("layer:dropout@0.3:6", f"{BOOK}:Dropout")
    assert at_test.ok and any("0/1 mask, unscaled" in n for n in at_test.notes)
    labels = check_layer("layer:softmax_cross_entropy:3", f"{COURSE}:softmax_loss")
    assert labels.ok and any("integer class labels" in n for n in labels.notes)
    onehot = check_layer("layer:softmax_cross_entropy:3", f"{BOOK}:SoftmaxWithLoss",
                         targets="onehot")
    assert onehot.ok


def test_code_that_writes_into_dout_does_not_change_the_checkers(tmp_path):
    code = tmp_path / "inplace.py"
    code.write_text(
        "import numpy as np\n"
        "def relu_forward(x):\n    return np.maximum(x, 0), x\n"
        "def relu_backward(dout, cache):\n    dout[cache <= 0] = 0\n    return dout\n"
    )
    assert check_layer("layer:relu:5", f"{code}:relu").ok


def test_read_eps_recovers_epsilon():
    from gradscribe.check.layer_judge import LayerDraw

    rng = np.random.default_rng(1)
    for eps in (1e-5, 1e-7, 1e-8):
        x = 4 + 3 * rng.normal(size=(6, 3))
        gamma, beta = np.array([[1.7, -0.4, 2.5]]), np.array([[0.3, -1.0, 0.5]])
        out = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta
        d = LayerDraw(6, {}, {"x": x, "gamma": gamma, "beta": beta})
        assert abs(read_eps(d, out, column=False) - eps) < 1e-3 * eps + 1e-12


def test_the_command_line(cli, tmp_path):
    status, out, err = cli("check", "layer:affine:6-3", "--python", f"{SLIPS}:affine_db_not_summed",
                           "--json")
    assert status == 1
    data = json.loads(out)
    assert data["ok"] is False and data["params"]["dx"]["ok"] and not data["params"]["db"]["ok"]
    assert data["params"]["db"]["expected_shape"] == [3] and data["params"]["db"]["got_shape"] == [3, 3]
    status, out, err = cli("check", "layer:affine:6-3", "--python", f"{BOOK}:Affine")
    assert status == 0 and "all right" in out and "gradients read from dW, db" in out
    for args, words in [
        (("--python", f"{SLIPS}:nothing"), "no function or class 'nothing_backward'"),
        (("--python", f"{tmp_path}/missing.py:affine"), "no such file"),
        (("--formula", "dW1 = X"), "--formula is for networks"),
        (("--python", f"{COURSE}:affine", "--targets", "labels"), "--targets is for"),
        (("--python", f"{COURSE}:affine", "--batch", "0"), "--batch must be at least 1"),
    ]:
        status, out, err = cli("check", "layer:affine:6-3", *args)
        assert status == 2 and words in err and err.count("\n") == 1, err
    status, out, err = cli("check", "layer:batchnorm:3", "--python", f"{COURSE}:batchnorm",
                           "--batch", "1")
    assert status == 2 and "at least 2 for batch norm" in err
    status, out, err = cli("check", "2-1:relu:mse", "--python", f"{COURSE}:affine",
                           "--forward", f"{COURSE}:affine_forward")
    assert status == 2 and "--forward is for one layer" in err


def test_a_backward_that_raises_is_reported(tmp_path):
    code = tmp_path / "raises.py"
    code.write_text("def tanh_forward(x):\n    return x, x\n"
                    "def tanh_backward(dout, cache):\n    raise ValueError('not yet')\n")
    report = check_layer("layer:tanh:3", f"{code}:tanh")
    assert not report.ok and "raised ValueError: not yet" in report.error


def test_the_column_layout(tmp_path):
    code = tmp_path / "column.py"
    code.write_text(
        "import numpy as np\n"
        "def affine_forward(x, w, b):\n    return w @ x + b, (x, w)\n"
        "def affine_backward(dout, cache):\n    x, w = cache\n"
        "    return w.T @ dout, dout @ x.T, dout.sum(axis=1, keepdims=True)\n"
        "def wrong_backward(dout, cache):\n    x, w = cache\n"
        "    return w.T @ dout, x @ dout.T, dout.sum(axis=1, keepdims=True)\n"
        "wrong_forward = affine_forward\n"
    )
    report = check_layer("layer:affine:4-3:column", f"{code}:affine")
    assert report.ok and report.params["db"].expected_shape == (3, 1)
    report = check_layer("layer:affine:4-3:column", f"{code}:wrong")
    assert "dw is transposed" in report.params["dw"].diagnosis


def test_forward_given_apart_and_2d_only_code(tmp_path):
    forward = tmp_path / "forward.py"
    forward.write_text("def fc(x, w, b):\n    return x @ w + b, (x, w)\n")
    backward = tmp_path / "backward.py"
    backward.write_text("import numpy as np\n"
                        "def fc_backward(dout, cache):\n    x, w = cache\n"
                        "    return dout @ w.T, x.T @ dout, np.sum(dout, axis=0)\n")
    report = check_layer("layer:affine:6-2", f"{backward}:fc_backward", forward=f"{forward}:fc")
    assert report.ok, report.table()
    assert any("does not take x of shape (5, 2, 3)" in n and "judged on 2-D x" in n
               for n in report.notes)
    assert "fc_backward paired with fc" in report.notes


def test_a_class_without_gradient_attributes(tmp_path):
    code = tmp_path / "noattr.py"
    code.write_text("class Affine:\n    def __init__(self, W, b):\n        self.W, self.b = W, b\n"
                    "    def forward(self, x):\n        return x @ self.W + self.b\n"
                    "    def backward(self, dout):\n        return dout @ self.W.T\n")
    report = check_layer("layer:affine:3-2", f"{code}:Affine")
    assert report.params["dx"].ok
    assert not report.params["dw"].ok and "not kept as an attribute" in report.params["dw"].diagnosis


def test_one_hot_only_code_that_runs_on_labels_is_read_as_one_hot(tmp_path):
    # with N = C, integer labels (N,) broadcast against (N, C): the code runs, its loss is not
    # the definition's; with one-hot rows it is, so one-hot is what the code takes
    code = tmp_path / "onehot.py"
    code.write_text(
        "import numpy as np\n"
        "def softmax_loss(x, t):\n"
        "    p = np.exp(x - x.max(axis=1, keepdims=True))\n"
        "    p /= p.sum(axis=1, keepdims=True)\n"
        "    n = x.shape[0]\n"
        "    return -np.sum(t * np.log(p)) / n, (p - t) / n\n"
    )
    report = check_layer("layer:softmax_cross_entropy:3", f"{code}:softmax_loss", batch=3)
    assert report.ok, report.table()
    assert any("takes one-hot targets (its loss is the definition's" in n for n in report.notes)


HANGUL = __import__("re").compile(r"[\uac00-\ud7a3]")


@pytest.mark.parametrize("layer, name, grad", [(c[0], c[1], c[2]) for c in SLIP_CASES]
                         + [("affine:6-3", "affine_not_reshaped", "dx")])
def test_each_slip_is_named_in_korean(layer, name, grad):
    report = check_layer(f"layer:{layer}", f"{SLIPS}:{name}", lang="ko")
    data = report.to_json()
    diagnosis = data["params"][grad]["diagnosis"]
    assert HANGUL.search(diagnosis), diagnosis
    english = check_layer(f"layer:{layer}", f"{SLIPS}:{name}").params[grad].diagnosis
    assert diagnosis != english and str(report.params[grad].diagnosis) == english
    assert all(HANGUL.search(n) for n in data.get("notes", []))


def test_the_korean_table(cli):
    status, out, err = cli("check", "layer:dropout@0.5:4", "--python", f"{BOOK}:Dropout",
                           "--lang", "ko")
    assert status == 0 and "모두 맞습니다" in out and "드롭아웃을 순방향 출력에서 읽었습니다" in out
