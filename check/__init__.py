"""gradscribe's judging of gradients: hand-written code and formulas against the derivation,
and the generated kernels against finite differences.

- `judge`: `check_function` (a FUNC's gradients) and `check_formula` (a `dW2 = ...` string),
  with `formula` (the formula language, parsed with `ast` against a whitelist) and
  `precedence` (operator-precedence slips); `diagnose` names what is wrong.
- `calling`, `conventions`: how user code is called as people write it (parameters found by
  name and shape, classes built from their constructors, results read by shape and order).
- `worker/`: the isolated child process FUNC runs in (`runner` forks and bounds it, `child`
  is its side, `wire` the messages between them).
- `verification`, `finite_differences`, `precise`: what `gradscribe verify` checks of a
  generated kernel (finite differences; definitions in high precision).

`check` depends on `derive` and `codegen`, never the reverse.
"""
