"""Contract sections 5 and 7 in the fast kernel: batch norm (train and evaluation mode,
running statistics), dropout (masks given or drawn), weight decay and the L2 penalty, for
every activation and loss in both layouts, float32 and float64, without RuntimeWarning;
gradients against central differences of the kernel's own loss, and the loss against
PyTorch (BatchNorm1d in training mode, the same masks and penalty) where torch is installed."""

import importlib.util
import os
import warnings

import numpy as np
import pytest

from gradscribe.codegen.kernel import render_kernel
from gradscribe.derive import activations, spec
from gradscribe.derive.chain import derive

ELEMENTWISE = [a.name for a in activations.ACTIVATIONS.values() if a.elementwise]
OUTPUTS = [("identity", "mse"), ("tanh", "half_sse"), ("sigmoid", "sse"),
           ("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"),
           ("softmax", "cross_entropy@sum"), ("sigmoid", "binary_cross_entropy@sum")]
PENALTIES = ["+wd@0.1", "+l2@0.05", ""]


def nets():
    for i, act in enumerate(ELEMENTWISE):
        alpha = "@0.2" if activations.get(act).takes_alpha else ""
        out, loss = OUTPUTS[i % len(OUTPUTS)]
        layout = ("column", "row")[i % 2]
        bn_out = "bn+" if i % 2 else ""
        yield f"3-4-3-2:bn+{act}{alpha}+dropout@0.5,{act}{alpha}+dropout@0.25,{bn_out}{out}:{loss}{PENALTIES[i % 3]}:{layout}"


STYLES = ["fast", "textbook"]


def load(net, style="fast"):
    source = render_kernel(derive(spec.load(net)), style)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("kernel", loader=None))
    exec(compile(source, "kernel", "exec"), module.__dict__)
    return module


def draw(net, batch, rng, dtype=np.float64):
    n = spec.load(net)
    column = n.layout == "column"
    shape = lambda units: (units, batch) if column else (batch, units)
    X = rng.standard_normal(shape(n.sizes[0]))
    T = rng.random(shape(n.sizes[-1]))
    if n.loss_def.output == "softmax":
        T /= T.sum(axis=0 if column else 1, keepdims=True)
    elif n.loss_def.output is None:
        T = rng.standard_normal(T.shape)
    masks = {m: (rng.random(shape(n.sizes[int(m[1:])])) < 0.6).astype(dtype) for m in n.mask_names()}
    return n, X.astype(dtype), T.astype(dtype), masks


def params_of(module, rng, dtype=np.float64):
    params = module.init_params(rng=3, dtype=dtype)
    for key in params:  # gamma away from 1, beta and biases away from 0
        if not key.startswith("W"):
            params[key] = (params[key] + 0.4 * rng.standard_normal(params[key].shape)).astype(dtype)
    return params


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("net", list(nets()))
def test_gradients_agree_with_central_differences(net, style):
    rng = np.random.default_rng(0)
    module = load(net, style)
    n, X, T, masks = draw(net, 5, rng)
    params = params_of(module, rng)

    def loss(p):
        P, _ = module.forward(p, X, masks=masks)
        return float(module.loss(P, T, p) if n.penalty else module.loss(P, T))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grads = module.loss_and_grads(params, X, T, masks=masks)
    value = float(value)
    # the textbook style's loss(P, T) is the definition on P, its step's from the logits
    assert value == pytest.approx(loss(params), rel=1e-13 if style == "fast" else 1e-9, abs=1e-15)
    h = 1e-5
    for name, array in params.items():
        assert grads[name].shape == array.shape and grads[name].dtype == array.dtype
        numeric = np.zeros_like(array)
        for index in np.ndindex(*array.shape):
            up, down = {**params, name: array.copy()}, {**params, name: array.copy()}
            up[name][index] += h
            down[name][index] -= h
            numeric[index] = (loss(up) - loss(down)) / (2 * h)
        # central differences: truncation O(h^2 f''') and rounding eps |L| / h
        scale = 1 + np.abs(numeric).max()
        worst = np.unravel_index(np.argmax(np.abs(numeric - grads[name])), array.shape)
        assert np.abs(numeric - grads[name]).max() < 1e-6 * scale, (
            name, worst, numeric[worst], grads[name][worst])
    if n.normalizes:
        for l in range(1, n.depth + 1):
            if n.batch_norm(l) and n.layers[l - 1].bias:
                assert np.all(grads[f"B{l}"] == 0)  # exactly


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("layout", ["column", "row"])
def test_running_statistics_evaluation_mode_and_masks(layout, style):
    net = f"3-4-2:bn@0.001+tanh+dropout@0.5,bn+identity:mse+wd@0.01:{layout}"
    module = load(net, style)
    rng = np.random.default_rng(1)
    n, X, T, masks = draw(net, 6, rng)
    params = params_of(module, rng)
    state = module.init_state()
    axis = 1 if layout == "column" else 0
    P, cache = module.forward(params, X, state=state, rng=7)
    G1 = cache["G1"]
    mean = G1.mean(axis=axis).reshape(state["mean1"].shape)
    var = G1.var(axis=axis).reshape(state["var1"].shape)  # biased, as in the batch's statistics
    assert np.allclose(state["mean1"], 0.1 * mean, rtol=1e-14, atol=1e-15)
    assert np.allclose(state["var1"], 0.9 + 0.1 * var, rtol=1e-14)
    # the same seed draws the same mask; the cache holds it; it keeps about 1 - p
    again = module.forward(params, X, rng=7)[1]["M1"]
    assert np.array_equal(cache["M1"], again) and set(np.unique(again)) <= {0.0, 1.0}
    big = module.forward(params, np.tile(X, (1, 200) if layout == "column" else (200, 1)), rng=2)[1]["M1"]
    assert abs(big.mean() - 0.5) < 0.05
    # given masks are used as given
    assert np.array_equal(module.forward(params, X, masks=masks)[1]["M1"], masks["M1"])
    # evaluation mode: the running statistics, no dropout
    P_eval, c = module.forward(params, X, train=False, state=state)
    gh = (G1 - state["mean1"]) / np.sqrt(state["var1"] + 0.001)
    assert np.allclose(c["GH1"], gh, rtol=1e-13)
    assert np.array_equal(c["R1"], c["A1"]) and c["M1"] is None
    with pytest.raises(ValueError, match="needs state="):
        module.forward(params, X, train=False)
    # the penalty is part of loss(P, T, params)
    data = float(module.loss(P_eval, T, {k: np.zeros_like(v) for k, v in params.items()}))
    penalty = 0.005 * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    assert float(module.loss(P_eval, T, params)) == pytest.approx(data + penalty, rel=1e-14)


@pytest.mark.parametrize("net", ["3-4-2:bn+relu+dropout@0.5,softmax:cross_entropy+wd@1e-4:row",
                                 "3-4-3:bn+elu+dropout@0.2,bn+sigmoid:binary_cross_entropy+l2@0.01"])
def test_float32_in_float32_out_and_a_workspace(net):
    module = load(net)
    rng = np.random.default_rng(2)
    n, X, T, masks = draw(net, 4, rng, np.float32)
    params = params_of(module, rng, np.float32)
    state = module.init_state(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grads = module.loss_and_grads(params, X, T, state=state, masks=masks)
        P, _ = module.forward(params, X, train=False, state=state)
        # a large, far-off batch: finite, no overflow warning
        huge = module.loss_and_grads(params, X * 1e4 + 1e3, T, masks=masks)[0]
    assert P.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    assert all(v.dtype == np.float32 for v in state.values())
    assert np.isfinite(huge)
    reference = module.loss_and_grads({k: v.astype(np.float64) for k, v in params.items()},
                                      X.astype(np.float64), T.astype(np.float64),
                                      masks={k: v.astype(np.float64) for k, v in masks.items()})
    assert value == pytest.approx(reference[0], rel=1e-4)
    workspace = module.make_workspace(4, np.float32)
    again = module.loss_and_grads(params, X, T, workspace, masks=masks)
    assert again[0] == value and all(np.array_equal(again[1][k], grads[k]) for k in grads)


def _torch_loss(torch, n, params, X, T, masks):
    """The same network in PyTorch: Linear, BatchNorm1d (training mode, the layer's eps),
    the activation, dropout as the given mask / (1 - p), the loss and the penalty."""
    column = n.layout == "column"
    t = lambda a: torch.tensor(a.T if column else a, dtype=torch.float64)
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    R = t(X)
    F = torch.nn.functional
    acts = {"identity": lambda z: z, "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
            "softplus": F.softplus, "silu": F.silu, "elu": lambda z, a: F.elu(z, a),
            "leaky_relu": lambda z, a: F.leaky_relu(z, a)}
    for l, layer in enumerate(n.layers, start=1):
        W = tp[f"W{l}"].T if column else tp[f"W{l}"]
        G = R @ W
        if layer.bias:
            G = G + tp[f"B{l}"].reshape(-1)
        if layer.batch_norm:
            bn = torch.nn.BatchNorm1d(layer.units, eps=float(layer.eps), dtype=torch.float64)
            bn.train()
            with torch.no_grad():
                bn.weight.copy_(torch.tensor(params[f"gamma{l}"].reshape(-1)))
                bn.bias.copy_(torch.tensor(params[f"beta{l}"].reshape(-1)))
            Y = F.batch_norm(G, None, None, tp[f"gamma{l}"].reshape(-1), tp[f"beta{l}"].reshape(-1),
                             training=True, eps=float(layer.eps))
            assert torch.allclose(Y, bn(G), rtol=1e-12, atol=1e-12)
        else:
            Y = G
        name = layer.activation
        if name == "softmax":
            R = torch.softmax(Y, dim=1)
            logits = Y
        elif name in ("elu", "leaky_relu"):
            R = acts[name](Y, float(n.alpha_of(l)))
        elif name == "step":
            R = (Y > 0).to(torch.float64)
        else:
            R = acts[name](Y)
            logits = Y
        if layer.dropout is not None:
            R = R * t(masks[f"M{l}"]) / (1 - float(layer.dropout))
    target = t(T)
    base, reduction = n.loss_def.base, n.loss_def.reduction or "mean"
    if base == "mse":
        loss = F.mse_loss(R, target)
    elif base == "half_sse":
        loss = 0.5 * ((R - target) ** 2).sum()
    elif base == "sse":
        loss = ((R - target) ** 2).sum()
    elif base == "cross_entropy":
        loss = F.cross_entropy(logits, target, reduction=reduction)
    else:
        loss = F.binary_cross_entropy_with_logits(logits, target, reduction=reduction)
    if n.penalty is not None:
        loss = loss + float(n.penalty_coefficient) * sum((tp[f"W{l}"] ** 2).sum() for l in range(1, n.depth + 1))
    loss.backward()
    return float(loss.detach()), {k: v.grad.numpy() for k, v in tp.items()}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("net", [n for n in nets() if "step" not in n])
def test_loss_and_gradients_agree_with_pytorch(net, style):
    if importlib.util.find_spec("torch") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("torch is missing under CI=true: the test extra installs it")
        pytest.skip("torch is not installed")
    import torch

    module = load(net, style)
    rng = np.random.default_rng(4)
    n, X, T, masks = draw(net, 6, rng)
    params = params_of(module, rng)
    value, grads = module.loss_and_grads(params, X, T, masks=masks)
    value = float(value)
    expected, expected_grads = _torch_loss(torch, n, params, X, T, masks)
    assert value == pytest.approx(expected, rel=1e-12)
    for name, grad in grads.items():
        reference = expected_grads[name].reshape(grad.shape)
        scale = 1 + np.abs(reference).max()
        assert np.abs(grad - reference).max() < 1e-11 * scale, (name, grad, reference)


def test_verify_proves_and_checks_the_kernel_and_catches_a_slip(monkeypatch):
    from gradscribe.check import regularized_kernel
    from gradscribe.check.verification import verify

    net = spec.load("3-3-2:bn+relu+dropout@0.5,bn+softmax:cross_entropy+wd@0.1:row")
    result = verify(net, points=1)
    assert result.ok, result.report()
    assert [d.name for d in result.kernel.directions] == [
        "W1", "B1", "gamma1", "beta1", "W2", "B2", "gamma2", "beta2"]
    assert result.to_json()["proven_on"]["batches"] == [2, 3]
    assert "training mode with fixed dropout masks" in result.report()
    # weight decay's lambda W written as 2 lambda W in the kernel: dW1 and dW2 fail
    real = regularized_kernel.render_kernel
    monkeypatch.setattr(regularized_kernel, "render_kernel",
                        lambda d: real(d).replace(", 0.1, out=", ", 0.2, out="))
    slipped = regularized_kernel.check(net)
    assert {d.name for d in slipped.directions if not d.ok} == {"W1", "W2"}
