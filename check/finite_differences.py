"""The generated kernel against the definitions and against central finite differences.

`gradscribe verify` runs this after the symbolic proof. It renders the network's NumPy module,
imports it from a temporary file and, at one float64 point drawn away from every kink:

1. compares the kernel's forward values P and its loss with the network's *definitions*
   (the activation and loss registries: the hidden layers evaluated by `gradscribe.derive.evaluate`
   in float64, the output activation and the loss from G_L in high precision by `precise`),
   to within a worst-case first-order bound of the rounding error, so a correct kernel can
   never fail it;
2. compares every entry of every gradient from `loss_and_grads` with a central difference of
   the kernel's own `forward` + `loss` (for large networks: every bias entry, a random sample
   of weight entries, and each whole parameter along a random direction).

Tolerances come from a first-order rounding-error analysis of the forward pass at the point
(`Definitions.rounding`), not from a fixed number: with the worst-case gamma_n = n u / (1 - n u)
for the forward and loss check, with Higham and Mary's probabilistic 5 sqrt(n) u for the
rounding term of the finite differences (see `Tolerances`).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp

from ..codegen.kernel import render_kernel
from ..derive import losses
from ..derive.chain import Derivation, N, derive
from ..derive.evaluate import NumpyBackend, run
from ..derive.proof import capped_network
from ..derive.spec import Network
from . import precise

#: Parameters above this are differenced on a network with capped widths (memory bound).
MAX_PARAMETERS = 5_000_000
#: Gradient entries differenced one by one (4 loss evaluations each); past it, a sample.
MAX_ELEMENTS = 3_000
#: Kinked pre-activations are kept this far from 0: about 800 times the largest step (2h).
CLEARANCE = 1e-2
#: Multiply-adds spent on one-by-one differences (4 loss evaluations per entry).
WORK = 2_000_000_000
#: Safety factor on the first-order rounding bounds.
SAFETY = 2.0


class PointNotFound(RuntimeError):
    """No point clear of every kink could be drawn."""


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


# ------------------------------------------------------------------------------ results


@dataclass
class ElementDifference:
    """One gradient entry (or one directional derivative): kernel vs finite differences."""

    param: str
    index: tuple | None  # None: the whole parameter along a random direction
    kernel: float
    numeric: float
    tolerance: float

    @property
    def error(self) -> float:
        return abs(self.kernel - self.numeric)

    @property
    def ratio(self) -> float:
        return self.error / self.tolerance if self.tolerance > 0 else (0.0 if self.error == 0 else np.inf)

    @property
    def ok(self) -> bool:
        return bool(self.error <= self.tolerance)

    def where(self) -> str:
        if self.index is None:
            return f"{self.param} (along a random direction)"
        return f"{self.param}[{', '.join(map(str, self.index))}]"

    def to_json(self) -> dict:
        return {
            "param": self.param,
            "index": None if self.index is None else list(self.index),
            "kernel": _number(self.kernel),
            "finite_differences": _number(self.numeric),
            "error": _number(self.error),
            "tolerance": _number(self.tolerance),
        }


@dataclass
class ParamCheck:
    """Every check of one parameter's gradient."""

    name: str
    shape: tuple
    entries: int
    checked: int
    rows: list[ElementDifference] = field(default_factory=list)
    shape_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.shape_error is None and all(r.ok for r in self.rows)

    @property
    def worst(self) -> ElementDifference | None:
        return max(self.rows, key=lambda r: r.ratio, default=None)


@dataclass
class ValueCheck:
    """The kernel's forward value (P or the loss) against the definitions."""

    name: str
    error: float
    tolerance: float
    kernel: float
    definition: float
    index: tuple | None = None
    shape_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.shape_error is None and bool(self.error <= self.tolerance < np.inf)


@dataclass
class Tolerances:
    """How kernel and finite differences are compared (float64).

    An entry passes when |kernel - fd| <= |D(h) - D(2h)| + SAFETY * eta / h + rtol * |kernel|:
    fd = (4 D(h) - D(2h)) / 3 is the Richardson-extrapolated central difference, whose
    truncation error (O(h^4)) is far below |D(h) - D(2h)| (O(h^2)); eta bounds the rounding
    error of one loss evaluation (with the probabilistic gamma: the worst case would hide
    1e-2 relative errors of wide layers' gradients), so eta / h bounds the differences'
    rounding; rtol = sqrt(eps)
    covers the kernel's own rounding. h = eps**(1/3) * max(1, |theta|) balances truncation
    against rounding for the dtype.
    """

    dtype: str
    eps: float
    step: float
    rtol: float
    eta: float

    def describe(self) -> str:
        return (
            f"|kernel - fd| <= |D(h) - D(2h)| + {SAFETY:g} eta/h + rtol |kernel|, "
            f"h = {self.step:.1e} max(1, |theta|), eta = {self.eta:.1e} (rounding bound of the loss), "
            f"rtol = {self.rtol:.1e}"
        )

    def to_json(self) -> dict:
        return {"dtype": self.dtype, "step": self.step, "rtol": self.rtol, "eta": self.eta,
                "safety": SAFETY, "rule": self.describe()}


@dataclass
class KernelCheck:
    """The outcome of `check_kernel`."""

    sizes: tuple
    full_sizes: tuple
    batch: int
    tolerances: Tolerances
    forward: list[ValueCheck]
    params: list[ParamCheck]

    @property
    def forward_ok(self) -> bool:
        return all(v.ok for v in self.forward)

    @property
    def gradients_ok(self) -> bool:
        return all(p.ok for p in self.params)

    @property
    def ok(self) -> bool:
        return self.forward_ok and self.gradients_ok

    @property
    def full_size(self) -> bool:
        return tuple(self.sizes) == tuple(self.full_sizes)

    @property
    def entries(self) -> int:
        return sum(p.entries for p in self.params)

    @property
    def checked(self) -> int:
        return sum(p.checked for p in self.params)

    @property
    def worst(self) -> ElementDifference | None:
        rows = [p.worst for p in self.params if p.worst is not None]
        return max(rows, key=lambda r: r.ratio, default=None)

    def to_json(self) -> dict:
        worst = self.worst
        return {
            "ok": self.ok,
            "sizes": list(self.sizes),
            "full_size": self.full_size,
            "batch": self.batch,
            "entries": self.entries,
            "entries_checked_one_by_one": self.checked,
            "tolerance": self.tolerances.to_json(),
            "forward": {
                v.name: {"ok": v.ok, "error": _number(v.error), "tolerance": _number(v.tolerance),
                         "kernel": _number(v.kernel), "definition": _number(v.definition),
                         "index": None if v.index is None else list(v.index),
                         "shape_error": v.shape_error}
                for v in self.forward
            },
            "params": {
                p.name: {
                    "ok": p.ok,
                    "entries": p.entries,
                    "checked": p.checked,
                    "shape_error": p.shape_error,
                    "worst": None if p.worst is None else p.worst.to_json(),
                }
                for p in self.params
            },
            "worst": None if worst is None else worst.to_json(),
        }


def _number(x: float) -> float | None:
    """JSON has no infinity or NaN: a value that is not finite is reported as null."""
    return float(x) if np.isfinite(x) else None


# ------------------------------------------------------------------------------ sizes


def sized_for_differences(net: Network) -> Network:
    """`net`, or, past MAX_PARAMETERS, the same network with the largest width cap that fits."""
    if _parameters(net) <= MAX_PARAMETERS:
        return net
    low, high = 1, max(net.sizes)
    while low < high:
        mid = (low + high + 1) // 2
        if _parameters(capped_network(net, mid)) <= MAX_PARAMETERS:
            low = mid
        else:
            high = mid - 1
    return capped_network(net, low)


def _parameters(net: Network) -> int:
    sizes = net.sizes
    return sum(
        sizes[l - 1] * sizes[l] + (sizes[l] if net.has_bias(l) else 0)
        for l in range(1, net.depth + 1)
    )


# ------------------------------------------------------------------------------ the point


def draw_inputs(module, batch: int, rng: np.random.Generator):
    """X and T in the module's layout; T fits the loss (probability rows/columns, [0, 1])."""
    spec = module.SPEC
    n_in, n_out = spec["sizes"][0], spec["sizes"][-1]
    column = spec["layout"] == "column"
    X = rng.standard_normal((n_in, batch) if column else (batch, n_in))
    shape = (n_out, batch) if column else (batch, n_out)
    targets = losses.get(spec["loss"]).targets
    if targets == "distribution":
        T = rng.random(shape) + 0.1
        T = T / T.sum(axis=0 if column else 1, keepdims=True)
    elif targets == "probability":
        T = rng.random(shape)
    else:
        T = rng.standard_normal(shape)
    return X, T


class Definitions:
    """The network's definitions evaluated in float64 at a point (kernel-independent)."""

    def __init__(self, derivation: Derivation, params: dict, X, T, upto: str | None = None,
                 backend: NumpyBackend | None = None):
        self.derivation = derivation
        self.backend = backend or NumpyBackend()  # shared: it compiles each activation once
        net = derivation.network
        self.batch = X.shape[1] if net.layout == "column" else X.shape[0]
        env = {"X": np.asarray(X, dtype=np.float64), "T": np.asarray(T, dtype=np.float64)}
        for name, value in params.items():
            if name in derivation.symbols:
                rows, cols = derivation.symbols[name].shape
                env[name] = np.asarray(value, dtype=np.float64).reshape(int(rows), int(cols))
        self.values = run(derivation, env, self.batch, self.backend, names=[upto] if upto else None)
        self.scale = sp.Rational(derivation.loss.scale.xreplace({N: self.batch}))
        self.exact = None if upto else precise.output_and_loss(
            net, self.scale, self.values[f"G{net.depth}"], self.values["T"])
        self.loss = None if upto else self.exact.loss

    @property
    def P(self):
        """P from the definition of the output activation at G_L, correctly rounded."""
        return self.exact.P

    def finite(self) -> bool:
        """Whether every value at the point is finite (no float64 overflow in the definitions)."""
        return np.isfinite(self.loss) and all(np.all(np.isfinite(v)) for v in self.values.values())

    def kink_distance(self) -> float:
        """The smallest |G_l| over every kinked layer (inf without kinks)."""
        net = self.derivation.network
        out = np.inf
        for l, layer in enumerate(net.layers, start=1):
            if layer.act.kink:
                out = min(out, float(np.min(np.abs(self.values[f"G{l}"]))))
        return out

    def rounding(self, eps: float, gamma=None):
        """First-order rounding bounds at the point: (|error of P| elementwise, error of L).

        Each bounds how far a float64 evaluation (the kernel's, or the definitions' own) can
        be from the exact value at the point. Layer by layer:
        |dG| <= gamma(n_{l-1} + 2) (|W||R| + |B|) + |W| |dR_prev| and
        |dR| <= |f'| |dG| + 4 eps (|R| + |G| + 1) (softmax: 2 max |dG| over the sample).
        The loss: what the error of G_L (fused losses: <|delta_L|, |dG_L|>) or of P (other
        losses: <|scale d term/dp|, |dR_L|>) makes of it, plus gamma(m + n_L + 8) times
        scale * the sum over the m elements of the magnitude of the form the kernel evaluates
        (`precise.magnitude_form`: a few roundings per element, n_L more in a log-sum-exp,
        m in the sum).

        `gamma(n, eps)` defaults to the worst-case gamma_n = n u / (1 - n u) (Higham,
        Accuracy and Stability, Lemma 3.1), which holds for every summation order.
        """
        gamma = gamma or gamma_worst
        net = self.derivation.network
        v = self.values
        column = net.layout == "column"
        backend = self.backend
        err = np.zeros_like(v["X"])
        dG = err
        for l, layer in enumerate(net.layers, start=1):
            W, B, R = np.abs(v[f"W{l}"]), np.abs(v.get(f"B{l}", 0.0)), np.abs(v["X"] if l == 1 else v[f"R{l - 1}"])
            dG = gamma(net.sizes[l - 1] + 2, eps) * ((W @ R if column else R @ W) + B) + (W @ err if column else err @ W)
            G, Rl = v[f"G{l}"], v[f"R{l}"]
            act = layer.act
            if act.elementwise:
                slope = np.abs(backend.prime(act, net.alpha_of(l), G, Rl))
                err = slope * dG
            else:  # softmax: 1-Lipschitz in each column/row of logits (max norm)
                err = 2 * np.max(dG, axis=0 if column else 1, keepdims=True) * np.ones_like(Rl)
            err = err + 4 * eps * (np.abs(Rl) + np.abs(G) + 1)
        exact = self.exact
        elements = exact.magnitude.size
        eta = gamma(elements + net.sizes[-1] + 8, eps) * float(np.sum(exact.magnitude))
        if exact.slope is None:  # fused: the kernel's loss is a function of G_L
            eta += float(np.sum(np.abs(v[f"D{net.depth}"]) * dG))
        else:
            eta += float(np.sum(exact.slope * err))
        return err, float(eta)


def gamma_worst(n: int, eps: float) -> float:
    """The worst-case rounding bound of n operations: n u / (1 - n u), u = eps / 2."""
    nu = n * eps / 2
    return nu / (1 - nu)


def gamma_probable(n: int, eps: float) -> float:
    """Higham and Mary's probabilistic bound (2019) of n operations: 5 sqrt(n) u, u = eps / 2.

    It holds with probability at least 1 - 7.5e-6 n for each inner product, under their model
    of independent rounding errors: not a proof, so the forward and loss check does not use it.
    """
    return 5 * np.sqrt(n) * eps / 2


def _draw(module, derivation: Derivation, batch: int, rng, clearance: float):
    """A point (params, X, T, definitions) whose kinked pre-activations are clear of 0 and
    where every value of the definitions is finite.

    Each kinked layer's biases are shifted (unit by unit, bottom layer first) until every
    sample's pre-activation is at least `clearance` from the kink; layers without biases
    rely on redrawing.
    """
    best = None
    for _ in range(50):
        params = _perturbed(module.init_params(rng), derivation.network, rng)
        X, T = draw_inputs(module, batch, rng)
        backend = NumpyBackend()
        _shift_biases_off_kinks(derivation, params, X, T, clearance, backend)
        defs = Definitions(derivation, params, X, T, backend=backend)
        if not defs.finite():
            continue
        distance = defs.kink_distance()
        if distance >= clearance:
            return params, X, T, defs
        if best is None or distance > best[-1]:
            best = (params, X, T, defs, distance)
    if best is None:
        raise PointNotFound("could not draw a point where the definitions stay finite in float64")
    raise PointNotFound(
        f"could not draw a point whose kinked pre-activations are {clearance:.1e} clear of 0 "
        f"(best {best[-1]:.1e})"
    )


def _perturbed(params: dict, net: Network, rng) -> dict:
    """init_params' point moved at random so that no entry is special (biases nonzero, no
    symmetry): weights by 0.3 / sqrt(fan-in) standard normals, keeping each layer's G of
    order one at any width (a fixed 0.3 would make a 4096-wide layer's G some 20 times its
    inputs, saturate the outputs and swamp the finite differences' rounding), biases by 0.3."""
    out = {}
    for name, value in params.items():
        scale = 0.3 / np.sqrt(net.sizes[int(name[1:]) - 1]) if name.startswith("W") else 0.3
        out[name] = value + scale * rng.standard_normal(value.shape)
    return out


def _shift_biases_off_kinks(derivation: Derivation, params: dict, X, T, clearance: float, backend) -> None:
    net = derivation.network
    column = net.layout == "column"
    for l, layer in enumerate(net.layers, start=1):
        if not layer.act.kink or f"B{l}" not in params:
            continue
        G = Definitions(derivation, params, X, T, upto=f"G{l}", backend=backend).values[f"G{l}"]
        units = G if column else G.T  # one row per unit, one column per sample
        bias = params[f"B{l}"].reshape(-1)  # a view: shifts land in params
        for i, row in enumerate(units):
            bias[i] += _shift(row, clearance)


def _shift(values, clearance: float) -> float:
    """The smallest s (in magnitude) with |v + s| >= 1.5 clearance for every v, ..."""
    need = 1.5 * clearance
    if np.min(np.abs(values)) >= need:
        return 0.0
    candidates = sorted({float(c) for v in values for c in (-v + need, -v - need)}, key=abs)
    for s in candidates:
        if np.min(np.abs(values + s)) >= need * (1 - 1e-9):
            return s
    return 0.0


# ------------------------------------------------------------------------------ the check


def check_kernel(net: Network, seed: int = 0, batch: int = 3) -> KernelCheck:
    """Check the generated kernel of `net` (capped past MAX_PARAMETERS) at one float64 point."""
    small = sized_for_differences(net)
    derivation = derive(small)
    module = load_kernel(render_kernel(derivation), f"_gradscribe_fd_{small.name}")
    rng = np.random.default_rng(seed)
    eps = float(np.finfo(np.float64).eps)
    h0 = eps ** (1 / 3)
    params, X, T, defs = _draw(module, derivation, batch, rng, CLEARANCE)
    err_P, eta = defs.rounding(eps)  # worst case: the forward and loss check is a proof
    _, eta_differences = defs.rounding(eps, gamma_probable)
    tol = Tolerances("float64", eps, h0, float(np.sqrt(eps)), eta_differences)

    forward = _check_forward(module, params, X, T, defs, err_P, eta)
    _, grads = module.loss_and_grads(params, X, T)
    checks = []
    budget = _budget(params)
    for name in params:
        checks.append(_check_param(module, params, X, T, name, grads.get(name), budget[name], tol, rng))
    return KernelCheck(small.sizes, net.sizes, batch, tol, forward, checks)


def _check_forward(module, params, X, T, defs: Definitions, err_P, eta) -> list[ValueCheck]:
    P, _ = module.forward(params, X)
    want = defs.P
    P = np.asarray(P, dtype=np.float64)
    if P.shape != want.shape:
        bad = ValueCheck("P", np.inf, 0.0, np.nan, np.nan,
                         shape_error=f"kernel gives shape {P.shape}, the definition {want.shape}")
        return [bad, ValueCheck("loss", np.inf, 0.0, np.nan, defs.loss, shape_error="P has the wrong shape")]
    bound = 2 * SAFETY * err_P
    excess = np.abs(P - want) / bound
    index = np.unravel_index(int(np.argmax(excess)), P.shape)
    rows = [ValueCheck("P", float(abs(P[index] - want[index])), float(bound[index]),
                       float(P[index]), float(want[index]), tuple(int(i) for i in index))]
    value = float(module.loss(module.forward(params, X)[0], T))
    rows.append(ValueCheck("loss", abs(value - defs.loss), 2 * SAFETY * eta, value, defs.loss))
    return rows


def _budget(params: dict) -> dict[str, int]:
    """How many entries of each parameter are differenced one by one.

    All of them up to MAX_ELEMENTS (and WORK multiply-adds); past that, bias entries first
    (at most half the budget), the rest spread over the weights in proportion to their size.
    """
    total = sum(v.size for v in params.values())
    budget = max(len(params), min(MAX_ELEMENTS, WORK // (4 * total)))
    if total <= budget:
        return {k: v.size for k, v in params.items()}
    biases = {k: v.size for k, v in params.items() if k.startswith("B")}
    weights = {k: v.size for k, v in params.items() if not k.startswith("B")}
    bias_total = sum(biases.values())
    if bias_total > budget // 2:
        biases = {k: min(n, max(1, (budget // 2) * n // bias_total)) for k, n in biases.items()}
    left = max(budget - sum(biases.values()), len(weights))
    weight_total = sum(weights.values())
    return {k: min(n, max(1, left * n // weight_total)) for k, n in weights.items()} | biases


def _check_param(module, params, X, T, name, grad, count, tol: Tolerances, rng) -> ParamCheck:
    theta = params[name]
    check = ParamCheck(name, tuple(theta.shape), int(theta.size), 0)
    if grad is None:
        check.shape_error = "the kernel returns no gradient for it"
        return check
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape != theta.shape:
        check.shape_error = f"the kernel's gradient has shape {grad.shape}, the parameter {theta.shape}"
        return check
    work = dict(params)
    flat_count = theta.size
    if count >= flat_count:
        indices = range(flat_count)
    else:
        indices = sorted(rng.choice(flat_count, size=count, replace=False).tolist())
    for flat in indices:
        index = np.unravel_index(flat, theta.shape)
        direction = np.zeros(theta.shape)
        direction[index] = 1.0
        h = tol.step * max(1.0, abs(float(theta[index])))
        check.rows.append(_difference(module, work, X, T, name, direction, h, float(grad[index]),
                                      abs(float(grad[index])), tol, tuple(int(i) for i in index)))
    check.checked = len(check.rows)
    if count < flat_count:  # every entry at once, along a random direction
        direction = rng.uniform(-1.0, 1.0, size=theta.shape)
        h = tol.step * max(1.0, float(np.max(np.abs(theta))))
        along = float(np.sum(grad * direction))
        check.rows.append(_difference(module, work, X, T, name, direction, h, along,
                                      float(np.sum(np.abs(grad * direction))), tol, None))
    return check


def _difference(module, work, X, T, name, direction, h, kernel, magnitude, tol: Tolerances, index):
    base = work[name]

    def loss_at(step):
        work[name] = base + step * direction
        try:
            return float(module.loss(module.forward(work, X)[0], T))
        finally:
            work[name] = base

    d1 = (loss_at(h) - loss_at(-h)) / (2 * h)
    d2 = (loss_at(2 * h) - loss_at(-2 * h)) / (4 * h)
    numeric = (4 * d1 - d2) / 3
    tolerance = abs(d1 - d2) + SAFETY * tol.eta / h + tol.rtol * magnitude
    return ElementDifference(name, index, kernel, numeric, tolerance)
