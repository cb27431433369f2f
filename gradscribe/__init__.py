"""gradscribe: back-propagation for multilayer perceptrons, derived, proven, written up and generated.

The public API, for scripts and notebooks::

    import gradscribe
    net = gradscribe.load("1-8-4-1:relu,relu,identity:mse")   # or a spec file
    d = gradscribe.derive(net)          # d.latex(), d.markdown(), d.kernel(); renders in Jupyter
    gradscribe.verify(net).ok           # every formula proven equal to sympy.diff, and the
                                        # generated kernel checked (.proof, .kernel)
    gradscribe.check_formula(net, "dW2 = D2 @ R1.T")
    gradscribe.check_function(net, my_grads)

Importing the package is cheap: SymPy is loaded on first use of the API.
"""

__version__ = "0.1.0"

__all__ = ["Derived", "Verification", "__version__", "check_formula", "check_function", "derive", "load", "verify"]


def __getattr__(name):  # PEP 562: the API (and SymPy behind it) loads on first use
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'gradscribe' has no attribute {name!r}")
