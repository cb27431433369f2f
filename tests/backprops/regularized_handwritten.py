"""Hand-written NumPy backward passes for networks with batch norm, dropout and a penalty
(contract section 7), for every activation and loss, both layouts, right and with the slips
learners make (written for the tests).

`make(acts, loss, layout, bn, drop, penalty, lam, eps, bug)` returns
``backward(params, X, T, masks)`` (masks: ``{"M1": 0/1 array}`` as the kernels take them).
Hidden layer l: G = W R + B (or R W + B), batch norm when ``bn[l-1]``, the activation, inverted
dropout when ``drop[l-1]`` is a probability. The activation table is `handwritten.py`'s (not
gradscribe's); batch norm is the textbook's compact backward. Bugs: `BUGS`.
"""
import importlib.util
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location("_hw_for_regularized", Path(__file__).with_name("handwritten.py"))
hw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hw)

BUGS = ("no_gamma", "naive_bn", "dgamma_axis", "dbeta_is_dgamma", "prime_at_g", "no_scale",
        "no_mask", "l2_factor", "wd_factor", "penalty_on_bias", "no_penalty")


def make(acts, loss, layout, bn, drop, penalty=None, lam=0.0, eps=1e-5, bug=None, alphas=None):
    L = len(acts)
    col = layout == "column"
    bax = 1 if col else 0
    alphas = alphas or [hw.A if a == "leaky_relu" else 1.0 for a in acts]
    factor = {None: 0.0, "wd": 1.0, "l2": 2.0}[penalty] * lam
    if bug == "l2_factor":
        factor = 2.0 * lam
    if bug == "wd_factor":
        factor = 1.0 * lam
    if bug == "no_penalty":
        factor = 0.0

    def bsum(a):
        return a.sum(axis=bax, keepdims=True) if col else a.sum(axis=0)

    def vec(v):  # a per-unit vector broadcast over the batch
        return v

    def func(params, X, T, masks):
        N = X.shape[bax]
        nL = params[f"W{L}"].shape[0 if col else 1]
        if T.ndim == 1:
            oh = np.zeros((nL, N) if col else (N, nL))
            if nL == 1:
                oh = T.reshape(oh.shape).astype(float)
            elif col:
                oh[T, np.arange(N)] = 1
            else:
                oh[np.arange(N), T] = 1
            T = oh
        A, cache = X, []
        for l in range(1, L + 1):
            W = params[f"W{l}"]
            G = W @ A if col else A @ W
            if f"B{l}" in params:
                G = G + params[f"B{l}"]
            c = {"A": A, "G": G}
            if bn[l - 1]:
                mu = G.mean(axis=bax, keepdims=True)
                var = ((G - mu) ** 2).mean(axis=bax, keepdims=True)
                inv = 1 / np.sqrt(var + eps)
                GH = (G - mu) * inv
                Y = vec(params[f"gamma{l}"]) * GH + vec(params[f"beta{l}"])
                c.update(GH=GH, inv=inv, Y=Y)
            else:
                Y = G
            c["Y"] = Y
            if acts[l - 1] == "softmax":
                R = hw.softmax(Y, 0 if col else 1)
            else:
                R = hw.F[acts[l - 1]](Y, alphas[l - 1])
            p = drop[l - 1]
            if p is not None:
                R = R * masks[f"M{l}"] / (1 - p)
            cache.append(c)
            A = R
        P = A
        base, _, red = loss.partition("@")
        mean = red != "sum"
        top = cache[-1]
        if base in ("cross_entropy", "binary_cross_entropy"):
            D = P - T
            if mean:
                D = D / (N if base == "cross_entropy" else N * nL)
        else:
            fp = hw.FP[acts[-1]](top["Y"], alphas[-1])
            D = {"mse": 2 * (P - T) / (N * nL), "half_sse": P - T, "sse": 2 * (P - T)}[base] * fp
        grads = {}
        for l in range(L, 0, -1):
            c = cache[l - 1]
            if l < L:  # D holds dL/dR_l (after dropout); through dropout and f'
                p = drop[l - 1]
                if p is not None and bug != "no_mask":
                    D = D * masks[f"M{l}"] / (1 - p if bug != "no_scale" else 1.0)
                at = c["G"] if bug == "prime_at_g" and bn[l - 1] else c["Y"]
                D = D * hw.FP[acts[l - 1]](at, alphas[l - 1])
            if bn[l - 1]:
                DY, GH, inv = D, c["GH"], c["inv"]
                grads[f"gamma{l}"] = bsum(DY * GH) if bug != "dgamma_axis" else (
                    (DY * GH).sum(axis=0, keepdims=True) if col else (DY * GH).sum(axis=1))
                grads[f"beta{l}"] = bsum(DY) if bug != "dbeta_is_dgamma" else bsum(DY * GH)
                DGH = DY * (params[f"gamma{l}"] if bug != "no_gamma" else 1.0)
                if bug == "naive_bn":
                    D = DGH * inv
                else:
                    s1 = DGH.sum(axis=bax, keepdims=True)
                    s2 = (DGH * GH).sum(axis=bax, keepdims=True)
                    D = inv / N * (N * DGH - s1 - GH * s2)
            Aprev = c["A"]
            dW = D @ Aprev.T if col else Aprev.T @ D
            grads[f"W{l}"] = dW + factor * params[f"W{l}"]
            if f"B{l}" in params:
                grads[f"B{l}"] = bsum(D) + (lam * params[f"B{l}"] if bug == "penalty_on_bias" else 0.0)
            if l > 1:
                W = params[f"W{l}"]
                D = W.T @ D if col else D @ W.T
        return grads

    return func


# For `check --python FILE:NAME` (the worker path): the net
# 3-4-4-2:bn+tanh+dropout@0.25,bn+relu+dropout@0.5,softmax:cross_entropy+wd@0.1:row
_NET = (("tanh", "relu", "softmax"), "cross_entropy", "row", (True, True, False), (0.25, 0.5, None), "wd", 0.1)
right_row = make(*_NET)
no_gamma_row = make(*_NET, bug="no_gamma")
eps6_row = make(*_NET[:7], eps=1e-6)


def own_masks_row(params, X, T):
    """Right, but draws its own masks and keeps them nowhere the checker can read."""
    rng = np.random.default_rng(0)
    masks = {"M1": (rng.random((X.shape[0], 4)) >= 0.25) * 1.0,
             "M2": (rng.random((X.shape[0], 4)) >= 0.5) * 1.0}
    return right_row(params, X, T, masks)
