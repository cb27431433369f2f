"""Hand-written NumPy backward passes for every activation and loss, both layouts, written in
the styles people use, right and with the usual bugs (written for the tests).

`make(acts, loss, layout, style, bug)` returns ``backward(params, X, T)`` for the network with
one activation per layer. Its own activation table (`F`, `FP`) is independent of gradscribe's
registry. Styles: "plain" (``D @ R.T``), "einsum", "loop" (a Python loop over the samples adding
up ``np.outer`` products), "list" (returns ``[dW1, dB1, ...]``), "inplace" (adds into a grads
dict of zeros), and ``dtype=np.float32`` (casts everything to float32 first). `TransposedMLP`
keeps its weights transposed from the layout. Bugs: see `BUGS` (a tuple of them: several at once).
"""
import itertools

import numpy as np

A = 0.01


def sig(z):
    return 1 / (1 + np.exp(-z))


F = {
    "identity": lambda z, a: z,
    "relu": lambda z, a: np.maximum(z, 0),
    "leaky_relu": lambda z, a: np.where(z > 0, z, a * z),
    "elu": lambda z, a: np.where(z > 0, z, a * (np.exp(np.minimum(z, 0)) - 1)),
    "sigmoid": lambda z, a: sig(z),
    "tanh": lambda z, a: np.tanh(z),
    "softplus": lambda z, a: np.logaddexp(0, z),
    "silu": lambda z, a: z * sig(z),
    "step": lambda z, a: (z > 0).astype(z.dtype),
}
FP = {
    "identity": lambda z, a: np.ones_like(z),
    "relu": lambda z, a: (z > 0).astype(z.dtype),
    "leaky_relu": lambda z, a: np.where(z > 0, 1.0, a),
    "elu": lambda z, a: np.where(z > 0, 1.0, a * np.exp(np.minimum(z, 0))),
    "sigmoid": lambda z, a: sig(z) * (1 - sig(z)),
    "tanh": lambda z, a: 1 - np.tanh(z) ** 2,
    "softplus": lambda z, a: sig(z),
    "silu": lambda z, a: sig(z) * (1 + z * (1 - sig(z))),
    "step": lambda z, a: np.zeros_like(z),
}


def softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


BUGS = ("transposed_dW", "missing_1_over_N", "wrong_axis", "missing_prime", "wrong_act",
        "s1s_of_z", "off_by_one", "prime_wrong_layer", "missing_prime_top", "extra_prime")


def make(acts, loss, layout, style="plain", bug=None, alphas=None, dtype=None):
    """A backward pass func(params, X, T) for the net with `acts` (one per layer)."""
    L = len(acts)
    col = layout == "column"
    alphas = alphas or [A if a == "leaky_relu" else 1.0 for a in acts]
    bax = 1 if col else 0  # the batch axis
    bugs = set(bug) if isinstance(bug, tuple) else {bug}  # two slips at once: a tuple

    def mm(a, b):
        if style == "einsum":
            return np.einsum("ij,jk->ik", a, b)
        return a @ b

    def func(params, X, T):
        if dtype is not None:
            params = {k: v.astype(dtype) for k, v in params.items()}
            X = X.astype(dtype)
            if T.ndim == 2:
                T = T.astype(dtype)
        N = X.shape[bax]
        nL = params[f"W{L}"].shape[0 if col else 1]
        if T.ndim == 1:  # labels
            if nL == 1:
                T = T.reshape(1, -1) if col else T.reshape(-1, 1)
                T = T.astype(X.dtype)
            else:
                oh = np.zeros((nL, N) if col else (N, nL), dtype=X.dtype)
                if col:
                    oh[T, np.arange(N)] = 1
                else:
                    oh[np.arange(N), T] = 1
                T = oh
        R, G = [X], [None]
        for l in range(1, L + 1):
            W, B = params[f"W{l}"], params[f"B{l}"]
            g = mm(W, R[-1]) + B if col else mm(R[-1], W) + B
            G.append(g)
            if acts[l - 1] == "softmax":
                R.append(softmax(g, 0 if col else 1))
            else:
                R.append(F[acts[l - 1]](g, alphas[l - 1]))
        P = R[-1]
        base, _, red = loss.partition("@")
        mean = red != "sum"
        if base in ("cross_entropy", "binary_cross_entropy"):
            D = P - T
            if mean:
                D = D / (N if base == "cross_entropy" else N * nL)
            if "extra_prime" in bugs:
                D = D * (P * (1 - P))
        else:
            fp = FP[acts[-1]](G[-1], alphas[-1])
            if "missing_prime_top" in bugs:
                fp = 1.0
            D = {"mse": 2 * (P - T) / (N * nL), "half_sse": P - T, "sse": 2 * (P - T)}[base] * fp
        if "missing_1_over_N" in bugs:
            D = D * N
        grads = {}
        for l in range(L, 0, -1):
            Rp = R[l - 1]
            if "off_by_one" in bugs and l == 2:
                Rp = R[l]
            if style == "loop":
                dW = np.zeros(params[f"W{l}"].shape, dtype=D.dtype)
                for i in range(N):
                    d_i, r_i = (D[:, i], Rp[:, i]) if col else (D[i], Rp[i])
                    dW += np.outer(d_i, r_i) if col else np.outer(r_i, d_i)
            elif style == "einsum":
                dW = np.einsum("in,jn->ij", D, Rp) if col else np.einsum("ni,nj->ij", Rp, D)
            else:
                dW = D @ Rp.T if col else Rp.T @ D
            dB = D.sum(axis=bax, keepdims=True) if col else D.sum(axis=0)
            if "transposed_dW" in bugs and l == 1:
                dW = dW.T
            if "wrong_axis" in bugs and l == L:
                dB = D.sum(axis=0, keepdims=True).T if col else D.sum(axis=1)
            grads[f"W{l}"], grads[f"B{l}"] = dW, dB
            if l > 1:
                back = mm(params[f"W{l}"].T, D) if col else mm(D, params[f"W{l}"].T)
                a, z, _r = acts[l - 2], G[l - 1], R[l - 1]
                p = FP[a](z, alphas[l - 2])
                if "missing_prime" in bugs and l == 2:
                    p = 1.0
                if "wrong_act" in bugs and l == 2:
                    p = 1 - np.tanh(z) ** 2 if a != "tanh" else sig(z) * (1 - sig(z))
                if "prime_wrong_layer" in bugs and l == 2:
                    p = FP[a](G[l], alphas[l - 2])
                if "s1s_of_z" in bugs and l == 2:
                    p = z * (1 - z)
                D = back * p
        if style == "list":
            return [grads[f"{k}{l}"] for l in range(1, L + 1) for k in "WB"]
        if style == "inplace":
            out = {k: np.zeros_like(v) for k, v in params.items()}
            for k in out:
                out[k] += grads[k]
            return out
        return grads

    return func


class TransposedMLP:
    """A class built from the layer sizes that stores every weight transposed from the layout
    (``self.W[l]`` of shape (n_{l-1}, n_l) for the column layout) and flat biases; set `acts`,
    `loss` and `layout` on a subclass."""

    acts, loss, layout = ("tanh", "identity"), "mse", "column"

    def __init__(self, sizes):
        col = self.layout == "column"
        self.W = [np.zeros((m, n) if col else (n, m)) for m, n in itertools.pairwise(sizes)]
        self.b = [np.zeros(n) for n in sizes[1:]]

    def gradients(self, X, T):
        col = self.layout == "column"
        params = {}
        for l, (w, b) in enumerate(zip(self.W, self.b), start=1):
            params[f"W{l}"] = w.T
            params[f"B{l}"] = b.reshape(-1, 1) if col else b
        g = make(list(self.acts), self.loss, self.layout)(params, X, T)
        return {k: (v.T if k[0] == "W" else v.reshape(-1)) for k, v in g.items()}
