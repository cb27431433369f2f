"""Layer code with one slip each, the ones people make (written for gradscribe's tests).
Each backward is paired with the right forward of the same name."""

import numpy as np


# ----------------------------------------------------------------------------- affine
def _affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


affine_not_reshaped_forward = affine_dw_transposed_forward = _affine_forward
affine_db_not_summed_forward = affine_db_wrong_axis_forward = _affine_forward
affine_w_not_transposed_forward = affine_db_mean_forward = _affine_forward


def affine_not_reshaped_backward(dout, cache):
    x, w, b = cache
    x2 = x.reshape(x.shape[0], -1)
    return dout @ w.T, x2.T @ dout, dout.sum(axis=0)


def affine_dw_transposed_backward(dout, cache):
    x, w, b = cache
    x2 = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), dout.T @ x2, dout.sum(axis=0)


def affine_db_not_summed_backward(dout, cache):
    x, w, b = cache
    x2 = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), x2.T @ dout, dout


def affine_db_wrong_axis_backward(dout, cache):
    x, w, b = cache
    x2 = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), x2.T @ dout, dout.sum(axis=1)


def affine_db_mean_backward(dout, cache):
    x, w, b = cache
    x2 = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), x2.T @ dout, dout.mean(axis=0)


def affine_w_not_transposed_backward(dout, cache):
    x, w, b = cache
    x2 = x.reshape(x.shape[0], -1)
    return (dout @ w).reshape(x.shape), x2.T @ dout, dout.sum(axis=0)


# ----------------------------------------------------------------------------- activations
def relu_forward(x):
    out = np.maximum(x, 0)
    return out, out


def relu_out_mask_backward(dout, cache):
    """The mask taken on the output with >=, which holds everywhere."""
    out = cache
    return dout * (out >= 0)


relu_out_mask_forward = relu_dout_mask_forward = relu_forward


def relu_dout_mask_backward(dout, cache):
    return dout * (dout > 0)


def sigmoid_forward(x):
    s = 1 / (1 + np.exp(-x))
    return s, (x, s)


sigmoid_on_input_forward = sigmoid_forward


def sigmoid_on_input_backward(dout, cache):
    x, s = cache
    return dout * x * (1 - x)


def tanh_forward(x):
    return np.tanh(x), x


tanh_missing_forward = tanh_forward


def tanh_missing_backward(dout, cache):
    return dout


# ----------------------------------------------------------------------------- dropout
def dropout_forward(x, dropout_param):
    p = dropout_param["p"]
    keep = np.random.rand(*x.shape) >= p
    return x * keep / (1 - p), (keep, p)


dropout_unmasked_forward = dropout_unscaled_forward = dropout_forward


def dropout_unmasked_backward(dout, cache):
    keep, p = cache
    return dout / (1 - p)


def dropout_unscaled_backward(dout, cache):
    keep, p = cache
    return dout * keep


# ----------------------------------------------------------------------------- losses
def softmax_loss_not_divided(x, y):
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    n = x.shape[0]
    dx = p.copy()
    dx[np.arange(n), y] -= 1
    return -np.log(p[np.arange(n), y]).mean(), dx


def softmax_loss_on_scores(x, y):
    n = x.shape[0]
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dx = x.copy()
    dx[np.arange(n), y] -= 1
    return -np.log(p[np.arange(n), y]).mean(), dx / n


# ----------------------------------------------------------------------------- batch norm
def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param["eps"]
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (x, xhat, gamma, var, eps)


batchnorm_no_gamma_forward = batchnorm_naive_forward = batchnorm_forward
batchnorm_dgamma_axis_forward = batchnorm_dgamma_x_forward = batchnorm_forward


def _right(dout, cache, use_gamma=True):
    x, xhat, gamma, var, eps = cache
    n = dout.shape[0]
    dxhat = dout * gamma if use_gamma else dout
    dx = (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (n * np.sqrt(var + eps))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_no_gamma_backward(dout, cache):
    return _right(dout, cache, use_gamma=False)


def batchnorm_naive_backward(dout, cache):
    x, xhat, gamma, var, eps = cache
    dx, dgamma, dbeta = _right(dout, cache)
    return gamma * dout / np.sqrt(var + eps), dgamma, dbeta


def batchnorm_dgamma_axis_backward(dout, cache):
    x, xhat, gamma, var, eps = cache
    dx, dgamma, dbeta = _right(dout, cache)
    return dx, (dout * xhat).sum(axis=1), dout.sum(axis=1)


def batchnorm_dgamma_x_backward(dout, cache):
    x, xhat, gamma, var, eps = cache
    dx, dgamma, dbeta = _right(dout, cache)
    return dx, (dout * x).sum(axis=0), dbeta


# ----------------------------------------------------------------------------- a class
class AffineTransposedDW:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = dout.T @ self.x
        self.db = dout.sum(axis=0)
        return dout @ self.W.T
