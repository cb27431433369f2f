"""Judge hand-written gradients against the derivation: the Python API behind `gradscribe check`.

`check_function(net, func)` calls ``func(params, X, T)`` on points the checker draws (seeded,
several batch sizes unless one is fixed, pre-activations of kinked layers kept away from 0)
and compares every returned gradient with the derivation evaluated at the same point.
`check_formula(net, text)` does the same for one formula of the contract's formula language,
and also judges it exactly (SymPy numbers, the identity test of `verify`) on small networks.
Both return a `CheckReport`; wrong gradients carry the one-sentence diagnosis of
`derive.diagnose`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from . import formula as formula_lang
from .chain import Derivation, derive
from .diagnose import Diagnoser, Draw, close, errors, numpy_value, shape_text
from .evaluate import ExactBackend, NumpyBackend, evaluate, run
from .proof import draw_point, exactly_zero
from .spec import Network, load

DEFAULT_BATCHES = (3, 5, 4)
KINK_MARGIN = 1e-3
EXACT_MAX_WIDTH = 6  # networks up to this width are also judged exactly (formulas)

#: What the user's code may raise without ending the check (sys.exit() included).
USER_FAILURES = (Exception, SystemExit)


@dataclass
class ParamResult:
    """The verdict on one returned gradient."""

    name: str
    ok: bool
    max_abs_err: float | None
    max_rel_err: float | None
    expected_shape: tuple
    got_shape: tuple | None
    diagnosis: str | None = None
    #: what the diagnosis established (a factor, the layer a slip starts in), for the
    #: pass that links lower layers' errors to the layer where they start
    facts: dict = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "max_abs_err": _finite(self.max_abs_err),
            "max_rel_err": _finite(self.max_rel_err),
            "expected_shape": list(self.expected_shape),
            "got_shape": None if self.got_shape is None else list(self.got_shape),
            "diagnosis": self.diagnosis,
        }


@dataclass
class CheckReport:
    """What `check_function` / `check_formula` found. `error` is set when nothing could be judged."""

    network: Network
    subject: str
    batches: tuple
    params: dict = field(default_factory=dict)
    error: str | None = None
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.params) and all(p.ok for p in self.params.values())

    def to_json(self) -> dict:
        """The contract's JSON object; with an "error" key when FUNC raised or returned no dict."""
        out = {"ok": self.ok, "params": {k: v.to_json() for k, v in self.params.items()}}
        if self.error is not None:
            out["error"] = self.error
        return out

    # ------------------------------------------------------------------ display
    def _rows(self):
        head = ("param", "verdict", "max abs err", "max rel err", "expected", "got", "diagnosis")
        rows = []
        for p in self.params.values():
            rows.append((
                p.name, "ok" if p.ok else "WRONG", _num(p.max_abs_err), _num(p.max_rel_err),
                shape_text(p.expected_shape), "-" if p.got_shape is None else shape_text(p.got_shape),
                p.diagnosis or "",
            ))
        return head, rows

    def _summary(self) -> str:
        if self.error:
            return f"FAILED: {self.error}"
        bad = [p.name for p in self.params.values() if not p.ok]
        if not self.params:
            return "FAILED: no gradients returned"
        return "all right" if not bad else f"WRONG: {', '.join(bad)}"

    def table(self) -> str:
        lines = [(f"check {self.subject} on {self.network.inline()} "
                 f"(batch sizes {', '.join(map(str, self.batches))})")]
        head, rows = self._rows()
        if rows:
            widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]
            fmt = "  " + "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
            lines.append(fmt.format(*head))
            lines += [fmt.format(*r) for r in rows]
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(self._summary())
        return "\n".join(lines)

    __str__ = table

    def __repr__(self) -> str:
        return self.table()

    def _repr_markdown_(self) -> str:
        head, rows = self._rows()
        out = [f"**check** `{self.subject}` on `{self.network.inline()}`: {self._summary()}", ""]
        if rows:
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
        out += [f"- {n}" for n in self.notes]
        return "\n".join(out)


def _finite(x):
    """JSON has no infinity: a figure that is not finite is reported as null."""
    return x if x is None or np.isfinite(x) else None


def _num(x) -> str:
    return "-" if x is None else f"{x:.2e}"


# --------------------------------------------------------------------------- drawing points


def _network(net) -> Network:
    return load(net) if isinstance(net, str) else net


def draw(derivation: Derivation, batch: int, rng: np.random.Generator) -> Draw:
    """A float point (X, T, W_l, B_l as 2-D arrays) and every derived matrix there.

    Kinked layers' pre-activations are kept at least KINK_MARGIN away from 0 (redrawn).
    """
    net = derivation.network
    column = net.layout == "column"
    sizes = net.sizes
    values = None
    for _ in range(100):
        env = {}
        x = rng.normal(size=(sizes[0], batch))
        env["X"] = x if column else x.T
        for l in range(1, net.depth + 1):
            w = rng.normal(size=(sizes[l], sizes[l - 1])) * (1.5 / np.sqrt(sizes[l - 1]))
            b = rng.normal(size=(sizes[l], 1)) * 0.5
            env[f"W{l}"] = w if column else w.T
            env[f"B{l}"] = b if column else b.T
        env["T"] = _targets(net, batch, rng)
        values = run(derivation, env, batch, NumpyBackend())
        if all(np.min(np.abs(values[f"G{l}"])) >= KINK_MARGIN
               for l, layer in enumerate(net.layers, start=1) if layer.act.kink):
            break
    return Draw(batch, env, values)


def _targets(net: Network, batch: int, rng) -> np.ndarray:
    n = net.sizes[-1]
    if net.loss == "cross_entropy":
        t = rng.uniform(0.1, 1.0, size=(n, batch))
        t /= t.sum(axis=0, keepdims=True)
    elif net.loss == "binary_cross_entropy":
        t = rng.uniform(0.0, 1.0, size=(n, batch))
    else:
        t = rng.normal(size=(n, batch))
    return t if net.layout == "column" else t.T


def _batches(batch: int | None) -> tuple:
    if batch is None:
        return DEFAULT_BATCHES
    if batch < 1:
        raise ValueError("batch must be at least 1")
    return (batch,) * len(DEFAULT_BATCHES)


def _param_names(net: Network) -> list[str]:
    return [f"{k}{l}" for l in range(1, net.depth + 1) for k in ("W", "B")]


# --------------------------------------------------------------------------- functions


def check_function(net, func, batch: int | None = None, seed: int = 0) -> CheckReport:
    """Judge ``func(params, X, T) -> {"W1": dW1, ...}`` against the derivation of `net`.

    Args:
        net: a `Network`, or a NET string (spec file or inline form).
        func: the hand-written backward pass; a dict of a subset of the params' keys.
        batch: fix the batch size of every draw (for code written for one sample).
        seed: seeds the draws; the same seed gives the same points.

    Returns:
        A `CheckReport`: per returned parameter, the verdict, error figures and a diagnosis.
    """
    net = _network(net)
    derivation = derive(net)
    batches = _batches(batch)
    rng = np.random.default_rng(seed)
    draws = [draw(derivation, b, rng) for b in batches]
    name = getattr(func, "__name__", "FUNC")
    report = CheckReport(net, f"{name}()", batches)
    returned: list[dict] = []
    modified: dict[str, str] = {}
    for d in draws:
        params, X, T = _inputs(derivation, d)
        passed = dict(params)
        originals = {k: v.copy() for k, v in params.items()}
        x_before, t_before = X.copy(), T.copy()
        try:
            grads = func(params, X, T)
        except USER_FAILURES as exc:  # the user's code: any failure is a finding, not a crash
            report.error = _raised(derivation, func, exc, params, X, T, d.batch, rng)
            return report
        if not isinstance(grads, dict):
            report.error = f"{name} returned {type(grads).__name__}, not a dict of gradients"
            return report
        for k, array in passed.items():
            returned_it = any(v is array for v in grads.values())
            if not np.array_equal(array, originals[k]):
                modified[k] = (
                    f"{name} updated params['{k}'] in place"
                    + (" and returned it as its gradient" if returned_it else "")
                    + "; a backward pass must return gradients and leave the parameters alone"
                )
            elif params.get(k) is not array:
                modified[k] = (f"{name} replaced params['{k}'] in the caller's dict; a backward "
                               "pass must return gradients and leave the parameters alone")
        for label, before, after in (("X", x_before, X), ("T", t_before, T)):
            if not np.array_equal(before, after) and f"{name} modified {label} in place" not in report.notes:
                report.notes.append(f"{name} modified {label} in place")
        returned.append(grads)

    known = _param_names(net)
    keys = [k for k in returned[0]]
    if not keys:
        report.error = f"{name} returned an empty dict"
        return report
    diagnoser = Diagnoser(derivation, draws)
    raw = {}
    for key in keys:
        if key not in known:
            report.params[key] = ParamResult(
                key, False, None, None, (), _shape_of(returned[0][key]),
                f"'{key}' is not a parameter of the network: key gradients like the params "
                f"({', '.join(known)})")
            continue
        got = []
        for grads in returned:
            try:
                got.append(np.asarray(grads.get(key), dtype=float))
            except (TypeError, ValueError):
                got.append(None)
        raw[key] = got
    for key, got in raw.items():
        report.params[key] = _judge(diagnoser, "d" + key, key, got, modified.get(key))
    for key, note in modified.items():
        if key not in report.params:
            report.params[key] = ParamResult(
                key, False, None, None, tuple(numpy_value(derivation, key, draws[0].env[key]).shape),
                None, note)
    at_one = _BatchOfOne(derivation, func, rng)
    if batch is None:
        _single_sample_hint(report, derivation, at_one)
    _propagation(report, net, at_one)
    report.params = {k: report.params[k] for k in sorted(report.params, key=_order(known))}
    return report


class _BatchOfOne:
    """FUNC called once on a batch of one (lazily): there dB_l is δ_l itself, so the deltas the
    code used can be read off its bias gradients."""

    def __init__(self, derivation: Derivation, func, rng):
        self.derivation, self.func, self.rng = derivation, func, rng
        self._result = None

    def get(self):
        """(draw, grads), or None if FUNC fails there."""
        if self._result is None:
            one = draw(self.derivation, 1, self.rng)
            params, X, T = _inputs(self.derivation, one)
            try:
                grads = self.func(params, X, T)
            except USER_FAILURES:  # the user's code
                grads = None
            self._result = (one, grads if isinstance(grads, dict) else None)
        return None if self._result[1] is None else self._result

    def own_step_right(self, l: int) -> dict:
        """For W_l and B_l: are the returned gradients the right step from the δ_{l+1} the code
        used (True/False)? Keys are missing where that cannot be told (no dB_{l+1}, FUNC
        fails at N = 1, ...).
        """
        result = self.get()
        if result is None:
            return {}
        one, grads = result
        der = self.derivation
        shape = tuple(int(d) for d in one.values[f"D{l + 1}"].shape)
        try:
            upper = np.asarray(grads.get(f"B{l + 1}"), dtype=float).reshape(shape)
        except (TypeError, ValueError):
            return {}
        env = dict(one.values)
        env[f"D{l + 1}"] = upper
        env[f"D{l}"] = evaluate(der.equation(f"D{l}").rhs, env, 1, NumpyBackend())
        out = {}
        for key in (f"W{l}", f"B{l}"):
            if key not in grads:
                continue
            want = evaluate(der.equation("d" + key).rhs, env, 1, NumpyBackend())
            try:
                out[key] = close(np.asarray(grads[key], dtype=float), numpy_value(der, "d" + key, want))
            except (TypeError, ValueError):
                pass
        return out


def _single_sample_hint(report: CheckReport, derivation: Derivation, at_one: _BatchOfOne) -> None:
    """Unexplained wrong gradients that are right for a batch of one: code for one sample."""
    unexplained = [p for p in report.params.values()
                   if not p.ok and p.facts.get("plain")]
    if not unexplained or at_one.get() is None:
        return
    one, grads = at_one.get()
    for p in unexplained:
        try:
            got = np.asarray(grads.get(p.name), dtype=float)
        except (TypeError, ValueError, AttributeError):
            continue
        if close(got, numpy_value(derivation, "d" + p.name, one.values["d" + p.name])):
            p.diagnosis += ("; it is right for a batch of one, so the code is probably written for "
                            "a single sample")
            p.facts = {}


def _order(known):
    def key(name):
        return (0, known.index(name)) if name in known else (1, name)
    return key


def _inputs(derivation: Derivation, d: Draw):
    params = {k: numpy_value(derivation, k, d.env[k]).copy() for k in _param_names(derivation.network)}
    return params, d.env["X"].copy(), d.env["T"].copy()



def _shape_of(value):
    try:
        return tuple(np.shape(value))
    except Exception:  # noqa: BLE001
        return None


def _raised(derivation, func, exc, params, X, T, batch, rng) -> str:
    shapes = ", ".join(f"{k} {shape_text(v.shape)}" for k, v in [("X", X), ("T", T)] + list(params.items()))
    text = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    message = f"{getattr(func, '__name__', 'FUNC')} raised {text} when called with {shapes} (N = {batch})"
    if batch != 1:
        one = draw(derivation, 1, rng)
        p1, x1, t1 = _inputs(derivation, one)
        try:
            func(p1, x1, t1)
            message += "; it runs for a batch of one, so it is probably written for a single sample"
        except USER_FAILURES:
            message += "; it fails for a batch of one too"
    return message


def _judge(diagnoser: Diagnoser, grad_name: str, key: str, got: list, note: str | None) -> ParamResult:
    """The verdict on one gradient received at every draw."""
    want = diagnoser.expected(grad_name)
    expected_shape = tuple(want[0].shape)
    if any(g is None or g.dtype == object for g in got):
        return ParamResult(key, False, None, None, expected_shape, None,
                           f"{key}: not an array of numbers")
    got_shape = tuple(got[0].shape)
    abs_err = rel_err = None
    figures = [errors(g, w) for g, w in zip(got, want)]
    if all(f[0] is not None for f in figures):
        abs_err = max(f[0] for f in figures)
        rel_err = max(f[1] for f in figures)
    ok = all(close(g, w) for g, w in zip(got, want))
    diagnosis = None
    if not ok:
        try:
            diagnosis, facts = diagnoser.explain(grad_name, got)
        except Exception:  # noqa: BLE001  # a candidate that cannot be evaluated must not hide the verdict
            diagnosis, facts = None, {}
        if diagnosis is None:
            figs = "" if abs_err is None else f": max abs error {abs_err:.3g}, max rel error {rel_err:.3g}"
            if got_shape != expected_shape:
                figs = f": shape {shape_text(got_shape)} where {shape_text(expected_shape)} belongs" + figs
            worst = worst_element(grad_name, got, want, diagnoser.draws)
            if worst:
                figs += f"; worst {worst}"
            diagnosis = f"{grad_name} (layer {_layer_of(grad_name)}): no simple cause found{figs}"
            facts = {"plain": True}
        result = ParamResult(key, False, abs_err, rel_err, expected_shape, got_shape, diagnosis,
                             facts)
    else:
        result = ParamResult(key, True, abs_err, rel_err, expected_shape, got_shape)
    if note:
        if result.ok:
            result.diagnosis = f"{note} (the returned gradient itself is right)"
        elif "returned it" in note or result.facts.get("plain"):
            result.diagnosis = note
        else:
            result.diagnosis = f"{note}; also: {result.diagnosis}"
        result.ok = False
        result.facts = {}
    return result


def _layer_of(name: str) -> int:
    """The layer number in dW2, dB2, D2, W2, B2."""
    return int(name.lstrip("dWBD"))


def worst_element(name: str, got: list, want: list, draws: list) -> str | None:
    """``dW2[1, 0]: got 0.5, expected 0.25 (N = 3)`` for the largest error over the draws,
    or None where the shapes cannot be compared element by element."""
    best = None
    for g, w, d in zip(got, want, draws):
        g = np.asarray(g, dtype=float)
        w = np.asarray(w, dtype=float)
        if g.shape != w.shape:
            try:
                g = np.broadcast_to(g, w.shape)
            except ValueError:
                if g.size != w.size:
                    return None
                g = g.reshape(w.shape)
        if w.size == 0:
            continue
        with np.errstate(all="ignore"):
            diff = np.abs(g - w)
        diff = np.where(np.isnan(diff), np.inf, diff)
        index = np.unravel_index(int(np.argmax(diff)), w.shape)
        if best is None or diff[index] > best[0]:
            best = (diff[index], index, float(g[index]), float(w[index]), d.batch)
    if best is None:
        return None
    _, index, g_value, w_value, batch = best
    where = ", ".join(str(int(i)) for i in index)
    return f"{name}[{where}]: got {g_value:.6g}, expected {w_value:.6g} (N = {batch})"


def _propagation(report: CheckReport, net: Network, at_one: _BatchOfOne | None = None) -> None:
    """Lower layers wrong because an upper layer is: name the layer where the error starts.

    A layer whose own step is right (its gradients follow from the δ the code used above it,
    read off at a batch of one) only inherits the error; the layer it starts in is the nearest
    one above whose own step is wrong, or the top-most wrong layer.
    """
    by_layer: dict[int, list[ParamResult]] = {}
    for p in report.params.values():
        if p.name[1:].isdigit() and p.name[0] in "WB":
            by_layer.setdefault(int(p.name[1:]), []).append(p)
    wrong_layers = sorted((l for l, ps in by_layer.items() if any(not p.ok for p in ps)), reverse=True)
    if len(wrong_layers) < 2:
        return
    top = wrong_layers[0]
    top_factors = {str(p.facts.get("factor")) for p in by_layer[top] if not p.ok}
    own = {}
    for l in wrong_layers[1:]:
        for p in by_layer[l]:
            if p.ok:
                continue
            facts = p.facts
            if "factor" in facts and str(facts["factor"]) in top_factors and l < top:
                p.diagnosis += (f"; the same factor as layer {top}, so the error starts in layer "
                                f"{top} (δ{top}) and propagates down")
            elif facts.get("plain") and p.got_shape == p.expected_shape:
                figures = p.diagnosis.split(": ", 1)[1]
                for j in (l, l + 1):
                    if j not in own:
                        own[j] = (at_one.own_step_right(j)
                                  if at_one is not None and j < net.depth else {})
                if own[l + 1].get(f"B{l + 1}") is False:
                    # dB_{l+1} does not follow from the δ above it, so it may not be the δ_{l+1}
                    # the code used: nothing to verify against
                    own[l] = {}
                if own[l].get(p.name) is False:
                    p.diagnosis = (f"d{p.name} (layer {l}) has an error of its own: it does not "
                                   f"follow from the δ{l + 1} the code used ({figures})")
                    continue
                if own[l].get(p.name):
                    origin = top
                    for j in range(l + 1, top):
                        if j not in own:
                            own[j] = at_one.own_step_right(j)
                        if own[j].get(f"B{j}") is False:  # δ_j itself does not follow from δ_{j+1}
                            origin = j
                            break
                    p.diagnosis = (f"d{p.name} (layer {l}) is wrong only because the error starts "
                                   f"in layer {origin} and propagates down: its own step from "
                                   f"δ{l + 1} is right ({figures})")
                else:
                    p.diagnosis = (f"d{p.name} (layer {l}) is wrong, and so is layer {top} above "
                                   f"it: the error most likely starts in layer {top}, the top-most "
                                   f"wrong layer, and propagates down to layer {l} ({figures})")


# --------------------------------------------------------------------------- formulas


def check_formula(net, text: str, batch: int | None = None, seed: int = 0) -> CheckReport:
    """Judge one formula (``"dW2 = D2 @ R1.T"``) numerically and, on small networks, exactly.

    Raises:
        formula.FormulaError: the text is outside the formula language (nothing was run).
    """
    net = _network(net)
    parsed = formula_lang.parse(text, net)
    derivation = derive(net)
    batches = _batches(batch)
    rng = np.random.default_rng(seed)
    draws = [draw(derivation, b, rng) for b in batches]
    report = CheckReport(net, parsed.text, batches)
    got = []
    for d in draws:
        env = _formula_env(derivation, d.values, lambda v: np.asarray(v, dtype=float))
        try:
            got.append(np.asarray(formula_lang.evaluate(parsed, env, d.batch, net), dtype=float))
        except formula_lang.FormulaShapeError as exc:
            why = f"the shapes do not conform: {exc} (N = {d.batch})"
        except Exception as exc:  # noqa: BLE001  # e.g. an overflow NumPy raises on
            why = f"it cannot be evaluated: {type(exc).__name__}: {exc}"
        else:
            continue
        want = numpy_value(derivation, parsed.lhs, d.values[parsed.lhs])
        report.params[parsed.lhs] = ParamResult(
            parsed.lhs, False, None, None, tuple(want.shape), None,
            f"{parsed.lhs} (layer {parsed.layer}): {why}")
        return report
    diagnoser = Diagnoser(derivation, draws)
    result = _judge(diagnoser, parsed.lhs, parsed.lhs, got, None)
    if result.ok and max(net.sizes) > EXACT_MAX_WIDTH:
        report.notes.append(f"judged numerically only: exact judgement is for widths up to "
                            f"{EXACT_MAX_WIDTH}")
    elif result.ok:
        try:
            mismatch = _exact_mismatch(derivation, parsed, seed)
        except _ExactUnavailable as exc:
            report.notes.append(f"judged numerically only: the exact evaluation failed ({exc})")
        else:
            if mismatch:
                result.ok = False
                result.diagnosis = (f"{parsed.lhs} (layer {parsed.layer}) agrees numerically but "
                                    f"not exactly: {mismatch}")
            else:
                report.notes.append(f"{parsed.lhs} is also exactly equal to the derivation's "
                                    f"(exact point, N = 2)")
    report.params[parsed.lhs] = result
    return report


def _formula_env(derivation: Derivation, values: dict, convert) -> dict:
    env = {}
    for name, value in values.items():
        array = convert(value)
        if derivation.layout == "row" and name.lstrip("d").startswith("B"):
            array = array.reshape(-1)
        env[name] = array
    return env


class _ExactUnavailable(Exception):
    """The exact judgement could not be carried out (the numeric one stands)."""


def _exact_mismatch(derivation: Derivation, parsed, seed: int) -> str | None:
    """None if the formula equals the derivation exactly at an exact random point (N = 2)."""
    batch = 2
    env = draw_point(derivation, batch, random.Random(seed))
    values = run(derivation, env, batch, ExactBackend())
    exact_env = _formula_env(derivation, values, lambda m: np.array(m.tolist(), dtype=object))
    try:
        got = formula_lang.evaluate(parsed, exact_env, batch, derivation.network, exact=True)
    except formula_lang.FormulaShapeError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001  # e.g. a comparison SymPy cannot decide
        raise _ExactUnavailable(f"{type(exc).__name__}") from None
    want = exact_env[parsed.lhs]
    if got.shape != want.shape:
        return f"shape {shape_text(got.shape)} instead of {shape_text(want.shape)}"
    for index in np.ndindex(want.shape):
        diff = sp.sympify(got[index] - want[index])
        try:
            zero = exactly_zero(diff)
        except Exception:  # noqa: BLE001  # an expression the identity test cannot reduce
            # fall back on 60 significant digits rather than an unbounded simplify
            zero = abs(sp.N(diff, 60)) < sp.Float("1e-45")
        if not zero:
            return f"entry {index} differs"
    return None
