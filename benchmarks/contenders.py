"""The contenders: one forward + backward step (loss and every parameter's gradient) each.

Every contender is built from the same float parameters, inputs and targets (`cases.draw`)
and offers `step()`, the timed call, and `evaluate()`, the loss and the gradients as float64
NumPy arrays keyed like the parameters (for the gradient check before any timing).

- `kernel`: the generated module's `loss_and_grads`, with a workspace (`make_workspace`)
  so that a step allocates nothing; `kernel, fresh`: the same without one (fresh arrays).
- `textbook`: NumPy as people write it (`X @ W + b`, `(D @ W.T) * (G > 0)`, `D.sum(0)`).
- `textbook style`: the generated module in the textbook style (`--style textbook`, one line
  per equation over the array API namespace), on NumPy arrays; `textbook style, torch`: the
  same module on PyTorch CPU tensors.
- `torch`: PyTorch eager, `torch.addmm` (what `nn.Linear` runs), `loss.backward()`.
- `jax`: `jax.jit(jax.value_and_grad(loss))`, results waited for.
- `floor`: the GEMM floor, only the matrix products a step needs (forward G_l, backward
  dW_l and delta_{l-1}, no gradient for X), into preallocated buffers, each issued with
  `np.dot` (the cheapest NumPy call for a 2-D product: for tiny arrays it costs about 0.5 µs
  less than `np.matmul`, for large ones the same BLAS call); it has no gradients.
- `matmul floor`: the same products issued with `np.matmul` (what `@` runs), for reference.

On a regularized case (`Case.regularized`: batch norm, dropout, weight decay; contract section 7)
every contender runs a training step with the same given dropout masks (`cases.draw_masks`) and
no running statistics to update:
- `kernel`, `kernel, fresh`, `textbook style`: `loss_and_grads(..., masks=masks)`.
- `textbook`: batch norm forward and backward in the compact form (dx = inv_std / N ·
  (N dxhat − Σ dxhat − xhat Σ dxhat·xhat)), dropout as `A * M / (1 - p)`, λW added to dW;
  the bias gradient of a batch-norm layer is exactly 0 (the batch mean takes B away).
- `torch`: `F.batch_norm(..., training=True, eps=eps)`, dropout as a product with the same
  mask / (1 − p), `loss.backward()`, then λW added to each weight's gradient (and the
  penalty's value to the loss, without autograd).
- `jax`: the same mathematics with the penalty in the loss, `jax.jit(jax.value_and_grad)`.
- `floor`: the GEMM floor's products plus one elementwise pass per batch-norm layer in the
  forward and one in the backward, "one pass" being one `np.multiply` of the layer's (N, units)
  array (G_l forward, δ_l backward) by a (units,) row into a preallocated (N, units) buffer:
  it reads N·units numbers and writes N·units. Dropout, the relu and the rest are not in it.
- `matmul floor` and `textbook style, torch` are not timed on these cases.

A contender whose library is missing is reported as such (`Missing`), not an error.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cases import BN_EPS, Case, draw_masks


@dataclass
class Contender:
    name: str
    step: Callable[[], object]
    evaluate: Callable[[], tuple[float, dict[str, np.ndarray]]] | None


@dataclass
class Missing:
    name: str
    reason: str


NAMES = ["floor", "matmul floor", "kernel", "kernel, fresh", "textbook", "textbook style",
         "textbook style, torch", "torch", "jax"]
#: The contenders timed on the regularized cases.
REGULARIZED_NAMES = ["floor", "kernel", "kernel, fresh", "textbook", "textbook style", "torch", "jax"]
TITLES = {
    "floor": "GEMM floor",
    "matmul floor": "floor by np.matmul",
    "kernel": "generated kernel",
    "kernel, fresh": "kernel, no workspace",
    "textbook": "textbook NumPy",
    "textbook style": "textbook style",
    "textbook style, torch": "textbook style, PyTorch tensors",
    "torch": "PyTorch eager",
    "jax": "JAX jit",
}


def build(name: str, case: Case, params, X, T, masks=None) -> Contender | Missing:
    """The contender `name` for `case` on these arrays (a `Missing` if its library is not there).

    `masks`: the dropout masks of a regularized case (default `cases.draw_masks(case, X.dtype)`).
    """
    if not case.regularized:
        masks = {}
    elif masks is None:
        masks = draw_masks(case, X.dtype)
    if case.regularized and name not in REGULARIZED_NAMES:
        return Missing(name, "not timed on the regularized cases")
    return _BUILDERS[name](case, params, X, T, masks)


# ---------------------------------------------------------------- the generated kernel


def load_generated(case: Case, style: str = "fast"):
    """The generated module for `case` in `style`, rendered now from this checkout's gradscribe."""
    from gradscribe.codegen.kernel import render_network
    from gradscribe.derive import spec

    net = spec.load(case.inline)
    name = f"bench_{style}_" + net.digest()[:12]
    folder = Path(tempfile.mkdtemp(prefix="gradscribe-bench-"))
    path = folder / f"{name}.py"
    path.write_text(render_network(net, style), encoding="utf-8")
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


def _kernel(case, params, X, T, masks, workspace=True):
    module = load_generated(case)
    extra = {"masks": masks} if case.regularized else {}
    if workspace:
        if not hasattr(module, "make_workspace"):
            return Missing("kernel", "this gradscribe generates no make_workspace")
        ws = module.make_workspace(case.batch, X.dtype)

        def step():
            return module.loss_and_grads(params, X, T, workspace=ws, **extra)
    else:

        def step():
            return module.loss_and_grads(params, X, T, **extra)

    def evaluate():
        value, grads = step()
        return float(value), {k: np.array(v, dtype=np.float64) for k, v in grads.items()}

    return Contender("kernel" if workspace else "kernel, fresh", step, evaluate)


# ---------------------------------------------------------------- the textbook-style module


def _textbook_style(case, params, X, T, masks, library="numpy"):
    name = "textbook style" if library == "numpy" else "textbook style, torch"
    module = load_generated(case, "textbook")
    if library == "torch":
        try:
            import torch
        except ImportError:
            return Missing(name, "PyTorch is not installed (pip install '.[bench]')")
        params = {k: torch.from_numpy(v) for k, v in params.items()}
        X, T = torch.from_numpy(X), torch.from_numpy(T)
    extra = {"masks": masks} if case.regularized else {}

    def step():
        return module.loss_and_grads(params, X, T, **extra)

    def evaluate():
        value, grads = step()
        if library == "torch":
            return float(value), {k: v.numpy().astype(np.float64) for k, v in grads.items()}
        return float(value), {k: np.array(v, dtype=np.float64) for k, v in grads.items()}

    return Contender(name, step, evaluate)


# ---------------------------------------------------------------- textbook NumPy


def textbook(case: Case, params, X, T, masks=None, scales=None):
    """Loss and gradients as a person writes them in NumPy (relu hidden layers).

    A regularized case goes to `textbook_regularized` (with `masks` and `scales`).
    """
    if case.regularized:
        return textbook_regularized(case, params, X, T, masks if masks is not None else draw_masks(case, X.dtype), scales)
    column = case.layout == "column"
    axis, batch = (0, 1) if column else (1, 0)
    N = X.shape[batch]
    Gs, Rs = [], [X]
    for l in range(1, case.depth + 1):
        W, b = params[f"W{l}"], params[f"B{l}"]
        G = W @ Rs[-1] + b if column else Rs[-1] @ W + b
        Gs.append(G)
        if l < case.depth:
            Rs.append(np.maximum(G, 0))
    G = Gs[-1]
    if case.loss == "cross_entropy":
        shifted = G - G.max(axis=axis, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        loss = -np.sum(T * log_p) / N
        D = (np.exp(log_p) - T) / N
    else:
        loss = np.mean((G - T) ** 2)
        D = 2 * (G - T) / G.size
    grads = {}
    for l in range(case.depth, 0, -1):
        W, R = params[f"W{l}"], Rs[l - 1]
        grads[f"W{l}"] = D @ R.T if column else R.T @ D
        grads[f"B{l}"] = D.sum(axis=1, keepdims=True) if column else D.sum(axis=0)
        if l > 1:
            D = (W.T @ D if column else D @ W.T) * (Gs[l - 2] > 0)
    return float(loss), grads


def textbook_regularized(case: Case, params, X, T, masks, scales=None):
    """Loss and gradients of a row-layout network with batch norm, dropout and weight decay,
    as a person writes them in NumPy: relu hidden layers, softmax + cross-entropy output.

    Batch norm uses the batch's mean and biased variance (eps `cases.BN_EPS`); its backward is
    the compact form. Dropout multiplies by the given mask `masks["M<l>"]` and 1 / (1 - p).
    The loss gains (lambda/2) sum ||W||^2 and each dW gains lambda W. The bias gradient of a
    batch-norm layer is exactly 0. Given a dict `scales`, it also stores for each such bias
    the largest sum over the batch of |delta| (the size of the sum's rounding).
    """
    if case.layout != "row" or case.loss != "cross_entropy":
        raise ValueError("regularized benchmark cases are row-layout softmax + cross_entropy")
    N, L, lam = X.shape[0], case.depth, case.weight_decay
    Rs, layers = [X], []
    for l in range(1, L + 1):
        G = Rs[-1] @ params[f"W{l}"] + params[f"B{l}"]
        if l == L:
            break
        layer = {}
        if case.batch_norm[l - 1]:
            mu = G.mean(axis=0)
            var = G.var(axis=0)
            inv_std = 1 / np.sqrt(var + BN_EPS)
            xhat = (G - mu) * inv_std
            layer.update(xhat=xhat, inv_std=inv_std)
            Y = params[f"gamma{l}"] * xhat + params[f"beta{l}"]
        else:
            Y = G
        A = np.maximum(Y, 0)
        layer["relu"] = Y > 0
        p = case.dropout[l - 1]
        if p:
            A = A * masks[f"M{l}"] / (1 - p)
        layers.append(layer)
        Rs.append(A)
    shifted = G - G.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.sum(T * log_p) / N
    loss += lam / 2 * sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, L + 1))
    D = (np.exp(log_p) - T) / N
    grads = {}
    for l in range(L, 0, -1):
        W = params[f"W{l}"]
        grads[f"W{l}"] = Rs[l - 1].T @ D + lam * W
        if l < L and case.batch_norm[l - 1]:
            grads[f"B{l}"] = np.zeros_like(params[f"B{l}"])
            if scales is not None:
                scales[f"B{l}"] = float(np.abs(D).sum(axis=0).max())
        else:
            grads[f"B{l}"] = D.sum(axis=0)
        if l == 1:
            break
        layer = layers[l - 2]
        dA = D @ W.T
        p = case.dropout[l - 2]
        if p:
            dA = dA * masks[f"M{l - 1}"] / (1 - p)
        dY = dA * layer["relu"]
        if case.batch_norm[l - 2]:
            xhat = layer["xhat"]
            grads[f"gamma{l - 1}"] = (dY * xhat).sum(axis=0)
            grads[f"beta{l - 1}"] = dY.sum(axis=0)
            dxhat = dY * params[f"gamma{l - 1}"]
            D = layer["inv_std"] / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
        else:
            D = dY
    return float(loss), {k: grads[k] for k in params}


def _textbook(case, params, X, T, masks):
    def evaluate():
        value, grads = textbook(case, params, X, T, masks)
        return value, {k: np.array(v, dtype=np.float64) for k, v in grads.items()}

    return Contender("textbook", lambda: textbook(case, params, X, T, masks), evaluate)


# ---------------------------------------------------------------- the GEMM floor


def _floor(case, params, X, T, masks=None, product=np.dot, name="floor"):
    """Only the products: G_l = W_l R_{l-1}; dW_l = D_l R_{l-1}^T; D_{l-1} = W_l^T D_l.

    On a case with batch norm, also one pass per batch-norm layer forward (after its G_l) and
    one backward (after its delta): `np.multiply` of the (N, units) array by a (units,) row into
    another preallocated (N, units) buffer.
    """
    column = case.layout == "column"
    rng = np.random.default_rng(1)
    dtype, N, sizes = X.dtype, case.batch, case.sizes

    def buffer(n, fill=False):
        shape = (n, N) if column else (N, n)
        return rng.standard_normal(shape).astype(dtype) if fill else np.empty(shape, dtype)

    Rs = [X] + [buffer(n, fill=True) for n in sizes[1:-1]]
    Gs = [buffer(n) for n in sizes[1:]]
    Ds = [buffer(n, fill=True) for n in sizes[1:]]
    dWs = [np.empty_like(params[f"W{l}"]) for l in range(1, case.depth + 1)]
    Ws = [params[f"W{l}"] for l in range(1, case.depth + 1)]
    matmul = product
    L = case.depth
    if case.regularized and any(case.batch_norm):
        if column:
            raise ValueError("regularized benchmark cases are row-layout")
        bn = [l for l in range(L - 1) if case.batch_norm[l]]  # 0-based indices of the G_l
        rows = {l: (1 + 0.2 * rng.standard_normal(sizes[l + 1])).astype(dtype) for l in bn}
        Ys = {l: buffer(sizes[l + 1]) for l in bn}
        DYs = {l: buffer(sizes[l + 1]) for l in bn}

        def step():
            for l in range(L):
                matmul(Rs[l], Ws[l], out=Gs[l])
                if l in rows:
                    np.multiply(Gs[l], rows[l], out=Ys[l])
            for l in range(L - 1, -1, -1):
                if l in rows:
                    np.multiply(Ds[l], rows[l], out=DYs[l])
                matmul(Rs[l].T, Ds[l], out=dWs[l])
                if l:
                    matmul(Ds[l], Ws[l].T, out=Ds[l - 1])

        return Contender(name, step, None)

    if column:

        def step():
            for l in range(L):
                matmul(Ws[l], Rs[l], out=Gs[l])
            for l in range(L - 1, -1, -1):
                matmul(Ds[l], Rs[l].T, out=dWs[l])
                if l:
                    matmul(Ws[l].T, Ds[l], out=Ds[l - 1])
    else:

        def step():
            for l in range(L):
                matmul(Rs[l], Ws[l], out=Gs[l])
            for l in range(L - 1, -1, -1):
                matmul(Rs[l].T, Ds[l], out=dWs[l])
                if l:
                    matmul(Ds[l], Ws[l].T, out=Ds[l - 1])

    return Contender(name, step, None)


# ---------------------------------------------------------------- PyTorch eager


def _torch(case, params, X, T, masks):
    try:
        import torch
    except ImportError:
        return Missing("torch", "PyTorch is not installed (pip install '.[bench]')")
    if case.regularized:
        return _torch_regularized(torch, case, params, X, T, masks)
    column = case.layout == "column"
    axis = 0 if column else 1
    tp = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in params.items()}
    tX, tT = torch.from_numpy(X), torch.from_numpy(T)
    N = X.shape[1 if column else 0]
    L = case.depth

    def step():
        for p in tp.values():
            p.grad = None
        R = tX
        for l in range(1, L + 1):
            W, b = tp[f"W{l}"], tp[f"B{l}"]
            G = torch.addmm(b, W, R) if column else torch.addmm(b, R, W)
            R = torch.relu(G) if l < L else G
        if case.loss == "cross_entropy":
            loss = -(tT * torch.log_softmax(R, dim=axis)).sum() / N
        else:
            loss = torch.nn.functional.mse_loss(R, tT)
        loss.backward()
        return loss

    def evaluate():
        loss = step()
        return float(loss.detach()), {k: p.grad.numpy().astype(np.float64) for k, p in tp.items()}

    return Contender("torch", step, evaluate)


def _torch_regularized(torch, case, params, X, T, masks):
    F = torch.nn.functional
    tp = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in params.items()}
    tX, tT = torch.from_numpy(X), torch.from_numpy(T)
    scaled = {k: torch.from_numpy((m / (1 - case.dropout[int(k[1:]) - 1])).astype(X.dtype)) for k, m in masks.items()}
    N, L, lam = X.shape[0], case.depth, case.weight_decay
    weights = [tp[f"W{l}"] for l in range(1, L + 1)]

    def step():
        for p in tp.values():
            p.grad = None
        R = tX
        for l in range(1, L + 1):
            G = torch.addmm(tp[f"B{l}"], R, tp[f"W{l}"])
            if l == L:
                break
            if case.batch_norm[l - 1]:
                G = F.batch_norm(G, None, None, weight=tp[f"gamma{l}"], bias=tp[f"beta{l}"], training=True, eps=BN_EPS)
            R = torch.relu(G)
            if f"M{l}" in scaled:
                R = R * scaled[f"M{l}"]
        loss = -(tT * torch.log_softmax(G, dim=1)).sum() / N
        loss.backward()
        with torch.no_grad():
            penalty = sum(torch.dot(W.view(-1), W.view(-1)) for W in weights) * (lam / 2)
            for W in weights:
                W.grad.add_(W, alpha=lam)
        return loss.detach() + penalty

    def evaluate():
        loss = step()
        return float(loss), {k: p.grad.numpy().astype(np.float64) for k, p in tp.items()}

    return Contender("torch", step, evaluate)


# ---------------------------------------------------------------- JAX jit


def _jax(case, params, X, T, masks):
    try:
        import jax
    except ImportError:
        return Missing("jax", "JAX is not installed (pip install '.[bench]')")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    if case.regularized:
        return _jax_regularized(jax, jnp, case, params, X, T, masks)

    column = case.layout == "column"
    axis = 0 if column else 1
    L = case.depth

    def loss_fn(p, X, T):
        R = X
        for l in range(1, L + 1):
            G = p[f"W{l}"] @ R + p[f"B{l}"] if column else R @ p[f"W{l}"] + p[f"B{l}"]
            R = jax.nn.relu(G) if l < L else G
        if case.loss == "cross_entropy":
            return -jnp.sum(T * jax.nn.log_softmax(R, axis=axis)) / X.shape[1 - axis]
        return jnp.mean((R - T) ** 2)

    value_and_grad = jax.jit(jax.value_and_grad(loss_fn))
    jp = {k: jax.device_put(v) for k, v in params.items()}
    jX, jT = jax.device_put(X), jax.device_put(T)

    def step():
        return jax.block_until_ready(value_and_grad(jp, jX, jT))

    def evaluate():
        value, grads = step()
        return float(value), {k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}

    return Contender("jax", step, evaluate)


def _jax_regularized(jax, jnp, case, params, X, T, masks):
    L, lam = case.depth, case.weight_decay

    def loss_fn(p, X, T, scaled):
        R = X
        for l in range(1, L + 1):
            G = R @ p[f"W{l}"] + p[f"B{l}"]
            if l == L:
                break
            if case.batch_norm[l - 1]:
                mu = jnp.mean(G, axis=0)
                var = jnp.mean(jnp.square(G - mu), axis=0)
                G = p[f"gamma{l}"] * (G - mu) * jax.lax.rsqrt(var + BN_EPS) + p[f"beta{l}"]
            R = jax.nn.relu(G)
            if f"M{l}" in scaled:
                R = R * scaled[f"M{l}"]
        data = -jnp.sum(T * jax.nn.log_softmax(G, axis=1)) / X.shape[0]
        return data + (lam / 2) * sum(jnp.sum(jnp.square(p[f"W{l}"])) for l in range(1, L + 1))

    value_and_grad = jax.jit(jax.value_and_grad(loss_fn))
    jp = {k: jax.device_put(v) for k, v in params.items()}
    jX, jT = jax.device_put(X), jax.device_put(T)
    scaled = {k: jax.device_put((m / (1 - case.dropout[int(k[1:]) - 1])).astype(X.dtype)) for k, m in masks.items()}

    def step():
        return jax.block_until_ready(value_and_grad(jp, jX, jT, scaled))

    def evaluate():
        value, grads = step()
        return float(value), {k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}

    return Contender("jax", step, evaluate)


_BUILDERS = {
    "floor": _floor,
    "matmul floor": lambda *a: _floor(*a, product=np.matmul, name="matmul floor"),
    "kernel": _kernel,
    "kernel, fresh": lambda *a: _kernel(*a, workspace=False),
    "textbook": _textbook,
    "textbook style": _textbook_style,
    "textbook style, torch": lambda *a: _textbook_style(*a, library="torch"),
    "torch": _torch,
    "jax": _jax,
}
