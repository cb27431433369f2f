"""Calling one layer's code as courses and the book write it (contract section 8); runs in the
worker process and imports NumPy only.

Three shapes of code:

- a backward function ``NAME_backward(dout, cache)`` paired with ``NAME_forward`` of the same
  file (or ``--forward FILE:FUNC``): the forward gets x and the layer's parameters by name or
  position (``affine_forward(x, w, b)``, ``batchnorm_forward(x, gamma, beta, bn_param)``,
  ``dropout_forward(x, dropout_param)``), returns ``(out, cache)``; the backward returns dx or
  a tuple (dx, dw, db) / (dx, dgamma, dbeta) (or a dict);
- a loss function ``NAME(x, y) -> (loss, dx)``;
- a layer class built with its parameters (``Affine(W, b)``, ``BatchNormalization(gamma,
  beta)``, ``Dropout(ratio)``, ``Relu()``, ``SoftmaxWithLoss()``) with ``forward(x[,
  train_flg])`` (``forward(x, t)`` for a loss) and ``backward(dout)``; its gradients are read
  from the attributes ``dW``/``dw``, ``db``, ``dgamma``, ``dbeta``.

The cache is opaque: it goes from the forward to the backward untouched. The backward gets a
copy of dout. `LayerJob` is what the checker tells the worker about the layer, as plain data.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from . import calling
from .conventions import CallingError
from .messages import Text


@dataclass(frozen=True)
class LayerJob:
    """The layer, as plain data: its kind and family, parameters, gradients, options."""

    kind: str
    family: str
    params: tuple
    grads: tuple
    layout: str
    p: float | None = None
    eps: float | None = None
    alpha: float | None = None
    #: "FILE:FUNC" of the forward function, when given apart from NAME's file
    forward: str | None = None


#: Parameter names a forward or a constructor may use for each of the layer's inputs.
_NAMES = {
    "w": ("w", "W", "weight", "weights", "W1", "w1"),
    "b": ("b", "B", "bias", "biases", "b1", "B1"),
    "gamma": ("gamma", "g", "scale", "weight"),
    "beta": ("beta", "shift", "bias"),
    "p": ("p", "ratio", "dropout_ratio", "drop_ratio", "dropout", "rate", "drop_prob",
          "dropout_rate", "prob"),
    "alpha": ("alpha", "negative_slope", "a", "leak", "slope"),
    "train": ("train_flg", "train", "training", "train_flag", "is_training"),
    "momentum": ("momentum",),
    "eps": ("eps", "epsilon"),
}
#: Attributes a layer object keeps its gradients in.
_GRAD_ATTRS = {
    "dw": ("dW", "dw", "grad_W", "grad_w", "dweight", "dweights"),
    "db": ("db", "dB", "grad_b", "dbias"),
    "dgamma": ("dgamma", "dg", "grad_gamma"),
    "dbeta": ("dbeta", "grad_beta"),
}


class Target:
    """NAME found in the module: its shape ("pair", "loss" or "class") and what to call."""

    def __init__(self, module, name: str, job: LayerJob, forward_module=None):
        self.job = job
        self.notes: list[str] = []
        self.label = name
        obj = getattr(module, name, None)
        if inspect.isclass(obj):
            self.shape, self.cls = "class", obj
            return
        stem = name.split("_backward")[0] if "_backward" in name else name
        backward = obj if "_backward" in name else getattr(module, f"{name}_backward", None)
        if backward is None and job.family == "loss" and callable(obj):
            self.shape, self.func = "loss", obj
            return
        if backward is None:
            missing = name if "_backward" in name else f"{name}_backward"
            raise CallingError(f"no function or class '{missing}' (nor a class '{name}') in the file")
        if not callable(backward):
            raise CallingError(f"'{getattr(backward, '__name__', name)}' is not callable")
        self.shape, self.backward = "pair", backward
        self.label = getattr(backward, "__name__", name)
        if forward_module is not None:
            module, fname = forward_module
        else:
            fname = f"{stem}_forward"
        forward = getattr(module, fname, None)
        if not callable(forward):
            raise CallingError(f"no forward function '{fname}' to pair with {self.label} "
                               "(name it with --forward FILE:FUNC)")
        self.forward = forward
        self.notes.append(Text("layer.note.paired", label=self.label, forward=fname))

    # ------------------------------------------------------------------ calls
    def run(self, arrays: dict, mode: dict) -> dict:
        """Forward then backward on the drawn arrays; returns {"out": ..., "dx": ..., ...} as
        the code returned them (not yet checked)."""
        if self.shape == "class":
            return self._run_class(arrays)
        if self.shape == "loss":
            loss, dx = _loss_pair(self.func(arrays["x"], arrays["t"]), self.label)
            return {"loss": loss, "dx": dx}
        return self._run_pair(arrays)

    def _run_pair(self, arrays: dict) -> dict:
        job = self.job
        args, kwargs = _bind(self.forward, job, arrays, constructor=False)
        returned = self.forward(*args, **kwargs)
        if not (isinstance(returned, tuple) and len(returned) == 2):
            raise calling.ReturnError(
                f"{self.forward.__name__} returned {calling.type_name(returned)}, not (out, cache)")
        out, cache = returned
        if job.family == "loss":
            result = {"loss": out}
            grads = self.backward(cache) if _arity(self.backward) == 1 else self.backward(1.0, cache)
        else:
            result = {"out": out}
            grads = self.backward(arrays["dout"].copy(), cache)
        result.update(_gradients(grads, job, self.label))
        return result

    def _run_class(self, arrays: dict) -> dict:
        job = self.job
        args, kwargs = _bind(self.cls.__init__, job, arrays, constructor=True)
        layer = self.cls(*args, **kwargs)
        forward = getattr(layer, "forward", None) or (layer if callable(layer) else None)
        backward = getattr(layer, "backward", None)
        if not callable(forward) or not callable(backward):
            raise CallingError(f"{self.label} has no forward and backward methods")
        result = {}
        if job.family == "loss":
            result["loss"] = forward(arrays["x"], arrays["t"])
            grads = backward() if _required(backward) == 0 else backward(1)
        else:
            train = _train_argument(forward)
            result["out"] = forward(arrays["x"], **train)
            grads = backward(arrays["dout"].copy())
        if isinstance(grads, tuple):
            result.update(_gradients(grads, job, self.label))
        else:
            result["dx"] = grads
        for name in job.grads[1:]:
            if name in result:
                continue
            for attr in _GRAD_ATTRS[name]:
                if hasattr(layer, attr):
                    result[name] = getattr(layer, attr)
                    break
        attrs = ", ".join(next((a for a in _GRAD_ATTRS[n] if hasattr(layer, a)), n)
                          for n in job.grads[1:])
        self.notes = [Text("layer.note.attributes", label=self.label, attrs=attrs)] if attrs else []
        return result


def _arity(fn) -> int:
    try:
        return len([p for p in inspect.signature(fn).parameters.values()
                    if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    except (TypeError, ValueError):
        return 2


def _required(fn) -> int:
    try:
        return len([p for p in inspect.signature(fn).parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    except (TypeError, ValueError):
        return 1


def _train_argument(forward) -> dict:
    """train_flg=True (or train/training) where the forward takes one."""
    try:
        params = inspect.signature(forward).parameters
    except (TypeError, ValueError):
        return {}
    for name in _NAMES["train"]:
        if name in params:
            return {name: True}
    if "mode" in params:
        return {"mode": "train"}
    return {}


def _settings(job: LayerJob, seed: int) -> dict:
    """The dict a course forward takes as bn_param / dropout_param (train mode)."""
    if job.family == "batchnorm":
        return {"mode": "train", "eps": job.eps, "momentum": 0.9}
    if job.family == "dropout":
        return {"mode": "train", "p": job.p, "seed": seed}
    return {"mode": "train"}


def _bind(fn, job: LayerJob, arrays: dict, constructor: bool):
    """Arguments for a forward function (x first) or a constructor (parameters first): by
    name where the names say, else by position in the layer's own order."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise CallingError(f"cannot read the parameters of {getattr(fn, '__name__', fn)}") from None
    if constructor and params and params[0].name == "self":
        params = params[1:]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    values = {}
    for name in job.params:
        values[name] = arrays[name]
    if job.family == "dropout":
        values["p"] = job.p
    if job.alpha is not None:
        values["alpha"] = job.alpha
    if job.family == "batchnorm":
        values["momentum"] = 0.9
        values["eps"] = job.eps
    order = (["x"] if not constructor else []) + list(job.params)
    if job.family == "dropout":
        order.append("p")
    if job.alpha is not None:
        order.append("alpha")
    args, kwargs, used = [], {}, set()
    for index, p in enumerate(positional):
        given = None
        if not constructor and index == 0:
            given = ("x", arrays["x"])
        else:
            for key, names in _NAMES.items():
                if key in values and key not in used and p.name in names:
                    given = (key, values[key])
                    break
            if given is None and ("param" in p.name or p.name in ("config", "cfg", "mode_param")):
                given = ("settings", _settings(job, 0))
            if given is None and p.name in _NAMES["train"]:
                given = ("train", True)
            if given is None and p.name == "mode":
                given = ("mode", "train")
            if given is None and p.default is p.empty:
                rest = [k for k in order if k not in used and k != "x"]
                if rest:
                    given = (rest[0], values[rest[0]])
                elif job.family in ("batchnorm", "dropout") and "settings" not in used:
                    given = ("settings", _settings(job, 0))
        if given is None:
            if p.default is p.empty:
                raise CallingError(f"{getattr(fn, '__qualname__', fn)}: cannot tell what to pass "
                                   f"as '{p.name}'")
            break
        used.add(given[0])
        if p.kind == p.POSITIONAL_ONLY:
            args.append(given[1])
        else:
            kwargs[p.name] = given[1]
    return args, kwargs


def _loss_pair(returned, label: str):
    """(loss, dx) from what a loss function returned, in either order."""
    if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
        raise calling.ReturnError(f"{label} returned {calling.type_name(returned)}, not (loss, dx)")
    a, b = returned
    if np.ndim(a) == 0 and np.ndim(b) > 0:
        return a, b
    if np.ndim(b) == 0 and np.ndim(a) > 0:
        return b, a
    return a, b


def _gradients(grads, job: LayerJob, label: str) -> dict:
    """{dx: ..., dw: ...} from a backward's return: one array, a tuple in the kind's order, or
    a dict keyed in any case."""
    if isinstance(grads, dict):
        out = {}
        for key, value in grads.items():
            k = str(key).lower().replace("grad_", "d")
            if not k.startswith("d"):
                k = "d" + k
            k = {"dweight": "dw", "dbias": "db", "dg": "dgamma"}.get(k, k)
            if k in job.grads:
                out[k] = value
        return out
    if isinstance(grads, (tuple, list)):
        if len(grads) != len(job.grads):
            raise calling.ReturnError(
                f"{label} returned {len(grads)} values, the layer has {len(job.grads)} "
                f"gradients ({', '.join(job.grads)})")
        return dict(zip(job.grads, grads))
    return {"dx": grads}


def collect(target: Target, arrays: dict, mode: dict) -> calling.Outcome:
    """Run the target and turn what it returned into float64 arrays (a failure, not a crash,
    whatever the code does)."""
    outcome = calling.Outcome()
    originals = {k: np.array(v, copy=True) for k, v in arrays.items() if isinstance(v, np.ndarray)}
    try:
        result = target.run(arrays, mode)
    except calling.ReturnError as exc:
        outcome.failure = calling.safe_text(exc, 500)
        return outcome
    except BaseException as exc:  # noqa: BLE001  # the user's code: any failure is a finding
        outcome.failure = Text("layer.raised", label=target.label,
                               exception=calling.describe_exception(exc))
        outcome.raised = True
        return outcome
    for key, value in result.items():
        try:
            array = calling.as_float_array(value)
        except calling.ReturnError as exc:
            outcome.bad[key] = calling.safe_text(exc, 300)
            continue
        if isinstance(value, (np.ndarray, np.generic)) and str(value.dtype) in calling.LOW_PRECISION:
            outcome.dtypes[key] = str(value.dtype)
        outcome.grads[key] = array
    for key, before in originals.items():
        if key in ("x", "dout") and not np.array_equal(before, arrays[key]):
            outcome.notes.append(Text("layer.note.modified", label=target.label, name=key))
    outcome.notes = target.notes + outcome.notes
    return outcome
