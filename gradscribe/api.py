"""The Python API behind `import gradscribe`: one network, derived, written up, generated,
verified and checked (contract section 9)."""

from __future__ import annotations

from .check import judge, verification
from .check.verification import Verification
from .codegen.kernel import render_kernel
from .codegen.writeup import equations_latex, render_writeup
from .derive import chain, spec

__all__ = ["LayerNet", "Net", "Verification", "network"]


class Net:
    """A network's derivation, with its write-ups, NumPy kernel, proof and checks; renders its
    derivation in Jupyter.

    Built by `gradscribe.network(NET)`; `spec` is the validated network, `derivation` its
    symbolic chain and δ recursion.
    """

    def __init__(self, net: str | spec.Network):
        self.spec = net if isinstance(net, spec.Network) else spec.load(net)
        if not isinstance(self.spec, spec.Network):  # "layer:...": gradscribe.network() gives a LayerNet
            raise ValueError(f"{self.spec.inline()} is one layer: use gradscribe.network(...), "
                             "which returns a LayerNet for it")
        self.derivation = chain.derive(self.spec)

    def latex(self, lang: str = "en", example: bool = False) -> str:
        """The LaTeX write-up (a whole document); `example` adds the worked example (the spec's
        `[example]` table, else seeded numbers), `lang` is the prose's language (en, ko)."""
        return render_writeup(self.derivation, "tex", example=example, lang=lang)

    def markdown(self, lang: str = "en", example: bool = False) -> str:
        """The Markdown write-up (math for KaTeX/MathJax); arguments as for `latex`."""
        return render_writeup(self.derivation, "md", example=example, lang=lang)

    def html(self, lang: str = "en", example: bool = False) -> str:
        """The write-up as one self-contained HTML5 page: the math as MathML (no script), the
        drawing as SVG, the generated kernel listed; arguments as for `latex`."""
        from .codegen.html_writeup import render_html

        return render_html(self.derivation, example=example, lang=lang)

    def kernel(self, style: str = "fast") -> str:
        """The self-contained generated module, as source text: `style` "fast" (NumPy calls
        writing in place, an optional workspace) or "textbook" (one plain line per equation,
        as the write-up writes it, on any array API library: NumPy, PyTorch, CuPy, JAX)."""
        if style not in ("fast", "textbook"):
            raise ValueError(f"unknown kernel style {style!r} (expected 'fast' or 'textbook')")
        return render_kernel(self.derivation, style)

    def verify(self, max_width: int = 3, batch: int = 2, points: int = 2, seed: int = 0) -> Verification:
        """What `gradscribe verify` checks: every derived formula proven against sympy.diff
        (widths capped at `max_width`, batch N = `batch`, `points` exact points), and the
        generated kernel checked against the definitions and finite differences.

        The result's `ok` is true only when both pass; `.proof` and `.kernel` hold each part,
        `.to_json()` is what `gradscribe verify --json` prints and `str()` its text report.
        """
        return verification.verify(self.spec, max_width=max_width, batch=batch, points=points, seed=seed)

    def check(self, func, batch: int | None = None, targets: str = "soft", timeout: float = 60,
              seed: int = 0, lang: str = "en") -> judge.CheckReport:
        """Judge a hand-written backward pass: ``"FILE:FUNC"`` (run in an isolated worker, as
        `gradscribe check --python` does, stopped after `timeout` seconds) or a callable
        (called in this process); the report in `lang` ("en", "ko"). See
        `gradscribe.check.judge.check_function`."""
        return judge.check_function(self.spec, func, batch=batch, seed=seed, targets=targets,
                                    timeout=timeout, lang=lang)

    def check_formula(self, text: str, batch: int | None = None, seed: int = 0,
                      lang: str = "en") -> judge.CheckReport:
        """Judge one formula, ``"dW2 = D2 @ R1.T"``, written as NumPy code would write it; the
        report in `lang` ("en", "ko")."""
        return judge.check_formula(self.spec, text, batch=batch, seed=seed, lang=lang)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def _repr_latex_(self) -> str:
        """The forward pass, loss and backward pass as one tagged `align` (MathJax shows it)."""
        return equations_latex(self.derivation)

    def __repr__(self) -> str:
        return f"<gradscribe.Net {self.spec.inline()}>"


class LayerNet:
    """One layer (``"layer:KIND:SIZES[:LAYOUT]"``, contract section 8): its local derivation,
    written up, proven and checked; renders its derivation in Jupyter.

    `spec` is the validated `gradscribe.derive.layers.LayerSpec`, `derivation` its forward
    pass and local gradients.
    """

    def __init__(self, layer):
        from .derive import layers

        self.spec = layer if isinstance(layer, layers.LayerSpec) else layers.parse_layer(layer)
        self.derivation = layers.derive_layer(self.spec)

    def latex(self, lang: str = "en", example: bool = True) -> str:
        """The LaTeX write-up: forward pass, local gradients, worked example."""
        from .codegen.layer_writeup import render_layer

        return render_layer(self.derivation, "tex", example=example, lang=lang)

    def markdown(self, lang: str = "en", example: bool = True) -> str:
        """The Markdown write-up (math for KaTeX/MathJax)."""
        from .codegen.layer_writeup import render_layer

        return render_layer(self.derivation, "md", example=example, lang=lang)

    def html(self, lang: str = "en", example: bool = True) -> str:
        """The write-up as one self-contained HTML5 page (the math as MathML)."""
        from .codegen.html_writeup import render_layer_html

        return render_layer_html(self.derivation, example=example, lang=lang)

    def kernel(self, style: str = "fast") -> str:
        raise ValueError(f"{self.spec.inline()} is one layer: kernels are generated for networks")

    def verify(self, max_width: int = 3, batch: int = 2, points: int = 2, seed: int = 0):
        """What `gradscribe verify layer:...` checks: each local gradient proven against
        sympy.diff of <dout, out> (of the loss, for a loss layer); a `LayerProofReport`
        (`.ok`, `.verdicts`, `.to_json()`, `.report()`)."""
        from .derive.layer_proof import prove_layer

        return prove_layer(self.spec, max_width=max_width, batch=batch, points=points, seed=seed)

    def check(self, func: str, forward: str | None = None, batch: int | None = None,
              targets: str | None = None, timeout: float = 60, seed: int = 0, lang: str = "en"):
        """Judge a layer's backward code, ``"FILE:NAME"`` (run in the isolated worker, as
        `gradscribe check layer:... --python` does); see `gradscribe.check.layer_judge`."""
        from .check import layer_judge

        return layer_judge.check_layer(self.spec, func, forward=forward, batch=batch,
                                       targets=targets, timeout=timeout, seed=seed, lang=lang)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def _repr_latex_(self) -> str:
        from .codegen.layer_writeup import equations_latex as layer_equations

        return layer_equations(self.derivation)

    def __repr__(self) -> str:
        return f"<gradscribe.LayerNet {self.spec.inline()}>"


def network(net: str | spec.Network) -> Net | LayerNet:
    """A network from an inline form (``"1-8-4-1:relu,relu,identity:mse"``), a spec file path,
    or a validated `gradscribe.derive.spec.Network`; or one layer, ``"layer:affine:4-3"``
    (a `LayerNet`).

    Raises:
        gradscribe.derive.errors.SpecError: the network is malformed (the message names where).
    """
    from .derive import layers

    if isinstance(net, layers.LayerSpec) or (isinstance(net, str) and layers.is_layer(net)):
        return LayerNet(net)
    return Net(net)
