"""Backward passes shaped like course and textbook code, written for gradscribe's tests.

Row layout (``x @ W + b``), softmax + cross-entropy unless a class says otherwise:
- layer objects that hold references to the arrays in ``self.params`` (an OrderedDict of
  Affine / Relu / Sigmoid layers and a SoftmaxWithLoss), a two-layer net
  ``TwoLayerNet(input_size, hidden_size, output_size)`` and a multi-layer one
  ``MultiLayerNet(input_size, hidden_size_list, output_size, weight_decay_lambda=0)``;
- a course-assignment classifier ``FullyConnectedNet(hidden_dims, input_dim=..., num_classes=...,
  reg=0.0)`` whose ``loss(X, y)`` takes integer labels and returns ``(loss, grads)``;
- ``HiddenOnly(num_hidden)`` with input and output widths fixed in the class;
- functions of a params dict read with lower-case keys, with an L2 term, with slips.

Every loss here is computed too (``loss``), so the tests can compare with finite differences.
"""

from collections import OrderedDict

import numpy as np

# ------------------------------------------------------------------------------ layers


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.x = self.dW = self.db = None

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout = dout.copy()
        dout[self.mask] = 0
        return dout


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class Tanh:
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1 - self.out ** 2)


def softmax(a):
    a = a - a.max(axis=1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


class SoftmaxWithLoss:
    """Targets as one row per sample (one-hot or soft) or as integer labels."""

    def forward(self, x, t):
        self.t, self.y = t, softmax(x)
        n = x.shape[0]
        if t.ndim == 1:
            return -np.sum(np.log(self.y[np.arange(n), t])) / n
        return -np.sum(t * np.log(self.y)) / n

    def backward(self, dout=1):
        n = self.t.shape[0]
        if self.t.ndim == 1:
            dx = self.y.copy()
            dx[np.arange(n), self.t] -= 1
            return dx * dout / n
        return (self.y - self.t) * dout / n


ACTIVATION_LAYERS = {"relu": Relu, "sigmoid": Sigmoid, "tanh": Tanh}

# ------------------------------------------------------------------------------ networks of layers


class TwoLayerNet:
    """Layers built on the arrays of self.params: the layers see every change to them."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {
            "W1": weight_init_std * np.random.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * np.random.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.lastLayer.forward(self.predict(x), t)

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        return {"W1": self.layers["Affine1"].dW, "b1": self.layers["Affine1"].db,
                "W2": self.layers["Affine2"].dW, "b2": self.layers["Affine2"].db}


class SgdInside(TwoLayerNet):
    """Takes a training step inside its backward pass (the gradients it returns are right)."""

    def train_step(self, x, t, lr=0.1):
        grads = self.gradient(x, t)
        for key in ("W1", "b1", "W2", "b2"):
            self.params[key] -= lr * grads[key]
        return grads


class MultiLayerNet:
    """Any number of hidden layers; an L2 penalty ½λΣW² when weight_decay_lambda is set."""

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std=0.01, weight_decay_lambda=0):
        sizes = [input_size] + list(hidden_size_list) + [output_size]
        self.hidden_layer_num = len(hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.params = {}
        for i in range(1, len(sizes)):
            self.params[f"W{i}"] = weight_init_std * np.random.randn(sizes[i - 1], sizes[i])
            self.params[f"b{i}"] = np.zeros(sizes[i])
        self.layers = OrderedDict()
        for i in range(1, len(sizes)):
            self.layers[f"Affine{i}"] = Affine(self.params[f"W{i}"], self.params[f"b{i}"])
            if i < len(sizes) - 1:
                self.layers[f"Activation{i}"] = ACTIVATION_LAYERS[activation]()
        self.last_layer = SoftmaxWithLoss()

    def loss(self, x, t):
        for layer in self.layers.values():
            x = layer.forward(x)
        decay = sum(0.5 * self.weight_decay_lambda * np.sum(self.params[f"W{i}"] ** 2)
                    for i in range(1, self.hidden_layer_num + 2))
        return self.last_layer.forward(x, t) + decay

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for i in range(1, self.hidden_layer_num + 2):
            layer = self.layers[f"Affine{i}"]
            grads[f"W{i}"] = layer.dW + self.weight_decay_lambda * layer.W
            grads[f"b{i}"] = layer.db
        return grads


class MultiLayerNetDecay(MultiLayerNet):
    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std=0.01, weight_decay_lambda=0.1):
        super().__init__(input_size, hidden_size_list, output_size, activation, weight_init_std,
                         weight_decay_lambda)


# ------------------------------------------------------------------------------ a course classifier


class FullyConnectedNet:
    """Integer labels y; loss(X, y) -> (loss, grads); an L2 penalty 0.5 * reg * ΣW²."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, reg=0.0,
                 weight_scale=1e-2, dtype=np.float64):
        self.reg, self.dtype = reg, dtype
        self.num_layers = 1 + len(hidden_dims)
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        self.params = {}
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = (weight_scale * np.random.randn(dims[i], dims[i + 1])).astype(dtype)
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1], dtype=dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        caches, h = [], X
        for i in range(1, self.num_layers + 1):
            z = h @ self.params[f"W{i}"] + self.params[f"b{i}"]
            caches.append((h, z))
            h = np.maximum(z, 0) if i < self.num_layers else z
        scores = h
        if y is None:
            return scores
        n = X.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(n), y].mean()
        dscores = np.exp(log_probs)
        dscores[np.arange(n), y] -= 1
        dscores /= n
        grads, dout = {}, dscores
        for i in range(self.num_layers, 0, -1):
            h, z = caches[i - 1]
            if i < self.num_layers:
                dout = dout * (z > 0)
            W = self.params[f"W{i}"]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads[f"W{i}"] = h.T @ dout + self.reg * W
            grads[f"b{i}"] = dout.sum(axis=0)
            dout = dout @ W.T
        return loss, grads


class FullyConnectedNet32(FullyConnectedNet):
    """The same, held and computed in float32 (as course code often is)."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, reg=0.0,
                 weight_scale=1e-2, dtype=np.float32):
        super().__init__(hidden_dims, input_dim, num_classes, reg, weight_scale, dtype)


class Regularized(FullyConnectedNet):
    """The same classifier with reg = 0.1 by default."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, reg=0.1):
        super().__init__(hidden_dims, input_dim, num_classes, reg)


class HiddenOnly:
    """Input and output widths fixed in the class (3 and 2): built from num_hidden alone."""

    def __init__(self, num_hidden):
        self.W1 = np.random.randn(3, num_hidden)
        self.b1 = np.zeros(num_hidden)
        self.W2 = np.random.randn(num_hidden, 2)
        self.b2 = np.zeros(2)

    def backprop(self, X, T):
        Z1 = X @ self.W1 + self.b1
        H = np.tanh(Z1)
        P = softmax(H @ self.W2 + self.b2)
        d2 = (P - T) / X.shape[0]
        d1 = (d2 @ self.W2.T) * (1 - H ** 2)
        return {"W1": X.T @ d1, "b1": d1.sum(axis=0), "W2": H.T @ d2, "b2": d2.sum(axis=0)}


# ------------------------------------------------------------------------------ functions of a dict


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lower_case_keys(params, X, T):
    """2 sigmoid layers, half_sse, the dict read as w1/b1/w2/b2."""
    w1, b1, w2, b2 = params["w1"], params["b1"], params["w2"], params["b2"]
    h = sigmoid(X @ w1 + b1)
    p = sigmoid(h @ w2 + b2)
    d2 = (p - T) * p * (1 - p)
    d1 = (d2 @ w2.T) * h * (1 - h)
    return {"dw1": X.T @ d1, "db1": d1.sum(axis=0), "dw2": h.T @ d2, "db2": d2.sum(axis=0)}


def underscored_keys(params, X, T):
    """The same network and loss, the dict read as W_1 / b_1 with .get."""
    h = sigmoid(X @ params.get("W_1") + params.get("b_1"))
    p = sigmoid(h @ params.get("W_2") + params.get("b_2"))
    d2 = (p - T) * p * (1 - p)
    d1 = (d2 @ params["W_2"].T) * h * (1 - h)
    return {"W1": X.T @ d1, "b1": d1.sum(axis=0), "W2": h.T @ d2, "b2": d2.sum(axis=0)}


def _relu_softmax(params, X, y):
    z1 = X @ params["W1"] + params["b1"]
    h = np.maximum(z1, 0)
    probs = softmax(h @ params["W2"] + params["b2"])
    n = X.shape[0]
    d2 = probs.copy()
    d2[np.arange(n), y] -= 1
    return z1, h, d2 / n


def l2_loss(params, X, y, reg=0.1):
    """Integer labels, relu then softmax, loss + reg * ΣW² (so dW gains 2 reg W)."""
    z1, h, d2 = _relu_softmax(params, X, y)
    d1 = (d2 @ params["W2"].T) * (z1 > 0)
    return {"W1": X.T @ d1 + 2 * reg * params["W1"], "b1": d1.sum(axis=0),
            "W2": h.T @ d2 + 2 * reg * params["W2"], "b2": d2.sum(axis=0)}


def classifier(params, X, y):
    """Indexes the probabilities with y: needs integer labels."""
    z1, h, d2 = _relu_softmax(params, X, y)
    d1 = (d2 @ params["W2"].T) * (z1 > 0)
    return {"W1": X.T @ d1, "b1": d1.sum(axis=0), "W2": h.T @ d2, "b2": d2.sum(axis=0)}


def column_code(params, X, T):
    """Column-layout code (W @ X), 2 tanh layers and mse."""
    h = np.tanh(params["W1"] @ X + params["B1"])
    p = params["W2"] @ h + params["B2"]
    d2 = 2 * (p - T) / p.size
    d1 = (params["W2"].T @ d2) * (1 - h ** 2)
    return {"W1": d1 @ X.T, "B1": d1.sum(axis=1, keepdims=True),
            "W2": d2 @ h.T, "B2": d2.sum(axis=1, keepdims=True)}


# ------------------------------------------------------------------------------ two slips at once


def three_layers(params, X, T, slip1=False, slip2=False, bias_slip=False):
    """3 sigmoid layers, half_sse, row layout. slip2: layer 2's δ is off (δ3 · W3ᵀ without
    sigmoid'(G2) and doubled); slip1: layer 1 also leaves out its own sigmoid'(G1);
    bias_slip: dB3 = P - T, neither summed over the batch nor times sigmoid'(G3)."""
    h1 = sigmoid(X @ params["W1"] + params["b1"])
    h2 = sigmoid(h1 @ params["W2"] + params["b2"])
    p = sigmoid(h2 @ params["W3"] + params["b3"])
    d3 = (p - T) * p * (1 - p)
    d2 = (d3 @ params["W3"].T) * (2.0 if slip2 else h2 * (1 - h2))
    d1 = (d2 @ params["W2"].T) * (1.0 if slip1 else h1 * (1 - h1))
    return {"W1": X.T @ d1, "b1": d1.sum(axis=0), "W2": h1.T @ d2, "b2": d2.sum(axis=0),
            "W3": h2.T @ d3, "b3": (p - T) if bias_slip else d3.sum(axis=0)}


def missing_prime_and_inherited(params, X, T):
    """Layer 2 leaves out sigmoid'(G2) (an error layer 1 inherits), and layer 1 leaves out
    sigmoid'(G1) as well."""
    h1 = sigmoid(X @ params["W1"] + params["b1"])
    h2 = sigmoid(h1 @ params["W2"] + params["b2"])
    p = sigmoid(h2 @ params["W3"] + params["b3"])
    d3 = (p - T) * p * (1 - p)
    d2 = d3 @ params["W3"].T
    d1 = d2 @ params["W2"].T
    return {"W1": X.T @ d1, "b1": d1.sum(axis=0), "W2": h1.T @ d2, "b2": d2.sum(axis=0),
            "W3": h2.T @ d3, "b3": d3.sum(axis=0)}


def bias_unsummed_and_missing_prime(params, X, T):
    """2 layers, sigmoid output under half_sse; dB2 = P - T (not summed over the batch and
    missing sigmoid'(G2)), everything else right."""
    h = np.tanh(X @ params["W1"] + params["b1"])
    p = sigmoid(h @ params["W2"] + params["b2"])
    d2 = (p - T) * p * (1 - p)
    d1 = (d2 @ params["W2"].T) * (1 - h ** 2)
    return {"W1": X.T @ d1, "b1": d1.sum(axis=0), "W2": h.T @ d2, "b2": p - T}


def cross_entropy_delta(params, X, T):
    """2 layers, sigmoid output, δ = P - T: the δ of a summed binary cross-entropy."""
    h = np.tanh(X @ params["W1"] + params["b1"])
    p = sigmoid(h @ params["W2"] + params["b2"])
    d2 = p - T
    d1 = (d2 @ params["W2"].T) * (1 - h ** 2)
    return {"W1": X.T @ d1, "b1": d1.sum(axis=0), "W2": h.T @ d2, "b2": d2.sum(axis=0)}


def odd_top_and_own_slip(params, X, T):
    """3 tanh layers and mse (row): an output δ no modelled slip explains, right steps below it,
    except that layer 1 leaves out its own tanh'(G1)."""
    h1 = np.tanh(X @ params["W1"] + params["b1"])
    h2 = np.tanh(h1 @ params["W2"] + params["b2"])
    p = h2 @ params["W3"] + params["b3"]
    d3 = 2 * (p - T) / p.size + 0.1 * np.cos(3 * p) / len(X)
    d2 = (d3 @ params["W3"].T) * (1 - h2 ** 2)
    d1 = d2 @ params["W2"].T
    return {"W1": X.T @ d1, "b1": d1.sum(axis=0), "W2": h1.T @ d2, "b2": d2.sum(axis=0),
            "W3": h2.T @ d3, "b3": d3.sum(axis=0)}
