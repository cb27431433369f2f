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

from .cases import Case


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


def build(name: str, case: Case, params, X, T) -> Contender | Missing:
    """The contender `name` for `case` on these arrays (a `Missing` if its library is not there)."""
    return _BUILDERS[name](case, params, X, T)


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


def _kernel(case, params, X, T, workspace=True):
    module = load_generated(case)
    if workspace:
        if not hasattr(module, "make_workspace"):
            return Missing("kernel", "this gradscribe generates no make_workspace")
        ws = module.make_workspace(case.batch, X.dtype)

        def step():
            return module.loss_and_grads(params, X, T, workspace=ws)
    else:

        def step():
            return module.loss_and_grads(params, X, T)

    def evaluate():
        value, grads = step()
        return float(value), {k: np.array(v, dtype=np.float64) for k, v in grads.items()}

    return Contender("kernel" if workspace else "kernel, fresh", step, evaluate)


# ---------------------------------------------------------------- the textbook-style module


def _textbook_style(case, params, X, T, library="numpy"):
    name = "textbook style" if library == "numpy" else "textbook style, torch"
    module = load_generated(case, "textbook")
    if library == "torch":
        try:
            import torch
        except ImportError:
            return Missing(name, "PyTorch is not installed (pip install '.[bench]')")
        params = {k: torch.from_numpy(v) for k, v in params.items()}
        X, T = torch.from_numpy(X), torch.from_numpy(T)

    def step():
        return module.loss_and_grads(params, X, T)

    def evaluate():
        value, grads = step()
        if library == "torch":
            return float(value), {k: v.numpy().astype(np.float64) for k, v in grads.items()}
        return float(value), {k: np.array(v, dtype=np.float64) for k, v in grads.items()}

    return Contender(name, step, evaluate)


# ---------------------------------------------------------------- textbook NumPy


def textbook(case: Case, params, X, T):
    """Loss and gradients as a person writes them in NumPy (relu hidden layers)."""
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


def _textbook(case, params, X, T):
    def evaluate():
        value, grads = textbook(case, params, X, T)
        return value, {k: np.array(v, dtype=np.float64) for k, v in grads.items()}

    return Contender("textbook", lambda: textbook(case, params, X, T), evaluate)


# ---------------------------------------------------------------- the GEMM floor


def _floor(case, params, X, T, product=np.dot, name="floor"):
    """Only the products: G_l = W_l R_{l-1}; dW_l = D_l R_{l-1}^T; D_{l-1} = W_l^T D_l."""
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


def _torch(case, params, X, T):
    try:
        import torch
    except ImportError:
        return Missing("torch", "PyTorch is not installed (pip install '.[bench]')")
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


# ---------------------------------------------------------------- JAX jit


def _jax(case, params, X, T):
    try:
        import jax
    except ImportError:
        return Missing("jax", "JAX is not installed (pip install '.[bench]')")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

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
