"""Generated NumPy kernels against the contract, checked three ways.

For every activation x every loss it pairs with x both layouts: central finite differences
on the kernel's loss (float64, hypothesis-drawn widths and batch, points away from kinks),
the forward pass against a plain NumPy restatement of contract sections 1-3 written here,
the loss value against the contract's definition, float32 preservation, no RuntimeWarning
on extreme inputs, and `ruff check` on every rendered module.
"""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
import tempfile
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from gradscribe.codegen.kernel import render_network
from gradscribe.derive import spec
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

# ---------------------------------------------------------------- the contract, restated


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


ACTS = {
    "identity": lambda z, a: z,
    "relu": lambda z, a: np.maximum(z, 0.0),
    "leaky_relu": lambda z, a: np.where(z > 0, z, a * z),
    "elu": lambda z, a: np.where(z > 0, z, a * (np.exp(np.minimum(z, 0.0)) - 1.0)),
    "sigmoid": lambda z, a: _sig(z),
    "tanh": lambda z, a: np.tanh(z),
    "softplus": lambda z, a: np.log1p(np.exp(z)),
    "silu": lambda z, a: z * _sig(z),
    "step": lambda z, a: (z > 0).astype(float),
}
KINKED = {"relu", "leaky_relu", "elu", "step"}
ALPHA = {"leaky_relu": 0.2, "elu": 0.5}


def softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def reference_forward(net, params, X):
    """G_l and P straight from contract section 1."""
    column = net.layout == "column"
    R, Gs = X, []
    for l, layer in enumerate(net.layers, start=1):
        W, B = params[f"W{l}"], params[f"B{l}"]
        G = W @ R + B @ np.ones((1, R.shape[1])) if column else R @ W + np.ones((R.shape[0], 1)) * B
        Gs.append(G)
        if layer.activation == "softmax":
            R = softmax(G, 0 if column else 1)
        else:
            R = ACTS[layer.activation](G, float(net.alpha_of(l) or 0))
    return Gs, R


def reference_loss(name, P, T, column):
    """Contract section 3, from P."""
    n_batch = T.shape[1] if column else T.shape[0]
    if name == "mse":
        return np.mean((P - T) ** 2)
    if name == "half_sse":
        return 0.5 * np.sum((P - T) ** 2)
    if name == "cross_entropy":
        return -np.sum(T * np.log(P)) / n_batch
    if name == "binary_cross_entropy":
        return -np.mean(T * np.log(P) + (1 - T) * np.log(1 - P))
    raise AssertionError(name)


# ---------------------------------------------------------------- the combinations


def combos():
    """(hidden activation, output activation, loss) for every activation x its losses."""
    out = []
    for act in ACTS:
        out.append((act, act, "mse"))
        out.append((act, act, "half_sse"))
        out.append((act, "softmax", "cross_entropy"))
        out.append((act, "sigmoid", "binary_cross_entropy"))
    return out


COMBOS = [(h, o, loss, layout) for (h, o, loss), layout in itertools.product(combos(), ("column", "row"))]


def _name(act):
    return f"{act}@{ALPHA[act]}" if act in ALPHA else act


def inline(sizes, hidden, out, loss, layout):
    return f"{'-'.join(map(str, sizes))}:{_name(hidden)},{_name(out)}:{loss}:{layout}"


_TMP = Path(tempfile.mkdtemp(prefix="gradscribe-kernels-"))


@cache
def kernel(net_text: str):
    """The generated module for `net_text`, imported from a temporary file (cached)."""
    net = spec.load(net_text)
    name = "k_" + net.digest()[:16]
    path = _TMP / f"{name}.py"
    path.write_text(render_network(net), encoding="utf-8")
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return net, module


def draw(net, rng, batch, dtype=np.float64, scale=1.0):
    """Random params (biases too), X and valid targets T for `net`."""
    _, module = kernel(net.inline())
    params = module.init_params(rng, dtype=dtype)
    for key in params:
        params[key] = (params[key] + 0.5 * rng.standard_normal(params[key].shape)).astype(dtype)
    column = net.layout == "column"
    n0, nl = net.sizes[0], net.sizes[-1]
    X = (scale * rng.standard_normal((n0, batch) if column else (batch, n0))).astype(dtype)
    shape = (nl, batch) if column else (batch, nl)
    if net.loss == "cross_entropy":
        T = rng.random(shape)
        T /= T.sum(axis=0 if column else 1, keepdims=True)
    elif net.loss == "binary_cross_entropy":
        T = rng.random(shape)
    else:
        T = rng.standard_normal(shape)
    return params, X, T.astype(dtype)


# ---------------------------------------------------------------- gradients and forward

H = 1e-6
REL = 1e-6


@pytest.mark.parametrize("hidden,out,loss,layout", COMBOS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    sizes=st.tuples(*[st.integers(1, 3)] * 3),
    batch=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_gradients_forward_and_loss(hidden, out, loss, layout, sizes, batch, seed):
    if loss == "cross_entropy":
        assume(sizes[-1] >= 2 or seed % 4 == 0)  # a 1-unit softmax is legal but dull
    net, module = kernel(inline(sizes, hidden, out, loss, layout))
    rng = np.random.default_rng(seed)
    params, X, T = draw(net, rng, batch)
    column = layout == "column"

    # Keep away from kinks: every kinked layer's G at least 1e-3 from 0.
    Gs, P_ref = reference_forward(net, params, X)
    for layer, G in zip(net.layers, Gs):
        if layer.activation in KINKED:
            assume(np.min(np.abs(G)) > 1e-3)

    P, cache = module.forward(params, X)
    np.testing.assert_allclose(P, P_ref, rtol=1e-12, atol=1e-14, err_msg="forward P")
    for l, G in enumerate(Gs, start=1):
        np.testing.assert_allclose(cache[f"G{l}"], G, rtol=1e-12, atol=1e-14, err_msg=f"G{l}")

    expected = reference_loss(loss, P_ref, T, column)
    value, grads = module.loss_and_grads(params, X, T)
    assert module.loss(P, T) == pytest.approx(expected, rel=1e-10, abs=1e-14), "loss(P, T)"
    assert value == pytest.approx(expected, rel=1e-10, abs=1e-14), "loss_and_grads loss"

    def f(p):
        return module.loss_and_grads(p, X, T)[0]

    for key, theta in params.items():
        assert grads[key].shape == theta.shape, key
        fd = np.zeros_like(theta)
        for index in np.ndindex(theta.shape):
            plus = {**params, key: theta.copy()}
            minus = {**params, key: theta.copy()}
            plus[key][index] += H
            minus[key][index] -= H
            fd[index] = (f(plus) - f(minus)) / (2 * H)
        err = np.max(np.abs(fd - grads[key]))
        size = max(np.max(np.abs(fd)), np.max(np.abs(grads[key])))
        assert err <= REL * size + 1e-9, (
            f"{net.inline()} d{key}: kernel {grads[key].ravel().tolist()} vs central differences "
            f"{fd.ravel().tolist()} (max abs err {err:.3g}, rel {err / max(size, 1e-300):.3g})"
        )


# ---------------------------------------------------------------- dtypes and extreme inputs


@pytest.mark.parametrize("hidden,out,loss,layout", COMBOS)
def test_float32_in_float32_out_and_no_warnings_on_extreme_inputs(hidden, out, loss, layout):
    net, module = kernel(inline((3, 4, 3), hidden, out, loss, layout))
    rng = np.random.default_rng(7)
    for dtype, scale in itertools.product((np.float32, np.float64), (1.0, 1e4, 1e6)):
        params, X, T = draw(net, rng, 5, dtype=dtype, scale=scale)
        X[..., 0] = 0.0  # exact zeros too: relu'(0) and friends
        with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
            warnings.simplefilter("error")
            P, cache = module.forward(params, X)
            value = module.loss(P, T)
            value2, grads = module.loss_and_grads(params, X, T)
        assert P.dtype == dtype
        assert all(cache[f"G{l}"].dtype == dtype for l in (1, 2))
        assert {key: g.dtype for key, g in grads.items()} == {key: dtype for key in params}
        assert {key: g.shape for key, g in grads.items()} == {key: v.shape for key, v in params.items()}
        assert isinstance(value, float) and np.isfinite(value)
        assert isinstance(value2, float) and np.isfinite(value2)
        assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_relu_derivative_is_zero_at_zero():
    _, module = kernel("1-2-1:relu,identity:half_sse")
    params = {"W1": np.ones((2, 1)), "B1": np.zeros((2, 1)), "W2": np.ones((1, 2)), "B2": np.zeros((1, 1))}
    X = np.zeros((1, 3))
    _, grads = module.loss_and_grads(params, X, np.ones((1, 3)))
    assert np.all(grads["B1"] == 0) and np.all(grads["W1"] == 0)


def test_cross_entropies_are_exact_from_the_logits():
    # Saturated outputs: loss_and_grads stays exact where log(P) would be -inf.
    _, module = kernel("1-2:softmax:cross_entropy")
    params = {"W1": np.array([[1000.0], [-1000.0]]), "B1": np.zeros((2, 1))}
    value, _ = module.loss_and_grads(params, np.ones((1, 1)), np.array([[0.0], [1.0]]))
    assert value == pytest.approx(2000.0)
    _, module = kernel("1-1:sigmoid:binary_cross_entropy:row")
    params = {"W1": np.array([[800.0]]), "B1": np.zeros(1)}
    value, _ = module.loss_and_grads(params, np.ones((1, 1)), np.zeros((1, 1)))
    assert value == pytest.approx(800.0)


def test_spec_and_init_params():
    _, module = kernel("3-4-2:tanh,softmax:cross_entropy:row")
    assert module.SPEC == {
        "name": "net",
        "layout": "row",
        "sizes": [3, 4, 2],
        "activations": ["tanh", "softmax"],
        "loss": "cross_entropy",
    }
    params = module.init_params(np.random.default_rng(0), dtype=np.float32)
    assert {k: (v.shape, v.dtype) for k, v in params.items()} == {
        "W1": ((3, 4), np.float32),
        "B1": ((4,), np.float32),
        "W2": ((4, 2), np.float32),
        "B2": ((2,), np.float32),
    }
    assert module.init_params(1)["W1"].tolist() == module.init_params(1)["W1"].tolist()


def test_header_names_spec_digest_and_generator():
    net = spec.default_network()
    text = render_network(net)
    assert net.inline() in text and net.digest() in text
    assert "gradscribe 0.1.0" in text and "do not edit by hand" in text
    assert "np.dot(D3, R2.T, out=dW3)  # eq:dW3" in text
    import_lines = [line for line in text.splitlines() if line.startswith(("import", "from"))]
    assert import_lines == ["import numpy as np"]


# ---------------------------------------------------------------- ruff and the command line


def test_every_rendered_module_passes_ruff(tmp_path):
    for i, (hidden, out, loss, layout) in enumerate(COMBOS):
        text = render_network(spec.load(inline((2, 3, 2), hidden, out, loss, layout)))
        (tmp_path / f"k{i}.py").write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_codegen_command(cli, tmp_path):
    target = tmp_path / "k.py"
    status, out, err = cli("codegen", "2-3-1:relu,identity:mse", "-o", str(target))
    assert (status, out, err) == (0, "", "")
    assert target.read_text() == render_network(spec.load("2-3-1:relu,identity:mse"))
    status, out, _ = cli("codegen", "2-3-1:relu,identity:mse")
    assert status == 0 and out == target.read_text()
    status, out, err = cli("codegen", "2-3-1:rleu,identity:mse")
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("hidden,out,loss,layout", COMBOS)
def test_loss_and_grads_runs_the_same_arithmetic_as_forward_loss_and_backward(hidden, out, loss, layout):
    # loss_and_grads has its own body (forward, loss and backward inlined): every gradient it
    # returns is bit for bit what backward returns from forward's cache, and its loss is loss(P, T)'s.
    net, module = kernel(inline((3, 4, 2), hidden, out, loss, layout))
    params, X, T = draw(net, np.random.default_rng(11), 5)
    value, grads = module.loss_and_grads(params, X, T)
    P, cache = module.forward(params, X)
    expected = module.backward(params, cache, T)
    assert grads.keys() == expected.keys() == params.keys()
    for key in params:
        assert np.array_equal(grads[key], expected[key]), (key, grads[key], expected[key])
    assert value == pytest.approx(module.loss(P, T), rel=1e-13, abs=1e-15)
    ws = module.make_workspace(5, np.float64)
    value_ws, grads_ws = module.loss_and_grads(params, X, T, workspace=ws)
    assert value_ws == value
    assert all(np.array_equal(grads_ws[key], grads[key]) for key in params)
