"""`gradscribe check NET (--python FILE:FUNC | --formula STR) [--batch N] [--targets T] [--lang L] [--json]`.

Exit 0 when every judged gradient is right, 1 otherwise, 2 for bad input: a missing FILE or
FUNC, a FUNC that is not callable or cannot be called as `conventions` describes (a class that
cannot be built from the layer sizes, parameters it does not hold), --targets that do not fit
the loss, a formula outside the language (nothing of it is run), a FILE that fails to import.
FUNC runs in a worker process (`--timeout`, `--memory`); raising, hanging, exiting or returning
anything but real floating-point gradients is exit 1. What it prints goes to stderr, truncated.
"""

from __future__ import annotations

import json
import sys

from ..check import conventions, judge
from ..check.formula import FormulaError
from ..derive import spec
from ..derive.layers import LayerSpec
from .errors import UsageError


def run_check(args) -> int:
    net = spec.load(args.net)
    if isinstance(net, LayerSpec):
        return _check_layer(net, args)
    if args.forward is not None:
        raise UsageError("--forward is for one layer (layer:KIND:SIZES), paired with its backward")
    if args.batch is not None and args.batch < 1:
        raise UsageError("--batch must be at least 1")
    if not args.timeout > 0 or args.timeout > 10**6:  # NaN fails the first test
        raise UsageError("--timeout must be a number of seconds above 0 (at most 1000000)")
    if not 64 <= args.memory <= 10**7:
        raise UsageError("--memory must be from 64 to 10000000 megabytes")
    if args.targets != "soft" and args.formula is not None:
        raise UsageError("--targets is for --python")
    if args.formula is not None:
        try:
            report = judge.check_formula(net, args.formula, batch=args.batch, lang=args.lang)
        except FormulaError as exc:
            raise UsageError(f"--formula: {exc}") from None
    else:
        try:
            judge._check_targets(net, args.targets)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        try:
            report = judge.check_function(net, args.python, batch=args.batch, targets=args.targets,
                                          timeout=args.timeout, memory_mb=args.memory,
                                          lang=args.lang)
        except conventions.CallingError as exc:
            raise UsageError(f"--python: {exc}") from None
        if report.output:
            # FUNC's own prints go to stderr, so stdout stays the table or the JSON object
            print(report.output.rstrip("\n"), file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.table())
    return 0 if report.ok else 1


def _check_layer(layer: LayerSpec, args) -> int:
    """`check layer:... --python FILE:NAME [--forward FILE:FUNC]`: one layer's backward code."""
    from ..check import layer_judge

    if args.formula is not None:
        raise UsageError(f"--formula is for networks; {layer.inline()} is one layer: check its "
                         "code with --python FILE:NAME")
    if args.batch is not None and args.batch < 1:
        raise UsageError("--batch must be at least 1")
    if not args.timeout > 0 or args.timeout > 10**6:
        raise UsageError("--timeout must be a number of seconds above 0 (at most 1000000)")
    if not 64 <= args.memory <= 10**7:
        raise UsageError("--memory must be from 64 to 10000000 megabytes")
    targets = None
    if args.targets != "soft":
        if layer.kind.name != "softmax_cross_entropy":
            raise UsageError(f"--targets is for layer:softmax_cross_entropy (integer labels or "
                             f"one-hot rows), not {layer.kind.name}")
        targets = args.targets
    try:
        report = layer_judge.check_layer(layer, args.python, forward=args.forward,
                                         batch=args.batch, targets=targets,
                                         timeout=args.timeout, memory_mb=args.memory,
                                         lang=args.lang)
    except conventions.CallingError as exc:
        raise UsageError(f"--python: {exc}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if report.output:
        print(report.output.rstrip("\n"), file=sys.stderr)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.table())
    return 0 if report.ok else 1
