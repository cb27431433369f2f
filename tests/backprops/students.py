"""Per-sample and batch backward passes named and called the ways course and student code does.

Written for the tests (not copied), each right and with one bug. `tests/test_per_sample.py`
checks that `check` tells code for one sample (to be called per sample and added up or
averaged) from batch code by what it does, whatever its data is called.

- `Nielsen.backprop(self, a, y)`: Nielsen's per-sample class, its input named ``a``
  (half_sse, sigmoid layers, column); the bug: the hidden layer's sigmoid' left out.
- `one_column(params, X, T)`: per-sample column code for the mean squared error, named like a
  batch; the bug: tanh' taken as 1 - z**2 of the pre-activation.
- `one_image(W1, b1, W2, b2, img, label)`: row code for one image as a vector ``X[i]`` with a
  scalar class label (softmax + cross-entropy); np.outer products; the bug: dW2 transposed.
- `positional(W1, b1, W2, b2, x, y, /)`: positional-only, per sample.
- `pair(params, example)` / `batch_pair(params, batch)`: the data as one ``(x, y)`` tuple,
  per sample and for a batch.
- `fastai_style(params, xb, yb)`, `torch_style(params, x, y)` (row, lowercase x for a batch),
  `inputs_targets(params, inputs, targets)`: batch code, right and with the bias gradient not
  summed over the batch.
"""

import itertools

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------- per sample: column, half_sse


class Nielsen:
    def __init__(self, sizes):
        self.sizes = sizes
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in itertools.pairwise(sizes)]

    def hidden_prime(self, z):
        s = sigmoid(z)
        return s * (1 - s)

    def backprop(self, a, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activations, zs = [a], []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activations[-1]) + b
            zs.append(z)
            activations.append(sigmoid(z))
        delta = (activations[-1] - y) * sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].T)
        for k in range(2, len(self.sizes)):
            delta = np.dot(self.weights[-k + 1].T, delta) * self.hidden_prime(zs[-k])
            nabla_b[-k] = delta
            nabla_w[-k] = np.dot(delta, activations[-k - 1].T)
        return nabla_b, nabla_w


class BuggyNielsen(Nielsen):
    def hidden_prime(self, z):
        return 1.0  # the hidden sigmoid' forgotten


# ---------------------------------------------------------------- per sample: column, mse


def _one_column(params, X, T, prime):
    W1, b1, W2, b2 = params["W1"], params["B1"], params["W2"], params["B2"]
    z1 = W1 @ X + b1
    h = np.tanh(z1)
    out = W2 @ h + b2
    d2 = 2.0 * (out - T) / out.shape[0]  # the mean over the outputs of one sample
    d1 = (W2.T @ d2) * prime(z1, h)
    return {"W1": d1 @ X.T, "B1": d1, "W2": d2 @ h.T, "B2": d2}


def one_column(params, X, T):
    return _one_column(params, X, T, lambda z, h: 1 - h ** 2)


def one_column_buggy(params, X, T):
    return _one_column(params, X, T, lambda z, h: 1 - z ** 2)


# ---------------------------------------------------------------- per sample: row vectors, labels


def _one_image(W1, b1, W2, b2, img, label, transpose_dw2=False):
    h = np.maximum(img @ W1 + b1, 0.0)
    scores = h @ W2 + b2
    p = np.exp(scores - scores.max())
    p /= p.sum()
    dscores = p.copy()
    dscores[label] -= 1.0
    dh = (W2 @ dscores) * (h > 0)
    dW2 = np.outer(h, dscores)
    return {"W1": np.outer(img, dh), "b1": dh, "W2": dW2.T if transpose_dw2 else dW2,
            "b2": dscores}


def one_image(W1, b1, W2, b2, img, label):
    return _one_image(W1, b1, W2, b2, img, label)


def one_image_buggy(W1, b1, W2, b2, img, label):
    return _one_image(W1, b1, W2, b2, img, label, transpose_dw2=True)


# ---------------------------------------------------------------- positional-only, tuples


def positional(W1, b1, W2, b2, x, y, /):
    return one_column({"W1": W1, "B1": b1, "W2": W2, "B2": b2}, x, y)


def pair(params, example):
    x, y = example
    return one_column(params, x, y)


def pair_buggy(params, example):
    x, y = example
    return one_column_buggy(params, x, y)


def _batch(params, X, T, bias_sum=True):
    g = one_column(params, X, T)
    n = X.shape[1]
    out = {k: v / n for k, v in g.items()}
    if bias_sum:
        out["B1"] = out["B1"].sum(axis=1, keepdims=True)
        out["B2"] = out["B2"].sum(axis=1, keepdims=True)
    return out


def batch_pair(params, batch):
    X, T = batch
    return _batch(params, X, T)


# ---------------------------------------------------------------- batch code, lowercase names


def fastai_style(params, xb, yb):
    return _batch(params, xb, yb)


def fastai_style_no_bias_sum(params, xb, yb):
    return _batch(params, xb, yb, bias_sum=False)


def _torch_style(params, x, y, bias_sum=True):  # row layout, relu then identity, sse
    h_pre = x @ params["W1"] + params["B1"]
    h = np.maximum(h_pre, 0.0)
    out = h @ params["W2"] + params["B2"]
    d2 = 2.0 * (out - y)
    d1 = (d2 @ params["W2"].T) * (h_pre > 0)
    return {"W1": x.T @ d1, "B1": d1.sum(axis=0) if bias_sum else d1,
            "W2": h.T @ d2, "B2": d2.sum(axis=0) if bias_sum else d2}


def torch_style(params, x, y):
    return _torch_style(params, x, y)


def inputs_targets(params, inputs, targets):
    return _torch_style(params, inputs, targets)


def inputs_targets_no_bias_sum(params, inputs, targets):
    return _torch_style(params, inputs, targets, bias_sum=False)
