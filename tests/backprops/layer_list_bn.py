"""Layer objects in a list, each holding its own parameters (W, b; gamma, beta), a dropout
layer keeping its scaled mask: written for the tests."""
import numpy as np
class Linear:
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_in, n_out) * 0.1
        self.b = np.zeros(n_out)
    def forward(self, x):
        self.x = x; return x @ self.W + self.b
    def backward(self, d):
        self.dW = self.x.T @ d; self.db = d.sum(0); return d @ self.W.T
class BatchNorm:
    def __init__(self, n, eps=1e-5):
        self.gamma = np.ones(n); self.beta = np.zeros(n); self.eps = eps
    def forward(self, x):
        mu = x.mean(0); var = x.var(0); self.inv = 1 / np.sqrt(var + self.eps)
        self.xh = (x - mu) * self.inv; return self.gamma * self.xh + self.beta
    def backward(self, d):
        N = d.shape[0]
        self.dgamma = (d * self.xh).sum(0); self.dbeta = d.sum(0)
        dxh = d * self.gamma
        return self.inv / N * (N * dxh - dxh.sum(0) - self.xh * (dxh * self.xh).sum(0))
class ReLU:
    def forward(self, x):
        self.m = x > 0; return x * self.m
    def backward(self, d):
        return d * self.m
class Dropout:
    def __init__(self, p):
        self.p = p
    def forward(self, x):
        self.mask = (np.random.rand(*x.shape) >= self.p) / (1 - self.p)
        return x * self.mask
    def backward(self, d):
        return d * self.mask
class MLP:
    def __init__(self, sizes, dropout=0.0):
        self.layers = []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            self.layers += [Linear(a, b), BatchNorm(b), ReLU()]
            if dropout:
                self.layers.append(Dropout(dropout))
        self.layers.append(Linear(sizes[-2], sizes[-1]))
    def backprop(self, X, T):
        h = X
        for layer in self.layers:
            h = layer.forward(h)
        d = 2 * (h - T) / h.size
        for layer in reversed(self.layers):
            d = layer.backward(d)
        grads = {}
        lin = [l for l in self.layers if isinstance(l, Linear)]
        bns = [l for l in self.layers if isinstance(l, BatchNorm)]
        for i, l in enumerate(lin, 1):
            grads[f"W{i}"], grads[f"b{i}"] = l.dW, l.db
        for i, l in enumerate(bns, 1):
            grads[f"gamma{i}"], grads[f"beta{i}"] = l.dgamma, l.dbeta
        return grads
