"""The course- and book-shaped networks of tests/backprops/regularized.py held against PyTorch
autograd (independent of gradscribe): the right ones agree to 1e-9 relative in every
parameter, each slip differs exactly where it should and agrees everywhere else.

The reference is the same mathematics written with torch (float64): affine, F.batch_norm in
training mode with the code's eps, the activation, the dropout masks the code used with its
scaling, softmax cross-entropy (mean over the batch), the penalty on the weights.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

_spec = importlib.util.spec_from_file_location(
    "backprops_regularized", Path(__file__).parent / "backprops" / "regularized.py")
reg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reg)

D, HIDDEN, C, N = 3, [5, 4], 3, 6  # N differs from every hidden width
L = len(HIDDEN) + 1
REL = 1e-9  # agreement, relative to the largest entry of the reference gradient
ZERO = 1e-13  # a batch-norm layer's bias: its gradient is exactly 0 (so both sides ~1e-17)


def reference(params, X, T, *, bn, eps=1e-5, act="relu", masks=None, scale=1.0, pen=0.0):
    """(loss, grads) by torch autograd. T integer labels (N,) or rows (N, C); masks one 0/1
    array per hidden layer, applied after the activation times `scale`; pen * Σ‖W‖²."""
    tp = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True)
          for k, v in params.items()}
    h = torch.tensor(np.asarray(X, dtype=np.float64))
    for l in range(1, L):
        z = h @ tp[f"W{l}"] + tp[f"b{l}"]
        if bn:
            z = F.batch_norm(z, None, None, weight=tp[f"gamma{l}"], bias=tp[f"beta{l}"],
                             training=True, eps=eps)
        h = torch.relu(z) if act == "relu" else torch.sigmoid(z)
        if masks is not None:
            h = h * torch.tensor(np.asarray(masks[l - 1], dtype=np.float64)) * scale
    s = h @ tp[f"W{L}"] + tp[f"b{L}"]
    T = np.asarray(T)
    if T.ndim == 1:
        loss = F.cross_entropy(s, torch.tensor(T, dtype=torch.long))
    else:
        loss = -(torch.tensor(T, dtype=torch.float64) * F.log_softmax(s, dim=1)).sum() / s.shape[0]
    loss = loss + pen * sum((tp[f"W{l}"] ** 2).sum() for l in range(1, L + 1))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in tp.items()}


def bn_biases(bn):
    return {f"b{l}" for l in range(1, L)} if bn else set()


def error(got, want, key, bn):
    """Max abs difference relative to the reference's largest entry (absolute for the
    bias of a batch-norm layer); inf when the shapes differ."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        return np.inf
    diff = np.max(np.abs(got - want))
    if key in bn_biases(bn):
        return diff / ZERO * REL  # scaled so that REL is the bar here too
    return diff / np.max(np.abs(want))


def agreement(grads, ref, bn):
    return {k: error(grads[k], ref[k], k, bn) for k in ref}


def assert_agrees(grads, ref, bn, keys=None):
    assert set(grads) == set(ref)
    # a draw where relu and dropout silence a whole layer would prove little
    assert all(np.max(np.abs(v)) > 1e-3 for k, v in ref.items() if k not in bn_biases(bn))
    errs = agreement(grads, ref, bn)
    keys = ref.keys() if keys is None else keys
    bad = {k: errs[k] for k in keys if not errs[k] <= REL}
    assert not bad, bad


def assert_slip(grads, ref, bn, differ):
    """`differ` off by more than 1e-3 relative (or shaped wrong); every other parameter agrees."""
    errs = agreement(grads, ref, bn)
    assert {k for k, e in errs.items() if e > 1e-3} == set(differ), errs
    assert all(e <= REL for k, e in errs.items() if k not in differ), errs


def fill(params, rng):
    """Random values written into the arrays in place (as the checker does)."""
    for k, v in params.items():
        if k.startswith("gamma"):
            v[...] = rng.uniform(0.5, 2.0, size=v.shape)
        elif k.startswith("b") and not k.startswith("beta"):
            v[...] = rng.uniform(0.1, 1.0, size=v.shape)  # nonzero, and fewer dead relus
        else:
            v[...] = rng.normal(scale=0.7, size=v.shape)


def data(rng, labels=True):
    X = rng.normal(size=(N, D))
    y = rng.integers(0, C, size=N)
    if labels:
        return X, y
    return X, np.eye(C)[y]


# ====================================================================== course classifier

SETTINGS = {  # id: (normalization, dropout_keep_ratio, reg)
    "bn+wd": ("batchnorm", 1, 0.1),
    "bn+dropout+wd": ("batchnorm", 0.7, 0.05),
    "dropout+wd": (None, 0.6, 0.1),
    "bn": ("batchnorm", 1, 0.0),
    "plain": (None, 1, 0.0),
}


def course_net(cls, setting, seed=3, dtype=np.float64, rng_seed=0):
    normalization, keep, lam = SETTINGS[setting]
    net = cls(HIDDEN, input_dim=D, num_classes=C, dropout_keep_ratio=keep,
              normalization=normalization, reg=lam, dtype=dtype, seed=seed)
    rng = np.random.default_rng(rng_seed)
    fill(net.params, rng)
    X, y = data(rng)
    return net, X, y


def course_reference(net, X, y, setting, seed=3, pen_factor=0.5):
    normalization, keep, lam = SETTINGS[setting]
    masks = None
    if keep != 1:
        # dropout_forward reseeds before every layer: each mask is the start of one stream
        masks = [np.random.RandomState(seed).rand(N, h) < keep for h in HIDDEN]
    return reference(net.params, X, y, bn=normalization == "batchnorm", eps=1e-5,
                     masks=masks, scale=1 / keep, pen=pen_factor * lam)


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_course_net_agrees_with_autograd(setting):
    net, X, y = course_net(reg.FullyConnectedNet, setting)
    loss, grads = net.loss(X, y)
    ref_loss, ref = course_reference(net, X, y, setting)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_agrees(grads, ref, SETTINGS[setting][0] == "batchnorm")
    expected = {"W1", "b1", "W2", "b2", "W3", "b3"}
    if SETTINGS[setting][0]:
        expected |= {"gamma1", "beta1", "gamma2", "beta2"}
    assert set(net.params) == expected


def test_course_net_float32_by_default():
    net, X, y = course_net(reg.FullyConnectedNet, "bn+dropout+wd", dtype=np.float32)
    assert all(v.dtype == np.float32 for v in net.params.values())
    loss, grads = net.loss(X, y)
    ref_loss, ref = course_reference(net, X, y, "bn+dropout+wd")
    assert all(g.dtype == np.float32 for g in grads.values())
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    errs = {k: np.max(np.abs(grads[k] - ref[k])) / max(np.max(np.abs(ref[k])), 1e-2) for k in ref}
    assert max(errs.values()) < 1e-4, errs


def test_course_net_test_mode_scores_and_running_stats():
    net, X, y = course_net(reg.FullyConnectedNet, "bn+dropout+wd")
    net.loss(X, y)
    # from zero with momentum 0.9: a tenth of the first batch's statistics of layer 1
    z1 = X @ net.params["W1"] + net.params["b1"]
    np.testing.assert_allclose(net.bn_params[0]["running_mean"], 0.1 * z1.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(net.bn_params[0]["running_var"], 0.1 * z1.var(axis=0), rtol=1e-12)
    scores = net.loss(X)
    assert scores.shape == (N, C)
    # test mode: running statistics, no dropout
    h = X
    for l in (1, 2):
        z = h @ net.params[f"W{l}"] + net.params[f"b{l}"]
        bp = net.bn_params[l - 1]
        z = net.params[f"gamma{l}"] * (z - bp["running_mean"]) / np.sqrt(bp["running_var"] + 1e-5) \
            + net.params[f"beta{l}"]
        h = np.maximum(z, 0)
    np.testing.assert_allclose(scores, h @ net.params["W3"] + net.params["b3"], rtol=1e-12)


def test_course_net_2reg_is_the_l2_convention():
    net, X, y = course_net(reg.FCNet2Reg, "bn+wd")
    loss, grads = net.loss(X, y)
    ref_loss, ref = course_reference(net, X, y, "bn+wd", pen_factor=1.0)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_agrees(grads, ref, True)


COURSE_SLIPS = {  # class, setting: the parameters that differ from the right gradients
    ("FCNetBNAxis", "bn+wd"): {"gamma1", "beta1", "gamma2", "beta2"},
    ("FCNetBNAxis", "bn+dropout+wd"): {"gamma1", "beta1", "gamma2", "beta2"},
    ("FCNetNaiveBN", "bn+wd"): {"W1", "b1", "gamma1", "beta1", "W2", "b2"},
    ("FCNetNaiveBN", "bn+dropout+wd"): {"W1", "b1", "gamma1", "beta1", "W2", "b2"},
    # the compact dx sums to 0 over the batch whatever dxhat is: the biases stay right (0)
    ("FCNetNoGamma", "bn+wd"): {"W1", "gamma1", "beta1", "W2"},
    ("FCNetNoGamma", "bn+dropout+wd"): {"W1", "gamma1", "beta1", "W2"},
    ("FCNet2Reg", "bn+wd"): {"W1", "W2", "W3"},
    ("FCNet2Reg", "dropout+wd"): {"W1", "W2", "W3"},
    ("FCNetRegOnBias", "bn+wd"): {"b1", "b2", "b3"},
    ("FCNetRegOnBias", "dropout+wd"): {"b1", "b2", "b3"},
}


@pytest.mark.parametrize("name,setting", sorted(COURSE_SLIPS))
def test_course_slip_differs_where_expected(name, setting):
    net, X, y = course_net(getattr(reg, name), setting)
    _, grads = net.loss(X, y)
    _, ref = course_reference(net, X, y, setting)
    assert_slip(grads, ref, SETTINGS[setting][0] == "batchnorm", COURSE_SLIPS[name, setting])


def test_course_bn_axis_slip_has_the_batch_shape():
    net, X, y = course_net(reg.FCNetBNAxis, "bn+wd")
    _, grads = net.loss(X, y)
    assert grads["gamma1"].shape == grads["beta2"].shape == (N,)
    _, ref = course_reference(net, X, y, "bn+wd")
    # summed over the units instead of the batch: the same grand total as the right one
    assert np.sum(grads["beta2"]) == pytest.approx(np.sum(ref["beta2"]), rel=1e-9)
    assert np.sum(grads["gamma1"]) == pytest.approx(np.sum(ref["gamma1"]), rel=1e-9)


# ====================================================================== the book's layer objects

BOOK = {  # id: (activation, use_batchnorm, use_dropout, dropout_ration, weight_decay_lambda)
    "bn+dropout+wd": ("relu", True, True, 0.3, 0.1),
    "bn+dropout+wd-sigmoid": ("sigmoid", True, True, 0.4, 0.05),
    "bn": ("relu", True, False, 0.5, 0.0),
    "dropout+wd": ("relu", False, True, 0.5, 0.1),
    "bn+wd": ("relu", True, False, 0.5, 0.1),
}


def book_net(cls, setting, labels=False, rng_seed=1):
    act, use_bn, use_drop, ratio, lam = BOOK[setting]
    np.random.seed(rng_seed)
    net = cls(D, HIDDEN, C, activation=act, weight_decay_lambda=lam, use_dropout=use_drop,
              dropout_ration=ratio, use_batchnorm=use_bn)
    rng = np.random.default_rng(rng_seed)
    fill(net.params, rng)
    x, t = data(rng, labels=labels)
    return net, x, t


def book_reference(net, x, t, setting, inverted):
    act, use_bn, use_drop, ratio, lam = BOOK[setting]
    masks = None
    if use_drop:
        masks = [net.layers[f"Dropout{l}"].mask for l in range(1, L)]
        assert all(set(np.unique(m)) <= {0, 1} for m in masks)
    return reference(net.params, x, t, bn=use_bn, eps=1e-6, act=act, masks=masks,
                     scale=1 / (1 - ratio) if inverted else 1.0, pen=0.5 * lam)


@pytest.mark.parametrize("labels", [False, True], ids=["onehot", "labels"])
@pytest.mark.parametrize("setting", sorted(BOOK))
@pytest.mark.parametrize("name", ["MultiLayerNetExtend", "MultiLayerNetInverted"])
def test_book_net_agrees_with_autograd(name, setting, labels):
    net, x, t = book_net(getattr(reg, name), setting, labels=labels)
    np.random.seed(11)
    grads = net.gradient(x, t)
    ref_loss, ref = book_reference(net, x, t, setting, inverted=name == "MultiLayerNetInverted")
    assert_agrees(grads, ref, BOOK[setting][1])
    np.random.seed(11)  # the same masks again: its own loss is the reference's
    assert net.loss(x, t, train_flg=True) == pytest.approx(ref_loss, rel=1e-12)


def test_book_layers_hold_the_params_arrays():
    net, x, t = book_net(reg.MultiLayerNetExtend, "bn+dropout+wd")
    assert net.layers["Affine1"].W is net.params["W1"]
    assert net.layers["BatchNorm2"].gamma is net.params["gamma2"]
    assert net.layers["BatchNorm2"].beta is net.params["beta2"]
    assert reg.BatchNormalization.eps == 1e-6
    assert list(net.layers) == ["Affine1", "BatchNorm1", "Activation_function1", "Dropout1",
                                "Affine2", "BatchNorm2", "Activation_function2", "Dropout2",
                                "Affine3"]


def test_book_dropout_scales_at_test_time_and_inverted_does_not():
    x = np.random.default_rng(0).normal(size=(N, 4))
    np.testing.assert_array_equal(reg.Dropout(0.3).forward(x, train_flg=False), x * 0.7)
    np.testing.assert_array_equal(reg.InvertedDropout(0.3).forward(x, train_flg=False), x)


MLN_SLIPS = {  # class, setting: differing parameters (against the inverted-dropout reference
    # for MLNDropoutNotRescaled, against the book's own dropout otherwise)
    ("MLNDropoutNotRescaled", "dropout+wd"): {"W1", "b1", "W2", "b2"},
    # batch norm: the hidden biases' gradients are 0 either way
    ("MLNDropoutNotRescaled", "bn+dropout+wd"): {"W1", "gamma1", "beta1", "W2", "gamma2", "beta2"},
    ("MLNBNAxis", "bn+wd"): {"gamma1", "gamma2"},
    ("MLNBNAxis", "bn+dropout+wd"): {"gamma1", "gamma2"},
    ("MLNNaiveBN", "bn+wd"): {"W1", "b1", "gamma1", "beta1", "W2", "b2"},
    ("MLNNaiveBN", "bn+dropout+wd-sigmoid"): {"W1", "b1", "gamma1", "beta1", "W2", "b2"},
    ("MLNNoGamma", "bn+wd"): {"W1", "gamma1", "beta1", "W2"},
    ("MLNNoGamma", "bn+dropout+wd"): {"W1", "gamma1", "beta1", "W2"},
    ("MLNDecayOnBias", "bn+wd"): {"b1", "b2", "b3"},
    ("MLNDecayOnBias", "dropout+wd"): {"b1", "b2", "b3"},
}


@pytest.mark.parametrize("name,setting", sorted(MLN_SLIPS))
def test_book_slip_differs_where_expected(name, setting):
    net, x, t = book_net(getattr(reg, name), setting)
    grads = net.gradient(x, t)
    _, ref = book_reference(net, x, t, setting, inverted=name == "MLNDropoutNotRescaled")
    assert_slip(grads, ref, BOOK[setting][1], MLN_SLIPS[name, setting])


def test_dropout_not_rescaled_is_short_by_exactly_one_minus_p():
    """Without a penalty every gradient below the top layer is (1 - p)^k times the right one,
    k the number of dropout layers above it."""
    np.random.seed(5)
    net = reg.MLNDropoutNotRescaled(D, HIDDEN, C, use_dropout=True, dropout_ration=0.25)
    rng = np.random.default_rng(5)
    fill(net.params, rng)
    x, t = data(rng, labels=False)
    grads = net.gradient(x, t)
    masks = [net.layers[f"Dropout{l}"].mask for l in range(1, L)]
    _, ref = reference(net.params, x, t, bn=False, masks=masks, scale=1 / 0.75)
    assert_agrees(grads, ref, False, keys=["W3", "b3"])
    # once for each dropout layer the gradient passes back through
    for k, factor in (("W2", 0.75), ("b2", 0.75), ("W1", 0.75 ** 2), ("b1", 0.75 ** 2)):
        np.testing.assert_allclose(grads[k], factor * ref[k], rtol=1e-9, atol=1e-15)


def test_book_bn_axis_slip_has_the_batch_shape():
    net, x, t = book_net(reg.MLNBNAxis, "bn+wd")
    grads = net.gradient(x, t)
    assert grads["gamma1"].shape == grads["gamma2"].shape == (N,)
    assert grads["beta1"].shape == (HIDDEN[0],)


# ====================================================================== a function taking the masks


@pytest.mark.parametrize("p,lam,eps", [(0.5, 0.0, 1e-5), (0.25, 0.1, 1e-5), (0.4, 0.03, 1e-3)])
def test_function_taking_masks_agrees_with_autograd(p, lam, eps):
    rng = np.random.default_rng(7)
    sizes = [D] + HIDDEN + [C]
    params = {}
    for l in range(1, L + 1):
        params[f"W{l}"] = np.zeros((sizes[l - 1], sizes[l]))
        params[f"b{l}"] = np.zeros(sizes[l])
        if l < L:
            params[f"gamma{l}"] = np.zeros(sizes[l])
            params[f"beta{l}"] = np.zeros(sizes[l])
    fill(params, rng)
    X, T = data(rng, labels=False)
    masks = [(rng.random((N, h)) >= p).astype(float) for h in HIDDEN]
    loss, grads = reg.loss_and_grads(params, X, T, masks, eps=eps, p=p, lam=lam)
    ref_loss, ref = reference(params, X, T, bn=True, eps=eps, masks=masks, scale=1 / (1 - p),
                              pen=0.5 * lam)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_agrees(grads, ref, True)
