"""gradscribe's mathematics: network specs, activations, losses, the symbolic chain and its proof.

Nothing here knows how the results are rendered (`gradscribe.codegen`) or judged
(`gradscribe.check`), and nothing here forks, signals or imports user files. Importing this
package does not import SymPy.
"""
