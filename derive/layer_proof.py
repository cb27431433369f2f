"""The proof of one layer: every local gradient equals `sympy.diff` of ⟨dout, out⟩.

For a layer with an upstream gradient, the scalar ⟨dout, out⟩ = Σ dout ⊙ out is built entry by
entry from the definitions (the activation's elementary exp/log form, the loss's term, batch
norm's mean and variance), with the input or the parameter differentiated as a matrix of
symbols; its `sympy.diff` at an exact point is the vector-Jacobian product the layer's formula
claims. A loss layer differentiates the loss itself. Points are exact rationals (inputs of
kinked activations kept at least 1/2 from the kink); an entry matches only if the difference
is exactly 0 (the identity test of `proof`, or SymPy's own arithmetic on square roots).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import sympy as sp

from .evaluate import ExactBackend, evaluate
from .functions import elementary
from .layers import LayerDerivation, LayerSpec, derive_layer
from .proof import Mismatch, NotReducible, ProofReport, Verdict, exactly_zero

KINK_MARGIN = sp.Rational(1, 2)


@dataclass
class LayerProofReport(ProofReport):
    """The verdicts on a layer's local gradients (`to_json` is the shape `verify --json` reports)."""

    @property
    def ok(self) -> bool:
        return bool(self.verdicts) and all(v.ok for v in self.verdicts)

    def report(self) -> str:
        """One line per local gradient, as `gradscribe verify` prints it."""
        where = "-".join(map(str, self.proven_on.sizes))
        lines = [f"verify {self.network.inline()}: proven on sizes {where}, batch N = "
                 f"{self.batch}, {self.points} exact point{'s' if self.points != 1 else ''}"]
        if self.capped:
            lines.append(f"  (widths capped from {'-'.join(map(str, self.network.sizes))}; the "
                         "derivation is the same for every width)")
        for v in self.verdicts:
            status = "proven" if v.ok else "undecided" if v.undecided else "WRONG"
            lines.append(f"  {v.name:<7} {status:<7} = {v.reference}"
                         + (f": {v.mismatch}" if v.mismatch else ""))
        lines.append("all local gradients proven" if self.ok else "NOT proven")
        return "\n".join(lines)


def prove_layer(spec: LayerSpec, max_width: int = 3, batch: int = 2, points: int = 2,
                seed: int = 0) -> LayerProofReport:
    """Prove every local gradient of `spec` on widths capped at `max_width`, batch N = `batch`,
    at `points` exact points drawn from `seed`."""
    small = replace(spec, sizes=tuple(min(s, max_width) for s in spec.sizes))
    derivation = derive_layer(small)
    report = LayerProofReport(spec, small, batch, points)
    rng = random.Random(seed)
    mismatches: dict[str, list] = {eq.name: [] for eq in derivation.gradients()}
    for _ in range(points):
        env = draw_exact(derivation, batch, rng)
        values = _run(derivation, env, batch)
        for eq in derivation.gradients():
            reference = _reference(derivation, eq.name, env, batch)
            mismatches[eq.name].append(_compare(reference, values[eq.name]))
    for eq in derivation.gradients():
        shape = tuple(int(sp.sympify(d).xreplace({sp.Symbol("N", integer=True, positive=True): batch}))
                      for d in eq.lhs.shape)
        report.verdicts.append(Verdict.of(
            eq.name, eq.label, shape, mismatches[eq.name],
            _reference_text(derivation, eq.name), "loss" if derivation.loss else "vjp",
        ))
    return report


def _reference_text(derivation: LayerDerivation, name: str) -> str:
    wrt = name[1:]
    if derivation.loss is not None:
        return f"sympy.diff of the loss with respect to {wrt}"
    return f"sympy.diff of <dout, out> with respect to {wrt}"


# ------------------------------------------------------------------------------ points


def _nonzero(rng: random.Random, low: int = -3, high: int = 3, den: int = 1) -> sp.Rational:
    value = 0
    while value == 0:
        value = rng.randint(low, high)
    return sp.Rational(value, den)


def _shape(derivation: LayerDerivation, name: str, batch: int) -> tuple[int, int]:
    from .chain import N

    return tuple(int(sp.sympify(d).xreplace({N: batch})) for d in derivation.symbols[name].shape)


def draw_exact(derivation: LayerDerivation, batch: int, rng: random.Random) -> dict:
    """Exact inputs: x (integers, or halves, away from 0; batch norm's columns not constant),
    parameters, dout, the dropout mask (0/1) and the loss's targets."""
    spec = derivation.spec
    env = {}
    for name in derivation.inputs:
        rows, cols = _shape(derivation, name, batch)
        if name == "mask":
            env[name] = sp.Matrix(rows, cols, lambda i, j: sp.Integer(rng.randint(0, 1)))
        elif name == "t":
            env[name] = _targets(derivation, rows, cols, rng)
        elif name == "gamma":  # gamma != 1: a slip that drops it shows
            env[name] = sp.Matrix(rows, cols, lambda i, j: sp.Rational(rng.choice((-3, -2, 2, 3, 5)), 2))
        else:
            env[name] = sp.Matrix(rows, cols, lambda i, j: _nonzero(rng, den=2 if name == "x" else 1))
    if spec.kind.family == "batchnorm":
        # every unit's batch must vary (a constant unit has no variance to normalise by)
        column = spec.layout == "column"
        x = env["x"]
        for u in range(spec.width_in):
            entries = x.row(u) if column else x.col(u)
            if len(set(entries)) == 1 and len(entries) > 1:
                k = (u, 0) if column else (0, u)
                x[k] = x[k] + 1
    return env


def _targets(derivation: LayerDerivation, rows: int, cols: int, rng: random.Random) -> sp.Matrix:
    record = derivation.spec.kind.loss
    column = derivation.layout == "column"
    if record.targets == "distribution":
        weights = sp.Matrix(rows, cols, lambda i, j: rng.randint(1, 5))
        if column:
            return sp.Matrix(rows, cols, lambda i, j: sp.Rational(weights[i, j], sum(weights[:, j])))
        return sp.Matrix(rows, cols, lambda i, j: sp.Rational(weights[i, j], sum(weights[i, :])))
    if record.targets == "probability":
        return sp.Matrix(rows, cols, lambda i, j: sp.Rational(rng.randint(0, 8), 8))
    return sp.Matrix(rows, cols, lambda i, j: _nonzero(rng, den=4))


def _run(derivation: LayerDerivation, env: dict, batch: int) -> dict:
    """Every equation evaluated exactly, in order."""
    values = dict(derivation.constants) | env
    backend = ExactBackend()
    for eq in derivation.forward + derivation.backward:
        values[eq.name] = evaluate(eq.rhs, values, batch, backend)
    return values


# ------------------------------------------------------------------------------ reference


def _symbols(stem: str, shape) -> sp.Matrix:
    rows, cols = shape
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{stem}_{i}_{j}", real=True))


def _reference(derivation: LayerDerivation, grad: str, env: dict, batch: int) -> sp.Matrix:
    """d/d(param) of ⟨dout, out⟩ (of the loss, for a loss layer) by `sympy.diff`, at `env`."""
    param = grad[1:]
    free = _symbols(param, env[param].shape)
    at = dict(zip(free, env[param]))
    scalar = _scalar(derivation, dict(env, **{param: free}), batch)
    return free.applyfunc(lambda s: _exact(sp.diff(scalar, s).xreplace(at)))


def _exact(value):
    """A derivative at an exact point: kinks (Heaviside, Piecewise, Max) decided, nothing left."""
    return sp.piecewise_fold(value).doit() if value.has(sp.Piecewise) else value


def _scalar(derivation: LayerDerivation, env: dict, batch: int):
    """⟨dout, out⟩ (or the loss) with out built from the definitions, in elementary form."""
    values = dict(derivation.constants) | env
    backend = ExactBackend()
    for eq in derivation.forward:
        values[eq.name] = evaluate(eq.rhs, values, batch, backend)
    if derivation.loss is not None:
        from . import losses

        scale, term = derivation.loss
        prediction = values.get("p", values["x"])
        total = sum(term.xreplace({losses.p: pv, losses.t: tv})
                    for pv, tv in zip(prediction, values["t"]))
        from .chain import N

        return elementary(scale.xreplace({N: batch}) * total)
    return elementary(sum(d * o for d, o in zip(values["dout"], values["out"])))


def _compare(reference: sp.Matrix, derived: sp.Matrix) -> Mismatch | None:
    """None if equal entry by entry (exactly); else the first entry shown unequal, or failing
    that the first neither test can decide."""
    if reference.shape != derived.shape:
        return Mismatch(f"shape {derived.shape} but the reference has shape {reference.shape}")
    undecided = None
    for i in range(reference.rows):
        for j in range(reference.cols):
            diff = reference[i, j] - derived[i, j]
            try:
                zero = exactly_zero(diff)
            except NotReducible as exc:  # square roots (batch norm): SymPy's algebraic numbers
                zero = sp.expand(sp.radsimp(sp.expand(diff))) == 0
                if not zero and not _surely_nonzero(diff):
                    undecided = undecided or Mismatch(
                        f"entry ({i}, {j}): undecided, the identity test cannot tell ({exc})", True)
                    continue
            if not zero:
                return Mismatch(f"entry ({i}, {j}): derived {sp.sstr(derived[i, j])[:80]} "
                                f"!= sympy.diff {sp.sstr(reference[i, j])[:80]}")
    return undecided


def _surely_nonzero(expr) -> bool:
    """True if `expr` evaluates to a number clearly away from 0 (evalf refines until sure)."""
    try:
        value = sp.N(expr, 30)
        return value.is_number and bool(abs(value) > sp.Float("1e-20"))
    except (TypeError, ValueError):
        return False
