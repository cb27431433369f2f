"""The Python API behind `import gradscribe`: load, derive, verify and check a network."""

from __future__ import annotations

from .codegen.kernel import render_kernel
from .codegen.writeup import equations_latex, render_writeup
from .mathematics import chain, proof, spec
from .mathematics.check import check_formula, check_function
from .mathematics.spec import Network

__all__ = ["Derived", "check_formula", "check_function", "derive", "load", "verify"]


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


def verify(net: str | Network, **options) -> proof.ProofReport:
    """Prove every derived formula of `net` against sympy.diff (see `gradscribe verify`)."""
    return proof.prove(load(net), **options)
