"""gradscribe's renderers and command line: derivation objects -> write-ups and NumPy modules.

`codegen` depends on `derive`, never the reverse.
"""

from derive import __version__

__all__ = ["__version__"]
