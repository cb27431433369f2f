"""Why a gradient is wrong: candidate slips, computed with the derivation machinery, matched.

A `Draw` is one point the checker judged at: the batch size and every matrix the derivation
defines there (float, as the NumPy code has them). `Diagnoser` builds the wrong variants a
student plausibly wrote -- the derivation with one layer's f' dropped, replaced by another
registered activation's derivative, or fed the wrong matrix; a constant factor; a transpose;
a reduction over the wrong axis; the right values in another shape -- and returns the one
sentence of the first variant that reproduces what was received at *every* draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from sympy import HadamardProduct

from ..derive import activations
from ..derive.chain import VECTOR_STEMS, Derivation, Equation
from ..derive.evaluate import NumpyBackend, evaluate, run
from ..derive.nodes import Activated, ActivationPrime
from .messages import Text

RTOL = 1e-6


@dataclass
class Draw:
    """One point: batch size N, the input env (2-D arrays) and everything derived from it."""

    batch: int
    env: dict
    values: dict
    variants: dict = field(default_factory=dict)
    #: what FUNC gets in place of T: integer class labels of shape (N,), or None (T itself)
    labels: np.ndarray | None = None


def numpy_value(derivation: Derivation, name: str, value) -> np.ndarray:
    """`value` in the shape the NumPy code uses (row-layout per-unit vectors - biases, gamma,
    beta - and their gradients 1-D)."""
    value = np.asarray(value, dtype=float)
    if derivation.layout == "row" and name.lstrip("d").startswith(VECTOR_STEMS):
        return value.reshape(-1)
    return value


def close(got, want, rtol: float = RTOL, atol: float = 1e-12) -> bool:
    """Same shape and equal to `rtol` relative to the largest entry of `want` (plus `atol`)."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or not np.all(np.isfinite(got)):
        return False
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    return bool(np.max(np.abs(got - want), initial=0.0) <= rtol * scale + atol)


#: how many times the measured rounding sensitivity a lower-precision result may be off
ROUNDOFF_MARGIN = 32


def precision_of(value) -> float:
    """The unit roundoff of the floating-point type FUNC computed `value` in: float32's and
    float16's for such arrays and scalars, float64's for everything else."""
    dtype = getattr(value, "dtype", None)
    if isinstance(value, (np.ndarray, np.generic)) and dtype.kind == "f" and dtype.itemsize < 8:
        return float(np.finfo(dtype).eps)
    return float(np.finfo(np.float64).eps)


def errors(got, want) -> tuple[float | None, float | None]:
    """(max abs error, max abs error / max |want|), or Nones where the shapes cannot compare."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    try:
        diff = np.abs(np.broadcast_to(got, want.shape) - want) if got.shape != want.shape else np.abs(got - want)
    except ValueError:
        if got.size != want.size:
            return None, None
        diff = np.abs(got.reshape(want.shape) - want)
    abs_err = float(np.max(diff, initial=0.0))
    scale = float(np.max(np.abs(want), initial=0.0))
    return abs_err, (abs_err / scale if scale > 0 else (0.0 if abs_err == 0 else float("inf")))


def shape_text(shape) -> str:
    shape = tuple(shape)
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(map(str, shape)) + ")"


def _runs(indices) -> str:
    """[2, 3, 4, 7] -> '2–4, 7'."""
    out, start, prev = [], None, None
    for i in list(indices) + [None]:
        if start is not None and (i is None or i != prev + 1):
            out.append(str(start) if start == prev else f"{start}–{prev}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    return ", ".join(out)


def confinement(name: str, got: list, want: list) -> str | None:
    """Where the wrong entries of a gradient lie, when they are not everywhere: 'the error is
    confined to rows 2–3 of dW1' (NumPy indices, over every draw). None if every row and
    column is touched, or the shapes differ."""
    mask = None
    for g, w in zip(got, want):
        g, w = np.asarray(g, dtype=float), np.asarray(w, dtype=float)
        if g.shape != w.shape or (mask is not None and mask.shape != w.shape) or w.ndim not in (1, 2):
            return None
        scale = float(np.max(np.abs(w), initial=0.0))
        with np.errstate(all="ignore"):
            bad = ~(np.abs(g - w) <= RTOL * scale + 1e-12)
        mask = bad if mask is None else (mask | bad)
    if mask is None or not mask.any() or mask.all():
        return None
    if mask.ndim == 1 or 1 in mask.shape:
        axis_name = "entries" if mask.ndim == 1 else ("rows" if mask.shape[1] == 1 else "columns")
        flat = np.flatnonzero(mask.reshape(-1))
        return Text("confined", where=Text(f"confined.{axis_name}", runs=_runs(flat)), name=name)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    parts = []
    if len(rows) < mask.shape[0]:
        parts.append(Text("confined.rows", runs=_runs(rows)))
    if len(cols) < mask.shape[1]:
        parts.append(Text("confined.columns", runs=_runs(cols)))
    if not parts:
        count = int(mask.sum())
        return Text("confined.count", count=count, size=mask.size) if count < mask.size / 2 else None
    where = parts[0] if len(parts) == 1 else Text("and", a=parts[0], b=parts[1])
    return Text("confined", where=where, name=name)


# ------------------------------------------------------------------------ variants of the chain


@dataclass(frozen=True)
class Variant:
    """A wrong derivation: `origin` is the layer whose slip it models."""

    key: str
    origin: int
    slip: str
    derivation: Derivation
    #: the same slip made in another (already wrong) derivation: `apply(derivation)`
    apply: object = field(default=None, compare=False, repr=False)


def _replace_prime(derivation: Derivation, layer: int, replacement) -> Derivation | None:
    """The derivation with f'_layer in delta_layer replaced (None: dropped); None if it has none."""
    name = f"D{layer}"
    backward = []
    found = False
    for eq in derivation.backward:
        if eq.name == name and isinstance(eq.rhs, HadamardProduct):
            rest = [a for a in eq.rhs.args if not isinstance(a, ActivationPrime)]
            if len(rest) != len(eq.rhs.args):
                found = True
                parts = rest + ([replacement] if replacement is not None else [])
                rhs = parts[0] if len(parts) == 1 else HadamardProduct(*parts)
                eq = Equation(eq.lhs, rhs, eq.label, eq.layer, eq.role)
        backward.append(eq)
    if not found:
        return None
    return Derivation(derivation.network, derivation.symbols, derivation.forward, derivation.loss,
                      tuple(backward))


def _add_output_prime(derivation: Derivation) -> Derivation | None:
    """A fused loss whose delta_L was (wrongly) multiplied by f'_L as well."""
    net = derivation.network
    L = net.depth
    act = net.layers[-1].act
    if not net.loss_def.fused:
        return None
    G, R = derivation.symbols[f"G{L}"], derivation.symbols[f"R{L}"]
    # softmax's "derivative" as people write it: the diagonal of its Jacobian, P (1 - P) --
    # sigmoid's derivative formula in terms of the output
    prime = (ActivationPrime(act, net.alpha_of(L), G, R) if act.elementwise
             else ActivationPrime(activations.get("sigmoid"), 0, G, R))
    backward = []
    for eq in derivation.backward:
        if eq.name == f"D{L}":
            rhs = HadamardProduct(eq.rhs, prime)
            eq = Equation(eq.lhs, rhs, eq.label, eq.layer, eq.role)
        backward.append(eq)
    return Derivation(net, derivation.symbols, derivation.forward, derivation.loss, tuple(backward))


#: derivatives written in terms of the output r = f(z), as people remember them
_OUTPUT_FORMS = {"sigmoid": "r (1 - r)", "tanh": "1 - r²"}


def _index_slip(used: int, right: int) -> str:
    return Text("index.off_by_one") if abs(used - right) == 1 else Text("index.wrong")


def variants(derivation: Derivation) -> list[Variant]:
    """Every modelled slip in the activation derivatives, one loop over layers and registry."""
    net = derivation.network
    out = []
    for l, layer in enumerate(net.layers, start=1):
        act = layer.act
        if not act.elementwise:
            continue
        G, R = derivation.symbols[f"G{l}"], derivation.symbols[f"R{l}"]
        alpha = net.alpha_of(l)
        candidates = [(f"missing{l}", Text("slip.missing", act=act.name, l=l), None)]
        candidates.append((
            f"onR{l}",
            Text("slip.onR", act=act.name, l=l),
            ActivationPrime(act, alpha, R, Activated(act, alpha, R)),
        ))
        candidates.append((
            f"outG{l}",
            Text("slip.outG", act=act.name, l=l),
            ActivationPrime(act, alpha, G, G),
        ))
        for j in range(1, net.depth + 1):
            # f' taken at another layer's pre-activation of the same width (zs[-k + 1] for zs[-k])
            if j != l and net.sizes[j] == net.sizes[l]:
                Gj = derivation.symbols[f"G{j}"]
                candidates.append((
                    f"at{j}_{l}",
                    Text("slip.at", act=act.name, l=l, j=j, index=_index_slip(j, l)),
                    ActivationPrime(act, alpha, Gj, Activated(act, alpha, Gj)),
                ))
        for other in activations.ACTIVATIONS.values():
            # constant derivatives (identity, step) are the 'missing' slip or all zeros
            if other.name == act.name or not other.elementwise or not other.derivative.free_symbols:
                continue
            o_alpha = other.default_alpha
            # its f' formula fed this layer's own G and R (r(1 - r) on tanh's output), or f'(G)
            candidates.append((
                f"{other.name}R{l}",
                Text("slip.other", other=other.name, act=act.name, l=l),
                ActivationPrime(other, o_alpha, G, R),
            ))
            candidates.append((
                f"{other.name}{l}",
                Text("slip.other", other=other.name, act=act.name, l=l),
                ActivationPrime(other, o_alpha, G, Activated(other, o_alpha, G)),
            ))
            if other.name in _OUTPUT_FORMS:
                # s(1 - s) or 1 - s**2 written on the pre-activation: z (1 - z) where f' belongs
                candidates.append((
                    f"{other.name}GG{l}",
                    Text("slip.other_on_G", other=other.name, form=_OUTPUT_FORMS[other.name],
                         act=act.name, l=l),
                    ActivationPrime(other, o_alpha, G, G),
                ))
        for key, slip, replacement in candidates:
            changed = _replace_prime(derivation, l, replacement)
            if changed is not None:
                out.append(Variant(key, l, slip, changed,
                                   lambda der, l=l, r=replacement: _replace_prime(der, l, r)))
    extra = _add_output_prime(derivation)
    if extra is not None:
        L = net.depth
        act = net.layers[-1].activation
        factor = f"{act}'(G{L})" if net.layers[-1].act.elementwise else Text("extra.diagonal", act=act)
        out.append(Variant(f"extra{L}", L, Text("slip.extra", L=L, factor=factor, act=act,
                                                loss=net.loss), extra, _add_output_prime))
    return out


# ------------------------------------------------------------------------ the diagnoser


#: diagnoses whose subject-less clause is a field of theirs, or a sentence of its own
_CLAUSES = {"diag.slip": "slip", "diag.factor": "clause.factor", "diag.slip_above": "clause.slip_above",
            "red.result": "clause.reduced", "diag.transposed": "clause.transposed"}


def _clause(text: str, name: str, layer: int) -> str:
    """A diagnosis of `name` without its subject: 'dB3: leaves out ...' -> 'leaves out ...'."""
    key = getattr(text, "key", None)
    if key in _CLAUSES:
        target = _CLAUSES[key]
        return text.fields[target] if target in text.fields else Text(target, **text.fields)
    for prefix in (f"{name}: ", f"{name} (layer {layer}) ", f"{name} "):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def _factor_names(batch: int, n_out: int, batch_mean: bool = True,
                  unit_mean: bool = True) -> list[tuple[float, str]]:
    """Named constant factors at a given batch size, most specific first.

    `batch_mean` / `unit_mean`: the loss averages over the batch / the output units (its δ_L
    carries 1/N / 1/n_L); the sentences say what a factor of N or 1/N means for that loss.
    """
    if batch_mean:
        over_n = Text("factor.over_n.mean")
        times_n = Text("factor.times_n.mean")
    else:
        over_n = Text("factor.over_n.sum")
        times_n = Text("factor.times_n.sum")
    if unit_mean:
        over_n_out = Text("factor.over_n_out.mean", n=n_out)
        times_n_out = Text("factor.times_n_out.mean", n=n_out)
    else:
        over_n_out = Text("factor.over_n_out.sum", n=n_out)
        times_n_out = Text("factor.times_n_out.sum", n=n_out)
    return [
        (2.0, Text("factor.twice")),
        (0.5, Text("factor.half")),
        (-1.0, Text("factor.sign")),
        (-2.0, "-2"),
        (-0.5, "-1/2"),
        (1.0 / batch, over_n),
        (float(batch), times_n),
        (1.0 / n_out, over_n_out),
        (float(n_out), times_n_out),
        (1.0 / (batch * n_out), "1/(N n_L)"),
        (float(batch * n_out),
         Text("factor.times_all") if batch_mean and unit_mean
         else "N n_L"),
        (2.0 / batch, "2/N"),
        (0.5 * batch, "N/2"),
    ]


def loss_means(net) -> tuple[bool, bool]:
    """(averages over the batch, averages over the output units): N, n_L in δ_L's coefficient."""
    names = {str(s) for s in net.loss_def.delta_coefficient.free_symbols}
    return "N" in names, "n_L" in names


class Diagnoser:
    """Explains wrong gradients of one network over a list of draws."""

    def __init__(self, derivation: Derivation, draws: list[Draw]):
        self.derivation = derivation
        self.net = derivation.network
        self.draws = draws
        self._variants = None
        self._rtol = RTOL  # the tolerance of the explanation under way
        self._perturbed: dict = {}

    # values of a (possibly wrong) derivation at every draw, NumPy-shaped
    def _variant_values(self, variant: Variant, name: str) -> list[np.ndarray]:
        out = []
        # a slip changes only the backward pass: start from the forward values already drawn
        backward_only = Derivation(variant.derivation.network, variant.derivation.symbols, (),
                                   variant.derivation.loss, variant.derivation.backward)
        forward = [eq.name for eq in self.derivation.forward]
        for d in self.draws:
            if variant.key not in d.variants:
                env = dict(d.env)
                env.update((k, d.values[k]) for k in forward)
                d.variants[variant.key] = run(backward_only, env, d.batch, NumpyBackend())
            out.append(numpy_value(self.derivation, name, d.variants[variant.key][name]))
        return out

    def expected(self, name: str) -> list[np.ndarray]:
        return [numpy_value(self.derivation, name, d.values[name]) for d in self.draws]

    def roundoff_rtol(self, name: str, eps: float) -> float:
        """The relative tolerance (to the largest entry, as `close`) for gradient `name`
        computed in a precision of unit roundoff `eps` (float32 code): ROUNDOFF_MARGIN times the
        change of the derivation's value when every input is perturbed by a relative ±eps
        (random signs, seeded; the measured conditioning, cancellations included) plus eps.
        RTOL for float64."""
        if eps <= np.finfo(np.float64).eps:
            return RTOL
        worst = 0.0
        for i, d in enumerate(self.draws):
            want = np.asarray(d.values[name], float)
            scale = float(np.max(np.abs(want), initial=0.0))
            if scale == 0:
                continue
            for trial in range(2):
                key = (i, eps, trial)
                if key not in self._perturbed:
                    rng = np.random.default_rng(1000 * i + trial)
                    env = {k: np.asarray(v, float) * (1 + eps * rng.choice((-1.0, 1.0), np.shape(v)))
                           for k, v in d.env.items()}
                    self._perturbed[key] = run(self.derivation, env, d.batch, NumpyBackend())
                moved = np.asarray(self._perturbed[key][name], float)
                worst = max(worst, float(np.max(np.abs(moved - want))) / scale + eps)
        return max(RTOL, ROUNDOFF_MARGIN * worst)

    def explain(self, name: str, got: list[np.ndarray], rtol: float = RTOL) -> tuple[str, dict]:
        """One sentence for gradient `name` (dW2, dB2, D2), and facts for the propagation pass;
        every candidate is matched to `rtol` (`roundoff_rtol` for lower-precision results)."""
        self._rtol = rtol
        layer = int(name.lstrip("dWBD"))
        want = self.expected(name)
        if any(np.asarray(g).dtype == object or not np.all(np.isfinite(np.asarray(g, float))) for g in got):
            return Text("diag.nan", name=name, layer=layer), {}
        w_shape = want[0].shape
        g_shape = np.shape(got[0])
        same = all(np.shape(g) == w.shape for g, w in zip(got, want))
        if same:
            if len(w_shape) == 2 and all(close(g, w.T, self._rtol) for g, w in zip(got, want)):
                return Text("diag.transposed", name=name, layer=layer), {}
            factor = self._factor(got, want)
            if factor is not None:
                text, c, ratios = factor
                return (Text("diag.factor", name=name, layer=layer, text=text),
                        {"factor": c, "ratios": ratios, "text": text})
            for v in self._all_variants():
                if v.origin < layer:
                    continue
                if all(close(g, w, self._rtol) for g, w in zip(got, self._variant_values(v, name))):
                    if v.origin == layer:
                        return Text("diag.slip", name=name, slip=v.slip), {"origin": layer, "variant": v.key}
                    return (Text("diag.slip_above", name=name, origin=v.origin, slip=v.slip,
                                 layer=layer), {"origin": v.origin, "variant": v.key})
            wrong_layer = self._wrong_layer(name, layer, got)
            if wrong_layer is not None:
                return wrong_layer, {"origin": layer}
            update = self._parameter_update(name, layer, got, want)
            if update is not None:
                return update, {}
        else:
            # A transposed row or column vector is also a reshape: say transposed first.
            if len(w_shape) == 2 and all(close(g, w.T, self._rtol) for g, w in zip(got, want)):
                return (Text("diag.transposed_shape", name=name, layer=layer,
                             got=shape_text(g_shape), want=shape_text(w_shape)), {})
            if all(np.size(g) == w.size and close(np.reshape(g, w.shape), w, self._rtol) for g, w in zip(got, want)):
                return (Text("diag.reshaped", name=name, layer=layer, got=shape_text(g_shape),
                             want=shape_text(w_shape)), {"shape": True})
            reduction = self._reduction(name, layer, got)
            if reduction is not None:
                return reduction, {}
        return None, {}

    # ------------------------------------------------------------------ two slips at once
    def variant(self, key: str) -> Variant | None:
        return next((v for v in self._all_variants() if v.key == key), None)

    def two_slips(self, name: str, got: list, hints=(), rtol: float = RTOL) -> str | None:
        """One sentence naming two slips that together give `got`, or None.

        Tried in turn: one slip undone (the batch not reduced, a transpose, another shape) and
        what remains explained by `explain`; a named factor times a modelled slip; a slip of
        the layers above (`hints`: keys of the variants that explain upper layers' gradients)
        together with a slip of this layer or one between.
        """
        self._rtol = rtol
        layer = int(name.lstrip("dWBD"))
        want = self.expected(name)
        if any(np.asarray(g).dtype == object or not np.all(np.isfinite(np.asarray(g, float)))
               for g in got):
            return None
        def where(v):
            return (Text("where.own", slip=v.slip) if v.origin == layer else
                    Text("where.above", origin=v.origin, slip=v.slip))

        for first, undone in self._undone(name, layer, got, want):
            text, _ = self.explain(name, undone, rtol)
            if text:
                return Text("two.undone", name=name, layer=layer, first=first,
                            rest=_clause(text, name, layer))
        if name.startswith("dB") and np.shape(got[0]) != want[0].shape:
            # reduced over the wrong axis, and a slip in δ (or a factor) before it
            found = self._reduction(name, layer, got, factor=True)
            if found is not None:
                return Text("two.it_factor", name=name, layer=layer,
                            rest=_clause(found[0], name, layer), factor=found[1])
            for v in self._all_variants():
                if v.origin < layer:
                    continue
                deltas = self._variant_values(v, f"D{layer}")
                text = self._reduction(name, layer, got, deltas)
                if text is not None:
                    return Text("two.it_and", name=name, layer=layer,
                                rest=_clause(text, name, layer), where=where(v))
        for v in self._all_variants():
            if v.origin < layer:
                continue
            factor = self._factor(got, self._variant_values(v, name))
            if factor is not None and isinstance(factor[1], tuple) and factor[1][0] == "table":
                return Text("two.factor", name=name, layer=layer, factor=factor[0], where=where(v))
        if name.startswith("dW"):
            # another layer's R or δ paired, and a factor or a slip in δ before it
            found = self._wrong_layer(name, layer, got, factor=True)
            if found is not None:
                return Text("two.it_factor", name=name, layer=layer,
                            rest=_clause(found[0], name, layer), factor=found[1])
            for v in self._all_variants():
                if v.origin <= layer:
                    continue
                self._variant_values(v, name)
                text = self._wrong_layer(name, layer, got, [d.variants[v.key] for d in self.draws])
                if text is not None:
                    return Text("two.it_and", name=name, layer=layer,
                                rest=_clause(text, name, layer), where=where(v))
        for key in hints:
            upper = self.variant(key)
            if upper is None:
                continue
            for v in self._all_variants():
                if not layer <= v.origin < upper.origin or v.apply is None:
                    continue
                both = v.apply(upper.derivation)
                if both is None:
                    continue
                joint = Variant(f"{upper.key}+{v.key}", v.origin, "", both)
                if all(close(g, w, rtol) for g, w in zip(got, self._variant_values(joint, name))):
                    return Text("two.layers", name=name, layer=layer, origin=upper.origin,
                                upper=upper.slip, l=v.origin, slip=v.slip)
        return None

    def _undone(self, name, layer, got, want):
        """(the slip, got with it undone) for the slips that can be undone on their own."""
        g_shape, w_shape = np.shape(got[0]), want[0].shape
        if g_shape != w_shape:
            if name.startswith("dB"):
                batch_axis = 1 if self.derivation.layout == "column" else 0
                summed = []
                for g, d, w in zip(got, self.draws, want):
                    delta_shape = np.shape(d.values[f"D{layer}"])
                    g = np.asarray(g, float)
                    if g.shape == delta_shape:
                        summed.append(g.sum(axis=batch_axis).reshape(w.shape))
                    elif g.shape == delta_shape[::-1]:
                        summed.append(g.sum(axis=1 - batch_axis).reshape(w.shape))
                    else:
                        break
                else:
                    yield (Text("undo.not_reduced", got=shape_text(g_shape),
                                want=shape_text(w_shape)), summed)
            if len(w_shape) == 2 and all(np.shape(g)[::-1] == w.shape for g, w in zip(got, want)):
                yield (Text("undo.transposed_shape", got=shape_text(g_shape), want=shape_text(w_shape)),
                       [np.asarray(g, float).T for g in got])
            elif all(np.size(g) == w.size for g, w in zip(got, want)):
                yield (Text("undo.reshaped", got=shape_text(g_shape), want=shape_text(w_shape)),
                       [np.reshape(g, w.shape) for g, w in zip(got, want)])
        elif len(w_shape) == 2 and w_shape[0] == w_shape[1]:
            yield Text("undo.transposed"), [np.asarray(g, float).T for g in got]

    def own_slip(self, layer: int, env: dict, batch: int, grads: dict) -> str | None:
        """The slip of layer `layer`'s own step that turns the δ_{layer+1} in `env` (the one the
        code used) into the gradients `grads` it returned for W_layer and B_layer, or None."""
        keys = [k for k in (f"W{layer}", f"B{layer}") if k in grads]
        if not keys:
            return None
        for v in self._all_variants():
            if v.origin != layer:
                continue
            der = v.derivation
            local = dict(env)
            try:
                local[f"D{layer}"] = evaluate(der.equation(f"D{layer}").rhs, local, batch,
                                              NumpyBackend())
                if all(close(np.asarray(grads[k], float), numpy_value(
                        der, "d" + k, evaluate(der.equation("d" + k).rhs, local, batch,
                                               NumpyBackend())), self._rtol) for k in keys):
                    return v.slip
            except (TypeError, ValueError, KeyError):
                continue
        return None

    def _wrong_layer(self, name, layer, got, sources=None, factor=False):
        """dW_l built from another layer's input R_j or another layer's δ_j (same shapes), at
        the values `sources` (per draw; the derivation's unless given). With `factor`, also
        times a named factor: then (sentence, the factor's name)."""
        if not name.startswith("dW"):
            return None
        column = self.derivation.layout == "column"
        sources = sources or [d.values for d in self.draws]

        def product(i, delta, inp):
            D = np.asarray(sources[i][f"D{delta}"], float)
            R = np.asarray(self.draws[i].values["X" if inp == 0 else f"R{inp}"], float)
            return D @ R.T if column else R.T @ D

        def rname(j):
            return "X (R0)" if j == 0 else f"R{j}"

        depth = self.net.depth
        candidates = [(layer, j, Text("wl.pairs", layer=layer, r=rname(j), prev=rname(layer - 1),
                                      index=_index_slip(j, layer - 1)))
                      for j in range(depth + 1) if j != layer - 1]
        candidates += [(j, layer - 1, Text("wl.delta", j=j, layer=layer, index=_index_slip(j, layer)))
                       for j in range(1, depth + 1) if j != layer]
        for delta, inp, text in candidates:
            try:
                values = [product(i, delta, inp) for i in range(len(self.draws))]
            except ValueError:  # the shapes do not fit: not this slip
                continue
            if not all(np.shape(g) == v.shape for g, v in zip(got, values)):
                continue
            if factor:
                found = self._factor(got, values)
                if found is not None and isinstance(found[1], tuple) and found[1][0] == "table":
                    return Text("diag.slip", name=name, slip=text), found[0]
            elif all(close(g, v, self._rtol) for g, v in zip(got, values)):
                return Text("diag.slip", name=name, slip=text)
        return None

    def _parameter_update(self, name, layer, got, want):
        """A parameter (or a step W - lr dW) returned where its gradient belongs."""
        if name[:2] not in ("dW", "dB"):
            return None
        params = [numpy_value(self.derivation, name[1:], d.env[name[1:]]) for d in self.draws]
        if all(close(g, p, self._rtol) for g, p in zip(got, params)):
            return Text("upd.param", name=name, layer=layer, param=name[1:])
        steps = []
        for g, p, w in zip(got, params, want):
            denom = float(np.sum(w * w))
            if denom == 0:
                return None
            steps.append(float(np.sum((p - g) * w) / denom))
        lr = steps[0]
        if lr != 0 and all(abs(c - lr) <= 1e-6 * abs(lr) for c in steps) and all(
            close(g, p - lr * w, self._rtol) for g, p, w in zip(got, params, want)
        ):
            return Text("upd.step", name=name, layer=layer, param=name[1:], lr=lr)
        return None

    def _all_variants(self):
        if self._variants is None:
            self._variants = variants(self.derivation)
        return self._variants

    def _factor(self, got, want):
        """(name, c) if got = c * want at every draw for a named c (or one constant c)."""
        ratios = []
        for g, w in zip(got, want):
            g, w = np.asarray(g, float), np.asarray(w, float)
            denom = float(np.sum(w * w))
            if denom == 0:
                return None
            c = float(np.sum(g * w) / denom)
            if not close(g, c * w, self._rtol):
                return None
            ratios.append(c)
        if all(abs(c) < 1e-12 for c in ratios):
            return Text("factor.zero"), 0.0, ratios
        n_out = self.net.sizes[-1]
        means = loss_means(self.net)
        matches = []
        for index in range(len(_factor_names(1, n_out))):
            ok = True
            for c, d in zip(ratios, self.draws):
                value, _ = _factor_names(d.batch, n_out, *means)[index]
                ok &= abs(c - value) <= max(1e-6, self._rtol) * abs(value)
            if ok:
                matches.append(index)
        if matches:
            # several names can fit one factor (2 and n_L = 2; N and n_L with a fixed batch)
            names = _factor_names(self.draws[0].batch, n_out, *means)
            shown = names[matches[0]][1]
            for i in matches[1:]:
                shown = Text("or", a=shown, b=names[i][1])
            return shown, ("table", matches[0]), ratios
        if max(ratios) - min(ratios) <= max(1e-6, self._rtol) * max(abs(c) for c in ratios):
            c = ratios[0]
            frac = Fraction(c).limit_denominator(1000)
            shown = str(frac) if abs(float(frac) - c) <= 1e-9 * abs(c) else f"{c:.6g}"
            return shown, ("const", round(c, 9)), ratios
        return None

    def _reduction(self, name, layer, got, deltas=None, factor=False):
        """Bias gradients reduced over the wrong axis, or not at all (of `deltas`, δ_layer at
        each draw, the derivation's unless given); with `factor`, also times a named factor:
        then (sentence, factor's name)."""
        if not name.startswith("dB"):
            return None
        batch_axis = 1 if self.derivation.layout == "column" else 0
        unit_axis = 1 - batch_axis
        if deltas is None:
            deltas = [np.asarray(d.values[f"D{layer}"], float) for d in self.draws]
        n = self.net.sizes[layer]
        ways = [
            ("sum", unit_axis, Text("red.sum_units", layer=layer, n=n)),
            ("mean", unit_axis, Text("red.mean_units", layer=layer)),
            ("sum", None, Text("red.sum_all", layer=layer)),
            ("mean", None, Text("red.mean_all", layer=layer)),
            ("mean", batch_axis, Text("red.mean_batch", layer=layer, why=(
                Text("red.why.mean", layer=layer) if loss_means(self.net)[0]
                else Text("red.why.sum")))),
            ("none", None, Text("red.none", layer=layer)),
        ]
        for op, axis, text in ways:
            for keepdims in (True, False):
                ok = True
                cands = []
                for g, D in zip(got, deltas):
                    if op == "none":
                        cand = D
                    elif op == "sum":
                        cand = D.sum(axis=axis, keepdims=keepdims)
                    else:
                        cand = D.mean(axis=axis, keepdims=keepdims)
                    g = np.asarray(g, float)
                    cands.append(cand)
                    if factor:
                        ok &= g.size == cand.size
                        continue
                    # a lower-precision sum of δ is off by its rounding, scaled by δ, not the sum
                    atol = 1e-12 + (self._rtol * float(np.max(np.abs(D), initial=0.0))
                                    if self._rtol > RTOL else 0.0)
                    ok &= g.size == cand.size and close(g.reshape(cand.shape), cand, self._rtol, atol)
                if ok and factor:
                    found = self._factor([np.reshape(g, c.shape) for g, c in zip(got, cands)], cands)
                    if found is not None and isinstance(found[1], tuple) and found[1][0] == "table":
                        return (Text("red.result", layer=layer, text=text,
                                     shape=shape_text(np.shape(got[0]))), found[0])
                elif ok:
                    return Text("red.result", layer=layer, text=text, shape=shape_text(np.shape(got[0])))
        return None
