"""The error every bad spec raises (kept free of SymPy so the command line starts fast)."""


class SpecError(ValueError):
    """A spec that cannot describe a network; the message is one line naming where."""
