"""check --python on networks with batch norm, dropout and a penalty (contract section 7,
issue 20 item 5): right code judged right over every activation, loss and layout; each slip
of section 7 named; the masks read back or passed in; conventions named, not called slips.

The backward passes are `tests/backprops/regularized_handwritten.py`'s (their own activation
table and batch norm, not gradscribe's).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from gradscribe.check.judge import check_function

BACKPROPS = Path(__file__).parent / "backprops"
_spec = importlib.util.spec_from_file_location("regularized_handwritten",
                                               BACKPROPS / "regularized_handwritten.py")
rh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rh)

ACTIVATIONS = ("identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "silu", "step")
SIZES = (3, 4, 4, 2)


def networks():
    """(hidden acts, output act, loss, penalty, targets) over every activation and loss."""
    for i, a in enumerate(ACTIVATIONS):
        for j, loss in enumerate(("mse", "half_sse", "sse")):
            yield (a, a), "identity", loss, ("wd", "l2", None)[(i + j) % 3], "soft"
        yield ("tanh", "relu"), a, "mse", ("l2", "wd")[i % 2], "soft"
    for loss in ("cross_entropy", "cross_entropy@sum"):
        for targets in ("soft", "onehot", "labels"):
            yield ("relu", "sigmoid"), "softmax", loss, "wd", targets
    for loss in ("binary_cross_entropy", "binary_cross_entropy@sum"):
        for targets in ("soft", "onehot"):
            yield ("elu", "tanh"), "sigmoid", loss, "l2", targets


def _inline(hidden, out, loss, penalty, lam, layout, drop=(0.25, 0.5)):
    layers = [f"bn+{a}" + (f"+dropout@{p}" if p is not None else "")
              for a, p in zip(hidden, drop)] + [out]
    suffix = f"+{penalty}@{lam}" if penalty else ""
    return f"{'-'.join(map(str, SIZES))}:{','.join(layers)}:{loss}{suffix}:{layout}"


CASES = [(n, layout) for n in networks() for layout in ("column", "row")]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{'+'.join(c[0][0])}-{c[0][1]}-{c[0][2]}-{c[0][3]}-{c[0][4]}-{c[1]}")
def test_right_code_is_right(case):
    (hidden, out, loss, penalty, targets), layout = case
    net = _inline(hidden, out, loss, penalty, 0.05, layout)
    func = rh.make(hidden + (out,), loss, layout, (True, True, False), (0.25, 0.5, None),
                   penalty, 0.05)
    report = check_function(net, func, targets=targets)
    assert report.error is None, report.error
    wrong = {k: str(p.diagnosis) for k, p in report.params.items() if not p.ok}
    assert wrong == {}
    # every parameter was judged, gamma and beta included
    assert sorted(report.params) == sorted(
        ["W1", "B1", "gamma1", "beta1", "W2", "B2", "gamma2", "beta2", "W3", "B3"])


#: each slip: the parameters it makes wrong, and words its diagnosis must have
SLIPS = {
    "no_gamma": ("leaves γ1 out of batch norm's δ1", ("W1", "gamma1", "beta1", "W2")),
    "naive_bn": ("without the terms through the batch's mean and variance", ("W1", "B1", "W2", "B2")),
    "dgamma_axis": ("", ("gamma1", "gamma2")),
    "dbeta_is_dgamma": ("is dgamma", ("beta1", "beta2")),
    "prime_at_g": ("at G", ("W1",)),
    "no_scale": ("leaves out dropout's 1/(1 − p)", ("W1", "W2")),
    "no_mask": ("mask", ("W1", "W2")),
    "l2_factor": ("the term of an L2 penalty (+l2@0.1", ("W1", "W2", "W3")),
    "penalty_on_bias": ("a penalty on a bias", ("B1", "B2", "B3")),
    "no_penalty": ("", ("W1", "W2", "W3")),
}


@pytest.mark.parametrize("layout", ["column", "row"])
@pytest.mark.parametrize("bug", sorted(SLIPS))
def test_each_slip_is_named(bug, layout):
    words, wrong = SLIPS[bug]
    hidden, out, loss = ("tanh", "relu"), "softmax", "cross_entropy"
    net = _inline(hidden, out, loss, "wd", 0.1, layout, drop=(0.25, 0.5))
    func = rh.make(hidden + (out,), loss, layout, (True, True, False), (0.25, 0.5, None),
                   "wd", 0.1, bug=bug)
    report = check_function(net, func)
    assert report.error is None, report.error
    assert not report.ok
    bad = {k: str(p.diagnosis) for k, p in report.params.items() if not p.ok}
    for k in wrong:
        assert k in bad, (k, bad)
    for k, text in bad.items():
        assert "no simple cause" not in text, (k, text)
    assert any(words in text for text in bad.values()), bad


# ------------------------------------------------------------------------------ command line

from gradscribe.cli import main  # noqa: E402

NET_ROW = "3-4-4-2:bn+tanh+dropout@0.25,bn+relu+dropout@0.5,softmax:cross_entropy+wd@0.1:row"
FILE = BACKPROPS / "regularized_handwritten.py"


def _run(capsys, *args):
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_cli_right_code_in_the_worker_gets_masks_and_settings(capsys):
    status, out, err = _run(capsys, "check", NET_ROW, "--python", f"{FILE}:right_row")
    assert status == 0 and out.rstrip().endswith("all right"), out + err
    # gamma and beta judged, and the note says what was passed
    assert "gamma2  ok" in out and "beta1   ok" in out


def test_cli_slip_named_through_the_worker(capsys):
    status, out, _ = _run(capsys, "check", NET_ROW, "--python", f"{FILE}:no_gamma_row")
    assert status == 1
    assert "leaves γ1 out of batch norm's δ1" in out and "no simple cause" not in out


def test_cli_slip_in_korean(capsys):
    status, out, _ = _run(capsys, "check", NET_ROW, "--python", f"{FILE}:no_gamma_row", "--lang", "ko")
    assert status == 1
    assert "γ1" in out and "leaves" not in out and "no simple cause" not in out


def test_cli_another_eps_is_a_named_convention(capsys):
    status, out, _ = _run(capsys, "check", NET_ROW, "--python", f"{FILE}:eps6_row")
    assert status == 1
    assert "right for batch norm with ε = 1e-06 (the network has ε = 1e-05)" in out
    assert "bn@1e-06+tanh+dropout@0.25,bn@1e-06+relu+dropout@0.5" in out
    assert "no simple cause" not in out
    # and checked as the network it names, the same code is right
    status, out, _ = _run(capsys, "check", NET_ROW.replace("bn+", "bn@1e-6+"), "--python",
                          f"{FILE}:eps6_row")
    assert status == 0 and "all right" in out


def test_cli_masks_it_keeps_nowhere_get_one_line(capsys):
    status, out, err = _run(capsys, "check", NET_ROW, "--python", f"{FILE}:own_masks_row")
    assert status == 1
    line = [ln for ln in out.splitlines() if "dropout masks" in ln]
    assert len(line) == 1
    assert "(M1, M2)" in line[0] and "check layer:dropout@0.25:4:row" in line[0]
    assert "Traceback" not in out + err


def test_cli_batch_of_one_refused(capsys):
    status, out, err = _run(capsys, "check", NET_ROW, "--python", f"{FILE}:right_row", "--batch", "1")
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "at least 2 samples" in err


# ------------------------------------------------------------------------------ float32 code


def _float32(func):
    def backward(params, X, T, masks):
        return func({k: v.astype("float32") for k, v in params.items()}, X.astype("float32"),
                    T.astype("float32"), {k: v.astype("float32") for k, v in masks.items()})
    return backward


@pytest.mark.parametrize("eps", [1e-5, 1e-7, 1e-8])
@pytest.mark.parametrize("layout", ["column", "row"])
@pytest.mark.parametrize("acts", [("tanh", "relu"), ("sigmoid", "elu"), ("silu", "softplus")])
def test_float32_code_is_judged_at_its_precision(acts, layout, eps):
    """dB of a batch-norm layer is 0 only up to float32's rounding of the δ it sums: no false
    WRONG for it (nor for anything else) over three seeds."""
    net = (f"3-4-4-2:bn@{eps}+{acts[0]}+dropout@0.25,bn@{eps}+{acts[1]}+dropout@0.5,"
           f"softmax:cross_entropy+wd@0.1:{layout}")
    func = _float32(rh.make(acts + ("softmax",), "cross_entropy", layout, (True, True, False),
                            (0.25, 0.5, None), "wd", 0.1, eps=eps))
    for seed in range(3):
        report = check_function(net, func, seed=seed)
        assert report.ok, report.table()
    # and a slip is still caught at float32
    slipped = _float32(rh.make(acts + ("softmax",), "cross_entropy", layout, (True, True, False),
                               (0.25, 0.5, None), "wd", 0.1, eps=eps, bug="naive_bn"))
    report = check_function(net, slipped)
    assert not report.params["B1"].ok and "mean and variance" in str(report.params["B1"].diagnosis)


# ------------------------------------------------------------------------------ layer objects


def test_layer_objects_in_a_list_with_their_own_gamma_beta_and_dropout_masks(capsys):
    """gamma/beta found on batch-norm layer objects in a list; the dropout layers' scaled
    masks (0 or 1/(1 - p)) read back after each call; `dropout=p` passed by name."""
    net = "3-5-4-2:bn+relu+dropout@0.3,bn+relu+dropout@0.3,identity:mse:row"
    status, out, err = _run(capsys, "check", net, "--python",
                            f"{BACKPROPS / 'layer_list_bn.py'}:MLP.backprop")
    assert status == 0 and out.rstrip().endswith("all right"), out + err
    assert "MLP([3, 5, 4, 2], dropout=0.3) built" in out
    assert "gamma2 -> self.layers[5].gamma" in out
    assert "M1, M2 read back from its dropout layers' `mask`" in out


def test_masks_read_back_are_the_ones_used():
    """Notebook mode (a bound method of an object the caller built): the masks it drew are
    read back too, and the report is right."""
    spec = importlib.util.spec_from_file_location("layer_list_bn", BACKPROPS / "layer_list_bn.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = "3-5-4-2:bn+relu+dropout@0.3,bn+relu+dropout@0.3,identity:mse:row"
    model = mod.MLP([3, 5, 4, 2], dropout=0.3)
    report = check_function(net, model.backprop)
    assert report.ok, report.table()
    for layer in model.layers:  # the masks the last call drew: not all ones
        if isinstance(layer, mod.Dropout):
            assert 0 < (layer.mask == 0).sum() < layer.mask.size


# ------------------------------------------------------------------------------ course code

COURSES = BACKPROPS / "regularized.py"
#: an assignment's classifier: hidden_dims=[5, 4], batch norm, reg = 0.1 (its ½·reg·ΣW²)
FCNET = "3-5-4-3:bn+relu,bn+relu,softmax:cross_entropy+wd@0.1:row"
#: the book's network: its BatchNormalization's ε is 10e-7, its Dropout scaled at test time
BOOK = "3-5-4-3:bn@1e-6+relu+dropout@0.3,bn@1e-6+relu+dropout@0.3,softmax:cross_entropy+wd@0.1:row"


def _course(capsys, net, name, *flags):
    status, out, err = _run(capsys, "check", net, "--python", f"{COURSES}:{name}", *flags)
    assert "Traceback" not in out + err
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] in ("ok", "WRONG"):
            rows[parts[0]] = (parts[1], line)
    return status, out, rows


def test_course_classifier_right_with_its_settings_passed(capsys):
    status, out, rows = _course(capsys, FCNET, "FullyConnectedNet.loss", "--targets", "labels")
    assert status == 0 and out.rstrip().endswith("all right"), out
    assert ("FullyConnectedNet(hidden_dims=[5, 4], input_dim=3, num_classes=3, "
            "normalization='batchnorm', reg=0.1) built") in out
    assert set(rows) == {"W1", "B1", "gamma1", "beta1", "W2", "B2", "gamma2", "beta2", "W3", "B3"}


@pytest.mark.parametrize("name, wrong, words", [
    ("FCNetBNAxis", {"gamma1", "beta1", "gamma2", "beta2"}, "summed over the units (axis 1) instead of over the batch (axis 0)"),
    ("FCNetNaiveBN", {"W1", "B1", "gamma1", "beta1", "W2", "B2"}, "without the terms through the batch's mean and variance"),
    ("FCNetNoGamma", {"W1", "gamma1", "beta1", "W2"}, "out of batch norm's δ"),
    ("FCNet2Reg", {"W1", "W2", "W3"}, "the term of an L2 penalty (+l2@0.1"),
    ("FCNetRegOnBias", {"B1", "B2", "B3"}, "a penalty on a bias"),
])
def test_course_classifier_slips_named(capsys, name, wrong, words):
    """float32 (the class's default dtype) included: dB2 of a batch-norm layer with a penalty
    on it is named, not 'no simple cause'."""
    status, out, rows = _course(capsys, FCNET, f"{name}.loss", "--targets", "labels")
    assert status == 1
    assert {k for k, (v, _) in rows.items() if v == "WRONG"} == wrong, out
    for k in wrong:
        assert words in rows[k][1] and "no simple cause" not in rows[k][1], rows[k][1]


def test_course_classifier_with_dropout_in_a_local_cache_gets_one_line(capsys):
    net = FCNET.replace("bn+relu", "bn+relu+dropout@0.3")
    status, out, _ = _course(capsys, net, "FullyConnectedNet.loss", "--targets", "labels")
    assert status == 1
    assert "dropout_keep_ratio=0.7" in out  # keep probability 1 - p, by its own name
    assert "neither keeps them where the checker can read them" in out
    assert "check layer:dropout@0.3:5:row" in out


@pytest.mark.parametrize("name, note", [("MultiLayerNetExtend", True), ("MultiLayerNetInverted", False)])
def test_book_network_right(capsys, name, note):
    status, out, rows = _course(capsys, BOOK, f"{name}.gradient")
    assert status == 0 and out.rstrip().endswith("all right"), out
    assert ("weight_decay_lambda=0.1, use_dropout=True, dropout_ration=0.3, use_batchnorm=True) "
            "built") in out
    assert "M1, M2 read back" in out
    assert ("dropout scaled at test time" in out) == note


@pytest.mark.parametrize("name, wrong, words", [
    ("MLNDropoutNotRescaled", {"W1", "gamma1", "beta1", "W2", "gamma2", "beta2"}, "leaves out dropout's 1/(1 − p) = 1.42857"),
    ("MLNBNAxis", {"gamma1", "gamma2"}, "summed over the units"),
    ("MLNNaiveBN", {"W1", "B1", "gamma1", "beta1", "W2", "B2"}, "without the terms through the batch's mean and variance"),
    ("MLNNoGamma", {"W1", "gamma1", "beta1", "W2"}, "out of batch norm's δ"),
    ("MLNDecayOnBias", {"B1", "B2", "B3"}, "a penalty on a bias"),
])
def test_book_network_slips_named_under_its_dropout_convention(capsys, name, wrong, words):
    status, out, rows = _course(capsys, BOOK, f"{name}.gradient")
    assert status == 1
    assert {k for k, (v, _) in rows.items() if v == "WRONG"} == wrong, out
    for k in wrong:
        assert words in rows[k][1] and "no simple cause" not in rows[k][1], rows[k][1]


def test_book_network_with_pytorch_eps_names_the_books_eps(capsys):
    status, out, _ = _course(capsys, BOOK.replace("bn@1e-6", "bn"), "MultiLayerNetExtend.gradient")
    assert status == 1 and "no simple cause" not in out
    assert "right for batch norm with ε = 1e-06 (the network has ε = 1e-05)" in out


def test_function_taking_a_list_of_masks(capsys):
    net = "3-5-4-3:bn+relu+dropout@0.5,bn+relu+dropout@0.5,softmax:cross_entropy+wd@0.1:row"
    status, out, _ = _course(capsys, net, "loss_and_grads", "--targets", "onehot")
    assert status == 0 and out.rstrip().endswith("all right"), out
    assert "loss_and_grads gets p=0.5, lam=0.1" in out


def test_book_slip_named_with_the_books_eps_and_dropout_conventions(capsys):
    """Three things at once: the book's ε (10e-7) where the network has PyTorch's, its dropout
    scaled at test time, and a naive batch-norm backward: the slip is named on the gradients
    it touches, the ε on the others."""
    status, out, rows = _course(capsys, BOOK.replace("bn@1e-6", "bn"), "MLNNaiveBN.gradient")
    assert status == 1 and "no simple cause" not in out
    for k in ("W1", "B1", "gamma1", "beta1", "W2", "B2"):
        assert "without the terms through the batch's mean and variance" in rows[k][1]
    for k in ("gamma2", "beta2", "W3", "B3"):
        assert "right for batch norm with ε = 1e-06" in rows[k][1]
    assert "dropout scaled at test time" in out
