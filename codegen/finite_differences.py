"""Central finite differences on a generated kernel: the third, independent view of the gradients.

`gradscribe verify` runs this after the symbolic proof: it renders the network's NumPy module,
imports it from a temporary file, and compares every parameter's gradient with a central
difference of the module's loss along a random direction (<v, grad> against
(L(theta + eps v) - L(theta - eps v)) / 2 eps), in float64, at points away from kinks.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..mathematics.chain import derive
from ..mathematics.proof import capped_network
from ..mathematics.spec import Network
from .kernel import render_kernel

TOLERANCE = 1e-6
MAX_PARAMETERS = 2_000_000
KINK_CLEARANCE = 1e-3


@dataclass
class ParamDifference:
    name: str
    analytic: float
    numeric: float
    rel_err: float

    @property
    def ok(self) -> bool:
        return self.rel_err <= TOLERANCE


def load_kernel(source: str, module_name: str):
    """Import generated module text `source` (written to a temporary file) as a module."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{module_name}.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    sys.modules.pop(module_name, None)
    return module


def draw_inputs(module, batch: int, rng: np.random.Generator):
    """X and T in the module's layout; T fits the loss (probability rows/columns, [0, 1])."""
    spec = module.SPEC
    n_in, n_out = spec["sizes"][0], spec["sizes"][-1]
    column = spec["layout"] == "column"
    X = rng.standard_normal((n_in, batch) if column else (batch, n_in))
    shape = (n_out, batch) if column else (batch, n_out)
    if spec["loss"] == "cross_entropy":
        T = rng.random(shape) + 0.1
        T = T / T.sum(axis=0 if column else 1, keepdims=True)
    elif spec["loss"] == "binary_cross_entropy":
        T = rng.random(shape)
    else:
        T = rng.standard_normal(shape)
    return X, T


def _clear_of_kinks(module, params, X) -> bool:
    _, cache = module.forward(params, X)
    pre = [value for key, value in cache.items() if key.startswith("G")]
    return all(np.min(np.abs(g)) > KINK_CLEARANCE for g in pre)


def sized_for_differences(net: Network) -> Network:
    """`net`, or, past MAX_PARAMETERS, the same network with widths capped to fit."""
    width = max(net.sizes)
    while width > 1 and _parameters(capped_network(net, width)) > MAX_PARAMETERS:
        width //= 2
    return capped_network(net, width)


def _parameters(net: Network) -> int:
    sizes = net.sizes
    return sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(len(sizes) - 1))


def check_kernel(net: Network, seed: int = 0, batch: int = 3, eps: float = 1e-6) -> list[ParamDifference]:
    """Central differences against the generated kernel's backward, one row per parameter.

    Networks with more than MAX_PARAMETERS parameters are checked with capped widths
    (`sized_for_differences`); the generated code is the same for every width.
    """
    net = sized_for_differences(net)
    module = load_kernel(render_kernel(derive(net)), f"_gradscribe_fd_{net.name}")
    rng = np.random.default_rng(seed)
    for _ in range(100):
        params = module.init_params(rng)
        params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}
        X, T = draw_inputs(module, batch, rng)
        if _clear_of_kinks(module, params, X):
            break
    _, grads = module.loss_and_grads(params, X, T)
    rows = []
    for name in params:
        v = rng.standard_normal(params[name].shape)
        plus = dict(params, **{name: params[name] + eps * v})
        minus = dict(params, **{name: params[name] - eps * v})
        numeric = (module.loss_and_grads(plus, X, T)[0] - module.loss_and_grads(minus, X, T)[0]) / (2 * eps)
        analytic = float(np.sum(grads[name] * v))
        scale = max(abs(analytic), abs(numeric), 1e-8)
        rows.append(ParamDifference(name, analytic, numeric, abs(analytic - numeric) / scale))
    return rows
