"""The two cross-entropies come from the logits G_L, never log(P), even through loss(P, T)."""

import warnings

import numpy as np
import pytest
from gradscribe.check.finite_differences import load_kernel
from gradscribe.codegen.kernel import render_network
from gradscribe.derive import spec

NETS = {
    "cross_entropy": "3-4-2:tanh,softmax:cross_entropy",
    "binary_cross_entropy": "3-4-2:relu,sigmoid:binary_cross_entropy:row",
}


def reference_loss(kind, G, T, column):
    """The contract's definition, computed stably from the logits in float64."""
    G, T = G.astype(np.float64), T.astype(np.float64)
    if kind == "cross_entropy":
        axis = 0 if column else 1
        m = G.max(axis=axis, keepdims=True)
        log_p = G - (m + np.log(np.exp(G - m).sum(axis=axis, keepdims=True)))
        return float(-(T * log_p).sum() / T.shape[1 if column else 0])
    log_p = -np.logaddexp(0, -G)
    log_1mp = -np.logaddexp(0, G)
    return float(-(T * log_p + (1 - T) * log_1mp).mean())


@pytest.mark.parametrize("kind", sorted(NETS))
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_loss_of_forwards_P_is_exact_even_when_saturated(kind, scale):
    net = spec.load(NETS[kind])
    module = load_kernel(render_network(net), f"_logits_{kind}")
    rng = np.random.default_rng(7)
    params = {k: v * scale + rng.standard_normal(v.shape) for k, v in module.init_params(rng).items()}
    column = net.layout == "column"
    X = rng.standard_normal((3, 6) if column else (6, 3))
    shape = (2, 6) if column else (6, 2)
    T = np.eye(2)[:, rng.integers(0, 2, 6)] if column and kind == "cross_entropy" else rng.random(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P, cache = module.forward(params, X)
        value = module.loss(P, T)
        assert isinstance(P, np.ndarray) and P.logits is cache["G2"]
        assert value == pytest.approx(reference_loss(kind, cache["G2"], T, column), rel=1e-12)
        assert value == pytest.approx(module.loss_and_grads(params, X, T)[0], rel=1e-12)
        # A plain array (or anything computed from P) carries no logits: the clipped path.
        assert (P * 1.0).logits is None and P[:1].logits is None
        plain = module.loss(np.asarray(P), T)
        assert np.isfinite(plain)
        if scale == 1.0:
            assert plain == pytest.approx(value, rel=1e-9)
        else:  # saturated: log of a clipped P is far from the exact value
            assert plain < 0.9 * value


def test_float32_predictions_stay_float32():
    module = load_kernel(render_network(spec.load(NETS["cross_entropy"])), "_logits_f32")
    params = module.init_params(0, dtype=np.float32)
    P, _ = module.forward(params, np.ones((3, 4), dtype=np.float32))
    assert P.dtype == np.float32 and P.logits.dtype == np.float32
    assert isinstance(module.loss(P, np.full((2, 4), 0.5, dtype=np.float32)), float)
