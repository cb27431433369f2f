"""The safe-call layer of `check --python`: FUNC's calls and results, distrusted.

`conventions` says how FUNC is located, called and its return read as ``{param: value}``;
this module wraps that for the worker process (`gradscribe.check.worker.child`): every exception of any
kind (`BaseException` included) becomes a one-line message, and every returned value is
either a real floating-point array (as float64) or a one-line reason why it is not
(`as_float_array`, used in-process too). Imports NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .messages import Text

#: Longest message taken from the user's code (exception text, reprs).
MAX_TEXT = 300


class LoadError(Exception):
    """FUNC cannot be located or called as specified (bad input: exit 2)."""


@dataclass
class Outcome:
    """What one call of FUNC came to, as plain data.

    Either `failure` is set (FUNC raised, returned something that is not gradients, ...),
    or `grads` holds the gradients it returned, keyed by name, as float64 arrays; `bad`
    holds, per key, why a returned value is not a real floating-point array.
    """

    failure: str | None = None
    grads: dict = field(default_factory=dict)
    bad: dict = field(default_factory=dict)
    #: param -> its values after the call (None: its shape changed), for parameters FUNC
    #: changed in place
    modified: dict = field(default_factory=dict)
    #: params FUNC replaced in the dict it was given
    replaced: list = field(default_factory=list)
    #: key -> "float32" or "float16" for gradients FUNC returned in a lower precision (they
    #: cross as float64 and are cast back, so the checker judges them at their precision)
    dtypes: dict = field(default_factory=dict)
    #: gradient key -> param, where FUNC returned the parameter array itself
    aliases: dict = field(default_factory=dict)
    #: the dropout masks the call used, read back (M1 -> 0/1 float64 array)
    masks: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    #: the failure is FUNC raising (not a bad return value)
    raised: bool = False


# --------------------------------------------------------------------------- text


def safe_text(obj, limit: int = MAX_TEXT) -> str:
    """str(obj) on one line, shortened; never raises (an unprintable object says so)."""
    try:
        text = str(obj)
        if not isinstance(text, str):
            raise TypeError
        text = str.__str__(text)
    except BaseException:  # noqa: BLE001  # the user's __str__ may raise anything
        try:
            text = f"<unprintable {type_name(obj)}>"
        except BaseException:  # noqa: BLE001
            text = "<unprintable>"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."


def type_name(obj) -> str:
    """The name of obj's type, never raising."""
    try:
        name = type(obj).__name__
        return str.__str__(name) if isinstance(name, str) else "object"
    except BaseException:  # noqa: BLE001
        return "object"


def describe_exception(exc: BaseException) -> str:
    """``RuntimeError: message`` (first line), safe against a raising ``__str__``."""
    text = safe_text(exc)
    name = type_name(exc)
    return f"{name}: {text}" if text else name


class ReturnError(Exception):
    """What FUNC returned is not gradients at all (the code is wrong: exit 1)."""


def as_float_array(value) -> np.ndarray:
    """`value` as a float64 array, if it is real floating-point (or integer) data.

    Raises:
        ReturnError: a complex, boolean, string, object or otherwise non-numeric value.
    """
    if value is None:
        raise ReturnError("None, not an array of numbers")
    try:
        array = np.asarray(value)
    except BaseException as exc:  # noqa: BLE001  # __array__ and friends are the user's code
        raise ReturnError(f"a {type_name(value)} that cannot be turned into an array: "
                          f"{describe_exception(exc)}") from None
    if not isinstance(array, np.ndarray):
        raise ReturnError(f"a {type_name(value)} that is not an array")
    array = np.array(array, copy=True)  # a plain ndarray, not a subclass
    kind = array.dtype.kind
    if kind == "c":
        imag = "it has an imaginary part" if np.any(np.imag(array) != 0) else "complex dtype"
        raise ReturnError(f"a {array.dtype} array ({imag}): a gradient must be real floating-point")
    if kind == "b":
        raise ReturnError("a boolean array: a gradient must be real floating-point")
    if kind in "USa":
        raise ReturnError("an array of strings, not an array of numbers")
    if kind == "O":
        raise ReturnError(f"an array of Python objects ({type_name(value)}), not an array of numbers")
    if kind not in "fiu":
        raise ReturnError(f"an array of {array.dtype} ({type_name(value)}), not an array of numbers")
    if array.ndim > 8:
        raise ReturnError(f"an array with {array.ndim} dimensions")
    return np.asarray(array, dtype=np.float64, order="C")  # (ascontiguousarray makes 0-d 1-d)


# --------------------------------------------------------------------------- one whole call


@dataclass
class Bad:
    """A returned value that is not a real floating-point array, and why (one line)."""

    message: str


def call_and_collect(adapter, params: dict, X: np.ndarray, T: np.ndarray, batch: int) -> Outcome:
    """Call FUNC (through a `conventions.Adapter`) on one draw and turn everything it did
    into an `Outcome`. Never raises (short of the process being ended)."""
    name = adapter.label
    passed = dict(params)
    originals = {k: v.copy() for k, v in params.items()}
    x_before, t_before = X.copy(), T.copy()
    try:
        result = adapter.call(params, X, T)
    except BaseException as exc:  # noqa: BLE001  # SystemExit, KeyboardInterrupt, custom: all findings
        kind = type_name(exc)
        if kind == "ReturnError":
            said = exc.args[0] if exc.args and type(exc.args[0]) is Text else None
            return Outcome(failure=said if said is not None and len(said) <= 1000
                           else safe_text(exc, 1000))
        shapes = ", ".join(f"{k} {_shape(v)}" for k, v in [("X", x_before), ("T", t_before)]
                           + list(originals.items()))
        return Outcome(failure=Text("error.raised", name=name, exception=describe_exception(exc),
                                    shapes=shapes, batch=batch), raised=True)
    outcome = Outcome()
    try:
        grads, notes = dict.items(result.grads), list(result.notes)
        # the adapter's own sentences kept as they are (to be rendered in any language)
        outcome.notes = [n if type(n) is Text and len(n) <= 500 else safe_text(n, 500)
                         for n in notes]
        for key, value in list(grads):
            key = safe_text(key, 100)
            try:
                outcome.grads[key] = as_float_array(value)
            except ReturnError as exc:
                outcome.bad[key] = f"{key}: {exc}"
            else:
                low = _low_precision(value)
                if low is not None:
                    outcome.dtypes[key] = low
            for k, array in passed.items():
                if value is array:
                    outcome.aliases[key] = k
    except BaseException as exc:  # noqa: BLE001
        return Outcome(failure=f"{name} returned something that cannot be read: "
                               f"{describe_exception(exc)}")
    try:
        outcome.masks = {k: np.asarray(v, dtype=np.float64) for k, v in dict.items(result.masks)}
    except BaseException:  # noqa: BLE001  # masks that cannot be read: as if none were kept
        outcome.masks = {}
    for k, array in passed.items():
        if not (array.shape == originals[k].shape and np.array_equal(array, originals[k])):
            outcome.modified[k] = as_float_array(array) if array.shape == originals[k].shape else None
        elif dict.get(params, k) is not array:
            outcome.replaced.append(k)
    for label, before, after in (("X", x_before, X), ("T", t_before, T)):
        if not np.array_equal(before, after):
            outcome.notes.append(f"{name} modified {label} in place")
    return outcome


LOW_PRECISION = ("float32", "float16")


def _low_precision(value) -> str | None:
    """"float32" / "float16" for an array or NumPy scalar of that type, else None."""
    if isinstance(value, (np.ndarray, np.generic)) and str(value.dtype) in LOW_PRECISION:
        return str(value.dtype)
    return None


def _shape(a) -> str:
    dims = tuple(np.shape(a))
    if len(dims) == 1:
        return f"({dims[0]},)"
    return "(" + ", ".join(map(str, dims)) + ")"
