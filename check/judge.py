"""Judge hand-written gradients against the derivation: the Python API behind `gradscribe check`.

`check_function(net, func)` calls ``func(params, X, T)`` on points the checker draws (seeded,
several batch sizes unless one is fixed, pre-activations of kinked layers kept away from 0)
and compares every returned gradient with the derivation evaluated at the same point.
`check_formula(net, text)` does the same for one formula of the contract's formula language,
and also judges it exactly (SymPy numbers, the identity test of `verify`) on small networks.
Both return a `CheckReport`; wrong gradients carry the one-sentence diagnosis of
`gradscribe.check.diagnose`.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..derive import losses
from ..derive.chain import VECTOR_STEMS, Derivation, derive
from ..derive.evaluate import ExactBackend, NumpyBackend, evaluate, run
from ..derive.proof import capped_network, draw_point, exactly_zero
from ..derive.spec import Network, format_number, load
from . import calling, conventions, formula_regularized, precedence
from . import formula as formula_lang
from .diagnose import (
    RTOL,
    Diagnoser,
    Draw,
    close,
    confinement,
    errors,
    numpy_value,
    precision_of,
    shape_text,
)
from .messages import Text, catalogue, render
from .worker import runner

DEFAULT_BATCHES = (3, 5, 4)
KINK_MARGIN = 1e-3
EXACT_MAX_WIDTH = 6  # networks up to this width are also judged exactly (formulas)
MAX_CHECK_PARAMS = 250_000  # wider networks are checked on capped widths

#: What the user's code may raise without ending the check: anything (sys.exit(),
#: KeyboardInterrupt, GeneratorExit and custom BaseExceptions included).
USER_FAILURES = (BaseException,)


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
    #: what FUNC printed (stdout and stderr, truncated), when it ran in a worker process
    output: str = ""
    #: the language of the table, the JSON's sentences and the notebook view ("en", "ko")
    lang: str = "en"

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.params) and all(p.ok for p in self.params.values())

    def to_json(self) -> dict:
        """The contract's JSON object; with an "error" key when FUNC raised or returned no dict,
        and a "notes" list when something was assumed (how FUNC was called, ...)."""
        out = {"ok": self.ok, "params": {k: v.to_json() for k, v in self.params.items()}}
        for v in out["params"].values():
            if v["diagnosis"] is not None:
                v["diagnosis"] = render(v["diagnosis"], self.lang)
        if self.error is not None:
            out["error"] = render(self.error, self.lang)
        if self.notes:
            out["notes"] = [render(n, self.lang) for n in self.notes]
        return out

    # ------------------------------------------------------------------ display
    def _rows(self):
        lang = self.lang
        head = tuple(render(Text(f"table.{c}"), lang) for c in
                     ("param", "verdict", "abs", "rel", "expected", "got", "diagnosis"))
        rows = []
        for p in self.params.values():
            rows.append((
                p.name, render(Text("table.ok" if p.ok else "table.wrong"), lang),
                _num(p.max_abs_err), _num(p.max_rel_err),
                shape_text(p.expected_shape), "-" if p.got_shape is None else shape_text(p.got_shape),
                render(p.diagnosis, lang) if p.diagnosis else "",
            ))
        return head, rows

    def _summary(self) -> str:
        lang = self.lang
        if self.error:
            return render(Text("summary.failed", error=self.error), lang)
        bad = [p.name for p in self.params.values() if not p.ok]
        if not self.params:
            return render(Text("summary.none"), lang)
        return render(Text("summary.right") if not bad else
                      Text("summary.wrong", names=", ".join(bad)), lang)

    def table(self) -> str:
        lines = [render(Text("table.title", subject=self.subject, net=self.network.inline(),
                             batches=", ".join(map(str, self.batches))), self.lang)]
        head, rows = self._rows()
        if rows:
            widths = [max(_width(str(r[i])) for r in rows + [head]) for i in range(6)]
            lines.append(_row(head, widths))
            lines += [_row(r, widths) for r in rows]
        lines += [render(Text("table.note", note=n), self.lang) for n in self.notes]
        lines.append(self._summary())
        return "\n".join(lines)

    __str__ = table

    def __repr__(self) -> str:
        return self.table()

    def _repr_markdown_(self) -> str:
        head, rows = self._rows()
        out = [render(Text("markdown.title", subject=self.subject, net=self.network.inline(),
                           summary=self._summary()), self.lang), ""]
        if rows:
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
        out += [f"- {render(n, self.lang)}" for n in self.notes]
        return "\n".join(out)


def _finite(x):
    """JSON has no infinity: a figure that is not finite is reported as null."""
    return x if x is None or np.isfinite(x) else None


def _num(x) -> str:
    return "-" if x is None else f"{x:.2e}"


def _width(text: str) -> int:
    """Columns `text` takes in a terminal: East Asian wide characters (Hangul) take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _row(cells, widths) -> str:
    """One line of the table: six cells padded to `widths` (in columns), then the diagnosis."""
    return "  " + "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths)) + "  " + cells[6]


# --------------------------------------------------------------------------- drawing points


def _network(net) -> Network:
    """Any network of contract sections 1 and 7."""
    return load(net) if isinstance(net, str) else net


def parameter_count(net: Network) -> int:
    """Weights, biases and batch norm's gamma and beta."""
    return sum(a * b + a + (2 * a if net.batch_norm(l) else 0)
               for l, (a, b) in enumerate(zip(net.sizes[1:], net.sizes[:-1]), start=1))


def checked_network(net: Network) -> tuple[Network, str | None]:
    """The network the checker draws on: `net` itself, or, past MAX_CHECK_PARAMS parameters,
    `net` with its widths capped (the largest cap that fits), and the note that says so."""
    count = parameter_count(net)
    if count <= MAX_CHECK_PARAMS:
        return net, None
    width = max(net.sizes)
    while width > 1 and parameter_count(capped_network(net, width)) > MAX_CHECK_PARAMS:
        width = max(1, min(width - 1, int(width * 0.8)))
    small = capped_network(net, width)
    return small, Text("note.capped", small="-".join(map(str, small.sizes)),
                       small_count=parameter_count(small), sizes="-".join(map(str, net.sizes)),
                       count=count)


TARGETS = ("soft", "onehot", "labels")


def draw(derivation: Derivation, batch: int, rng: np.random.Generator, targets: str = "soft") -> Draw:
    """A float point (X, T, W_l, B_l as 2-D arrays) and every derived matrix there.

    Kinked layers' pre-activations are kept at least KINK_MARGIN away from 0 (redrawn).
    `targets` says what T is (see `_targets`); with "labels" the draw also holds the integer
    labels FUNC gets in place of T.
    """
    net = derivation.network
    if not net.plain:
        return formula_regularized.draw(derivation, batch, rng, targets)
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
            if net.has_bias(l):
                env[f"B{l}"] = b if column else b.T
        env["T"], labels = _targets(net, batch, rng, targets)
        values = run(derivation, env, batch, NumpyBackend())
        if all(np.min(np.abs(values[f"G{l}"])) >= KINK_MARGIN
               for l, layer in enumerate(net.layers, start=1) if layer.act.kink):
            break
    return Draw(batch, env, values, labels=labels)


def _targets(net: Network, batch: int, rng, kind: str = "soft"):
    """(T as the derivation has it, the integer labels FUNC gets instead or None).

    soft: distributions (softmax + cross-entropy), probabilities (sigmoid + binary
    cross-entropy), normal values otherwise; onehot: one 1 per sample (0/1 entries for the
    binary cross-entropy); labels: class indices of shape (N,) (0/1 with one output unit).
    """
    n = net.sizes[-1]
    output = net.loss_def.output
    labels = None
    if output == "softmax" and kind != "soft":
        labels = rng.integers(0, n, size=batch)
        t = np.zeros((n, batch))
        t[labels, np.arange(batch)] = 1.0
    elif output == "sigmoid" and kind != "soft":
        t = rng.integers(0, 2, size=(n, batch)).astype(float)
        if kind == "labels":
            labels = t[0].astype(int)
    elif output == "softmax":
        t = rng.uniform(0.1, 1.0, size=(n, batch))
        t /= t.sum(axis=0, keepdims=True)
    elif output == "sigmoid":
        t = rng.uniform(0.0, 1.0, size=(n, batch))
    else:
        t = rng.normal(size=(n, batch))
    return (t if net.layout == "column" else t.T), (labels if kind == "labels" else None)


def _check_targets(net: Network, targets: str) -> None:
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {', '.join(TARGETS)}, not '{targets}'")
    if targets != "soft" and net.loss_def.output is None:
        raise ValueError(f"--targets {targets} is for the cross-entropies only (the loss is "
                         f"{net.loss})")
    if targets == "labels" and net.loss_def.output == "sigmoid" and net.sizes[-1] != 1:
        raise ValueError(f"--targets labels with {net.loss} needs one output unit (0/1 labels), "
                         f"not {net.sizes[-1]}")


def _batches(batch: int | None) -> tuple:
    if batch is None:
        return DEFAULT_BATCHES
    if batch < 1:
        raise ValueError("batch must be at least 1")
    return (batch,) * len(DEFAULT_BATCHES)


def _param_names(net: Network) -> list[str]:
    return conventions.param_names(net)


# --------------------------------------------------------------------------- functions


class _Caller:
    """FUNC called on a draw: the whole batch at once, or once per sample with the results
    combined (summed, or averaged for a loss that is a mean over the batch)."""

    def __init__(self, adapter: conventions.Adapter, net: Network):
        self.adapter, self.net = adapter, net
        self.per_sample = False
        self.form = conventions.SAMPLE_FORMS[0]  # how one sample is passed, when per sample
        self.mean = "N" in {str(s) for s in net.loss_def.delta_coefficient.free_symbols}

    def __call__(self, params, X, T) -> conventions.Outcome:
        if not self.per_sample:
            return self.adapter.call(params, X, T)
        batch = X.shape[1] if self.net.layout == "column" else X.shape[0]
        outcomes = [self.adapter.call(params, x, t)
                    for x, t in conventions.split_samples(self.net, X, T, batch, self.form)]
        return conventions.combine(outcomes, self.mean)


def check_function(net, func, batch: int | None = None, seed: int = 0,
                   targets: str = "soft", *, timeout: float = runner.DEFAULT_TIMEOUT,
                   memory_mb: int = runner.DEFAULT_MEMORY_MB, lang: str = "en") -> CheckReport:
    """Judge a hand-written backward pass against the derivation of `net`.

    Args:
        net: a `Network`, or a NET string (spec file or inline form).
        func: ``func(params, X, T) -> {"W1": dW1, ...}``, or any of the calling conventions of
            `conventions` (a function of named arrays, a `conventions.Target` naming ``Class.method``,
            tuple / list / ``(loss, grads)`` returns).
        batch: fix the batch size of every draw (for code written for one sample).
        seed: seeds the draws; the same seed gives the same points.
            Or ``"FILE:FUNC"`` (a string): FILE is imported and FUNC built and run in a
            separate worker process, as ``gradscribe check --python`` does: stopped after
            `timeout` seconds in all, limited to `memory_mb` more megabytes of address space,
            its output kept (truncated) in the report's `output`; nothing FUNC does (hanging,
            exiting, crashing, raising anything) can end or fool the checker. A callable is
            the notebook mode: called in this process with the same conversions, type checks
            and verdicts (every exception reported), but no time or memory limit, and a FUNC
            that ends the process ends it.
        targets: "soft", "onehot" or "labels" (the cross-entropies only): what T is.
        timeout, memory_mb: the worker's limits (``"FILE:FUNC"`` only).
        lang: the language of the report's verdicts, diagnoses and notes ("en", "ko").

    Returns:
        A `CheckReport`: per returned parameter, the verdict, error figures and a diagnosis;
        its notes say what was assumed about the calling convention (and, past 250,000
        parameters, that capped widths were checked).

    Raises:
        conventions.CallingError: FUNC cannot be built or called as specified.
        ValueError: `targets` or `batch` do not fit the network.
    """
    catalogue(lang)  # an unknown language fails before anything runs
    net, capped = checked_network(_network(net))
    _check_targets(net, targets)
    formula_regularized.check_batches(net, _batches(batch))
    report = _run_check(net, func, batch, seed, targets, timeout, memory_mb)
    report.lang = lang
    if report.error is not None and " raised " in report.error:
        hint = _flag_hint(net, func, batch, seed, targets, timeout, memory_mb)
        if hint is not None:
            report.error = Text("cat", a=report.error, b=hint)
    if capped:
        report.notes.insert(0, capped)
    return report


def _flag_hint(net: Network, func, batch, seed, targets, timeout, memory_mb) -> str:
    """For FUNC that raised: '; ... check it with --targets labels' where integer class labels
    make it run, '; ... check it as NET:row' where the other layout does; else ''."""
    tries = []
    if targets != "labels" and (net.loss_def.output == "softmax" or (
            net.loss_def.output == "sigmoid" and net.sizes[-1] == 1)):
        tries.append((net, "labels", Text("hint.labels")))
    other = "row" if net.layout == "column" else "column"
    flipped = dataclasses.replace(net, layout=other)
    spelled = (f"`{flipped.inline()}`" if all(layer.bias for layer in net.layers)
               else f'`layout = "{other}"` in the spec')
    tries.append((flipped, targets, Text("hint.layout", layout=other, spelled=spelled)))
    for network, kind, hint in tries:
        try:
            again = _run_check(network, func, batch, seed, kind, timeout, memory_mb)
        except Exception:  # noqa: BLE001  # the other form cannot be built either
            continue
        if again.error is None and again.params:
            return Text("hint.flag.right" if again.ok else "hint.flag", hint=hint)
    return None


def _run_check(net, func, batch, seed, targets, timeout, memory_mb) -> CheckReport:
    if isinstance(func, str):
        path, sep, qualname = func.rpartition(":")
        if not sep or not path or not qualname:
            raise conventions.CallingError(f"expected FILE:FUNC, got '{func}'")
        worker = runner.WorkerAdapter(path, qualname, net, timeout=timeout, memory_mb=memory_mb,
                                      reply_limit=16 * 8 * parameter_count(net) + (1 << 24))
        try:
            report = _check_function(net, worker, batch, seed, targets)
        finally:
            worker.close()
        report.output = worker.output
    else:
        report = _check_function(net, func, batch, seed, targets)
    return report


def _check_function(net, func, batch, seed, targets) -> CheckReport:
    derivation = derive(net)
    batches = _batches(batch)
    rng = np.random.default_rng(seed)
    draws = [draw(derivation, b, rng, targets) for b in batches]
    if isinstance(func, runner.WorkerAdapter):
        func.ready()
        adapter = func
    else:
        adapter = func if isinstance(func, conventions.Adapter) else conventions.Adapter(func, net)
    name = adapter.label
    caller = _Caller(adapter, net)
    report = CheckReport(net, f"{name}()", batches)
    report.notes += adapter.notes
    settings = dict(getattr(adapter, "settings", {}) or {})
    report.notes += [Text("note.setting", name=name, setting=f"{k}={v!r}")
                     for k, v in settings.items()]
    returned: list[dict] = []
    modified: dict[str, str] = {}
    at_one = _BatchOfOne(derivation, caller, rng, targets)
    plain = net.plain
    drops = [f"M{l}" for l in range(1, net.depth + 1) if net.dropout(l) is not None]
    for i, d in enumerate(draws):
        params, X, T = _inputs(derivation, d)
        if drops and getattr(adapter, "takes_masks", False):
            adapter.given_masks = {m: d.env[m].copy() for m in drops}
        passed = dict(params)
        originals = {k: v.copy() for k, v in params.items()}
        x_before, t_before = X.copy(), T.copy()
        try:
            outcome = caller(params, X, T)
        except conventions.ReturnError as exc:
            report.error = calling.safe_text(exc, 1000)
            return report
        except USER_FAILURES as exc:  # the user's code: any failure is a finding, not a crash
            if isinstance(exc, runner.FuncFailed) and not exc.raised:
                report.error = exc.message  # it hung, exited, returned no gradients, ...
                return report
            kind = (exc.message.split(" raised ", 1)[-1].split(":")[0].split(" ")[0]
                    if isinstance(exc, runner.FuncFailed) else calling.type_name(exc))
            try:
                again = plain and not returned and _go_per_sample(caller, derivation, at_one, batch,
                                                        Text("sample.raised", kind=kind), report)
                if again:
                    params = {k: v.copy() for k, v in originals.items()}
                    passed = dict(params)
                    outcome = caller(params, X, T)
            except USER_FAILURES as second:
                report.error = _failure_text(derivation, caller, name, second, params, X, T,
                                             d.batch, rng, targets)
                return report
            if not again:
                report.error = _failure_text(derivation, caller, name, exc, params, X, T,
                                             d.batch, rng, targets)
                return report
        grads = outcome.grads
        if not returned:
            wrong_shape = _wrong_shapes(derivation, grads, d)
            if wrong_shape and plain and _go_per_sample(
                    caller, derivation, at_one, batch, wrong_shape, report, grads, d,
                    lambda form, p=originals, x=x_before, t=t_before:
                    _summed_per_sample(caller, p, x, t, form)):
                params = {k: v.copy() for k, v in originals.items()}
                passed = dict(params)
                try:
                    outcome = caller(params, X, T)
                except USER_FAILURES as exc:
                    report.error = _failure_text(derivation, caller, name, exc, params, X, T,
                                                 d.batch, rng, targets)
                    return report
                grads = outcome.grads
        report.notes += [n for n in outcome.notes if n not in report.notes]
        if drops and not getattr(adapter, "takes_masks", False):
            kept = getattr(outcome, "masks", {}) or {}
            missing = [m for m in drops if m not in kept]
            if missing:
                report.error = Text("error.masks_hidden", name=name, masks=", ".join(missing),
                                    layer=missing[0][1:], command=_dropout_layer_check(net, missing[0]))
                return report
            draws[i] = d = _redrawn(derivation, d, kept)
            read = Text("note.masks_read", name=name, masks=", ".join(drops))
            if read not in report.notes:
                report.notes.append(read)
        for k, array in passed.items():
            returned_it = any(v is array for v in grads.values())
            if not np.array_equal(array, originals[k]):
                modified[k] = Text("modified.returned" if returned_it else "modified.updated",
                                   name=name, key=k)
            elif params.get(k) is not array:
                modified[k] = Text("modified.replaced", name=name, key=k)
        for label, before, after in (("X", x_before, X), ("T", t_before, T)):
            if not np.array_equal(before, after) and f"{name} modified {label} in place" not in report.notes:
                report.notes.append(Text("note.modified_data", name=name, label=label))
        returned.append(grads)

    known = _param_names(net)
    keys = [k for k in returned[0]]
    if not keys:
        report.error = Text("error.no_gradients", name=name)
        return report
    diagnoser = (Diagnoser if plain else formula_regularized.RegularizedDiagnoser)(derivation, draws)
    raw = {}
    for key in keys:
        if key not in known:
            report.params[key] = ParamResult(
                key, False, None, None, (), _shape_of(returned[0][key]),
                Text("diag.not_a_param", key=key, known=", ".join(known)))
            continue
        got, why, eps = [], None, 0.0
        for grads, d in zip(returned, draws):
            value = grads.get(key) if key in grads else calling.Bad(
                Text("diag.missing_at", first=draws[0].batch, batch=d.batch))
            if isinstance(value, calling.Bad):
                why = value.message
                break
            try:
                got.append(calling.as_float_array(value))
            except calling.ReturnError as exc:
                why = f"{key}: {exc}"
                break
            eps = max(eps, precision_of(value))
        if why is not None:
            report.params[key] = ParamResult(
                key, False, None, None, tuple(diagnoser.expected("d" + key)[0].shape), None, why)
            continue
        raw[key] = got, eps
    for key, (got, eps) in raw.items():
        report.params[key] = _judge(diagnoser, "d" + key, key, got, modified.get(key), eps)
    scaled = None
    if drops and not all(report.params[k].ok for k in raw):
        scaled = _dropout_scaled_at_test(report, name, derivation, draws, raw, modified)
        if scaled is not None:
            draws, diagnoser = scaled
    if net.normalizes and not all(report.params[k].ok for k in raw):
        _epsilon(report, name, derivation, draws, raw, modified,
                 scaled_too=bool(drops) and scaled is None)
    for further in ((lambda: _penalty(report, net, diagnoser, raw, settings),
                     lambda: _compound(report, diagnoser, raw),
                     lambda: _other_loss(report, net, diagnoser, raw)) if plain else
                    (lambda: _penalty(report, net, diagnoser, raw, settings),)
                    if net.penalty is None else ()):
        try:
            further()
        except Exception:  # noqa: BLE001  # an explanation that fails must not hide the verdicts
            pass
    for key, note in modified.items():
        if key not in report.params:
            report.params[key] = ParamResult(
                key, False, None, None, tuple(numpy_value(derivation, key, draws[0].env[key]).shape),
                None, note)
    if plain and batch is None and not caller.per_sample:
        _single_sample_hint(report, derivation, at_one)
    if plain:
        _convention(report, net, diagnoser, caller.per_sample)
        _propagation(report, net, at_one, diagnoser)
    report.params = {k: report.params[k] for k in sorted(report.params, key=_order(known))}
    return report


def _redrawn(derivation: Derivation, d: Draw, changes: dict) -> Draw:
    """The draw `d` with the inputs in `changes` (the dropout masks the code used, ...) and
    everything `derivation` derives from them."""
    env = dict(d.env)
    env.update((k, np.asarray(v, dtype=float)) for k, v in changes.items() if k in env)
    with np.errstate(all="ignore"):
        values = run(derivation, env, d.batch, NumpyBackend())
    return Draw(d.batch, env, values, labels=d.labels)


def _dropout_layer_check(net: Network, mask: str) -> str:
    """``gradscribe check layer:dropout@0.5:4:row --python FILE:NAME``: the layer check of the
    dropout behind mask M_l."""
    l = int(mask[1:])
    return (f"gradscribe check layer:dropout@{format_number(net.dropout(l))}:{net.sizes[l]}:"
            f"{net.layout} --python FILE:NAME")


def _dropout_scaled_at_test(report: CheckReport, name: str, derivation: Derivation, draws: list,
                            raw: dict, modified: dict):
    """Code whose dropout multiplies by the mask alone in training (and by 1 - p at test time,
    as the book's `Dropout` does) computes the gradients of the network whose masks are
    M_l (1 - p): inverted dropout's R_l ⊙ M_l (1 - p) / (1 - p) = R_l ⊙ M_l. Where more
    gradients are right so than with inverted dropout, that is the code's convention (a note,
    not a slip) and every gradient is judged, and any slip named, under it: returns the draws
    and diagnoser of that convention, or None."""
    net = derivation.network
    scaled = _test_scaled(derivation, draws)
    diagnoser = formula_regularized.RegularizedDiagnoser(derivation, scaled)
    judged = {key: _judge(diagnoser, "d" + key, key, got, modified.get(key), eps)
              for key, (got, eps) in raw.items()}
    right = sum(r.ok for r in judged.values())
    if right == 0 or right <= sum(report.params[k].ok for k in raw):
        return None
    report.params.update(judged)
    report.notes.append(_test_scaled_note(net, name))
    return scaled, diagnoser


def _test_scaled(derivation: Derivation, draws: list) -> list:
    """The draws with every mask M_l times 1 - p (dropout scaled at test time) and what
    follows from them."""
    return [_redrawn(derivation, d, _scaled_masks(derivation.network, d)) for d in draws]


def _scaled_masks(net: Network, d: Draw) -> dict:
    """`d`'s masks M_l times 1 - p_l."""
    return {f"M{l}": d.env[f"M{l}"] * float(1 - net.dropout(l))
            for l in range(1, net.depth + 1) if net.dropout(l) is not None}


def _test_scaled_note(net: Network, name: str):
    ps = sorted({format_number(net.dropout(l)) for l in range(1, net.depth + 1)
                 if net.dropout(l) is not None})
    return Text("note.dropout_test_scaled", name=name, p=", ".join(ps))


#: the ε of batch norm that code commonly uses (PyTorch and course code 1e-5, the book 10e-7,
#: Keras 1e-3, ...)
EPSILONS = ("1e-3", "1e-4", "1e-5", "1e-6", "1e-7", "1e-8", "2e-5")


def _epsilon(report: CheckReport, name: str, derivation: Derivation, draws: list, raw: dict,
             modified: dict, scaled_too: bool = False) -> None:
    """Wrong gradients that are right for batch norm with another common ε (the same in every
    batch-norm layer): the code's ε differs from the network's, named as a convention with the
    network to check it as. The ε under which the most gradients are right is taken where that
    is more than under the network's own; gradients still wrong under it get their slip named
    under it. With `scaled_too`, dropout scaled at test time is tried with each ε as well
    (the book's network has both)."""
    net = derivation.network
    best = None
    for text in EPSILONS:
        eps = sp.Rational(text)
        if all(layer.eps == eps for layer in net.layers if layer.batch_norm):
            continue
        other = dataclasses.replace(net, layers=tuple(
            dataclasses.replace(layer, eps=eps) if layer.batch_norm else layer
            for layer in net.layers))
        again = derive(other)
        for test_scaled in (False, True) if scaled_too else (False,):
            moved = [_redrawn(again, d, _scaled_masks(net, d) if test_scaled else {})
                     for d in draws]
            diagnoser = formula_regularized.RegularizedDiagnoser(again, moved)
            judged = {key: _judge(diagnoser, "d" + key, key, got, modified.get(key), eps_)
                      for key, (got, eps_) in raw.items()}
            right = sum(r.ok for r in judged.values())
            if best is None or right > best[0]:
                best = (right, eps, other, test_scaled, judged)
    if best is None or best[0] <= sum(report.params[k].ok for k in raw):
        return
    _right, eps, other, test_scaled, judged = best
    if test_scaled:
        report.notes.append(_test_scaled_note(net, name))
    ours = sorted({format_number(layer.eps) for layer in net.layers if layer.batch_norm})
    text = Text("eps.convention", eps=format_number(eps), ours=", ".join(ours),
                spelled=other.inline())
    for key in raw:
        result = report.params[key]
        if judged[key].ok:
            if not result.ok:
                result.diagnosis = Text("eps.diag", name="d" + key, text=text)
                result.facts = {}
        else:
            report.params[key] = judged[key]
    report.notes.append(Text("note.eps", name=name, text=text))


def _wrong_shapes(derivation: Derivation, grads: dict, d: Draw) -> str | None:
    """'it returned dB2 of shape (2, 3)' for the first gradient not in its parameter's shape."""
    for k, v in grads.items():
        if k not in _param_names(derivation.network):
            continue
        want = numpy_value(derivation, k, d.env[k]).shape
        got = _shape_of(v)
        if got != want:
            return Text("sample.shape", key=k, shape="?" if got is None else shape_text(got))
    return None


def _go_per_sample(caller: _Caller, derivation: Derivation, at_one: _BatchOfOne, batch, why: str,
                   report: CheckReport, grads: dict | None = None, d: Draw | None = None,
                   summed=None) -> bool:
    """Switch to one call per sample when FUNC is code for one sample: it fails or returns the
    wrong shapes for a batch, and returns every shape right for one sample (a batch of one, or
    plain vectors).

    When FUNC ran on the batch and either got a weight gradient right there (it handles a
    batch) or only its bias gradients keep the batch axis (batch code that forgot to sum them
    does exactly the same), it is taken as code for one sample only when its weight gradients
    are those of per-sample code (the per-sample results added up, where a loss that averages
    over the batch needs their mean: `summed(form)` gives that sum) or it names its data for
    one sample (``x``, ``img``, ...).
    """
    if batch is not None:
        return False
    # code that cannot take a batch at all is judged on single samples even where some shapes
    # are wrong there too (a transposed gradient is better told than "it raised")
    form = at_one.sample_form(strict=grads is not None)
    if form is None:
        return False
    reason = None
    if grads is not None:
        handles_batch = _a_weight_right(derivation, grads, d)
        if handles_batch or _batch_axis_kept(derivation, grads, d):
            if not handles_batch and caller.mean and _sums_of_samples(grads, summed(form), d.batch):
                reason = Text("sample.reason.sums")
            elif conventions.one_sample_names(caller.adapter.data_names):
                names = ", ".join(n for n in caller.adapter.data_names
                                  if n in conventions.ONE_SAMPLE_NAMES)
                reason = Text("sample.reason.names", names=names)
            else:
                return False
    caller.per_sample, caller.form = True, form
    combined = Text("sample.averaged") if caller.mean else Text("sample.summed")
    one = Text("sample.batch_of_one") if form == conventions.SAMPLE_FORMS[0] else Text("sample.vectors")
    shapes = Text("sample.shapes_right") if at_one.sample_form() else Text("sample.runs")
    why = Text("and", a=why, b=reason) if reason else why
    report.notes.append(Text("note.one_sample", label=caller.adapter.label,
                             batch=report.batches[0], why=why, one=one, shapes=shapes,
                             combined=combined))
    return True


def _batch_axis_kept(derivation: Derivation, grads: dict, d: Draw) -> bool:
    """Are the only wrongly shaped gradients bias gradients that keep the batch axis ((n, N),
    (N, n), or (N,) for one unit), as δ itself has it?"""
    net = derivation.network
    for k, v in grads.items():
        if k not in _param_names(net):
            continue
        want = numpy_value(derivation, k, d.env[k]).shape
        got = _shape_of(v)
        if got == want:
            continue
        if k[0] != "B":
            return False
        n = net.sizes[int(k[1:])]
        kept = {(n, d.batch), (d.batch, n)} | ({(d.batch,), (1, d.batch)} if n == 1 else set())
        if got not in kept:
            return False
    return True


def _a_weight_right(derivation: Derivation, grads: dict, d: Draw) -> bool:
    """Is some returned weight gradient right for the whole batch?"""
    for k, v in grads.items():
        if k in _param_names(derivation.network) and k[0] == "W":
            try:
                got = np.asarray(v, dtype=float)
            except (TypeError, ValueError):
                continue
            if close(got, numpy_value(derivation, "d" + k, d.values["d" + k])):
                return True
    return False


def _summed_per_sample(caller: _Caller, params: dict, X, T, form: str) -> dict | None:
    """FUNC called once per sample of (X, T) in `form`, its results added up; None if it fails."""
    batch = X.shape[1] if caller.net.layout == "column" else X.shape[0]
    try:
        outcomes = [caller.adapter.call({k: v.copy() for k, v in params.items()}, x, t)
                    for x, t in conventions.split_samples(caller.net, X.copy(), T.copy(), batch,
                                                          form)]
    except USER_FAILURES:  # the user's code
        return None
    return conventions.combine(outcomes, mean=False).grads


def _sums_of_samples(grads: dict, summed: dict | None, batch: int) -> bool:
    """Are the weight gradients FUNC returned for a batch its per-sample results added up (and
    not their mean)?"""
    found = False
    for k, v in grads.items():
        if not (isinstance(k, str) and k[:1] == "W" and k[1:].isdigit()):
            continue
        try:
            got = np.asarray(v, dtype=float)
            total = np.asarray((summed or {}).get(k), dtype=float)
        except (TypeError, ValueError):
            return False
        if not close(got, total) or close(got, total / batch):
            return False
        found = True
    return found


class _BatchOfOne:
    """FUNC called once on a batch of one (lazily): there dB_l is δ_l itself, so the deltas the
    code used can be read off its bias gradients."""

    def __init__(self, derivation: Derivation, call, rng, targets: str = "soft"):
        self.derivation, self.call, self.rng, self.targets = derivation, call, rng, targets
        self._result = None
        self._forms: list | None = None  # [(gradients in a wrong shape, form)] once probed

    def sample_form(self, strict: bool = True) -> str | None:
        """The form of one sample (`conventions.SAMPLE_FORMS`) for which FUNC runs and returns
        every gradient in its shape, tried in the layout's natural order (a column of one for
        ``column``, a vector ``X[i]`` for ``row``); None if there is none. Not `strict`: the
        form with the fewest gradients in the wrong shape, None if FUNC fails in every form."""
        if self._forms is None:
            forms = conventions.SAMPLE_FORMS
            if self.derivation.layout == "row":
                forms = forms[::-1]
            self._forms = []
            for form in forms:
                result = self.get() if form == conventions.SAMPLE_FORMS[0] else self._vector_call()
                if result is not None:
                    one, grads = result
                    wrong = sum(_wrong_shapes(self.derivation, {k: v}, one) is not None
                                for k, v in grads.items())
                    self._forms.append((wrong, form))
                    if not wrong:
                        break
        if not self._forms:
            return None
        wrong, form = min(self._forms, key=lambda wf: wf[0])  # the first of the fewest
        return form if wrong == 0 or not strict else None

    def _vector_call(self):
        """(draw, grads) of FUNC called on the batch-of-one draw as plain vectors, or None."""
        self.get()
        one = self._result[0]
        params, X, T = _inputs(self.derivation, one)
        [(x, t)] = conventions.split_samples(self.derivation.network, X, T, 1, "vector")
        try:
            grads = self.call.adapter.call(params, x, t).grads
        except USER_FAILURES:  # the user's code
            return None
        return (one, grads) if isinstance(grads, dict) else None

    def get(self):
        """(draw, grads), or None if FUNC fails there."""
        if self._result is None:
            one = draw(self.derivation, 1, self.rng, self.targets)
            params, X, T = _inputs(self.derivation, one)
            try:
                grads = self.call.adapter.call(params, X, T).grads
            except USER_FAILURES:  # the user's code
                grads = None
            self._result = (one, grads if isinstance(grads, dict) else None)
        return None if self._result[1] is None else self._result

    def own_slip(self, l: int, diagnoser: Diagnoser) -> str | None:
        """The modelled slip of layer l's own step (its f' left out, another's used, ...) that
        gives the code's dW_l and dB_l from the δ_{l+1} it used (its dB_{l+1} at a batch of
        one), or None."""
        result = self.get()
        if result is None:
            return None
        one, grads = result
        shape = tuple(int(d) for d in one.values[f"D{l + 1}"].shape)
        try:
            upper = np.asarray(grads.get(f"B{l + 1}"), dtype=float).reshape(shape)
        except (TypeError, ValueError):
            return None
        env = dict(one.values)
        env[f"D{l + 1}"] = upper
        return diagnoser.own_slip(l, env, 1, grads)

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
    """Unexplained or wrongly shaped gradients that are right for a batch of one: code for one
    sample, called with a whole batch."""
    known = _param_names(derivation.network)
    unexplained = [p for p in report.params.values()
                   if p.name in known and not p.ok and p.diagnosis and "in place" not in p.diagnosis
                   and (p.facts.get("plain") or (p.got_shape is not None
                                                 and p.got_shape != p.expected_shape))]
    if not unexplained or at_one.get() is None:
        return
    one, grads = at_one.get()
    for p in unexplained:
        try:
            got = np.asarray(grads.get(p.name), dtype=float)
        except (TypeError, ValueError, AttributeError):
            continue
        if close(got, numpy_value(derivation, "d" + p.name, one.values["d" + p.name])):
            p.diagnosis = Text("cat", a=p.diagnosis, b=Text("hint.batch_one"))
            p.facts = {}


def _order(known):
    def key(name):
        return (0, known.index(name)) if name in known else (1, name)
    return key


def _inputs(derivation: Derivation, d: Draw):
    params = {k: numpy_value(derivation, k, d.env[k]).copy() for k in _param_names(derivation.network)}
    T = d.env["T"] if d.labels is None else d.labels
    return params, d.env["X"].copy(), T.copy()



def _shape_of(value):
    try:
        return tuple(np.shape(value))
    except Exception:  # noqa: BLE001
        return None


def _failure_text(derivation, caller, name, exc, params, X, T, batch, rng, targets) -> str:
    """The report's line for FUNC failing on a draw (and whether it runs for a batch of one)."""
    if isinstance(exc, runner.FuncFailed):
        if not exc.raised:
            return exc.message
        message = exc.message
    else:
        shapes = ", ".join(f"{k} {shape_text(v.shape)}" for k, v in [("X", X), ("T", T)]
                           + list(params.items()))
        message = Text("error.raised", name=name, exception=calling.describe_exception(exc),
                       shapes=shapes, batch=batch)
    if batch != 1:
        one = draw(derivation, 1, rng, targets)
        p1, x1, t1 = _inputs(derivation, one)
        try:
            caller(p1, x1, t1)
            message = Text("cat", a=message, b=Text("hint.runs_for_one"))
        except USER_FAILURES:
            message = Text("cat", a=message, b=Text("hint.fails_for_one"))
    return message


def _zero_atol(diagnoser: Diagnoser, grad_name: str, d: Draw, rtol: float) -> float:
    """1e-12, or the diagnoser's own absolute tolerance (batch norm's exactly-zero dB_l)."""
    zero = getattr(diagnoser, "zero_atol", None)
    return 1e-12 if zero is None else zero(grad_name, d, rtol)


def _judge(diagnoser: Diagnoser, grad_name: str, key: str, got: list, note: str | None,
           eps: float = 0.0) -> ParamResult:
    """The verdict on one gradient received at every draw (computed in a precision of unit
    roundoff `eps`: float32 code is held to float32's rounding, not float64's)."""
    want = diagnoser.expected(grad_name)
    rtol = diagnoser.roundoff_rtol(grad_name, eps)
    if _zero_atol(diagnoser, grad_name, diagnoser.draws[0], 1.0) > 1e-12:
        # dB of a batch-norm layer, exactly 0: code sums δ_l, as rounded as δ_l itself
        rtol = max(rtol, diagnoser.roundoff_rtol(f"D{_layer_of(grad_name)}", eps))
    expected_shape = tuple(want[0].shape)
    if any(g is None or g.dtype == object for g in got):
        return ParamResult(key, False, None, None, expected_shape, None,
                           Text("diag.not_numbers", key=key))
    got_shape = tuple(got[0].shape)
    abs_err = rel_err = None
    figures = [errors(g, w) for g, w in zip(got, want)]
    if all(f[0] is not None for f in figures):
        abs_err = max(f[0] for f in figures)
        rel_err = max(f[1] for f in figures)
        if not np.isfinite(rel_err) and all(not np.any(w) for w in want):
            # an exactly-zero gradient (dB of a batch-norm layer): relative to what sums to it
            scales = [_zero_atol(diagnoser, grad_name, d, 1.0) for d in diagnoser.draws]
            if all(sc > 1e-12 for sc in scales):
                rel_err = max(f[0] / sc for f, sc in zip(figures, scales))
    ok = all(close(g, w, rtol, _zero_atol(diagnoser, grad_name, d, rtol))
             for g, w, d in zip(got, want, diagnoser.draws))
    diagnosis = None
    if not ok:
        try:
            diagnosis, facts = diagnoser.explain(grad_name, got, rtol)
        except Exception:  # noqa: BLE001  # a candidate that cannot be evaluated must not hide the verdict
            diagnosis, facts = None, {}
        if diagnosis is None:
            try:
                diagnosis = diagnoser.two_slips(grad_name, got, (), rtol)
            except Exception:  # noqa: BLE001  # as above
                diagnosis = None
            facts = {"two": True} if diagnosis else {}
        if diagnosis is None:
            figs = "" if abs_err is None else Text("figs.errors", abs=abs_err, rel=rel_err)
            mismatch = next(((g.shape, w.shape, d.batch) for g, w, d
                             in zip(got, want, diagnoser.draws) if g.shape != w.shape), None)
            if mismatch is not None:
                figs = Text("cat", a=Text("figs.shape", got=shape_text(mismatch[0]),
                                          want=shape_text(mismatch[1]), batch=mismatch[2]), b=figs)
            worst = worst_element(grad_name, got, want, diagnoser.draws)
            if worst:
                figs = Text("cat", a=figs, b=Text("figs.worst", worst=worst))
            where = confinement(grad_name, got, want)
            if where:
                figs = Text("cat", a=figs, b=Text("figs.where", where=where))
            figures = Text("nocause.what", figs=figs)
            diagnosis = Text("nocause", name=grad_name, layer=_layer_of(grad_name), figures=figures)
            facts = {"plain": True, "figures": figures}
        result = ParamResult(key, False, abs_err, rel_err, expected_shape, got_shape, diagnosis,
                             facts)
    else:
        result = ParamResult(key, True, abs_err, rel_err, expected_shape, got_shape)
    if note:
        if result.ok:
            result.diagnosis = Text("diag.note_right", note=note)
        elif "returned it" in note or result.facts.get("plain"):
            result.diagnosis = note
        else:
            result.diagnosis = Text("diag.note_also", note=note, diagnosis=result.diagnosis)
        result.ok = False
        result.facts = {}
    return result


#: what the code's penalty argument is, by name: an L2 penalty λ ΣW² or weight decay (λ/2) ΣW²
_DECAY_NAMES = ("weight_decay_lambda", "weight_decay", "lambda_", "lam", "lmbda", "l2_lambda")


def _penalty(report: CheckReport, net: Network, diagnoser: Diagnoser, raw: dict,
             settings: dict) -> None:
    """Every returned weight gradient off by c·W (the same c in every layer and draw) and the
    biases by nothing: an L2 penalty (c/2)·ΣW² or weight decay λ = c in the code's loss. Named
    (with the code's own argument where it has one), and any second slip of a gradient
    explained once c·W is taken off."""
    weights = [k for k in raw if k[0] == "W" and k in _param_names(net)]
    if not weights:
        return
    params = {k: [numpy_value(diagnoser.derivation, k, d.env[k]) for d in diagnoser.draws]
              for k in weights}
    exact = {}
    for k in weights:
        if report.params[k].ok:
            return  # a weight gradient without the term: not a penalty on every weight
        want = diagnoser.expected("d" + k)
        ratios = []
        for g, w, W in zip(raw[k][0], want, params[k]):
            g = np.asarray(g, float)
            denom = float(np.sum(W * W))
            if g.shape != w.shape or denom == 0:
                break
            c = float(np.sum((g - w) * W) / denom)
            if not close(g, w + c * W, max(RTOL, diagnoser.roundoff_rtol("d" + k, raw[k][1]))):
                break
            ratios.append(c)
        else:
            if ratios and all(abs(c - ratios[0]) <= 1e-6 * abs(ratios[0]) for c in ratios):
                exact[k] = ratios[0]
    if not exact:
        return
    c = next(iter(exact.values()))
    if c == 0 or any(abs(v - c) > 1e-6 * abs(c) for v in exact.values()):
        return
    biases = [p for k, p in report.params.items() if k[0] == "B" and k in _param_names(net)]
    if any(not p.ok and not p.facts.get("variant") and not p.facts.get("two") for p in biases):
        return  # a bias gradient off in a way no slip explains: not only a penalty
    cause = _penalty_cause(net, c, settings)
    for k in weights:
        p = report.params[k]
        added = Text("penalty.added", key=k, c=c, cause=cause)
        if k in exact:
            p.diagnosis = added
        else:
            rest = [np.asarray(g, float) - c * W for g, W in zip(raw[k][0], params[k])]
            text, _ = diagnoser.explain("d" + k, rest, diagnoser.roundoff_rtol("d" + k, raw[k][1]))
            if text is None:
                continue
            p.diagnosis = Text("penalty.besides", added=added, text=text)
        p.facts = {"penalty": c}


def _penalty_cause(net: Network, c: float, settings: dict) -> str:
    """'an L2 penalty 0.1·ΣW² (reg = 0.1)' for a gradient term c·W, with the code's own
    argument where one matches, and the loss suffix that checks it."""
    l2, wd = c / 2, c
    for name, value in settings.items():
        if not value:
            continue
        decay = name in _DECAY_NAMES
        if abs(value - l2) <= 1e-6 * abs(l2) and not decay:
            return Text("penalty.l2", l2=l2, name=name, value=value, loss=net.loss)
        if abs(value - wd) <= 1e-6 * abs(wd):
            return Text("penalty.wd", wd=wd, name=name, value=value, loss=net.loss)
        if abs(value - l2) <= 1e-6 * abs(l2):
            return Text("penalty.l2", l2=l2, name=name, value=value, loss=net.loss)
    return Text("penalty.either", l2=l2, wd=wd, loss=net.loss)


def _other_loss(report: CheckReport, net: Network, diagnoser: Diagnoser, raw: dict) -> None:
    """Wrong gradients that are right for another registered loss with the same output (the
    code computes that loss's δ_L: a cross-entropy's P - T checked as half_sse): say so."""
    wrong = [k for k, p in report.params.items() if not p.ok and k in raw]
    if not wrong or any(p.facts.get("penalty") for p in report.params.values()):
        return
    if any("a loss convention" in (p.diagnosis or "") for p in report.params.values()):
        return  # `_convention` named it already
    last = net.layers[-1].activation
    matches = []
    for other in losses.LOSSES.values():
        if other.name == net.loss or other.output not in (None, last):
            continue
        if other.output is None and last == "softmax":
            continue  # softmax goes with the cross-entropy only
        derivation = derive(dataclasses.replace(net, loss=other.name))
        right = True
        for i, d in enumerate(diagnoser.draws):
            with np.errstate(all="ignore"):
                values = run(derivation, d.env, d.batch, NumpyBackend())
            for key, (got, eps) in raw.items():
                want = numpy_value(derivation, "d" + key, values["d" + key])
                if not close(got[i], want, diagnoser.roundoff_rtol("d" + key, eps)):
                    right = False
                    break
            if not right:
                break
        if right:
            matches.append(other.name)
    if not matches:
        return
    L = net.depth
    spelled = " or ".join(_respelled(net, m) for m in matches)
    names = " or ".join(matches)
    report.notes.append(Text("note.other_loss", losses=names, L=L, loss=net.loss, spelled=spelled))
    for k in wrong:
        p = report.params[k]
        p.diagnosis = Text("cat", a=p.diagnosis, b=Text("hint.other_loss", losses=names,
                                                        spelled=spelled))


def _compound(report: CheckReport, diagnoser: Diagnoser, raw: dict) -> None:
    """Gradients no single slip explains: two slips, one of them the slip that explains the
    layers above (an error inherited from above plus a slip of the layer's own)."""
    by_layer = {}
    for p in report.params.values():
        if not p.ok and p.facts.get("variant"):
            by_layer.setdefault(_layer_of(p.name), p.facts["variant"])
    for key, p in report.params.items():
        if p.ok or not p.facts.get("plain") or key not in raw:
            continue
        layer = _layer_of(key)
        hints = [by_layer[l] for l in sorted(by_layer, reverse=True) if l > layer]
        if not hints:
            continue
        got, eps = raw[key]
        rtol = diagnoser.roundoff_rtol("d" + key, eps)
        try:
            text = diagnoser.two_slips("d" + key, got, hints, rtol)
        except Exception:  # noqa: BLE001  # a candidate that cannot be evaluated
            text = None
        if text:
            p.diagnosis, p.facts = text, {"two": True}


def _layer_of(name: str) -> int:
    """The layer number in dW2, dB2, D2, W2, B2 (dgamma2, dbeta2 too)."""
    return formula_regularized.layer_of(name)


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
                    continue
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
    return Text("worst", name=name, where=where, got=g_value, want=w_value, batch=batch)


def _propagation(report: CheckReport, net: Network, at_one: _BatchOfOne | None = None,
                 diagnoser: Diagnoser | None = None) -> None:
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
            right = [q.name for q in by_layer[l] if q.ok]
            if right and ("factor" in facts or facts.get("plain")):
                # an error coming from above would change every gradient of the layer
                own_text = Text("prop.own_text", right=right[0], l=l, name=p.name)
                if facts.get("plain"):
                    figures = facts.get("figures") or p.diagnosis.split(": ", 1)[1]
                    p.diagnosis = Text("prop.own", name=p.name, l=l, own=own_text, figures=figures)
                else:
                    p.diagnosis = Text("cat", a=p.diagnosis, b=Text("figs.where", where=own_text))
                continue
            if "factor" in facts and str(facts["factor"]) in top_factors and l < top:
                p.diagnosis = Text("cat", a=p.diagnosis, b=Text("prop.same_factor", top=top))
            elif facts.get("plain") and p.got_shape == p.expected_shape:
                figures = facts.get("figures") or p.diagnosis.split(": ", 1)[1]
                for j in (l, l + 1):
                    if j not in own:
                        own[j] = (at_one.own_step_right(j)
                                  if at_one is not None and j < net.depth else {})
                if own[l + 1].get(f"B{l + 1}") is False:
                    # dB_{l+1} does not follow from the δ above it, so it may not be the δ_{l+1}
                    # the code used: nothing to verify against
                    own[l] = {}
                if own[l].get(p.name) is False:
                    slip = at_one.own_slip(l, diagnoser) if diagnoser is not None else None
                    if slip:
                        p.diagnosis = Text("prop.two", name=p.name, l=l, top=top, up=l + 1,
                                           slip=slip, figures=figures)
                    else:
                        p.diagnosis = Text("prop.not_follow", name=p.name, l=l, up=l + 1,
                                           figures=figures)
                    continue
                if own[l].get(p.name):
                    origin = top
                    for j in range(l + 1, top):
                        if j not in own:
                            own[j] = at_one.own_step_right(j)
                        if own[j].get(f"B{j}") is False:  # δ_j itself does not follow from δ_{j+1}
                            origin = j
                            break
                    p.diagnosis = Text("prop.inherited", name=p.name, l=l, origin=origin, up=l + 1,
                                       figures=figures)
                else:
                    p.diagnosis = Text("prop.likely", name=p.name, l=l, top=top, figures=figures)


def _respelled(net: Network, loss: str) -> str:
    """The network with another loss: inline where it has an inline spelling, else the spec keys."""
    if all(getattr(layer, "bias", True) for layer in net.layers):
        return f"`{net.inline().replace(f':{net.loss}:', f':{loss}:')}`"
    base, _, reduction = loss.partition("@")
    return f'`loss = "{base}"`' + (f' with `reduction = "{reduction}"`' if reduction else "") + " in the spec"


def _convention(report: CheckReport, net: Network, diagnoser: Diagnoser, per_sample: bool) -> None:
    """Every gradient off by one and the same factor: a loss convention, not a slip. Names the
    registered loss (with the same output activation) whose δ_L the code matches, if any
    (for code called once per sample, the losses are compared on one sample)."""
    results = [p for p in report.params.values() if p.name in _param_names(net)]
    if len(results) < 2 or any(p.ok or "ratios" not in p.facts for p in results):
        return
    ratios = results[0].facts["ratios"]
    if any(not np.allclose(p.facts["ratios"], ratios, rtol=1e-6, atol=0) for p in results[1:]):
        return
    if any(c <= 0 for c in ratios):  # a flipped sign is a slip, not a convention
        return
    n_out = sp.Integer(net.sizes[-1])
    own = net.loss_def.delta_coefficient
    matches = []
    for other in losses.LOSSES.values():
        if other.name == net.loss or other.output != net.loss_def.output:
            continue
        ratio = other.delta_coefficient / own
        if all(abs(float(ratio.subs({losses.N: 1 if per_sample else d.batch, losses.n: n_out}))
                   - c) <= 1e-6 * abs(c)
               for d, c in zip(diagnoser.draws, ratios)):
            matches.append(other.name)
    text = results[0].facts["text"]
    if matches:
        conclusion = Text("convention.matches", losses=" or ".join(matches), loss=net.loss,
                          spelled=" or ".join(_respelled(net, m) for m in matches))
    else:
        conclusion = Text("convention.scaled", L=net.depth, loss=net.loss)
    sentence = Text("note.convention", text=text, conclusion=conclusion)
    for p in results:
        p.diagnosis = Text("convention.diag", name=p.name, layer=p.name[1:], text=text,
                           conclusion=conclusion)
        p.facts = {}
    report.notes.append(sentence)


# --------------------------------------------------------------------------- formulas


def check_formula(net, text: str, batch: int | None = None, seed: int = 0,
                  lang: str = "en") -> CheckReport:
    """Judge one formula (``"dW2 = D2 @ R1.T"``) numerically and, on small networks, exactly;
    the report in `lang` ("en", "ko").

    Raises:
        formula.FormulaError: the text is outside the formula language (nothing was run).
    """
    net, capped = checked_network(formula_regularized.network(net))
    catalogue(lang)
    parsed = formula_lang.parse(text, net)
    batches = _batches(batch)
    formula_regularized.check_batches(net, batches)
    derivation, draws, diagnoser = _prepared(net, batches, seed)
    report = CheckReport(net, parsed.text, batches, lang=lang)
    if capped:
        report.notes.append(capped)
    got = []
    for d in draws:
        env = _formula_env(derivation, d.values, lambda v: np.asarray(v, dtype=float))
        try:
            got.append(np.asarray(formula_lang.evaluate(parsed, env, d.batch, net), dtype=float))
        except formula_lang.FormulaShapeError as exc:
            why = Text("formula.shapes", exc=str(exc), batch=d.batch)
        except Exception as exc:  # noqa: BLE001  # e.g. an overflow NumPy raises on
            why = Text("formula.eval", exc=f"{type(exc).__name__}: {exc}")
        else:
            continue
        want = diagnoser.expected(parsed.lhs)[0]
        report.params[parsed.lhs] = ParamResult(
            parsed.lhs, False, None, None, tuple(want.shape), None,
            Text("formula.diag", lhs=parsed.lhs, layer=parsed.layer, why=why))
        return report
    result = _judge(diagnoser, parsed.lhs, parsed.lhs, got, None)
    if not result.ok and result.facts.get("plain") and not net.plain:
        eps = formula_regularized.other_eps(
            parsed, derivation, draws,
            lambda d: _formula_env(derivation, d.values, lambda v: np.asarray(v, dtype=float)))
        if eps is not None:
            result.diagnosis, result.facts = eps, {}
    if not result.ok and result.facts.get("plain"):
        slip = _precedence_slip(net, parsed, derivation, draws)
        if slip:
            result.diagnosis = f"{parsed.lhs} (layer {parsed.layer}): {slip}"
    if result.ok and max(net.sizes) > EXACT_MAX_WIDTH:
        report.notes.append(Text("formula.numeric_only", width=EXACT_MAX_WIDTH))
    elif result.ok:
        try:
            mismatch = _exact_mismatch(derivation, parsed, seed)
        except _ExactUnavailable as exc:
            report.notes.append(Text("formula.exact_failed", exc=str(exc)))
        else:
            if mismatch:
                result.ok = False
                result.diagnosis = Text("formula.not_exact", lhs=parsed.lhs, layer=parsed.layer,
                                        mismatch=mismatch)
            else:
                report.notes.append(Text("formula.exact", lhs=parsed.lhs))
    report.params[parsed.lhs] = result
    return report


def _precedence_slip(net: Network, parsed, derivation: Derivation, draws: list) -> str | None:
    """The sentence for a formula that is right once one pair of brackets is moved across a
    ``* / @`` next to a ``+ -`` (``(P - T) * 1 - R3**2``), or None."""
    for regrouped in precedence.regroupings(parsed.text):
        if _formula_right(net, regrouped.text, parsed.lhs, derivation, draws):
            return regrouped.explanation
    return None


def _formula_right(net: Network, text: str, lhs: str, derivation: Derivation, draws: list) -> bool:
    """Is formula `text` right at every draw (False also when it is outside the language or its
    shapes do not conform)?"""
    try:
        other = formula_lang.parse(text, net)
        for d in draws:
            env = _formula_env(derivation, d.values, lambda v: np.asarray(v, dtype=float))
            value = np.asarray(formula_lang.evaluate(other, env, d.batch, net), dtype=float)
            if not close(value, env[lhs]):
                return False
    except Exception:  # noqa: BLE001  # a regrouping outside the language or the shapes
        return False
    return True


@functools.lru_cache(maxsize=16)
def _prepared(net: Network, batches: tuple, seed: int):
    """The derivation, draws and diagnoser for formulas on `net` (kept: checking many formulas
    on one network reuses the draws and the wrong variants evaluated on them)."""
    derivation = derive(net)
    rng = np.random.default_rng(seed)
    if not net.plain:  # batch norm, dropout, a penalty (contract section 7)
        return formula_regularized.prepared(derivation, batches, rng)
    draws = [draw(derivation, b, rng) for b in batches]
    return derivation, draws, Diagnoser(derivation, draws)


def _formula_env(derivation: Derivation, values: dict, convert) -> dict:
    env = {}
    for name, value in values.items():
        array = convert(value)
        if derivation.layout == "row" and name.lstrip("d").startswith(VECTOR_STEMS):
            array = array.reshape(-1)  # B_l, gamma_l, beta_l, MU_l, VAR_l as NumPy has them
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
            try:
                zero = bool(abs(sp.N(diff, 60)) < sp.Float("1e-45"))
            except Exception:  # noqa: BLE001  # NaN, zoo, a value with no ordering
                raise _ExactUnavailable("a value that cannot be compared (NaN or infinite)") from None
        if not zero:
            return f"entry {index} differs"
    return None
