"""The NumPy kernel of a network (contract section 5): a derivation turned into a Python module.

`kernel_view(derivation)` prints every equation with `KernelPrinter` and gathers the result
into a `KernelView` of plain strings and lists; `templates/kernel.py.jinja` only places them.
`render_kernel(derivation)` is the module's text.

Where the loss comes from: `loss(P, T)` evaluates the contract's definition on P (the loss
record's `term`). For the two cross-entropies, forward returns P as a `Prediction` (an ndarray
that carries the logits G_L), and `loss` computes them from those logits through the record's
`logit_term` (log-sum-exp, log-sigmoid), never log(P); a plain P that carries no logits is
clipped into (0, 1) first, so a saturated prediction gives a large finite loss, never inf or
nan. `loss_and_grads` always uses the cached logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .. import __version__
from ..mathematics import losses
from ..mathematics.chain import Derivation, derive
from ..mathematics.spec import Network
from .numpy_printer import KernelPrinter
from .render import render
from .stamp import stamp

GENERATOR = f"gradscribe {__version__}"


@dataclass(frozen=True)
class Line:
    """One assignment `lhs = rhs`, with the write-up label it implements (or "")."""

    lhs: str
    rhs: str
    label: str = ""


@dataclass(frozen=True)
class Param:
    """One parameter array: its key, NumPy shape text and how init_params fills it."""

    name: str
    shape: str
    fan_in: int
    is_weight: bool


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


def kernel_view(derivation: Derivation) -> KernelView:
    """Print `derivation` into the view the kernel template renders."""
    net = derivation.network
    column = derivation.layout == "column"
    depth = derivation.depth
    printer = KernelPrinter()

    def lines(equations) -> list[Line]:
        out = []
        for eq in equations:
            for lhs, rhs in printer.statement(eq.name, eq.rhs):
                out.append(Line(lhs, rhs, eq.label if lhs == eq.name else ""))
        return out

    forward = lines(derivation.forward)
    printer.used = set()
    backward = lines(derivation.backward)
    backward_used = set(printer.used)

    param_names = net.param_names()
    cache = ["X"] + [eq.name for eq in derivation.forward]
    params = [
        Param(name, derivation.shape_text(name), net.sizes[int(name[1:]) - 1], name[0] == "W")
        for name in param_names
    ]
    shapes = {
        name: derivation.shape_text(name)
        for name in ["X", "T", "P"] + [f"{s}{l}" for l in range(1, depth + 1) for s in "GR"] + param_names
    }

    loss_def = net.loss_def
    loss_value = _loss_value(printer, derivation, loss_def.term, {losses.p: "P", losses.t: "T"})
    logit_loss = None
    if loss_def.logit_term is not None:
        g_name = f"G{depth}"
        term = loss_def.logit_term
        pre = []
        if losses.lse in term.free_symbols:
            printer.helpers.add("logsumexp")
            pre.append(Line("LSE", f"_logsumexp({g_name}, axis={0 if column else 1})"))
        value = _loss_value(
            printer, derivation, term, {losses.g: g_name, losses.t: "T", losses.lse: "LSE"}
        )
        logit_loss = LogitLoss(g_name, pre, value)

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
    )


def _loss_value(printer: KernelPrinter, derivation: Derivation, term, names: dict) -> str:
    """scale * sum(term) over all elements, with the term's scalar symbols named as arrays."""
    arrays = {sym: sp.Symbol(name, real=True) for sym, name in names.items()}
    like = names.get(losses.t, "T")
    body = printer.elementwise(term.xreplace(arrays), like=like)
    scale = derivation.loss.scale
    return printer.scaled(scale, f"np.sum({body})", atomic=True)


def render_kernel(derivation: Derivation) -> str:
    """The generated NumPy module for `derivation`, as text."""
    return stamp(render("kernel.py.jinja", view=kernel_view(derivation)))


def render_network(net: Network) -> str:
    """The generated NumPy module for `net`."""
    return render_kernel(derive(net))
