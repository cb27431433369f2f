"""gradscribe's mathematics: network specs, activations, losses, the symbolic chain and its proof.

Nothing here knows how the results are rendered; `codegen` turns these objects into
write-ups and NumPy modules.
"""

__version__ = "0.1.0"
