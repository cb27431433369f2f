"""The NumPy kernel of a network (contract section 5): a derivation turned into a Python module.

`kernel_view(derivation)` prints every equation of forward and backward with the fast style of
`KernelPrinter` (one NumPy call per equation, writing into the equation's own array with
`out=`), lists the
arrays a workspace holds, and gathers everything into a `KernelView` of plain strings and
lists; `templates/kernel.py.jinja` only places them. `render_kernel(derivation)` is the
module's text.

Buffers: forward, backward and loss_and_grads take an optional `workspace` (from the
module's `make_workspace(batch, dtype)`) and then write every array into it, so a training
loop allocates nothing per step; without one they allocate fresh arrays for the call.

Where the loss comes from: `loss(P, T)` evaluates the contract's definition on P (the loss
record's `term`). For the two cross-entropies, forward returns P as a `Prediction` (an ndarray
that carries the logits G_L), and `loss` computes them from those logits through the record's
`logit_term` (log-sum-exp, log-sigmoid), never log(P); a plain P that carries no logits is
clipped into (0, 1) first, so a saturated prediction gives a large finite loss, never inf or
nan. `loss_and_grads` always uses the cached logits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from .. import __version__
from ..derive import activations, losses
from ..derive.chain import Derivation, derive
from ..derive.spec import Network, format_number
from .buffers import TempPool
from .fusion import fast_equations
from .numpy_printer import KernelPrinter, kernel_printer
from .render import render
from .stamp import stamp

GENERATOR = f"gradscribe {__version__}"


@dataclass(frozen=True)
class Line:
    """One statement, `lhs = rhs` or (with no lhs) the call `rhs`, with the label it cites
    (`eq:G1`, or the write-up's tag `(G1)`) and a comment saying what the line adds."""

    lhs: str
    rhs: str
    label: str = ""
    comment: str = ""

    @property
    def text(self) -> str:
        return f"{self.lhs} = {self.rhs}" if self.lhs else self.rhs


@dataclass(frozen=True)
class Array:
    """A workspace array: its name, shape text in N, NumPy dtype text and the NumPy function
    that makes it (`np.empty`, or `np.ones` for the ones vectors sums multiply by)."""

    name: str
    shape: str
    dtype: str
    make: str = "np.empty"


@dataclass(frozen=True)
class Param:
    """One parameter array: its key, NumPy shape text and how init_params fills it."""

    name: str
    shape: str
    fan_in: int
    is_weight: bool
    ones: bool = False  # batch norm's gamma starts at 1 (beta, like biases, at 0)


@dataclass(frozen=True)
class LogitLoss:
    """The loss from the output logits: the function's argument, its lines and its value."""

    logits: str
    lines: list[Line]
    value: str


@dataclass(frozen=True)
class KernelView:
    """Everything the kernel template places, as plain strings and lists."""

    name: str
    inline: str
    digest: str
    generator: str
    layout: str
    sizes: list[int]
    activations: list[str]
    loss_name: str
    loss_title: str
    unit_axis: int
    batch_axis: int
    shapes: dict[str, str]
    params: list[Param]
    forward: list[Line]
    cache: list[str]
    backward_params: list[str]
    backward_cache: list[str]
    backward: list[Line]
    grads: list[tuple[str, str]]
    loss_clip: bool
    loss_value: str
    logit_loss: LogitLoss | None
    helpers: list[str]
    backward_needs_n: bool
    loss_needs_n: bool
    forward_buffers: list[Array]
    backward_buffers: list[Array]
    step_loss: list[Line]
    step_params: list[str]
    step_backward: list[Line]
    step_reuses_loss: bool
    step_buffers: list[str]
    calls_per_step: int
    # contract section 7: batch norm, dropout, the penalty (empty / None for a plain network)
    stateful: bool = False
    forward_train: list[Line] = None
    forward_eval: list[Line] = None
    running: list[tuple[int, str]] = None
    penalty_code: str | None = None
    penalty_title: str = ""
    masks: list[str] = None


def kernel_view(derivation: Derivation) -> KernelView:
    """Print `derivation` into the view the kernel template renders."""
    net = derivation.network
    column = derivation.layout == "column"
    depth = derivation.depth
    temps = TempPool()
    printer = kernel_printer("fast", temps)
    # batch norm's equations regrouped into fewer passes (exact algebra, see fusion.py)
    fast_forward, fast_backward = fast_equations(derivation)

    def call_lines(equations) -> tuple[list[Line], list[str], set[str]]:
        """Each equation as one call into its array (an alias where it is one): the lines,
        the arrays written in order, and the temporaries used."""
        out, written, used = [], [], set()
        for eq in equations:
            *pending, code = printer.statement(eq.rhs, eq.name, derivation.shape_text(eq.name))
            out += [Line("", p) for p in pending]
            note = getattr(eq, "note", "")
            if code.isidentifier():
                out.append(Line(eq.name, code, eq.label, note))
            else:
                out.append(Line("", code, eq.label, note))
                if eq.name not in written:
                    written.append(eq.name)
            used |= temps.busy
            temps.release()
        return out, written, used

    printer.used = set()
    per_equation = []
    for eq in fast_forward:
        per_equation.append((eq, call_lines([eq])))
    forward = [line for _, (lines, _, _) in per_equation for line in lines]
    forward_written = list(dict.fromkeys(name for _, (_, written, _) in per_equation for name in written))
    forward_temps = set().union(*(used for _, (_, _, used) in per_equation))
    forward_train, forward_eval = _modes(net, per_equation)
    forward_ones, printer.ones = printer.ones, {}
    printer.used = set()
    backward, backward_written, backward_temps = call_lines(fast_backward)
    backward_used = set(printer.used)
    over_units = printer.lse

    param_names = net.param_names()
    cache = (["X"] + [eq.name for eq in derivation.forward] + net.mask_names()
             + (["LSE"] if over_units else []))
    params = [
        Param(name, derivation.shape_text(name), net.sizes[int(name.lstrip("WBgammabet")) - 1],
              name[0] == "W", name.startswith("gamma"))
        for name in param_names
    ]
    shapes = {
        name: derivation.shape_text(name)
        for name in ["X", "T", "P"] + [f"{s}{l}" for l in range(1, depth + 1) for s in "GR"] + param_names
    }
    shapes["LSE"] = "(1, N)" if column else "(N, 1)"

    loss_def = net.loss_def
    # loss_and_grads: the loss from what forward kept (the logits for the cross-entropies).
    # The logits: the output activation's input, Y_L after the output layer's batch norm.
    logits = f"Y{depth}" if net.batch_norm(depth) else f"G{depth}"
    step_names = {losses.p: "P", losses.t: "T", losses.g: logits, losses.lse: "LSE"}
    step_term = loss_def.logit_term if loss_def.logit_term is not None else loss_def.term
    step_term = step_term.xreplace({sym: sp.Symbol(n, real=True) for sym, n in step_names.items()})
    # loss_and_grads runs forward, this loss, then backward in one body: backward reads what
    # the loss computed (mse's P - T is delta_L's too), whose temporaries stay kept meanwhile.
    printer.known = {}
    step_pending, step_sum = printer.total(step_term, derivation.shape_text("P"))
    atomic = " + " not in step_sum and " - " not in step_sum
    step_value = printer.scaled(derivation.loss.scale, step_sum, atomic=atomic)
    step_loss = [Line("", p) for p in step_pending] + [Line("value", f"float({step_value})", "eq:L")]
    penalty_code = None
    if derivation.loss.penalty is not None:
        weights = [f"W{l}" for l in range(1, depth + 1)]
        squares = " + ".join(f'np.vdot(params["{w}"], params["{w}"])' for w in weights)
        penalty_code = f"{printer.doprint(derivation.loss.penalty)} * ({squares})"
        step_loss.append(Line("value", "value + _penalty(params)", "eq:L",
                              "the penalty on the weights"))
    step_temps = set(temps.busy)
    temps.pin()
    step_backward, _, fused_temps = call_lines(fast_backward)
    temps.unpin()
    printer.known = None

    def arrays(names: list[str], used: set[str]) -> list[Array]:
        out = [Array(n, shapes.get(n) or derivation.shape_text(n), "dtype") for n in names]
        return out + [
            Array(b.name, b.shape, "bool" if b.boolean else "dtype") for b in temps.buffers if b.name in used
        ]

    loss_value = _loss_value(printer, derivation, loss_def.term, {losses.p: "P", losses.t: "T"})
    logit_loss = None
    if loss_def.logit_term is not None:
        g_name = logits
        term = loss_def.logit_term
        pre = []
        if activations.lse in term.free_symbols:
            record = activations.get(loss_def.output).over_units
            lse = printer.lse_of(record, sp.Symbol(g_name, real=True), 0 if column else 1)
            pre.append(Line("LSE", printer.elementwise(lse, like=g_name)))
        value = _loss_value(
            printer, derivation, term, {losses.g: g_name, losses.t: "T", activations.lse: "LSE"}
        )
        logit_loss = LogitLoss(g_name, pre, value)

    def ones(named: dict[str, str]) -> list[Array]:
        return [Array(name, shape, "dtype", "np.ones") for name, shape in sorted(named.items())]

    forward_buffers = arrays(forward_written + (["LSE"] if over_units else []), forward_temps) + ones(forward_ones)
    backward_buffers = arrays(backward_written, backward_temps | step_temps | fused_temps) + ones(printer.ones)
    step_text = "\n".join(line.text for line in forward + step_loss + step_backward)
    step_buffers = []
    for array in forward_buffers + backward_buffers:
        if array.name not in step_buffers and re.search(rf"\b{array.name}\b", step_text):
            step_buffers.append(array.name)

    return KernelView(
        name=net.name,
        inline=net.inline(),
        digest=net.digest(),
        generator=GENERATOR,
        layout=net.layout,
        sizes=list(net.sizes),
        activations=list(net.activations),
        loss_name=net.loss,
        loss_title=loss_def.title,
        unit_axis=0 if column else 1,
        batch_axis=1 if column else 0,
        shapes=shapes,
        params=params,
        forward=forward,
        cache=cache,
        backward_params=[n for n in param_names if n in backward_used],
        backward_cache=[n for n in cache if n in backward_used],
        backward=backward,
        grads=[(name, "d" + name) for name in param_names],
        loss_clip=loss_def.logit_term is not None,
        loss_value=loss_value,
        logit_loss=logit_loss,
        helpers=sorted(printer.helpers),
        backward_needs_n="N" in backward_used,
        loss_needs_n=bool(derivation.loss.scale.free_symbols),
        forward_buffers=forward_buffers,
        backward_buffers=backward_buffers,
        step_loss=step_loss,
        step_params=param_names,
        step_backward=step_backward,
        step_reuses_loss=step_backward != backward,
        step_buffers=step_buffers,
        calls_per_step=sum(_calls(line.rhs) for line in forward + step_loss + step_backward),
        stateful=net.normalizes or net.drops,
        forward_train=forward_train,
        forward_eval=forward_eval,
        running=[(l, derivation.shape_text(f"MU{l}")) for l in range(1, depth + 1)
                 if net.batch_norm(l)],
        penalty_code=penalty_code,
        penalty_title=(
            "" if net.penalty is None else
            f"{'weight decay' if net.penalty == 'weight_decay' else 'L2 penalty'} "
            f"lambda = {format_number(net.penalty_lambda)}"
        ),
        masks=net.mask_names(),
    )


def _modes(net: Network, per_equation) -> tuple[list[Line], list[Line]]:
    """forward's lines in training and in evaluation mode, from each equation's printed lines.

    Training: the batch's MU_l, VAR_l (then the running statistics updated in `state`, if
    given) and dropout's mask M_l (given in `masks`, else drawn from `rng`). Evaluation:
    MU_l, VAR_l read from `state`, dropout off (R_l is A_l, no mask).
    """
    train, evaluate = [], []
    if net.drops:
        # default_rng(None) reads the OS's entropy (about 0.2 ms): only when a mask is drawn
        names = [f'"{m}"' for m in net.mask_names()]
        given = f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"
        train.append(Line("rng", f"None if masks is not None and all(m in masks for m in {given}) "
                                 "else np.random.default_rng(rng)", "",
                          "a Generator (from a Generator, a seed or None) unless every mask is given"))
    for eq, (lines, _, _) in per_equation:
        l = eq.layer
        if eq.role in ("mean", "variance"):
            key = ("mean" if eq.role == "mean" else "var") + str(l)
            evaluate.append(Line(eq.name, f'_running(state, "{key}")', eq.label,
                                 "the running statistic"))
            train += lines
            if eq.role == "variance":
                train.append(Line("", f"_update_running(state, {l}, MU{l}, VAR{l}, "
                                  f"{format_number(net.layers[l - 1].momentum)})"))
            continue
        if eq.role == "dropout":
            p = format_number(net.dropout(l))
            train.append(Line(f"M{l}", f'_dropout_mask(masks, "M{l}", rng, {p}, A{l})'))
            train += lines
            evaluate += [Line(f"M{l}", "None", "", "dropout is off"), Line(eq.name, f"A{l}", eq.label)]
            continue
        train += lines
        evaluate += lines
    return train, evaluate


def _calls(code: str) -> int:
    """How many NumPy functions a printed statement calls (helpers count as what they call)."""
    helpers = {"_where(": 2}
    count = code.count("np.")
    for name, calls in helpers.items():
        count += calls * code.count(name)
    return count


def _loss_value(printer: KernelPrinter, derivation: Derivation, term, names: dict) -> str:
    """scale * sum(term) over all elements, with the term's scalar symbols named as arrays."""
    arrays = {sym: sp.Symbol(name, real=True) for sym, name in names.items()}
    like = names.get(losses.t, "T")
    body = printer.elementwise(term.xreplace(arrays), like=like)
    scale = derivation.loss.scale
    return printer.scaled(scale, f"np.sum({body})", atomic=True)


STYLES = ("fast", "textbook")


def render_kernel(derivation: Derivation, style: str = "fast") -> str:
    """The generated module for `derivation` in `style` ("fast" or "textbook"), as text."""
    if style == "textbook":
        from .textbook import textbook_view

        return stamp(render("kernel_textbook.py.jinja", view=textbook_view(derivation)))
    if style != "fast":
        raise ValueError(f"unknown kernel style {style!r} (expected one of {', '.join(STYLES)})")
    return stamp(render("kernel.py.jinja", view=kernel_view(derivation)))


def render_network(net: Network, style: str = "fast") -> str:
    """The generated module for `net` in `style`."""
    return render_kernel(derive(net), style)
