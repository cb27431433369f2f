"""How much of a network gradscribe reads: the bounds every spec is held to.

Kept free of SymPy so `gradscribe --help` can state them. An input past a bound is bad input
(exit 2) and the message names the bound it passed.
"""

MAX_UNITS = 100_000  # units of any one layer, and inputs
MAX_LAYERS = 1_000  # layers of one network
MAX_SPEC_BYTES = 1_048_576  # size of a spec file (1 MiB)
MAX_NESTING = 16  # arrays and inline tables inside one another in a spec file


def describe() -> str:
    """The bounds as one sentence, for --help and the README."""
    return (
        f"Limits: at most {MAX_LAYERS:,} layers of at most {MAX_UNITS:,} units each; a spec file "
        f"of at most {MAX_SPEC_BYTES:,} bytes (1 MiB) with arrays and tables nested at most "
        f"{MAX_NESTING} deep."
    )
