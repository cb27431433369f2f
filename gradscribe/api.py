"""The Python API behind `import gradscribe`: load, derive, verify and check a network."""

from __future__ import annotations

from .codegen.kernel import render_kernel
from .codegen.writeup import render_writeup
from .mathematics import chain, proof, spec
from .mathematics.check import check_formula, check_function
from .mathematics.spec import Network

__all__ = ["Derived", "check_formula", "check_function", "derive", "load", "verify"]


def load(net: str | Network) -> Network:
    """A network from a spec file path or the inline `SIZES:ACTIVATIONS:LOSS[:LAYOUT]` form."""
    return net if isinstance(net, Network) else spec.load(net)


class Derived:
    """A network's derivation, with its write-ups and NumPy kernel; renders itself in Jupyter."""

    def __init__(self, net: str | Network):
        self.network = load(net)
        self.derivation = chain.derive(self.network)

    def latex(self) -> str:
        """The LaTeX write-up (a whole document)."""
        return render_writeup(self.derivation, "tex")

    def markdown(self) -> str:
        """The Markdown write-up (math for KaTeX/MathJax)."""
        return render_writeup(self.derivation, "md")

    def kernel(self) -> str:
        """The self-contained generated NumPy module, as source text."""
        return render_kernel(self.derivation)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __repr__(self) -> str:
        return f"<gradscribe.Derived {self.network.inline()}>"


def derive(net: str | Network) -> Derived:
    """Derive back-propagation for `net` (a Network, a spec path or an inline form)."""
    return Derived(net)


def verify(net: str | Network, **options) -> proof.ProofReport:
    """Prove every derived formula of `net` against sympy.diff (see `gradscribe verify`)."""
    return proof.prove(load(net), **options)
