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
from ..derive.chain import Derivation, Equation
from ..derive.evaluate import NumpyBackend, evaluate, run
from ..derive.nodes import Activated, ActivationPrime

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
    """`value` in the shape the NumPy code uses (row-layout biases and their gradients 1-D)."""
    value = np.asarray(value, dtype=float)
    if derivation.layout == "row" and name.lstrip("d").startswith("B"):
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
        return f"the error is confined to {axis_name} {_runs(flat)} of {name}"
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    parts = []
    if len(rows) < mask.shape[0]:
        parts.append(f"rows {_runs(rows)}")
    if len(cols) < mask.shape[1]:
        parts.append(f"columns {_runs(cols)}")
    if not parts:
        count = int(mask.sum())
        return f"{count} of its {mask.size} entries are wrong" if count < mask.size / 2 else None
    return f"the error is confined to {' and '.join(parts)} of {name}"


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
    return "a layer index off by one" if abs(used - right) == 1 else "a wrong layer index"


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
        candidates = [(f"missing{l}", f"leaves out the activation derivative {act.name}'(G{l}) of layer {l}", None)]
        candidates.append((
            f"onR{l}",
            f"computes layer {l}'s {act.name}'(·) at R{l} instead of G{l}",
            ActivationPrime(act, alpha, R, Activated(act, alpha, R)),
        ))
        candidates.append((
            f"outG{l}",
            (f"uses G{l} where layer {l}'s {act.name}' formula needs the output R{l} "
            f"(f' written in terms of r = f(z))"),
            ActivationPrime(act, alpha, G, G),
        ))
        for j in range(1, net.depth + 1):
            # f' taken at another layer's pre-activation of the same width (zs[-k + 1] for zs[-k])
            if j != l and net.sizes[j] == net.sizes[l]:
                Gj = derivation.symbols[f"G{j}"]
                candidates.append((
                    f"at{j}_{l}",
                    f"computes layer {l}'s {act.name}'(·) at G{j} instead of G{l} ({_index_slip(j, l)})",
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
                f"uses {other.name}'s derivative where layer {l}'s {act.name}' belongs",
                ActivationPrime(other, o_alpha, G, R),
            ))
            candidates.append((
                f"{other.name}{l}",
                f"uses {other.name}'s derivative where layer {l}'s {act.name}' belongs",
                ActivationPrime(other, o_alpha, G, Activated(other, o_alpha, G)),
            ))
            if other.name in _OUTPUT_FORMS:
                # s(1 - s) or 1 - s**2 written on the pre-activation: z (1 - z) where f' belongs
                candidates.append((
                    f"{other.name}GG{l}",
                    (f"uses {other.name}'s derivative formula {_OUTPUT_FORMS[other.name]} on G{l} "
                     f"(the pre-activation) where layer {l}'s {act.name}' belongs"),
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
        factor = f"{act}'(G{L})" if net.layers[-1].act.elementwise else f"P ⊙ (1 - P) ({act}'s diagonal)"
        out.append(Variant(f"extra{L}", L,
                           f"multiplies δ{L} by {factor}, which the fused {act} + {net.loss} "
                           f"delta (P - T) already accounts for", extra, _add_output_prime))
    return out


# ------------------------------------------------------------------------ the diagnoser


def _clause(text: str, name: str, layer: int) -> str:
    """A diagnosis of `name` without its subject: 'dB3: leaves out ...' -> 'leaves out ...'."""
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
        over_n = ("1/N (divided by the batch size once too often: the loss's mean over the "
                  "batch is already in δ; averaged where it should sum)")
        times_n = "N (summed over the batch where the loss averages: a missing 1/N)"
    else:
        over_n = ("1/N (divided by the batch size, but the loss is a sum over the batch with "
                  "no 1/N; averaged where it should sum)")
        times_n = "N (multiplied by the batch size, which the summed loss does not have)"
    if unit_mean:
        over_n_out = f"1/n_L = 1/{n_out} (divided by the output width once too often)"
        times_n_out = f"n_L = {n_out} (a missing 1/n_L of the mean over the output units)"
    else:
        over_n_out = f"1/n_L = 1/{n_out} (divided by the output width, which the loss does not average over)"
        times_n_out = f"n_L = {n_out} (multiplied by the output width)"
    return [
        (2.0, "2 (twice the right value)"),
        (0.5, "1/2 (half the right value)"),
        (-1.0, "-1 (the sign is flipped)"),
        (-2.0, "-2"),
        (-0.5, "-1/2"),
        (1.0 / batch, over_n),
        (float(batch), times_n),
        (1.0 / n_out, over_n_out),
        (float(n_out), times_n_out),
        (1.0 / (batch * n_out), "1/(N n_L)"),
        (float(batch * n_out),
         "N n_L (the mean over all N n_L elements is missing)" if batch_mean and unit_mean
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
            return f"{name} (layer {layer}) contains NaN or infinite values", {}
        w_shape = want[0].shape
        g_shape = np.shape(got[0])
        same = all(np.shape(g) == w.shape for g, w in zip(got, want))
        if same:
            if len(w_shape) == 2 and all(close(g, w.T, self._rtol) for g, w in zip(got, want)):
                return f"{name} is transposed (layer {layer}): it holds the values of {name}.T", {}
            factor = self._factor(got, want)
            if factor is not None:
                text, c, ratios = factor
                return (f"{name} (layer {layer}) is off by a factor of {text}",
                        {"factor": c, "ratios": ratios, "text": text})
            for v in self._all_variants():
                if v.origin < layer:
                    continue
                if all(close(g, w, self._rtol) for g, w in zip(got, self._variant_values(v, name))):
                    if v.origin == layer:
                        return f"{name}: {v.slip}", {"origin": layer, "variant": v.key}
                    return ((f"{name} is wrong only because the error starts in layer {v.origin}, "
                            f"which {v.slip}, and propagates down to layer {layer}"),
                            {"origin": v.origin, "variant": v.key})
            wrong_layer = self._wrong_layer(name, layer, got)
            if wrong_layer is not None:
                return wrong_layer, {"origin": layer}
            update = self._parameter_update(name, layer, got, want)
            if update is not None:
                return update, {}
        else:
            # A transposed row or column vector is also a reshape: say transposed first.
            if len(w_shape) == 2 and all(close(g, w.T, self._rtol) for g, w in zip(got, want)):
                return ((f"{name} is transposed (layer {layer}): shape {shape_text(g_shape)} "
                        f"where {shape_text(w_shape)} belongs"), {})
            if all(np.size(g) == w.size and close(np.reshape(g, w.shape), w, self._rtol) for g, w in zip(got, want)):
                return ((f"{name} (layer {layer}) has the right values in another shape: "
                        f"{shape_text(g_shape)} instead of {shape_text(w_shape)}"), {"shape": True})
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
        head = f"{name} (layer {layer}) has two slips:"
        for first, undone in self._undone(name, layer, got, want):
            text, _ = self.explain(name, undone, rtol)
            if text:
                return f"{head} {first}; undoing it, {name} {_clause(text, name, layer)}"
        if name.startswith("dB") and np.shape(got[0]) != want[0].shape:
            # reduced over the wrong axis, and a slip in δ (or a factor) before it
            found = self._reduction(name, layer, got, factor=True)
            if found is not None:
                return (f"{head} it {_clause(found[0], name, layer)}; and it is off by a factor "
                        f"of {found[1]}")
            for v in self._all_variants():
                if v.origin < layer:
                    continue
                deltas = self._variant_values(v, f"D{layer}")
                text = self._reduction(name, layer, got, deltas)
                if text is not None:
                    where = (f"it {v.slip}" if v.origin == layer else
                             f"the error starts in layer {v.origin}, which {v.slip}, and "
                             f"propagates down")
                    return f"{head} it {_clause(text, name, layer)}; and {where}"
        for v in self._all_variants():
            if v.origin < layer:
                continue
            factor = self._factor(got, self._variant_values(v, name))
            if factor is not None and isinstance(factor[1], tuple) and factor[1][0] == "table":
                where = (f"it {v.slip}" if v.origin == layer else
                         f"the error starts in layer {v.origin}, which {v.slip}, and propagates down")
                return f"{head} it is off by a factor of {factor[0]}; and {where}"
        if name.startswith("dW"):
            # another layer's R or δ paired, and a factor or a slip in δ before it
            found = self._wrong_layer(name, layer, got, factor=True)
            if found is not None:
                return (f"{head} it {_clause(found[0], name, layer)}; and it is off by a factor "
                        f"of {found[1]}")
            for v in self._all_variants():
                if v.origin <= layer:
                    continue
                self._variant_values(v, name)
                text = self._wrong_layer(name, layer, got, [d.variants[v.key] for d in self.draws])
                if text is not None:
                    return (f"{head} it {_clause(text, name, layer)}; and the error starts in layer "
                            f"{v.origin}, which {v.slip}, and propagates down")
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
                    return (f"{head} the error starts in layer {upper.origin}, which "
                            f"{upper.slip}, and propagates down; and layer {v.origin} {v.slip} "
                            f"as well")
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
                    yield ((f"it is not reduced over the batch (shape {shape_text(g_shape)} where "
                            f"{shape_text(w_shape)} belongs)"), summed)
            if len(w_shape) == 2 and all(np.shape(g)[::-1] == w.shape for g, w in zip(got, want)):
                yield (f"it is transposed (shape {shape_text(g_shape)} where {shape_text(w_shape)} "
                       f"belongs)", [np.asarray(g, float).T for g in got])
            elif all(np.size(g) == w.size for g, w in zip(got, want)):
                yield (f"it is in another shape ({shape_text(g_shape)} instead of "
                       f"{shape_text(w_shape)})", [np.reshape(g, w.shape) for g, w in zip(got, want)])
        elif len(w_shape) == 2 and w_shape[0] == w_shape[1]:
            yield "it is transposed", [np.asarray(g, float).T for g in got]

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
        candidates = [(layer, j, (f"pairs δ{layer} with {rname(j)} instead of {rname(layer - 1)}, the "
                                 f"input of layer {layer} ({_index_slip(j, layer - 1)})"))
                      for j in range(depth + 1) if j != layer - 1]
        candidates += [(j, layer - 1, f"uses δ{j} where δ{layer} belongs ({_index_slip(j, layer)})")
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
                    return f"{name}: {text}", found[0]
            elif all(close(g, v, self._rtol) for g, v in zip(got, values)):
                return f"{name}: {text}"
        return None

    def _parameter_update(self, name, layer, got, want):
        """A parameter (or a step W - lr dW) returned where its gradient belongs."""
        if name[:2] not in ("dW", "dB"):
            return None
        params = [numpy_value(self.derivation, name[1:], d.env[name[1:]]) for d in self.draws]
        if all(close(g, p, self._rtol) for g, p in zip(got, params)):
            return f"{name} (layer {layer}) is the parameter {name[1:]} itself, not its gradient"
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
            return (f"{name} (layer {layer}) is an updated parameter {name[1:]} - {lr:.3g} * {name}, "
                    f"not the gradient")
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
            return "0 (it is all zeros)", 0.0, ratios
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
            return " or ".join(names[i][1] for i in matches), ("table", matches[0]), ratios
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
            ("sum", unit_axis, (f"summed over the units of layer {layer} instead of over the batch "
                               f"(dB{layer} needs one entry per unit, {n} of them)")),
            ("mean", unit_axis, f"averaged over the units of layer {layer} instead of summed over the batch"),
            ("sum", None, (f"collapsed to a scalar: δ{layer} summed over both the batch and the units "
                          f"of layer {layer}")),
            ("mean", None, f"collapsed to a scalar: the mean of δ{layer} over everything (layer {layer})"),
            ("mean", batch_axis, (f"averaged over the batch instead of summed (layer {layer}; "
                                 + (f"the loss's 1/N is already in δ{layer}" if loss_means(self.net)[0]
                                    else "the loss is a sum over the batch, with no 1/N")
                                 + "), in the wrong shape")),
            ("none", None, f"not reduced over the batch: it is δ{layer} itself (layer {layer})"),
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
                        return (f"dB{layer} is {text}: got shape {shape_text(np.shape(got[0]))}",
                                found[0])
                elif ok:
                    return f"dB{layer} is {text}: got shape {shape_text(np.shape(got[0]))}"
        return None
