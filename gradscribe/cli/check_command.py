"""`gradscribe check NET (--python FILE:FUNC | --formula STR) [--batch N] [--targets T] [--json]`.

Exit 0 when every judged gradient is right, 1 otherwise, 2 for bad input: a missing FILE or
FUNC, a FUNC that is not callable or cannot be called as `conventions` describes (a class that
cannot be built from the layer sizes, parameters it does not hold), --targets that do not fit
the loss, a formula outside the language (nothing of it is run).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from pathlib import Path

from ..mathematics import check, conventions, spec
from ..mathematics.formula import FormulaError
from .errors import UsageError


def run_check(args) -> int:
    net = spec.load(args.net)
    if args.batch is not None and args.batch < 1:
        raise UsageError("--batch must be at least 1")
    if args.targets != "soft" and args.formula is not None:
        raise UsageError("--targets is for --python")
    if args.formula is not None:
        try:
            report = check.check_formula(net, args.formula, batch=args.batch)
        except FormulaError as exc:
            raise UsageError(f"--formula: {exc}") from None
    else:
        try:
            check._check_targets(net, args.targets)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        func = load_function(args.python)
        # FUNC's own prints go to stderr, so stdout stays the table or the JSON object
        try:
            with contextlib.redirect_stdout(sys.stderr):
                report = check.check_function(net, func, batch=args.batch, targets=args.targets)
        except conventions.CallingError as exc:
            raise UsageError(f"--python: {exc}") from None
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.table())
    return 0 if report.ok else 1


def load_function(target: str):
    """FUNC (a function or ``Class.method``) from ``FILE:FUNC`` as a `conventions.Target`, FILE
    imported with its folder importable (like ``python FILE``)."""
    path_text, sep, name = target.rpartition(":")
    if not sep or not path_text or not name:
        raise UsageError(f"--python: expected FILE:FUNC, got '{target}'")
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"--python: no such file '{path_text}'")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = f"_gradscribe_check_{abs(hash(str(path.resolve())))}"
    try:
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise UsageError(f"--python: cannot import '{path_text}'")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
    except UsageError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001  # the user's module failing to import is bad input
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise UsageError(f"--python: importing '{path_text}' failed: {type(exc).__name__}: {first}") from None
    try:
        return conventions.resolve(module, name, f"'{path_text}'")
    except conventions.CallingError as exc:
        raise UsageError(f"--python: {exc}") from None
