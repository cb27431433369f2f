"""The generated kernels' optional workspace: same numbers, the same arrays every step, no allocation.

`make_workspace(batch, dtype)` passed to forward / backward / loss_and_grads makes them write
into the workspace's arrays; without it they return fresh arrays. Checked for every
activation x loss x layout: identical results both ways, the returned arrays are the
workspace's own (so a second step reuses them), and tracemalloc sees no array allocated in
a step. (NumPy's iterator keeps a fixed scratch buffer of a few 64 KiB for broadcasting
ufuncs such as the bias add; it does not grow with the batch, and is freed in the call.)
"""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest
from test_kernel import COMBOS, draw, inline, kernel


@pytest.mark.parametrize("hidden,out,loss,layout", COMBOS)
def test_workspace_gives_the_same_numbers_in_its_own_arrays(hidden, out, loss, layout):
    net, module = kernel(inline((3, 5, 4), hidden, out, loss, layout))
    rng = np.random.default_rng(3)
    for dtype in (np.float64, np.float32):
        params, X, T = draw(net, rng, 6, dtype=dtype)
        fresh_value, fresh = module.loss_and_grads(params, X, T)
        ws = module.make_workspace(6, dtype)
        value, grads = module.loss_and_grads(params, X, T, workspace=ws)
        assert value == fresh_value
        for key in params:
            np.testing.assert_array_equal(grads[key], fresh[key], err_msg=key)
            assert grads[key].dtype == dtype and grads[key] is ws["d" + key], key
        # A second step with other inputs overwrites the same arrays.
        params2, X2, T2 = draw(net, rng, 6, dtype=dtype)
        value2, grads2 = module.loss_and_grads(params2, X2, T2, workspace=ws)
        assert all(grads2[key] is grads[key] for key in params)
        expected_value, expected = module.loss_and_grads(params2, X2, T2)
        assert value2 == expected_value
        for key in params:
            np.testing.assert_array_equal(grads2[key], expected[key], err_msg=key)
        # forward and backward on their own take the workspace too.
        P, cache = module.forward(params2, X2, workspace=ws)
        assert cache["G1"] is ws["G1"]
        assert any(np.shares_memory(P, array) for array in ws.values())
        assert module.backward(params2, cache, T2, workspace=ws)["W1"] is ws["dW1"]


def test_without_a_workspace_every_call_returns_fresh_arrays():
    net, module = kernel(inline((3, 5, 4), "tanh", "softmax", "cross_entropy", "row"))
    params, X, T = draw(net, np.random.default_rng(0), 6)
    _, first = module.loss_and_grads(params, X, T)
    kept = {k: v.copy() for k, v in first.items()}
    P1, cache1 = module.forward(params, X)
    module.loss_and_grads(params, 2 * X, T)
    P2, cache2 = module.forward(params, 2 * X)
    assert not np.shares_memory(P1, P2) and cache1["G1"] is not cache2["G1"]
    for key, value in kept.items():
        np.testing.assert_array_equal(first[key], value)


@pytest.mark.parametrize(
    "net_text",
    [
        "1-8-4-1:relu,relu,identity:mse",
        "20-16-10:tanh,softmax:cross_entropy:row",
        "20-16-3:elu@0.5,sigmoid:binary_cross_entropy",
        "20-16-3:silu,leaky_relu@0.2:half_sse:row",
    ],
)
def test_a_training_step_with_a_workspace_allocates_no_array(net_text):
    net, module = kernel(net_text)
    batch = 65536  # every per-sample array is at least 65536 * 8 bytes = 512 KiB
    params, X, T = draw(net, np.random.default_rng(1), batch)
    ws = module.make_workspace(batch, np.float64)
    module.loss_and_grads(params, X, T, workspace=ws)  # warm up caches and imports

    def peak(**kwargs):
        tracemalloc.start()
        try:
            module.loss_and_grads(params, X, T, **kwargs)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak() > 512 * 1024  # the test can see an array being allocated
    assert peak(workspace=ws) < 256 * 1024, "a step with a workspace allocated an array"


class _Counting:
    """Stands for numpy (or one of its functions) in a generated module and counts the calls."""

    def __init__(self, target, counter):
        self._target, self._counter = target, counter

    def __getattr__(self, name):
        return _Counting(getattr(self._target, name), self._counter)

    def __call__(self, *args, **kwargs):
        self._counter.append(getattr(self._target, "__name__", repr(self._target)))
        return self._target(*args, **kwargs)


@pytest.mark.parametrize(
    "net_text,expected",
    [("1-8-4-1:relu,relu,identity:mse", 23), ("784-128-10:relu,softmax:cross_entropy:row", 23)],
)
def test_a_step_makes_the_numpy_calls_its_header_states(net_text, expected, monkeypatch):
    # The README's count for the default network (23: 8 products, 3 bias adds, 2 relus, 2 masks
    # applied, 3 bias sums as products, delta_L in 1, the loss in 2) is what a step runs.
    net, module = kernel(net_text)
    params, X, T = draw(net, np.random.default_rng(2), 32)
    ws = module.make_workspace(32, np.float64)
    calls = []
    monkeypatch.setattr(module, "np", _Counting(np, calls))
    module.loss_and_grads(params, X, T, workspace=ws)
    stated = int(re.search(r"\((\d+) NumPy calls per step\)", module.__doc__).group(1))
    assert len(calls) == stated == expected, calls
    products = sum(name == "dot" for name in calls)
    assert products == 2 * net.depth + (net.depth - 1) + net.depth + (net.loss == "cross_entropy")
