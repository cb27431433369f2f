"""verify's check of a generated kernel with batch norm, dropout or a penalty (contract
section 7): loss_and_grads in training mode, with fixed dropout masks, against central finite
differences of the kernel's own forward and loss(P, T[, params]) along a random direction of
each parameter, in float64.

The error of a central difference with step h is a truncation c h^2 plus rounding about
eps |L| / h; the check takes the difference at h and h/2, so the truncation is measured (their
gap is 3/4 of it), and a parameter fails when the kernel's directional derivative is farther
from the h/2 difference than ten times that gap plus the rounding bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..codegen.kernel import render_kernel
from ..derive.chain import derive
from ..derive.spec import Network
from .finite_differences import PointNotFound, load_kernel

#: How far every activation input stays from a kink (relu, step, ...) at the point drawn.
KINK_CLEARANCE = 1e-2


@dataclass
class Direction:
    """One parameter along a random unit direction u: <dL/dparam, u> from the kernel and
    from finite differences, the gap to the tolerance."""

    name: str
    kernel: float
    differences: float
    tolerance: float

    @property
    def error(self) -> float:
        return abs(self.kernel - self.differences)

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.kernel)) and self.error <= self.tolerance

    def to_json(self) -> dict:
        return {"ok": self.ok, "kernel": self.kernel, "finite_differences": self.differences,
                "error": self.error, "tolerance": self.tolerance}


@dataclass
class RegularizedKernelCheck:
    """The kernel of a section-7 network against finite differences (see the module)."""

    sizes: tuple[int, ...]
    batch: int
    directions: list[Direction] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.directions)

    def to_json(self) -> dict:
        return {"ok": self.ok, "batch": self.batch, "sizes": list(self.sizes),
                "directions": {d.name: d.to_json() for d in self.directions}}

    def report(self) -> str:
        lines = [f"generated NumPy kernel (sizes {'-'.join(map(str, self.sizes))}; float64, "
                 f"batch {self.batch}, training mode with fixed dropout masks)"]
        for d in self.directions:
            verdict = "ok  " if d.ok else "FAIL"
            lines.append(
                f"  {verdict} d{d.name} along a random direction: kernel {d.kernel:.12g}, finite "
                f"differences {d.differences:.12g}, |difference| {d.error:.1e} "
                f"{'<=' if d.ok else '>'} {d.tolerance:.1e}")
        return "\n".join(lines)


def check(net: Network, seed: int = 0, batch: int = 4) -> RegularizedKernelCheck:
    """Check `net`'s generated fast kernel at one point clear of every kink."""
    module = load_kernel(render_kernel(derive(net)), f"_gradscribe_verify_{net.name}")
    rng = np.random.default_rng(seed)
    column = net.layout == "column"
    shape = (lambda units: (units, batch)) if column else (lambda units: (batch, units))
    for _ in range(50):
        X = rng.standard_normal(shape(net.sizes[0]))
        T = _targets(net, shape(net.sizes[-1]), rng)
        masks = {m: (rng.random(shape(net.sizes[int(m[1:])])) < 0.7).astype(float)
                 for m in net.mask_names()}
        params = module.init_params(rng=rng)
        for key in params:  # gamma away from 1, beta and the biases away from 0
            if not key.startswith("W"):
                params[key] = params[key] + 0.5 * rng.standard_normal(params[key].shape)
        _, cache = module.forward(params, X, masks=masks)
        inputs = [cache[f"Y{l}" if net.batch_norm(l) else f"G{l}"]
                  for l in range(1, net.depth + 1) if net.layers[l - 1].act.kink]
        if all(np.abs(a).min() > KINK_CLEARANCE for a in inputs):
            break
    else:
        raise PointNotFound("no point clear of every kink in 50 draws")

    def loss(p):
        P, _ = module.forward(p, X, masks=masks)
        return module.loss(P, T, p) if net.penalty is not None else module.loss(P, T)

    value, grads = module.loss_and_grads(params, X, T, masks=masks)
    result = RegularizedKernelCheck(net.sizes, batch)
    eps = np.finfo(float).eps
    for name, array in params.items():
        u = rng.standard_normal(array.shape)
        u /= np.linalg.norm(u)

        def along(h):
            up = {**params, name: array + h * u}
            down = {**params, name: array - h * u}
            return (loss(up) - loss(down)) / (2 * h)

        h = 1e-4 * (1 + np.abs(array).max())
        coarse, fine = along(h), along(h / 2)
        rounding = 64 * eps * (1 + abs(value)) / (h / 2)
        tolerance = 10 * abs(coarse - fine) + rounding
        result.directions.append(
            Direction(name, float(np.vdot(grads[name], u)), float(fine), float(tolerance)))
    return result


def _targets(net: Network, shape, rng):
    output = net.loss_def.output
    if output == "softmax":
        T = rng.random(shape) + 0.1
        return T / T.sum(axis=0 if net.layout == "column" else 1, keepdims=True)
    if output == "sigmoid":
        return rng.random(shape)
    return rng.standard_normal(shape)
