"""The activation registry: each activation defined once, as SymPy expressions.

Every record holds the scalar value f(z) and its derivative f'(z). Where the contract asks
for it, the derivative is written in terms of the output r = f(z), so a backward pass can
reuse what the forward pass computed. The write-up, the generated NumPy code and the proof
are all printed or derived from these expressions and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .functions import sigmoid, softplus

#: The symbols every record is written in: input z, output r, and the per-layer alpha.
z, r, alpha = sp.symbols("z r alpha", real=True)
#: For an activation over the unit axis: s, the sum over a sample's units of the summand,
#: and lse = log s (a log-sum-exp of the sample's logits for softmax).
s = sp.Symbol("s", positive=True)
lse = sp.Symbol("lse", real=True)


@dataclass(frozen=True)
class OverUnits:
    """An activation that normalises over each sample's units (the unit axis).

    Unit i of a sample maps to value(z_i, s), with s = sum over the sample's units k of
    summand(z_k). The summand is exp(u(z)), so lse = log s is a log-sum-exp of u over the
    units, which never overflows.

    Attributes:
        summand: exp(u(z)), in z.
        value: the definition, in z and s (what the proof differentiates and the write-up shows).
        stable: the same value in z and lse = log s (what kernels and float evaluation compute).
    """

    summand: sp.Expr
    value: sp.Expr
    stable: sp.Expr

    @property
    def exponent(self) -> sp.Expr:
        """u(z), with summand = exp(u(z))."""
        if not isinstance(self.summand, sp.exp):
            raise TypeError("an activation over the units needs a summand exp(u(z))")
        return self.summand.args[0]


@dataclass(frozen=True)
class Activation:
    """One activation: its value and derivative as SymPy expressions in z, r and alpha.

    Attributes:
        name: the spec's name for it.
        latex: the operator's LaTeX name, applied as ``latex(G)``.
        value: f(z); ``None`` for an activation over the units (softmax).
        derivative: f'(z), in z and/or r = f(z); ``None`` for an activation over the units.
        default_alpha: the alpha used when the spec gives none; ``None`` when it takes none.
        kink: f is not differentiable at z = 0 (proofs and checks keep away from it).
        output_only: allowed only as the last layer's activation.
        warning: what the write-up and the command line say about it, if anything.
        over_units: the definition of an activation that is not elementwise but normalises
            over the unit axis (softmax); ``None`` for elementwise ones.
    """

    name: str
    latex: str
    value: sp.Expr | None
    derivative: sp.Expr | None
    default_alpha: sp.Rational | None = None
    kink: bool = False
    output_only: bool = False
    warning: str | None = None
    over_units: OverUnits | None = None

    @property
    def takes_alpha(self) -> bool:
        return self.default_alpha is not None

    @property
    def elementwise(self) -> bool:
        return self.value is not None

    def value_at(self, arg: sp.Expr, a: sp.Expr | None = None) -> sp.Expr:
        """f(arg) with alpha = a."""
        return self.value.xreplace({z: arg, alpha: self._alpha(a)})

    def derivative_at(self, g: sp.Expr, out: sp.Expr, a: sp.Expr | None = None) -> sp.Expr:
        """f'(g), given the output out = f(g), with alpha = a."""
        return self.derivative.xreplace({z: g, r: out, alpha: self._alpha(a)})

    def _alpha(self, a):
        return self.default_alpha if a is None else a


ACTIVATIONS: dict[str, Activation] = {}


def register(act: Activation) -> Activation:
    ACTIVATIONS[act.name] = act
    return act


# ---------------------------------------------------------------- smooth, with f' in terms of r
register(Activation("identity", r"\operatorname{id}", z, sp.Integer(1)))
register(Activation("sigmoid", r"\sigma", sigmoid(z), r * (1 - r)))
register(Activation("tanh", r"\tanh", sp.tanh(z), 1 - r**2))

# ---------------------------------------------------------------- smooth, f' needs z
register(Activation("softplus", r"\operatorname{softplus}", softplus(z), sigmoid(z)))
register(
    Activation(
        "silu",
        r"\operatorname{SiLU}",
        z * sigmoid(z),
        sigmoid(z) * (1 + z * (1 - sigmoid(z))),
    )
)

# ---------------------------------------------------------------- kinked at 0 (f'(0) taken as 0)
# For alpha > 0 the output is positive exactly where the input is, so f' can test r.
register(
    Activation(
        "relu", r"\operatorname{ReLU}", sp.Max(z, 0), sp.Heaviside(r, 0), kink=True
    )
)
register(
    Activation(
        "leaky_relu",
        r"\operatorname{LeakyReLU}",
        sp.Piecewise((z, z > 0), (alpha * z, True)),
        sp.Piecewise((1, r > 0), (alpha, True)),
        default_alpha=sp.Rational(1, 100),
        kink=True,
    )
)
register(
    Activation(
        "elu",
        r"\operatorname{ELU}",
        sp.Piecewise((z, z > 0), (alpha * (sp.exp(z) - 1), True)),
        sp.Piecewise((1, r > 0), (r + alpha, True)),
        default_alpha=sp.Integer(1),
        kink=True,
    )
)
register(
    Activation(
        "step",
        r"\operatorname{step}",
        sp.Heaviside(z, 0),
        sp.Integer(0),
        kink=True,
        warning="its derivative is 0 everywhere, so nothing below it learns",
    )
)

# ---------------------------------------------------------------- not elementwise
# softmax(z)_i = exp(z_i) / sum_k exp(z_k) = exp(z_i - lse); its derivative enters only
# through the fused cross-entropy, so it has none here.
register(
    Activation(
        "softmax",
        r"\operatorname{softmax}",
        None,
        None,
        output_only=True,
        over_units=OverUnits(summand=sp.exp(z), value=sp.exp(z) / s, stable=sp.exp(z - lse)),
    )
)


def get(name: str) -> Activation:
    """The registered activation called `name` (KeyError if there is none)."""
    return ACTIVATIONS[name]
