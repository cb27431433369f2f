"""gradscribe's mathematics: network specs, activations, losses, the symbolic chain and its proof.

Nothing here knows how the results are rendered; `gradscribe.codegen` turns these objects
into write-ups and NumPy modules. Importing this package does not import SymPy.
"""
