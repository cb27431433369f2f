"""gradscribe: back-propagation for multilayer perceptrons, derived, proven, written up and generated.

The public API, for scripts and notebooks::

    import gradscribe as gs
    net = gs.network("1-8-4-1:relu,relu,identity:mse")   # or a spec file path
    net.latex(lang="en", example=False); net.markdown(); net.kernel()   # renders in Jupyter
    net.verify().ok          # every formula proven equal to sympy.diff, and the generated
                             # kernel checked (.proof, .kernel)
    net.check_formula("dW2 = D2 @ R1.T")
    net.check("my_backprop.py:grads")                    # or a callable

The folders are its sub-packages: `gradscribe.derive` (the mathematics), `gradscribe.codegen`
(printers and renderers), `gradscribe.check` (judging gradients, the worker process,
numeric verification), `gradscribe.cli` (the command line). Importing the package is cheap:
SymPy is loaded on first use of the API.
"""

__version__ = "0.1.0"

__all__ = ["LayerNet", "Net", "Verification", "__version__", "network"]


def __getattr__(name):  # PEP 562: the API (and SymPy behind it) loads on first use
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'gradscribe' has no attribute {name!r}")
