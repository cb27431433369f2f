"""Runs textbook-style modules on one array library and compares them with the fast kernel.

`python tests/textbook_libraries.py FOLDER LIBRARY` (or `compare(FOLDER, LIBRARY)` in-process)
reads FOLDER/manifest.json, written by tests/test_kernel_textbook.py: for every network, its
fast module, its textbook module and the float64 inputs (params, X, T) in an .npz file. For each
dtype it runs the textbook module's forward, loss and loss_and_grads (for JAX, on every fifth
network, also loss_and_grads under jax.jit) on the library's arrays, and the fast module's in NumPy float64, and prints one
JSON list of records: network, library, dtype, what was compared, the largest error relative to
the fast value's largest magnitude, the worst element, and the dtypes that came back.

It imports NumPy, the library and the generated modules only (no SymPy, no gradscribe), so
the test can run it in a process of its own: PyTorch and JAX start threads that a later
os.fork (the checker's worker) should not inherit.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

LIBRARIES = ("numpy", "array_api_strict", "torch", "jax")
#: JAX: loss_and_grads also under jax.jit for every JIT_EVERY-th network (and the last).
JIT_EVERY = 5


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def converters(library: str):
    """(to the library's arrays of dtype name, back to NumPy float64, dtype names) for `library`."""
    if library == "numpy":
        return (lambda a, dt: np.asarray(a, dtype=dt)), (lambda a: np.asarray(a, dtype=np.float64)), ("float32", "float64")
    if library == "array_api_strict":
        import array_api_strict as xp

        def to(a, dt):
            return xp.asarray(np.asarray(a, dtype=dt), dtype=getattr(xp, dt))

        def back(a):
            return np.asarray(np.from_dlpack(a), dtype=np.float64)

        return to, back, ("float32", "float64")
    if library == "torch":
        import torch

        torch.set_num_threads(1)
        return (
            (lambda a, dt: torch.asarray(np.asarray(a, dtype=dt))),
            (lambda a: a.detach().cpu().numpy().astype(np.float64)),
            ("float32", "float64"),
        )
    if library == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        return (lambda a, dt: jnp.asarray(np.asarray(a, dtype=dt))), (lambda a: np.asarray(a, dtype=np.float64)), (
            "float32", "float64",
        )
    raise ValueError(library)


def namespace(library: str):
    """The array namespace init_state builds the library's arrays with."""
    if library == "numpy":
        return np
    if library == "jax":
        import jax.numpy as jnp

        return jnp
    return importlib.import_module(library)


def dtype_name(a) -> str:
    """'float32' for an array of that dtype; 'float' for a Python float (a loss from NumPy)."""
    return "float" if type(a) is float else str(a.dtype).rsplit(".", 1)[-1]


def loss_dtype(library: str, dtype: str) -> str:
    """What a textbook loss comes back as: a Python float from NumPy, else a 0-d array."""
    return "float" if library == "numpy" else dtype


def record(net, library, dtype, what, got, want, got_dtype, expect_dtype=None):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return {"net": net, "library": library, "dtype": dtype, "what": what,
                "error": float("inf"), "worst": f"shape {got.shape} instead of {want.shape}", "dtype_out": got_dtype,
                "expect_dtype": expect_dtype or dtype}
    diff = np.abs(got - want)
    scale = max(float(np.max(np.abs(want))), 1e-300) if want.size else 1.0
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
    return {
        "net": net, "library": library, "dtype": dtype, "what": what,
        "error": float(np.max(diff)) / scale if diff.size else 0.0,
        "worst": f"{what}{list(map(int, worst))}: {float(got[worst]) if diff.size else 0!r} "
                 f"against the fast kernel's {float(want[worst]) if diff.size else 0!r}",
        "dtype_out": got_dtype,
        "expect_dtype": expect_dtype or dtype,
    }


def compare(folder: str | Path, library: str) -> list[dict]:
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    to, back, dtypes = converters(library)
    jit = None
    if library == "jax":
        import jax

        jit = jax.jit
    out = []
    for i, entry in enumerate(manifest):
        fast = load(folder / entry["fast"], f"fast_{i}")
        textbook = load(folder / entry["textbook"], f"textbook_{i}")
        data = np.load(folder / entry["data"])
        params = {k[2:]: data[k] for k in data.files if k.startswith("p_")}
        masks = {k[2:]: data[k] for k in data.files if k.startswith("m_")}
        X, T = data["X"], data["T"]
        stateful = entry.get("stateful", False)  # batch norm or dropout: training mode, given masks
        penalty = entry.get("penalty", False)  # loss(P, T, params)
        train = {"masks": masks} if stateful else {}
        P_ref, cache_ref = fast.forward(params, X, **train)
        value_ref, grads_ref = fast.loss_and_grads(params, X, T, **train)
        loss_ref = fast.loss(np.asarray(P_ref), T, params) if penalty else fast.loss(np.asarray(P_ref), T)
        net = entry["net"]
        for dt in dtypes:
            lp = {k: to(v, dt) for k, v in params.items()}
            lX, lT = to(X, dt), to(T, dt)
            ltrain = {"masks": {k: to(v, dt) for k, v in masks.items()}} if stateful else {}
            P, cache = textbook.forward(lp, lX, **ltrain)
            out.append(record(net, library, dt, "P", back(P), P_ref, dtype_name(P)))
            for key in cache_ref:
                if key.startswith(("G", "Y")):
                    out.append(record(net, library, dt, key, back(cache[key]), cache_ref[key], dtype_name(cache[key])))
            value = textbook.loss(P, lT, lp) if penalty else textbook.loss(P, lT)
            out.append(record(net, library, dt, "loss(P, T)", back(value), loss_ref, dtype_name(value),
                              loss_dtype(library, dt)))
            steps = [("", textbook.loss_and_grads)]
            if jit is not None and (i % JIT_EVERY == 0 or i == len(manifest) - 1):
                steps.append(("jit ", jit(textbook.loss_and_grads)))  # compiling each costs ~0.2 s
            for prefix, step in steps:
                value, grads = step(lp, lX, lT, **ltrain)
                out.append(record(net, library, dt, prefix + "loss", back(value), value_ref, dtype_name(value),
                                  loss_dtype(library, dt)))
                for key in grads_ref:
                    out.append(record(net, library, dt, prefix + "d" + key, back(grads[key]), grads_ref[key],
                                      dtype_name(grads[key])))
                if set(grads_ref) != set(grads):
                    out.append({"net": net, "library": library, "dtype": dt, "what": prefix + "keys",
                                "error": float("inf"), "worst": f"keys {sorted(grads)} instead of {sorted(grads_ref)}",
                                "dtype_out": dt, "expect_dtype": dt})
            if entry.get("running"):  # batch norm's running statistics, then evaluation mode
                state_ref = fast.init_state()
                fast.forward(params, X, state=state_ref, **train)
                state = textbook.init_state(dtype=lX.dtype, xp=namespace(library))
                textbook.forward(lp, lX, state=state, **ltrain)
                for key in state_ref:
                    out.append(record(net, library, dt, "state " + key, back(state[key]), state_ref[key],
                                      dtype_name(state[key])))
                P_eval, _ = textbook.forward(lp, lX, train=False, state=state)
                P_eval_ref, _ = fast.forward(params, X, train=False, state=state_ref)
                out.append(record(net, library, dt, "P (train=False)", back(P_eval), P_eval_ref, dtype_name(P_eval)))
    return out


if __name__ == "__main__":
    json.dump(compare(sys.argv[1], sys.argv[2]), sys.stdout)
