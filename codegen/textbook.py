"""The textbook-style module of a network (contract section 5, `--style textbook`).

`textbook_view(derivation)` prints every equation of forward and backward with the textbook
style of `KernelPrinter` (one plain expression per equation over the array API namespace `xp`,
fresh arrays, no `out=`) and gathers the module's parts into a `TextbookView` of plain strings
and lists: statements `Line(lhs, rhs, label, comment)`, the label the equation's tag in the
write-up, `(G1)`, the comment what the line says beyond the write-up (a derivative written in
the output R_l, a stable form). `templates/kernel_textbook.py.jinja` only places them.

The loss: `loss(P, T)` evaluates the contract's definition on P (a cross-entropy's P clipped
into (0, 1), so a saturated prediction gives a large finite loss); `loss_and_grads` computes a
cross-entropy from the logits G_L (log-sum-exp, log-sigmoid), never log(P).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp
from sympy import ZeroMatrix

from ..derive import activations, losses
from ..derive.chain import Derivation, Equation
from ..derive.spec import format_number
from .kernel import GENERATOR, Line, Param, _modes
from .numpy_printer import KernelPrinter, kernel_printer


@dataclass(frozen=True)
class TextbookView:
    """Everything the textbook template places, as plain strings and lists."""

    name: str
    inline: str
    digest: str
    generator: str
    layout: str
    sizes: list[int]
    activations: list[str]
    loss_name: str
    loss_title: str
    batch_axis: int
    shapes: dict[str, str]
    params: list[Param]
    forward: list[Line]
    forward_xp: bool
    cache: list[str]
    loss: list[Line]
    loss_xp: bool
    loss_needs_n: bool
    loss_clip: bool
    backward_params: list[str]
    backward_cache: list[str]
    backward: list[Line]
    backward_xp: bool
    backward_needs_n: bool
    step_loss: list[Line]
    step_needs_n: bool
    grads: list[tuple[str, str]]
    helpers: list[str]
    # contract section 7 (empty / None for a plain network), as in the fast view
    stateful: bool = False
    forward_train: list[Line] = None
    forward_eval: list[Line] = None
    running: list[tuple[int, str]] = None
    penalty_code: str | None = None
    penalty_title: str = ""
    masks: list[str] = None


def textbook_view(derivation: Derivation) -> TextbookView:
    """Print `derivation` into the view the textbook template renders."""
    net = derivation.network
    column = derivation.layout == "column"
    depth = derivation.depth
    printer = kernel_printer("textbook")

    def lines(equations) -> list[Line]:
        out = []
        for eq in equations:
            printer.notes = []
            if isinstance(eq.rhs, ZeroMatrix):  # a batch-norm layer's dB_l: exactly zero
                printer.used.add(f"B{eq.layer}")
                out.append(Line(eq.name, f"xp.zeros_like(B{eq.layer})", _tag(eq),
                                "the batch mean takes B away"))
                continue
            (code,) = printer.statement(eq.rhs, eq.name, derivation.shape_text(eq.name))
            out.append(Line(eq.name, code, _tag(eq), "; ".join(printer.notes)))
        return out

    printer.used = set()
    forward = lines(derivation.forward)
    printer.used = set()
    backward = lines(derivation.backward)
    backward_used = set(printer.used)

    param_names = net.param_names()
    cache = ["X"] + [eq.name for eq in derivation.forward] + net.mask_names()
    params = [
        Param(name, derivation.shape_text(name), net.sizes[int(name.lstrip("WBgammabet")) - 1],
              name[0] == "W", name.startswith("gamma"))
        for name in param_names
    ]
    forward_train, forward_eval = _modes(
        net, [(eq, ([line], None, None)) for eq, line in zip(derivation.forward, forward)])
    penalty_code = None
    if derivation.loss.penalty is not None:
        weights = [f"W{l}" for l in range(1, depth + 1)]
        squares = " + ".join(f'xp.sum(params["{w}"] ** 2)' for w in weights)
        penalty_code = f"{printer.doprint(derivation.loss.penalty)} * ({squares})"
    shapes = {
        name: derivation.shape_text(name)
        for name in ["X", "T", "P"] + [f"{s}{l}" for l in range(1, depth + 1) for s in "GR"] + param_names
    }

    loss_def = net.loss_def
    scale = derivation.loss.scale
    definition = _summed(printer, scale, loss_def.term, {losses.p: "P", losses.t: "T"}, like="T")
    loss = [Line("value", definition, "(L)")]
    if loss_def.logit_term is not None:
        g = sp.Symbol(f"Y{depth}" if net.batch_norm(depth) else f"G{depth}", real=True)
        names = {losses.g: g.name, losses.t: "T"}
        term = loss_def.logit_term
        if activations.lse in term.free_symbols:
            record = activations.get(loss_def.output).over_units
            term = term.xreplace({activations.lse: printer.lse_of(record, g, 0 if column else 1)})
        step = Line(
            "value", _summed(printer, scale, term, names, like="T"), "(L)",
            f"from the logits {g.name}, never log(P): exact where P rounds to 0 or 1",
        )
    else:
        step = loss[0]
    step_loss = [step]
    if penalty_code is not None:
        step_loss.append(Line("value", "value + _penalty(params)", "(L)", "the penalty on the weights"))

    def needs_n(items: list[Line]) -> bool:
        return any(re.search(r"\bN\b", line.rhs) for line in items)

    def uses_xp(items: list[Line]) -> bool:
        return any("xp." in line.rhs for line in items)

    return TextbookView(
        name=net.name,
        inline=net.inline(),
        digest=net.digest(),
        generator=GENERATOR,
        layout=net.layout,
        sizes=list(net.sizes),
        activations=list(net.activations),
        loss_name=net.loss,
        loss_title=loss_def.title,
        batch_axis=1 if column else 0,
        shapes=shapes,
        params=params,
        forward=forward,
        forward_xp=uses_xp(forward),
        cache=cache,
        loss=loss,
        loss_xp=uses_xp(loss) or loss_def.logit_term is not None,
        loss_needs_n=needs_n(loss),
        loss_clip=loss_def.logit_term is not None,
        backward_params=[n for n in param_names if n in backward_used],
        backward_cache=[n for n in cache if n in backward_used],
        backward=backward,
        backward_xp=uses_xp(backward),
        backward_needs_n=needs_n(backward),
        step_loss=step_loss,
        step_needs_n=needs_n([step] + backward),
        grads=[(name, "d" + name) for name in param_names],
        helpers=sorted(printer.helpers),
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


def _tag(eq: Equation) -> str:
    """The equation's tag as the write-up shows it: (G1), (dW3)."""
    return f"({eq.name})"


def _summed(printer: KernelPrinter, scale: sp.Expr, term: sp.Expr, names: dict, like: str) -> str:
    """scale * sum(term) over all elements, with the term's scalar symbols named as arrays."""
    arrays = {sym: sp.Symbol(name, real=True) for sym, name in names.items()}
    body = printer.elementwise(term.xreplace(arrays), like=like)
    return printer.scaled(scale, f"{printer.function('sum')}({body})", atomic=True)
