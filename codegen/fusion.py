"""Batch norm's equations regrouped for the fast kernel: fewer passes over the (N, units) arrays.

The derivation writes batch norm as the write-up does (`derive/normalization.py`); printed
equation by equation, a layer reads or writes its (N, units) arrays about 29 times a training
step. The fast kernel prints these equivalents instead, each exact algebra on the same
symbols (equal to rounding), and only where a layer's equations are exactly the forms
`normalization` writes (anything else is printed as derived):

- forward: x − μ is computed once, into x̂'s array, and both σ² = (1/N) 1ᵀ((x − μ) ⊙ (x − μ))
  and x̂ = (x − μ) ⊙ (σ² + ε)^(-1/2) read it (x̂'s array scaled in place);
- backward: with dx̂ = dout ⊙ γ, 1ᵀdx̂ = γ ⊙ dβ and 1ᵀ(dx̂ ⊙ x̂) = γ ⊙ dγ, so the compact form
  (1/N)(σ² + ε)^(-1/2) ⊙ (N dx̂ − 1 1ᵀdx̂ − x̂ ⊙ 1 1ᵀ(dx̂ ⊙ x̂)) is
  (dout − x̂ ⊙ 1 (dγ / N) − 1 (dβ / N)) ⊙ 1 c with the row c = γ ⊙ (σ² + ε)^(-1/2): the
  scalars and γ go into (units,) rows, dx̂ is never formed (its equation is folded into δ's).

The textbook style never sees these (it prints the derivation as written).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatrixSymbol

from ..derive import normalization
from ..derive.chain import Derivation, N
from ..derive.nodes import InverseSqrt
from ..derive.normalization import batch_sum, spread


@dataclass(frozen=True)
class Step:
    """One printed assignment, like a derivation's Equation, with a note for its comment."""

    lhs: MatrixSymbol
    rhs: sp.Basic
    label: str
    layer: int
    role: str
    note: str = ""

    @property
    def name(self) -> str:
        return self.lhs.name


def _step(eq, rhs=None, note: str = "") -> Step:
    return Step(eq.lhs, eq.rhs if rhs is None else rhs, eq.label, eq.layer, eq.role, note)


#: `normalization`'s names for batch norm's matrices -> the derivation's stems (G1, MU1, ...)
STEMS = {"x": "G", "mu": "MU", "var": "VAR", "xhat": "GH", "out": "Y", "dout": "DY",
         "dxhat": "DGH", "dx": "D", "dgamma": "dgamma", "dbeta": "dbeta"}


def _layer_symbols(equations: dict, l: int) -> dict | None:
    """Layer l's batch-norm matrices by the names `normalization` uses, or None."""
    if any(f"{stem}{l}" not in equations for stem in STEMS.values()):
        return None
    found = {key: equations[f"{stem}{l}"].lhs for key, stem in STEMS.items()}
    for key in ("gamma", "beta"):
        found[key] = _symbol_in(equations[f"Y{l}"].rhs, f"{key}{l}")
        if found[key] is None:
            return None
    return found


def _symbol_in(expr, name: str):
    for atom in expr.atoms(MatrixSymbol):
        if atom.name == name:
            return atom
    return None


def _epsilon(expr):
    """The ε of the first InverseSqrt in expr, or None."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, InverseSqrt):
            return node.args[1]
    return None


def fast_equations(derivation: Derivation) -> tuple[list, list]:
    """forward's and backward's equations to print in the fast style (see the module)."""
    column = derivation.layout == "column"
    forward = [_step(eq) for eq in derivation.forward]
    backward = [_step(eq) for eq in derivation.backward]
    by_name = {eq.name: eq for eq in derivation.forward + derivation.backward}
    for l in range(1, derivation.depth + 1):
        s = _layer_symbols(by_name, l)
        if s is None:
            continue
        eps = _epsilon(by_name[f"GH{l}"].rhs)
        if eps is None:
            continue
        fix = {normalization.EPSILON: eps}
        written = normalization.forward(s, column) + normalization.vjp(s, column)
        if any(by_name[f"{STEMS[key]}{l}"].rhs != rhs.xreplace(fix) for key, rhs in written):
            continue
        forward = _fused_forward(forward, s, l, eps, column)
        backward = _fused_backward(backward, s, l, eps, column, _unscaled(by_name[f"DY{l}"].rhs, l))
    return forward, backward


def _fused_forward(steps: list, s: dict, l: int, eps, column: bool) -> list:
    xhat = s["xhat"]
    out = []
    for step in steps:
        if step.name == f"VAR{l}":
            centred = MatAdd(s["x"], MatMul(sp.S.NegativeOne, spread(s["mu"], column)),
                             evaluate=False)
            out.append(Step(xhat, centred, f"eq:GH{l}", l, "normalized",
                            f"x - mu, once; eq:VAR{l} and eq:GH{l} read it"))
            out.append(_step(step, MatMul(1 / N, batch_sum(HadamardProduct(xhat, xhat), column))))
        elif step.name == f"GH{l}":
            out.append(_step(step, HadamardProduct(xhat, spread(InverseSqrt(s["var"], eps), column)),
                             "(x - mu) scaled in place"))
        else:
            out.append(step)
    return out


def _unscaled(rhs, l: int):
    """(k, rhs without k) where rhs is dropout's k (M_l ⊙ up) times f' or not, else (1, rhs)."""
    prime = None
    if isinstance(rhs, HadamardProduct) and len(rhs.args) == 2:
        rhs, prime = rhs.args
    if not (isinstance(rhs, MatMul) and len(rhs.args) == 2 and rhs.args[0].is_number
            and isinstance(rhs.args[1], HadamardProduct)
            and any(getattr(a, "name", None) == f"M{l}" for a in rhs.args[1].args)):
        return None
    k, inner = rhs.args
    return k, (inner if prime is None else HadamardProduct(inner, prime))


def _fused_backward(steps: list, s: dict, l: int, eps, column: bool, unscaled) -> list:
    # dropout's k = 1/(1 - p) goes into the rows too: DY_l's array holds dout / k
    k, dout_rhs = (1, None) if unscaled is None else unscaled
    c = HadamardProduct(s["gamma"], InverseSqrt(s["var"], eps))
    if k != 1:
        c = MatMul(k, c)
    rhs = HadamardProduct(
        MatAdd(
            s["dout"],
            MatMul(sp.S.NegativeOne, HadamardProduct(
                s["xhat"], spread(MatMul(1 / (k * N), s["dgamma"]), column))),
            MatMul(sp.S.NegativeOne, spread(MatMul(1 / (k * N), s["dbeta"]), column)),
            evaluate=False,
        ),
        spread(c, column),
    )
    out = []
    for step in steps:
        if step.name == f"DGH{l}":
            continue
        if step.name == f"D{l}":
            out.append(_step(step, rhs, f"with eq:DGH{l}, eq:dgamma{l}, eq:dbeta{l} in its rows"))
        elif k != 1 and step.name == f"DY{l}":
            out.append(_step(step, dout_rhs, f"but for dropout's 1/(1 - p) = {k}, which eq:dgamma{l}, "
                                             f"eq:dbeta{l} and eq:D{l} apply to their rows"))
        elif k != 1 and step.name in (f"dgamma{l}", f"dbeta{l}"):
            out.append(_step(step, MatMul(k, step.rhs)))
        else:
            out.append(step)
    return out
