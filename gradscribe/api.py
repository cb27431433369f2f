"""The Python API behind `import gradscribe`: load, derive, verify and check a network."""

from __future__ import annotations

from . import verification
from .codegen.kernel import render_kernel
from .codegen.writeup import equations_latex, render_writeup
from .mathematics import chain, spec
from .mathematics.check import check_formula, check_function
from .mathematics.spec import Network
from .verification import Verification

__all__ = ["Derived", "Verification", "check_formula", "check_function", "derive", "load", "verify"]


def load(net: str | Network) -> Network:
    """A network from a spec file path or the inline `SIZES:ACTIVATIONS:LOSS[:LAYOUT]` form."""
    return net if isinstance(net, Network) else spec.load(net)


class Derived:
    """A network's derivation, with its write-ups and NumPy kernel; renders itself in Jupyter.

    `example` adds the worked example (the spec's `[example]` table, else seeded numbers);
    `lang` is the write-ups' language ("en" or "ko").
    """

    def __init__(self, net: str | Network, example: bool = False, lang: str = "en"):
        self.network = load(net)
        self.derivation = chain.derive(self.network)
        self.example = example
        self.lang = lang

    def latex(self) -> str:
        """The LaTeX write-up (a whole document)."""
        return render_writeup(self.derivation, "tex", example=self.example, lang=self.lang)

    def markdown(self) -> str:
        """The Markdown write-up (math for KaTeX/MathJax)."""
        return render_writeup(self.derivation, "md", example=self.example, lang=self.lang)

    def kernel(self) -> str:
        """The self-contained generated NumPy module, as source text."""
        return render_kernel(self.derivation)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def _repr_latex_(self) -> str:
        """The forward pass, loss and backward pass as one tagged `align` (MathJax shows it)."""
        return equations_latex(self.derivation)

    def __repr__(self) -> str:
        return f"<gradscribe.Derived {self.network.inline()}>"


def derive(net: str | Network, example: bool = False, lang: str = "en") -> Derived:
    """Derive back-propagation for `net` (a Network, a spec path or an inline form).

    `example` adds a worked example to the write-ups; `lang` is their language (en, ko).
    """
    return Derived(net, example=example, lang=lang)


def verify(
    net: str | Network, max_width: int = 3, batch: int = 2, points: int = 2, seed: int = 0
) -> Verification:
    """What `gradscribe verify` checks: every derived formula of `net` proven against
    sympy.diff (widths capped at `max_width`, batch N = `batch`, `points` exact points), and
    the generated NumPy kernel checked against the definitions and finite differences.

    The result's `ok` is true only when both pass; `.proof` and `.kernel` hold each part,
    `.to_json()` is what `gradscribe verify --json` prints and `str()` its text report.
    """
    return verification.verify(load(net), max_width=max_width, batch=batch, points=points, seed=seed)
