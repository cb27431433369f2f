"""Layer functions in the style of course homework: NAME_forward(x, ...) -> (out, cache),
NAME_backward(dout, cache) -> dx or (dx, dw, db) / (dx, dgamma, dbeta); loss(x, y) -> (loss, dx).

Written for gradscribe's tests (their own formulas, not gradscribe's registry). LAYER_DTYPE
in the environment (float32 or float64) sets the precision they compute in.
"""

import os

import numpy as np

DTYPE = np.dtype(os.environ.get("LAYER_DTYPE", "float64"))


def _a(v):
    return np.asarray(v, dtype=DTYPE)


# ----------------------------------------------------------------------------- affine
def affine_forward(x, w, b):
    x, w, b = _a(x), _a(w), _a(b)
    out = x.reshape(x.shape[0], -1).dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dout = _a(dout)
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


# ----------------------------------------------------------------------------- activations
def relu_forward(x):
    x = _a(x)
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    x = cache
    dx = _a(dout).copy()
    dx[x <= 0] = 0
    return dx


def leaky_relu_forward(x, alpha=0.01):
    x = _a(x)
    return np.where(x > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout, cache):
    x, alpha = cache
    return _a(dout) * np.where(x > 0, 1.0, alpha).astype(DTYPE)


def elu_forward(x, alpha=1.0):
    x = _a(x)
    out = np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1))
    return out, (x, out, alpha)


def elu_backward(dout, cache):
    x, out, alpha = cache
    return _a(dout) * np.where(x > 0, 1.0, out + alpha).astype(DTYPE)


def sigmoid_forward(x):
    x = _a(x)
    out = 1 / (1 + np.exp(-x))
    return out, out


def sigmoid_backward(dout, cache):
    s = cache
    return _a(dout) * s * (1 - s)


def tanh_forward(x):
    out = np.tanh(_a(x))
    return out, out


def tanh_backward(dout, cache):
    return _a(dout) * (1 - cache**2)


def softplus_forward(x):
    x = _a(x)
    return np.logaddexp(0, x).astype(DTYPE), x


def softplus_backward(dout, cache):
    return _a(dout) / (1 + np.exp(-cache))


def silu_forward(x):
    x = _a(x)
    s = 1 / (1 + np.exp(-x))
    return x * s, (x, s)


def silu_backward(dout, cache):
    x, s = cache
    return _a(dout) * (s + x * s * (1 - s))


def step_forward(x):
    x = _a(x)
    return (x > 0).astype(DTYPE), x


def step_backward(dout, cache):
    return np.zeros_like(_a(dout))


def identity_forward(x):
    return _a(x), None


def identity_backward(dout, cache):
    return _a(dout)


# ----------------------------------------------------------------------------- batch norm
def batchnorm_forward(x, gamma, beta, bn_param):
    x, gamma, beta = _a(x), _a(gamma), _a(beta)
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=0)
    xmu = x - mu
    var = np.mean(xmu**2, axis=0)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    return out, (xhat, gamma, xmu, ivar, sqrtvar, var, eps)


def batchnorm_backward(dout, cache):
    """The staged computation graph, one node at a time."""
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    dout = _a(dout)
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1 / sqrtvar**2 * divar
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
    dsq = np.ones_like(dout) / n * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -np.sum(dx1, axis=0)
    dx2 = np.ones_like(dout) / n * dmu
    return dx1 + dx2, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The simplified form, one line for dx."""
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    dout = _a(dout)
    n = dout.shape[0]
    dgamma = (dout * xhat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dxhat = dout * gamma
    dx = ivar / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


# ----------------------------------------------------------------------------- dropout
def dropout_forward(x, dropout_param):
    """Inverted dropout: p is the probability of dropping a unit."""
    x = _a(x)
    p = dropout_param["p"]
    rng = np.random.default_rng(dropout_param.get("seed"))
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask.astype(DTYPE), (dropout_param, mask.astype(DTYPE))


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return _a(dout) * mask


# ----------------------------------------------------------------------------- losses
def softmax_loss(x, y):
    x = _a(x)
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    probs = np.exp(log_probs)
    n = x.shape[0]
    loss = -np.sum(log_probs[np.arange(n), y]) / n
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    dx /= n
    return loss, dx


def sigmoid_cross_entropy_loss(x, y):
    x, y = _a(x), _a(y)
    p = 1 / (1 + np.exp(-x))
    loss = np.mean(np.logaddexp(0, x) - y * x)
    return loss, (p - y) / x.size


def mse_loss(x, y):
    x, y = _a(x), _a(y)
    diff = x - y
    return np.mean(diff**2), 2 * diff / x.size


def half_sse_loss(x, y):
    diff = _a(x) - _a(y)
    return 0.5 * np.sum(diff**2), diff


def sse_loss(x, y):
    diff = _a(x) - _a(y)
    return np.sum(diff**2), 2 * diff
