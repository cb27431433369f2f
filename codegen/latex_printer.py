"""LaTeX for the derivation's matrix expressions and the registry's scalar definitions.

A `LatexPrinter` subclass with one override per construct that needs the textbook form.
The same printer serves the LaTeX document and the Markdown (KaTeX) write-up, so it only
uses commands both understand.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, MatrixSymbol, OneMatrix, Transpose
from sympy.printing.latex import LatexPrinter

from ..derive import activations
from ..derive.nodes import Activated, ActivationPrime, InverseSqrt

_NAME = re.compile(r"(d?)(gamma|beta|MU|VAR|GH|DGH|DY|[A-Z])(\d+)\Z")
#: The write-up's letter for each stem of a layer's matrix (the rest print as themselves).
_STEMS = {
    "D": r"\delta", "gamma": r"\gamma", "beta": r"\beta", "MU": r"\mu", "VAR": r"\sigma^{2}",
    "GH": r"\hat{G}", "DY": r"\delta^{Y}", "DGH": r"\delta^{\hat{G}}",
}


class WriteupLatexPrinter(LatexPrinter):
    """Prints derivation objects the way the write-up's reader expects them."""

    def __init__(self, settings=None):
        super().__init__({"order": "none", **(settings or {})})

    # ------------------------------------------------------------------ names
    def _print_MatrixSymbol(self, expr: MatrixSymbol) -> str:
        return symbol_latex(expr.name)

    def _print_Symbol(self, expr, style="plain"):
        # n_L and friends are already written with a subscript.
        if expr.name == "n_L":
            return "n_L"
        return super()._print_Symbol(expr, style)

    # ------------------------------------------------------------------ matrix structure
    def _print_OneMatrix(self, expr: OneMatrix) -> str:
        # 1 is the all-ones vector over the batch; as a 1 x N row it is 1^T.
        rows, cols = expr.shape
        return r"\mathbf{1}^{\top}" if rows == 1 and cols != 1 else r"\mathbf{1}"

    def _print_Transpose(self, expr: Transpose) -> str:
        if isinstance(expr.arg, OneMatrix):
            return r"\mathbf{1}^{\top}"
        return f"{self._wrap(expr.arg, atomic_only=True)}^{{\\top}}"

    def _print_MatMul(self, expr: MatMul) -> str:
        coeff, factors = _split_coefficient(expr)
        # Matrix products are associative: a bare inner product needs no parentheses.
        body = " ".join(
            self._print(f) if _bare_product(f) else self._wrap(f, atomic_only=False, in_product=True)
            for f in factors
        )
        if coeff == 1:
            return body
        if coeff == -1:
            return "-" + body
        return f"{self._print(coeff)} {body}"

    def _print_HadamardProduct(self, expr: HadamardProduct) -> str:
        # Hadamard (elementwise) product, written with \odot as in most ML texts.
        return r" \odot ".join(self._wrap(a, atomic_only=False, in_product=True) for a in expr.args)

    def _print_MatAdd(self, expr: MatAdd) -> str:
        out = ""
        for index, term in enumerate(expr.args):
            coeff, factors = _split_coefficient(term) if isinstance(term, MatMul) else (1, [term])
            if coeff.could_extract_minus_sign() if hasattr(coeff, "could_extract_minus_sign") else False:
                positive = MatMul(-coeff, *factors) if -coeff != 1 else (
                    factors[0] if len(factors) == 1 else MatMul(*factors)
                )
                out += " - " + self._print(positive)
            else:
                out += ("" if index == 0 else " + ") + self._print(term)
        return out

    # ------------------------------------------------------------------ activations
    def _print_Activated(self, expr: Activated) -> str:
        return f"{expr.record.latex}\\left({self._print(expr.arg)}\\right)"

    def _print_InverseSqrt(self, expr: InverseSqrt) -> str:
        # Batch norm's 1 / sqrt(sigma^2 + eps); eps's value is stated in the notes.
        return rf"\left({self._print(expr.arg)} + \varepsilon\right)^{{-1/2}}"

    def _print_ZeroMatrix(self, expr) -> str:
        return "0"

    def _print_ActivationPrime(self, expr: ActivationPrime) -> str:
        name = expr.record.latex
        return f"{name}'\\left({self._print(expr.g)}\\right)"

    # ------------------------------------------------------------------ scalar functions
    def _print_sigmoid(self, expr, exp=None):
        return self._function(r"\sigma", expr, exp)

    def _print_softplus(self, expr, exp=None):
        return self._function(r"\operatorname{softplus}", expr, exp)

    def _print_Heaviside(self, expr, exp=None):
        # The indicator of a positive argument (the contract takes f'(0) = 0).
        text = rf"\mathbb{{I}}\left[{self._print(expr.args[0])} > 0\right]"
        return f"{text}^{{{exp}}}" if exp else text

    def _print_Max(self, expr, exp=None):
        args = sorted(expr.args, key=lambda a: a.is_Number)  # max(z, 0), not max(0, z)
        text = r"\max\left(" + ", ".join(self._print(a) for a in args) + r"\right)"
        return f"{text}^{{{exp}}}" if exp else text

    def _function(self, name, expr, exp):
        text = f"{name}\\left({self._print(expr.args[0])}\\right)"
        return f"{text}^{{{exp}}}" if exp else text

    # ------------------------------------------------------------------ helpers
    def _wrap(self, expr, atomic_only: bool, in_product: bool = False) -> str:
        """Parenthesise `expr` where juxtaposition would misread it."""
        text = self._print(expr)
        needs = isinstance(expr, MatAdd) or (
            atomic_only and not isinstance(expr, (MatrixSymbol, OneMatrix))
        ) or (in_product and isinstance(expr, (HadamardProduct, MatMul)))
        return rf"\left({text}\right)" if needs else text


def _bare_product(expr) -> bool:
    return isinstance(expr, MatMul) and _split_coefficient(expr)[0] == 1


def _split_coefficient(expr: MatMul):
    coeff = sp.Integer(1)
    factors = []
    for a in expr.args:
        if getattr(a, "is_Matrix", False):
            factors.append(a)
        else:
            coeff *= a
    return coeff, factors


def symbol_latex(name: str) -> str:
    """W3 -> W_{3}, D3 -> \\delta_{3}, dW3 -> \\frac{\\partial L}{\\partial W_{3}}."""
    match = _NAME.match(name)
    if not match:
        return name
    d, stem, index = match.groups()
    base = _STEMS.get(stem, stem)
    text = f"{base}_{{{index}}}"
    return rf"\frac{{\partial L}}{{\partial {text}}}" if d else text


def activation_latex(name: str) -> str:
    """The activation's operator. Its alpha is stated where the write-up lists the
    activations; a subscript here would read like a layer index."""
    return activations.get(name).latex


def latex(expr, **settings) -> str:
    """LaTeX for a derivation expression or a registry expression."""
    return WriteupLatexPrinter(settings).doprint(expr)
