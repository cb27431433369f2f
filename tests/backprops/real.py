"""Backward passes shaped like real from-scratch code (written for the tests, not copied).

Each case comes right and with one bug; `tests/test_check_real.py` judges each with `check`,
with no adapter, and compares the verdicts with finite differences of a loss written there.

- `Network` / `BuggyNetwork`: per-sample class with lists of weights and biases, built as
  ``Network([4, 5, 3])``; ``backprop(x, y)`` takes one column and returns ``(nabla_b, nabla_w)``;
  the quadratic cost's derivative a - y (``half_sse``).
- `TwoLayerNet` / `BuggyTwoLayerNet`: a classifier built as ``TwoLayerNet(5, 6, 4)`` with a
  ``self.params`` dict (W1 of shape (D, H), b1 of shape (H,)); ``loss(X, y)`` takes integer
  labels and returns ``(loss, grads)``; softmax + mean cross-entropy (row layout).
- `grads_tuple` / `grads_tuple_buggy`: a function of named arrays returning
  ``dW1, db1, dW2, db2`` (row layout, tanh, mean squared error).
"""

import itertools

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1 - s)


# ----------------------------------------------------------------------- per-sample, lists


class Network:
    def __init__(self, sizes):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(n, 1) for n in sizes[1:]]
        self.weights = [np.random.randn(n, m) for m, n in itertools.pairwise(sizes)]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(w @ a + b)
        return a

    def output_error(self, a, y, z):
        return (a - y) * sigmoid_prime(z)

    def hidden_prime(self, z, a):
        return sigmoid_prime(z)

    def backprop(self, x, y):
        grad_b = [np.zeros(b.shape) for b in self.biases]
        grad_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.output_error(activations[-1], y, zs[-1])
        grad_b[-1] = delta
        grad_w[-1] = np.dot(delta, activations[-2].transpose())
        for k in range(2, self.num_layers):
            sp = self.hidden_prime(zs[-k], activations[-k])
            delta = np.dot(self.weights[-k + 1].transpose(), delta) * sp
            grad_b[-k] = delta
            grad_w[-k] = np.dot(delta, activations[-k - 1].transpose())
        return (grad_b, grad_w)


class BuggyNetwork(Network):
    """The hidden layers' sigmoid' taken at the activation a instead of at z."""

    def hidden_prime(self, z, a):
        return sigmoid_prime(a)


class CrossEntropyNetwork(Network):
    """Cross-entropy cost summed over the output units: delta = a - y (no sigmoid')."""

    def output_error(self, a, y, z):
        return a - y


class BuggyCrossEntropyNetwork(CrossEntropyNetwork):
    """Keeps the quadratic cost's sigmoid' in the output error."""

    def output_error(self, a, y, z):
        return (a - y) * sigmoid_prime(z)


# ----------------------------------------------------------------------- classifier, params dict


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        self.params = {
            "W1": std * np.random.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": std * np.random.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }

    def hidden_bias_grad(self, dhidden, X):
        return np.sum(dhidden, axis=0)

    def loss(self, X, y=None, reg=0.0):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        N, _D = X.shape
        hidden = np.maximum(0, X.dot(W1) + b1)
        scores = hidden.dot(W2) + b2
        if y is None:
            return scores
        shifted = scores - np.max(scores, axis=1, keepdims=True)
        exp = np.exp(shifted)
        probs = exp / np.sum(exp, axis=1, keepdims=True)
        loss = -np.mean(np.log(probs[np.arange(N), y]))
        loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        grads = {}
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads["W2"] = hidden.T.dot(dscores) + 2 * reg * W2
        grads["b2"] = np.sum(dscores, axis=0)
        dhidden = dscores.dot(W2.T)
        dhidden[hidden <= 0] = 0
        grads["W1"] = self.weight_grad(X, dhidden) + 2 * reg * W1
        grads["b1"] = self.hidden_bias_grad(dhidden, X)
        return loss, grads

    def weight_grad(self, X, dhidden):
        return X.T.dot(dhidden)


class BuggyTwoLayerNet(TwoLayerNet):
    """Inputs 2 and 3 were rescaled in a cached copy of X that the gradient uses."""

    def weight_grad(self, X, dhidden):
        cached = X.copy()
        cached[:, 2:4] *= 0.5
        return cached.T.dot(dhidden)


class WrongAxisTwoLayerNet(TwoLayerNet):
    """The hidden bias gradient summed over the units instead of the batch."""

    def hidden_bias_grad(self, dhidden, X):
        return np.sum(dhidden, axis=1)


# ----------------------------------------------------------------------- function of named arrays


def _tuple(X, Y, W1, b1, W2, b2, prime):
    N, n_out = Y.shape
    Z1 = X @ W1 + b1
    A1 = np.tanh(Z1)
    A2 = A1 @ W2 + b2
    dZ2 = 2 * (A2 - Y) / (N * n_out)
    dW2 = A1.T @ dZ2
    db2 = dZ2.sum(axis=0)
    dZ1 = (dZ2 @ W2.T) * prime(A1)
    dW1 = X.T @ dZ1
    db1 = dZ1.sum(axis=0)
    return dW1, db1, dW2, db2


def grads_tuple(X, Y, W1, b1, W2, b2):
    return _tuple(X, Y, W1, b1, W2, b2, lambda a: 1 - a**2)


def grads_tuple_buggy(X, Y, W1, b1, W2, b2):
    """Leaves out tanh'."""
    return _tuple(X, Y, W1, b1, W2, b2, lambda a: 1.0)


# ----------------------------------------------------------------------- bias-free, summed squares


def bias_free(X, Y, W1, W2):
    """No biases; the loss is the plain sum of squared errors (column layout)."""
    H = sigmoid(W1 @ X)
    P = W2 @ H
    dP = 2 * (P - Y)
    dW2 = dP @ H.T
    dH = (W2.T @ dP) * H * (1 - H)
    dW1 = dH @ X.T
    return dW1, dW2


def bias_free_halved(X, Y, W1, W2):
    """The half_sse convention (P - Y) where the sum of squares needs 2 (P - Y)."""
    dW1, dW2 = bias_free(X, Y, W1, W2)
    return dW1 / 2, dW2 / 2
