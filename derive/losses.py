"""The loss registry: each loss defined once, as a scaled sum of a SymPy elementwise term.

L = scale(N, n_L) * sum over all elements of term(P_ij, T_ij).

The output error delta_L is derived from that definition: for an elementwise loss it is
scale * d(term)/dp, which must come out as k (p - t), times f'_L(G_L). The two
cross-entropies are *fused* with their output activation: delta_L = scale * (P - T) with no
f'_L, which the proof checks against the definition like everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .functions import softplus

#: Symbols the records are written in: prediction p, target t, logit g, batch size N,
#: output width n, and lse = log-sum-exp of the sample's logits (softmax only).
p, t, g = sp.symbols("p t g", real=True)
N, n = sp.symbols("N n_L", integer=True, positive=True)
lse = sp.Symbol("lse", real=True)


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
    """

    name: str
    title: str
    term: sp.Expr
    scale: sp.Expr
    output: str | None = None
    logit_term: sp.Expr | None = None

    @property
    def fused(self) -> bool:
        """delta_L is computed directly as scale * (P - T), without f'_L."""
        return self.output is not None

    @property
    def delta_coefficient(self) -> sp.Expr:
        """c in delta_L = c (P - T) [* f'_L(G_L)], in N and n_L."""
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


register(Loss("mse", "mean squared error", (p - t) ** 2, 1 / (N * n)))
register(Loss("half_sse", "half the sum of squared errors", (p - t) ** 2, sp.Rational(1, 2)))
register(
    Loss(
        "cross_entropy",
        "cross-entropy",
        -t * sp.log(p),
        1 / N,
        output="softmax",
        logit_term=-t * (g - lse),
    )
)
register(
    Loss(
        "binary_cross_entropy",
        "binary cross-entropy",
        -(t * sp.log(p) + (1 - t) * sp.log(1 - p)),
        1 / (N * n),
        output="sigmoid",
        logit_term=softplus(g) - t * g,
    )
)


def get(name: str) -> Loss:
    """The registered loss called `name` (KeyError if there is none)."""
    return LOSSES[name]
