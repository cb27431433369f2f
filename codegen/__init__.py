"""gradscribe's printers and renderers: derivation objects -> write-ups and NumPy modules.

`codegen` depends on `derive`, never the reverse; the command line (`gradscribe.cli`)
depends on both.
"""
