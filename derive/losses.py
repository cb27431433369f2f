"""The loss registry: each loss defined once, as a scaled sum of a SymPy elementwise term.

L = scale(N, n_L) * sum over all elements of term(P_ij, T_ij).

A loss that comes averaged and summed (the cross-entropies) is registered twice from one
record: `cross_entropy` (scale 1/N) and `summed(...)`, `cross_entropy@sum` (scale 1).

The output error delta_L is derived from that definition: for an elementwise loss it is
scale * d(term)/dp, which must come out as k (p - t), times f'_L(G_L). The two
cross-entropies are *fused* with their output activation: delta_L = scale * (P - T) with no
f'_L, which the proof checks against the definition like everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import sympy as sp

from .activations import lse
from .functions import softplus

#: Symbols the records are written in: prediction p, target t, logit g, batch size N,
#: output width n; lse (log-sum-exp of the sample's logits) is softmax's, from its record.
p, t, g = sp.symbols("p t g", real=True)
N, n = sp.symbols("N n_L", integer=True, positive=True)


@dataclass(frozen=True)
class Loss:
    """One loss.

    Attributes:
        name: the spec's name.
        title: how the write-up names it.
        term: the elementwise term in p and t.
        scale: the factor in front of the sum, in N and n_L.
        output: the output activation it requires, or ``None`` for any.
        logit_term: the same term written in the logit g (and lse for softmax), for
            numerically stable kernels; ``None`` where the loss is computed from P.
        targets: what a target entry is: "real" (any number), "probability" (in [0, 1]) or
            "distribution" (each sample's targets are >= 0 and sum to 1).
        reduction: "mean" or "sum" for a loss that comes in both forms (the cross-entropies),
            ``None`` for one that has a single form.
    """

    name: str
    title: str
    term: sp.Expr
    scale: sp.Expr
    output: str | None = None
    logit_term: sp.Expr | None = None
    targets: str = "real"
    reduction: str | None = None

    @property
    def base(self) -> str:
        """The name without its reduction: `cross_entropy` for `cross_entropy@sum`."""
        return self.name.partition("@")[0]

    @property
    def fused(self) -> bool:
        """delta_L is computed directly as scale * (P - T), without f'_L."""
        return self.output is not None

    @cached_property
    def delta_coefficient(self) -> sp.Expr:
        """c in delta_L = c (P - T) [* f'_L(G_L)], in N and n_L (simplified once per loss)."""
        if self.fused:
            return self.scale
        k = sp.simplify(sp.diff(self.term, p) / (p - t))
        if k.free_symbols & {p, t}:
            raise ValueError(f"loss {self.name}: d(term)/dp is not a multiple of (p - t)")
        return sp.simplify(self.scale * k)


LOSSES: dict[str, Loss] = {}


def register(loss: Loss) -> Loss:
    LOSSES[loss.name] = loss
    return loss


def summed(loss: Loss) -> Loss:
    """The same loss summed over the batch instead of averaged (PyTorch's reduction="sum")."""
    return replace(
        loss, name=f"{loss.name}@sum", title=f"summed {loss.title}", scale=sp.Integer(1),
        reduction="sum",
    )


# ---------------------------------------------------------------- squared errors, any output
register(Loss("mse", "mean squared error", (p - t) ** 2, 1 / (N * n)))
register(Loss("half_sse", "half the sum of squared errors", (p - t) ** 2, sp.Rational(1, 2)))
register(Loss("sse", "sum of squared errors", (p - t) ** 2, sp.Integer(1)))

# ---------------------------------------------------------------- fused with their output
CROSS_ENTROPY = register(
    Loss(
        "cross_entropy",
        "cross-entropy",
        -t * sp.log(p),
        1 / N,
        output="softmax",
        logit_term=-t * (g - lse),
        targets="distribution",
        reduction="mean",
    )
)
BINARY_CROSS_ENTROPY = register(
    Loss(
        "binary_cross_entropy",
        "binary cross-entropy",
        -(t * sp.log(p) + (1 - t) * sp.log(1 - p)),
        1 / (N * n),
        output="sigmoid",
        logit_term=softplus(g) - t * g,
        targets="probability",
        reduction="mean",
    )
)
register(summed(CROSS_ENTROPY))
register(summed(BINARY_CROSS_ENTROPY))


def get(name: str) -> Loss:
    """The registered loss called `name` (KeyError if there is none)."""
    return LOSSES[name]
