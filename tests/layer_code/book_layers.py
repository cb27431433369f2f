"""Layer classes in the style of the book most Korean learners use: built with their
parameters, forward(x[, train_flg]) and backward(dout), gradients kept as attributes.

Written for gradscribe's tests. LAYER_DTYPE (float32 / float64) sets the precision, LAYER_EPS
batch norm's epsilon (the book writes 10e-7).
"""

import os

import numpy as np

DTYPE = np.dtype(os.environ.get("LAYER_DTYPE", "float64"))
EPS = float(os.environ.get("LAYER_EPS", "10e-7"))


def _a(v):
    return np.asarray(v, dtype=DTYPE)


class Affine:
    def __init__(self, W, b):
        self.W, self.b = _a(W), _a(b)
        self.x = self.original_x_shape = None
        self.dW = self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        x = _a(x).reshape(x.shape[0], -1)
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        dout = _a(dout)
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(*self.original_x_shape)


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = _a(x).copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout = _a(dout)
        dout[self.mask] = 0
        return dout


class LeakyRelu:
    def __init__(self, alpha=0.01):
        self.alpha = alpha

    def forward(self, x):
        self.slope = np.where(x > 0, 1.0, self.alpha).astype(DTYPE)
        return _a(x) * self.slope

    def backward(self, dout):
        return _a(dout) * self.slope


class Elu:
    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, x):
        x = _a(x)
        self.x = x
        self.out = np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))
        return self.out

    def backward(self, dout):
        return _a(dout) * np.where(self.x > 0, 1.0, self.alpha * np.exp(np.minimum(self.x, 0)))


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-_a(x)))
        return self.out

    def backward(self, dout):
        return _a(dout) * (1.0 - self.out) * self.out


class Tanh:
    def forward(self, x):
        self.out = np.tanh(_a(x))
        return self.out

    def backward(self, dout):
        return _a(dout) * (1 - self.out * self.out)


class Softplus:
    def forward(self, x):
        self.x = _a(x)
        return np.log1p(np.exp(-np.abs(self.x))) + np.maximum(self.x, 0)

    def backward(self, dout):
        return _a(dout) * (0.5 * (1 + np.tanh(0.5 * self.x)))


class Silu:
    def forward(self, x):
        self.x = _a(x)
        self.s = 1 / (1 + np.exp(-self.x))
        return self.x * self.s

    def backward(self, dout):
        return _a(dout) * self.s * (1 + self.x * (1 - self.s))


class Step:
    def forward(self, x):
        return np.array(_a(x) > 0, dtype=DTYPE)

    def backward(self, dout):
        return 0 * _a(dout)


class Identity:
    def forward(self, x):
        return _a(x)

    def backward(self, dout):
        return _a(dout)


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta = _a(gamma), _a(beta)
        self.momentum = momentum
        self.running_mean, self.running_var = running_mean, running_var
        self.dgamma = self.dbeta = None

    def forward(self, x, train_flg=True):
        x = _a(x)
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1], dtype=DTYPE)
            self.running_var = np.zeros(x.shape[1], dtype=DTYPE)
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            std = np.sqrt(var + EPS)
            xn = xc / std
            self.batch_size = x.shape[0]
            self.xc, self.xn, self.std = xc, xn, std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + EPS)
        return self.gamma * xn + self.beta

    def backward(self, dout):
        dout = _a(dout)
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / self.batch_size


class Dropout:
    """Scaled at test time: the training mask is 0/1, unscaled."""

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return _a(x) * self.mask
        return _a(x) * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return _a(dout) * self.mask


class SoftmaxWithLoss:
    def forward(self, x, t):
        x = _a(x)
        self.t = t
        z = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
        n = x.shape[0]
        if t.size == self.y.size:
            t = t.argmax(axis=1)
        return -np.sum(np.log(self.y[np.arange(n), t] + 1e-300)) / n

    def backward(self, dout=1):
        n = self.t.shape[0]
        if self.t.size == self.y.size:
            return (self.y - self.t) / n
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx / n


class SigmoidWithLoss:
    def forward(self, x, t):
        self.t = _a(t)
        self.y = 1 / (1 + np.exp(-_a(x)))
        return np.mean(np.logaddexp(0, x) - self.t * x)

    def backward(self, dout=1):
        return (self.y - self.t) * dout / self.t.size


class MeanSquaredError:
    def forward(self, x, t):
        self.diff = _a(x) - _a(t)
        return np.mean(self.diff**2)

    def backward(self, dout=1):
        return dout * 2 * self.diff / self.diff.size
