"""Course- and book-shaped networks with batch norm, dropout and a weight penalty (contract
section 7), right and with the slips learners make: written for gradscribe's tests.

Row layout throughout (X (N, D), W_l (in, out), b_l (out,)), softmax + cross-entropy on top.

1. ``FullyConnectedNet(hidden_dims, input_dim, num_classes, dropout_keep_ratio=1,
   normalization=None, reg=0.0, ...)``, a course-assignment classifier: hidden layers
   affine -> batchnorm -> relu -> dropout, ``loss(X, y)`` with integer labels returning
   ``(loss, grads)``; penalty ``0.5 * reg * ΣW²`` (weight decay λ = reg, ``+wd@reg``); batch
   norm in training mode with eps 1e-5 (module-level ``batchnorm_forward`` /
   ``batchnorm_backward``, the compact backward), running statistics in ``bn_params``; inverted
   dropout with keep probability ``dropout_keep_ratio``, its mask kept only in a local cache.
   Slips: ``FCNetBNAxis``, ``FCNetNaiveBN``, ``FCNetNoGamma``, ``FCNet2Reg``, ``FCNetRegOnBias``.
2. ``MultiLayerNetExtend(input_size, hidden_size_list, output_size, ...)``, the book's layer
   objects in an OrderedDict built on the arrays of ``self.params``; its ``Dropout`` drops with
   probability ``dropout_ratio`` and scales at test time (no 1/(1-p) in training);
   ``gradient(x, t)`` returns dW + λW. ``MultiLayerNetInverted`` uses ``InvertedDropout``
   (0/1 mask in ``self.mask``, scaled by 1/(1-p) both ways). Slips: ``MLNDropoutNotRescaled``,
   ``MLNBNAxis``, ``MLNNaiveBN``, ``MLNNoGamma``, ``MLNDecayOnBias``.
3. ``loss_and_grads(params, X, T, masks, eps, p, lam)``: a function of a params dict
   (W1, b1, gamma1, beta1, ...) taking the dropout masks as a list of 0/1 arrays.
"""

from collections import OrderedDict

import numpy as np

# ====================================================================== 1. course classifier


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def batchnorm_forward(x, gamma, beta, bn_param):
    """Training mode: normalise with the batch's mean and (biased) variance and update the
    running statistics; test mode: use the running statistics."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    n_units = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(n_units, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(n_units, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = (x - mu) * inv_std
        out = gamma * xhat + beta
        cache = (xhat, gamma, inv_std)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        cache = None
    else:
        raise ValueError(f"invalid batchnorm mode {mode!r}")
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """The compact form: dx = inv_std / N * (N dxhat - Σ dxhat - xhat Σ dxhat xhat)."""
    xhat, gamma, inv_std = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = inv_std / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout: keep a unit with probability p, scale the kept ones by 1/p."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if mode == "train":
        mask = ((np.random.rand(*x.shape) < p) / p).astype(x.dtype)
        out = x * mask
    else:
        mask = None
        out = x
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    if dropout_param["mode"] == "train":
        return dout * mask
    return dout


def softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return loss, dx / n


class FullyConnectedNet:
    """{affine - [batch norm] - relu - [dropout]} x (L - 1) - affine - softmax."""

    # slips the subclasses switch on
    bn_backward_slip = None  # "axis" | "naive" | "no_gamma"
    penalty_factor = 0.5  # loss += penalty_factor * reg * ΣW²; dW += 2 * penalty_factor * reg * W
    reg_on_bias = False

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = weight_scale * np.random.randn(dims[i - 1], dims[i])
            self.params[f"b{i}"] = np.zeros(dims[i])
            if normalization == "batchnorm" and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]

    def _bn_backward(self, dout, cache):
        if self.bn_backward_slip is None:
            return batchnorm_backward(dout, cache)
        xhat, gamma, inv_std = cache
        n = dout.shape[0]
        if self.bn_backward_slip == "axis":
            dbeta = dout.sum(axis=1)
            dgamma = (dout * xhat).sum(axis=1)
        else:
            dbeta = dout.sum(axis=0)
            dgamma = (dout * xhat).sum(axis=0)
        if self.bn_backward_slip == "naive":
            return gamma * dout * inv_std, dgamma, dbeta
        dxhat = dout if self.bn_backward_slip == "no_gamma" else dout * gamma
        dx = inv_std / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
        return dx, dgamma, dbeta

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode

        caches = []
        h = X
        for i in range(1, self.num_layers):
            h, fc_cache = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            bn_cache = drop_cache = None
            if self.normalization == "batchnorm":
                h, bn_cache = batchnorm_forward(h, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                                self.bn_params[i - 1])
            h, relu_cache = relu_forward(h)
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self.dropout_param)
            caches.append((fc_cache, bn_cache, relu_cache, drop_cache))
        L = self.num_layers
        scores, top_cache = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        if mode == "test":
            return scores

        loss, dout = softmax_loss(scores, y)
        grads = {}
        for i in range(1, L + 1):
            W = self.params[f"W{i}"]
            loss += self.penalty_factor * self.reg * np.sum(W * W)

        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dout, top_cache)
        for i in range(L - 1, 0, -1):
            fc_cache, bn_cache, relu_cache, drop_cache = caches[i - 1]
            if self.use_dropout:
                dout = dropout_backward(dout, drop_cache)
            dout = relu_backward(dout, relu_cache)
            if self.normalization == "batchnorm":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = self._bn_backward(dout, bn_cache)
            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, fc_cache)
        for i in range(1, L + 1):
            grads[f"W{i}"] += 2 * self.penalty_factor * self.reg * self.params[f"W{i}"]
            if self.reg_on_bias:
                grads[f"b{i}"] += self.reg * self.params[f"b{i}"]
        return loss, grads


class FCNetBNAxis(FullyConnectedNet):
    """dgamma and dbeta summed over axis 1 (the units) instead of axis 0 (the batch)."""
    bn_backward_slip = "axis"


class FCNetNaiveBN(FullyConnectedNet):
    """Batch norm's dx as if the mean and variance were constants: gamma * dout / sqrt(var + eps)."""
    bn_backward_slip = "naive"


class FCNetNoGamma(FullyConnectedNet):
    """Batch norm's dx with gamma left out (dxhat = dout)."""
    bn_backward_slip = "no_gamma"


class FCNet2Reg(FullyConnectedNet):
    """loss += reg * ΣW², dW += 2 reg W: the L2 convention (``+l2@reg``), not weight decay."""
    penalty_factor = 1.0


class FCNetRegOnBias(FullyConnectedNet):
    """Also decays the biases: db += reg * b (the loss is unchanged)."""
    reg_on_bias = True


# ====================================================================== 2. the book's layer objects


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return np.dot(dout, self.W.T)


class Relu:
    def __init__(self):
        self.mask = None

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
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class BatchNormalization:
    """Normalises each unit over the batch; eps 10e-7 (= 1e-6) as in the book. Backward
    through the graph step by step: xn = xc / std, xc = x - mu, std = sqrt(var + eps)."""

    eps = 10e-7

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.running_mean = running_mean
        self.running_var = running_var
        self.batch_size = None
        self.xc = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1])
            self.running_var = np.zeros(x.shape[1])
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc ** 2, axis=0)
            std = np.sqrt(var + self.eps)
            xn = xc / std
            self.batch_size = x.shape[0]
            self.xc, self.xn, self.std = xc, xn, std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
        return self.gamma * xn + self.beta

    def _dgamma(self, dout):
        return np.sum(self.xn * dout, axis=0)

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = self._dgamma(dout)
        dxn = self.gamma * dout
        # xn = xc * std⁻¹: through xc directly and through std
        dxc = dxn / self.std
        dstd = -np.sum(dxn * self.xc, axis=0) / (self.std ** 2)
        dvar = dstd / (2.0 * self.std)
        # var = mean(xc²)
        dxc = dxc + (2.0 / self.batch_size) * self.xc * dvar
        # xc = x - mean(x)
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / self.batch_size


class Dropout:
    """The book's dropout: drop with probability dropout_ratio in training, scale by
    (1 - dropout_ratio) at test time; the mask is boolean."""

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


class InvertedDropout:
    """Inverted dropout: a 0/1 mask in self.mask, the kept units scaled by 1/(1 - p) in
    training, nothing at test time."""

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = (np.random.rand(*x.shape) >= self.dropout_ratio).astype(x.dtype)
            return x * self.mask / (1.0 - self.dropout_ratio)
        return x

    def backward(self, dout):
        return dout * self.mask / (1.0 - self.dropout_ratio)


def softmax(x):
    x = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=1, keepdims=True)


def cross_entropy_error(y, t):
    batch_size = y.shape[0]
    if t.size == y.size:  # one-hot (or soft) rows
        return -np.sum(t * np.log(y)) / batch_size
    return -np.sum(np.log(y[np.arange(batch_size), t])) / batch_size


class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            return (self.y - self.t) * dout / batch_size
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx * dout / batch_size


class MultiLayerNetExtend:
    """Fully connected net with optional batch norm, dropout and weight decay ½λΣW²."""

    dropout_layer = Dropout
    batchnorm_layer = BatchNormalization
    decay_on_bias = False

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, use_dropout=False,
                 dropout_ration=0.5, use_batchnorm=False):
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(hidden_size_list)
        self.use_dropout = use_dropout
        self.weight_decay_lambda = weight_decay_lambda
        self.use_batchnorm = use_batchnorm
        self.params = {}
        self._init_weight(weight_init_std)

        activation_layer = {"sigmoid": Sigmoid, "relu": Relu}
        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{idx}"] = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
            if self.use_batchnorm:
                self.params[f"gamma{idx}"] = np.ones(self.hidden_size_list[idx - 1])
                self.params[f"beta{idx}"] = np.zeros(self.hidden_size_list[idx - 1])
                self.layers[f"BatchNorm{idx}"] = self.batchnorm_layer(
                    self.params[f"gamma{idx}"], self.params[f"beta{idx}"])
            self.layers[f"Activation_function{idx}"] = activation_layer[activation]()
            if self.use_dropout:
                self.layers[f"Dropout{idx}"] = self.dropout_layer(dropout_ration)
        idx = self.hidden_layer_num + 1
        self.layers[f"Affine{idx}"] = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
        self.last_layer = SoftmaxWithLoss()

    def _init_weight(self, weight_init_std):
        sizes = [self.input_size] + self.hidden_size_list + [self.output_size]
        for idx in range(1, len(sizes)):
            scale = weight_init_std
            if str(weight_init_std).lower() in ("relu", "he"):
                scale = np.sqrt(2.0 / sizes[idx - 1])
            elif str(weight_init_std).lower() in ("sigmoid", "xavier"):
                scale = np.sqrt(1.0 / sizes[idx - 1])
            self.params[f"W{idx}"] = scale * np.random.randn(sizes[idx - 1], sizes[idx])
            self.params[f"b{idx}"] = np.zeros(sizes[idx])

    def predict(self, x, train_flg=False):
        for key, layer in self.layers.items():
            if "Dropout" in key or "BatchNorm" in key:
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x, t, train_flg=False):
        y = self.predict(x, train_flg)
        weight_decay = 0
        for idx in range(1, self.hidden_layer_num + 2):
            W = self.params[f"W{idx}"]
            weight_decay += 0.5 * self.weight_decay_lambda * np.sum(W ** 2)
        return self.last_layer.forward(y, t) + weight_decay

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x, train_flg=False), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def gradient(self, x, t):
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            grads[f"W{idx}"] = (self.layers[f"Affine{idx}"].dW
                                + self.weight_decay_lambda * self.params[f"W{idx}"])
            grads[f"b{idx}"] = self.layers[f"Affine{idx}"].db
            if self.decay_on_bias:
                grads[f"b{idx}"] = grads[f"b{idx}"] + self.weight_decay_lambda * self.params[f"b{idx}"]
            if self.use_batchnorm and idx != self.hidden_layer_num + 1:
                grads[f"gamma{idx}"] = self.layers[f"BatchNorm{idx}"].dgamma
                grads[f"beta{idx}"] = self.layers[f"BatchNorm{idx}"].dbeta
        return grads


class MultiLayerNetInverted(MultiLayerNetExtend):
    """The same net with inverted dropout (scaled by 1/(1 - p) in training)."""
    dropout_layer = InvertedDropout


class _DropoutNotRescaledBack(InvertedDropout):
    def backward(self, dout):
        return dout * self.mask


class MLNDropoutNotRescaled(MultiLayerNetExtend):
    """Inverted dropout forward, but backward dout * mask without the 1/(1 - p)."""
    dropout_layer = _DropoutNotRescaledBack


class _BNAxis(BatchNormalization):
    def _dgamma(self, dout):
        return np.sum(self.xn * dout, axis=1)


class MLNBNAxis(MultiLayerNetExtend):
    """dgamma summed over axis 1 (the units) instead of the batch."""
    batchnorm_layer = _BNAxis


class _NaiveBN(BatchNormalization):
    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        return self.gamma * dout / self.std


class MLNNaiveBN(MultiLayerNetExtend):
    """Batch norm's dx = gamma * dout / std: the mean and variance treated as constants."""
    batchnorm_layer = _NaiveBN


class _NoGammaBN(BatchNormalization):
    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = dout  # gamma left out
        dxc = dxn / self.std
        dstd = -np.sum(dxn * self.xc, axis=0) / (self.std ** 2)
        dvar = dstd / (2.0 * self.std)
        dxc = dxc + (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / self.batch_size


class MLNNoGamma(MultiLayerNetExtend):
    """Batch norm's backward with gamma left out."""
    batchnorm_layer = _NoGammaBN


class MLNDecayOnBias(MultiLayerNetExtend):
    """Weight decay applied to the biases too: db + λ b (the loss is unchanged)."""
    decay_on_bias = True


# ====================================================================== 3. a function taking the masks


def loss_and_grads(params, X, T, masks, eps=1e-5, p=0.5, lam=0.0):
    """Hidden layers affine -> batch norm -> relu -> inverted dropout (masks[l-1], a 0/1 array,
    scaled by 1/(1 - p)); softmax + cross-entropy with one-hot T; weight decay ½λΣW².
    Returns (loss, grads) with grads keyed W1, b1, gamma1, beta1, ..."""
    L = sum(1 for k in params if k.startswith("W"))
    N = X.shape[0]
    cache = []
    h = X
    for l in range(1, L):
        z = h @ params[f"W{l}"] + params[f"b{l}"]
        mu = z.mean(axis=0)
        var = z.var(axis=0)
        inv = 1.0 / np.sqrt(var + eps)
        zhat = (z - mu) * inv
        a = params[f"gamma{l}"] * zhat + params[f"beta{l}"]
        r = np.maximum(a, 0)
        out = r * masks[l - 1] / (1 - p)
        cache.append((h, zhat, inv, a))
        h = out
    scores = h @ params[f"W{L}"] + params[f"b{L}"]
    scores = scores - scores.max(axis=1, keepdims=True)
    log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    loss = -np.sum(T * log_p) / N
    loss += 0.5 * lam * sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, L + 1))

    grads = {}
    d = (np.exp(log_p) - T) / N
    grads[f"W{L}"] = h.T @ d + lam * params[f"W{L}"]
    grads[f"b{L}"] = d.sum(axis=0)
    d = d @ params[f"W{L}"].T
    for l in range(L - 1, 0, -1):
        h_prev, zhat, inv, a = cache[l - 1]
        d = d * masks[l - 1] / (1 - p)
        d = d * (a > 0)
        grads[f"gamma{l}"] = (d * zhat).sum(axis=0)
        grads[f"beta{l}"] = d.sum(axis=0)
        dzhat = d * params[f"gamma{l}"]
        d = inv / N * (N * dzhat - dzhat.sum(axis=0) - zhat * (dzhat * zhat).sum(axis=0))
        grads[f"W{l}"] = h_prev.T @ d + lam * params[f"W{l}"]
        grads[f"b{l}"] = d.sum(axis=0)
        if l > 1:
            d = d @ params[f"W{l}"].T
    return loss, grads
