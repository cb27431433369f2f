"""Calling hand-written backward passes as people write them: `check --python`'s conventions.

The checker has a network, drawn parameters in the contract's layout (``W1``, ``B1``, ... as
2-D arrays, row-layout biases 1-D), and data X, T. People's code wants them otherwise:

- a plain function ``f(params, X, T)`` (or ``f(params, (X, T))``), or one whose parameters
  are *named* after the network's and the data's (``W1``, ``b1``, ..., any case; ``X``/``x``,
  ``img``, ``xb``, ...; ``T``/``y``/``Y``, ``label``, ...; data under other names told by
  position), positional-only ones included;
- a method ``Class.method``: the class is built from the layer sizes (one list or separate
  integers), the attributes holding its parameters (lists of weights and biases, a dict keyed
  ``W1``/``b1``, one attribute per parameter, a list of layer objects) are found by name and
  shape and set to the drawn values, possibly stored transposed or as other vector shapes;
- a return value that is a dict (keys in any case, ``dW1``/``grad_W1`` too), a tuple or list of
  arrays, lists of per-layer arrays (``(nabla_b, nabla_w)``) or ``(loss, grads)``.

`resolve` finds the target in an imported module, `Adapter` builds and calls it and turns what
it returns into ``{param: array}`` in the layout's shapes, with the assumptions it made as
sentences. `split_samples` / `combine` serve calls once per sample (as a batch of one, or as
plain vectors ``X[i]``). Nothing here judges a
gradient, and nothing needs more of the network than its `Shape` (plain data, no SymPy).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import numpy as np

from .messages import Text


class CallingError(ValueError):
    """FUNC cannot be located, built or called as specified (bad input, not wrong code)."""


class ReturnError(ValueError):
    """FUNC ran but returned something that is not gradients (the code is wrong)."""


# ----------------------------------------------------------------------------- the network


@dataclass(frozen=True)
class Shape:
    """What the conventions need of a network, as plain data (a worker process gets it
    without importing SymPy): the sizes n_0..n_L, the layout, which layers have a bias, and
    contract section 7's settings: which layers normalize, each layer's dropout probability
    (None: no dropout), the penalty ("weight_decay", "l2" or None) and its λ."""

    sizes: tuple
    layout: str
    biases: tuple
    norms: tuple = ()
    drops: tuple = ()
    penalty: str | None = None
    lam: float = 0.0

    @property
    def depth(self) -> int:
        return len(self.sizes) - 1

    def batch_norm(self, l: int) -> bool:
        return bool(self.norms) and self.norms[l - 1]

    def dropout(self, l: int) -> float | None:
        return self.drops[l - 1] if self.drops else None

    @property
    def plain(self) -> bool:
        return not any(self.norms) and all(p is None for p in self.drops) and self.penalty is None

    @classmethod
    def of(cls, net) -> Shape:
        """The shape of a `spec.Network` (or of a `Shape`)."""
        if isinstance(net, Shape):
            return net
        depth = len(net.sizes) - 1
        norms = tuple(bool(net.batch_norm(l)) for l in range(1, depth + 1)) if hasattr(
            net, "batch_norm") else ()
        drops = tuple(None if net.dropout(l) is None else float(net.dropout(l))
                      for l in range(1, depth + 1)) if hasattr(net, "dropout") else ()
        norms = norms if any(norms) else ()
        drops = drops if any(p is not None for p in drops) else ()
        penalty = getattr(net, "penalty", None)
        lam = float(net.penalty_lambda) if penalty is not None else 0.0
        return cls(tuple(net.sizes), net.layout,
                   tuple(bool(getattr(layer, "bias", True)) for layer in net.layers),
                   norms, drops, penalty, lam)

    def to_json(self) -> dict:
        return {"sizes": list(self.sizes), "layout": self.layout, "biases": list(self.biases),
                "norms": list(self.norms), "drops": list(self.drops), "penalty": self.penalty,
                "lam": self.lam}

    @classmethod
    def from_json(cls, data: dict) -> Shape:
        return cls(tuple(int(n) for n in data["sizes"]), str(data["layout"]),
                   tuple(bool(b) for b in data["biases"]),
                   tuple(bool(b) for b in data.get("norms", ())),
                   tuple(None if p is None else float(p) for p in data.get("drops", ())),
                   data.get("penalty"), float(data.get("lam", 0.0)))


def biased(net) -> tuple[bool, ...]:
    """Per layer: does it have a bias B_l (``bias = false`` layers do not)."""
    return Shape.of(net).biases


def param_names(net) -> list[str]:
    """W1, B1, gamma1, beta1, W2, ... in layer order, without the biases of bias-free layers
    (gamma_l and beta_l for batch-norm layers only)."""
    shape = Shape.of(net)
    out = []
    for l, has_bias in enumerate(biased(net), start=1):
        out.append(f"W{l}")
        if has_bias:
            out.append(f"B{l}")
        if shape.batch_norm(l):
            out += [f"gamma{l}", f"beta{l}"]
    return out


def layer_index(name: str) -> int:
    """The layer number of W2, B2, gamma2, beta2, M2."""
    return int(re.sub(r"^\D+", "", name))


def layout_shape(net, name: str) -> tuple[int, ...]:
    """The contract's shape of parameter `name` in NumPy code (row-layout per-unit vectors -
    biases, gamma, beta - 1-D)."""
    l = layer_index(name)
    n, n_prev = net.sizes[l], net.sizes[l - 1]
    if name[0] == "W":
        return (n, n_prev) if net.layout == "column" else (n_prev, n)
    return (n, 1) if net.layout == "column" else (n,)


_PARAM = re.compile(r"(w|weights?|b|bias(?:es)?)_?(\d+)", re.IGNORECASE)
_BN_PARAM = re.compile(r"(gamma|beta)_?(\d+)", re.IGNORECASE)
_GRAD_PREFIX = re.compile(r"(?:d|d_|grad_?|grads_|nabla_?)(?=[wbg])", re.IGNORECASE)
X_NAMES = ("X", "x", "inputs", "input", "x_batch", "X_batch", "data", "features", "feature",
           "xb", "Xb", "a", "a0", "A0", "sample", "img", "image", "images", "imgs", "x_i", "xi",
           "example", "instance", "inp", "x_in", "x_train", "X_train", "point")
T_NAMES = ("T", "t", "y", "Y", "targets", "target", "labels", "label", "y_batch", "Y_batch",
           "y_true", "t_batch", "yb", "Yb", "ys", "y_i", "yi", "t_i", "ti", "y_train", "Y_train",
           "desired", "truth", "expected", "gt")
PARAMS_NAMES = ("params", "parameters", "param", "weights_dict", "theta", "model")
#: names people give the data of ONE sample (``backprop(self, x, y)``, ``grad(img, label)``);
#: they tell per-sample code from batch code where what it returns cannot
ONE_SAMPLE_NAMES = frozenset(("x", "a", "a0", "sample", "img", "image", "x_i", "xi", "example",
                              "instance", "inp", "point", "pair", "datum", "item"))


def one_sample_names(names) -> bool:
    """Do FUNC's names for its data (`Adapter.data_names`) say it takes one sample?"""
    return any(n in ONE_SAMPLE_NAMES for n in names)


def canonical(name: str, net, gradient: bool = False) -> str | None:
    """``b1``, ``W_1``, ``weights1`` (and with `gradient`, ``dW1``, ``grad_b1``) -> ``B1``/``W1``;
    None if the name is not one of the network's parameters."""
    text = name.strip()
    if gradient:
        text = _GRAD_PREFIX.sub("", text, count=1) if _GRAD_PREFIX.match(text) else text
    m = _PARAM.fullmatch(text)
    if not m:
        m = _BN_PARAM.fullmatch(text)
        if not m:
            return None
        key = m.group(1).lower() + str(int(m.group(2)))
        return key if key in param_names(net) else None
    key = ("W" if m.group(1)[0] in "wW" else "B") + str(int(m.group(2)))
    return key if key in param_names(net) else None


# ----------------------------------------------------------------------------- locating FUNC


@dataclass(frozen=True)
class Target:
    """What ``FILE:FUNC`` names: a function, or a class and the name of one of its methods."""

    label: str
    function: object = None
    cls: type | None = None
    method: str | None = None


def resolve(module, qualname: str, where: str = "the module") -> Target:
    """FUNC (``name`` or ``Class.method``) in an imported module.

    Raises:
        CallingError: no such name, or not callable.
    """
    parts = qualname.split(".")
    if not all(p.isidentifier() for p in parts) or len(parts) > 2:
        raise CallingError(f"'{qualname}' is not a function name or Class.method")
    if not hasattr(module, parts[0]):
        raise CallingError(f"{where} has no function '{parts[0]}'")
    obj = getattr(module, parts[0])
    if len(parts) == 1:
        if inspect.isclass(obj):
            raise CallingError(f"'{qualname}' in {where} is a class: name one of its methods "
                               f"('{qualname}.backprop')")
        if not callable(obj):
            raise CallingError(f"'{qualname}' in {where} is not callable")
        return Target(qualname, function=obj)
    if not inspect.isclass(obj):
        raise CallingError(f"'{parts[0]}' in {where} is not a class")
    if not callable(getattr(obj, parts[1], None)):
        raise CallingError(f"class '{parts[0]}' in {where} has no method '{parts[1]}'")
    return Target(qualname, cls=obj, method=parts[1])


def target_of(func) -> Target:
    """A Python callable (a function, a bound method) as a `Target`."""
    if isinstance(func, Target):
        return func
    return Target(getattr(func, "__qualname__", getattr(func, "__name__", "FUNC")), function=func)


# ----------------------------------------------------------------------------- parameter slots


@dataclass
class Slot:
    """Where an object keeps one parameter: `get`/`set` it, as `stored` (shape) says.

    `held` is the array the object held when it was found: values are written *into* it
    (``held[...] = value``), so every other reference to it (a layer object built with
    ``Affine(self.params['W1'], ...)``) sees them; the slot is rebound to it where the code
    replaced it. Without a held array (not a writable floating-point array) the slot is rebound.
    """

    param: str
    where: str
    stored: tuple
    container: object
    key: object
    held: np.ndarray | None = None

    def current(self):
        if isinstance(self.container, (dict, list)):
            return self.container[self.key]
        return getattr(self.container, self.key)

    def _bind(self, value) -> None:
        if isinstance(self.container, (dict, list)):
            self.container[self.key] = value
        else:
            setattr(self.container, self.key, value)

    def set(self, value: np.ndarray) -> None:
        held = self.held
        if held is None or held.shape != np.shape(value):
            self._bind(value)
            return
        try:
            if self.current() is not held:
                self._bind(held)
        except (KeyError, IndexError, AttributeError):
            self._bind(held)
        held[...] = value

    def changed(self, value: np.ndarray) -> bool:
        """Did the call replace the held array or change its values (an update step)?"""
        try:
            now = self.current()
        except Exception:  # noqa: BLE001  # the code deleted the attribute or the key
            return True
        if self.held is not None and now is not self.held:
            return True
        try:
            return not np.array_equal(np.asarray(now), np.asarray(value, dtype=np.asarray(now).dtype))
        except Exception:  # noqa: BLE001  # something that is not an array any more
            return True


def _holdable(value) -> np.ndarray | None:
    """`value` if the checker can write drawn values into it (a writable float array)."""
    if (isinstance(value, np.ndarray) and type(value) is np.ndarray and value.dtype.kind == "f"
            and value.flags.writeable):
        return value
    return None


def _fits(net, name: str, shape: tuple) -> str | None:
    """How a stored shape holds parameter `name`: "as is", "transposed", "reshaped" or None."""
    want = layout_shape(net, name)
    if shape == want:
        return "as is"
    if name[0] == "W":
        return "transposed" if shape == want[::-1] else None
    n = net.sizes[layer_index(name)]
    return "reshaped" if shape in ((n,), (n, 1), (1, n)) else None


def _kind_of_name(name: str) -> str | None:
    low = name.lower().lstrip("_")
    if "weight" in low or low in ("w", "ws", "w_list", "kernels"):
        return "W"
    if "bias" in low or low in ("b", "bs", "b_list"):
        return "B"
    return None


def _array(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "fiu"


def find_slots(obj, net) -> dict[str, list[Slot]]:
    """The attributes of `obj` holding each parameter, by name first, then by shape."""
    names = param_names(net)
    slots: dict[str, list[Slot]] = {}

    def add(param, where, container, key, value):
        if param in names and _fits(net, param, tuple(np.shape(value))):
            slots.setdefault(param, []).append(Slot(param, where, tuple(np.shape(value)),
                                                    container, key, _holdable(value)))

    attrs = vars(obj) if hasattr(obj, "__dict__") else {}
    for attr, value in list(attrs.items()):
        where = f"self.{attr}"
        key = canonical(attr, net)
        if key and _array(value):
            add(key, where, obj, attr, value)
        elif isinstance(value, dict):
            for k, v in value.items():
                ck = canonical(str(k), net)
                if ck and _array(v):
                    add(ck, f"{where}[{k!r}]", value, k, v)
        elif isinstance(value, list) and value:
            _list_slots(net, attr, value, add)
    # attributes named like a weight or a bias (W_hidden, b_out) that fit one parameter only
    used = {s.where for ss in slots.values() for s in ss}
    for attr, value in list(attrs.items()):
        kind = _kind_of_name(attr) or (attr[:1].upper() if attr[:1] in "wWbB" else None)
        if not kind or not _array(value) or f"self.{attr}" in used:
            continue
        fits = [k for k in names if k[0] == kind and k not in slots
                and _fits(net, k, tuple(value.shape))]
        if len(fits) == 1:
            add(fits[0], f"self.{attr} (by shape)", obj, attr, value)
    return slots


def _list_slots(net, attr, value, add):
    """Per-layer lists: of weights, of biases, or of layer objects holding both."""
    depth = net.depth
    has_b = biased(net)
    where = f"self.{attr}"
    if all(_array(v) for v in value):
        kind = _kind_of_name(attr)
        layers_w = list(range(1, depth + 1))
        layers_b = [l for l in layers_w if has_b[l - 1]]
        for k, layers in (("W", layers_w), ("B", layers_b)):
            if kind not in (None, k) or len(value) != len(layers):
                continue
            if kind is None and not all(_fits(net, f"{k}{l}", v.shape) for l, v in zip(layers, value)):
                continue
            for i, (l, v) in enumerate(zip(layers, value)):
                add(f"{k}{l}", f"{where}[{i}]", value, i, v)
            return
    elif all(hasattr(v, "__dict__") for v in value):
        # layer objects; those without weights (activation layers) are skipped
        dense = [(i, v) for i, v in enumerate(value)
                 if any(_kind_of_name(k) == "W" and _array(a) for k, a in vars(v).items())]
        if len(dense) != depth:
            return
        # batch-norm layer objects holding their own gamma and beta, in order
        shape = Shape.of(net)
        normed = [l for l in range(1, depth + 1) if shape.batch_norm(l)]
        bns = [(i, v) for i, v in enumerate(value)
               if all(_array(getattr(v, k, None)) for k in ("gamma", "beta"))]
        if normed and len(bns) == len(normed):
            for l, (i, layer) in zip(normed, bns):
                for sub in ("gamma", "beta"):
                    add(f"{sub}{l}", f"{where}[{i}].{sub}", layer, sub, getattr(layer, sub))
        for l, (i, layer) in enumerate(dense, start=1):
            for sub, v in vars(layer).items():
                kind = _kind_of_name(sub)
                if kind and _array(v):
                    add(f"{kind}{l}", f"{where}[{i}].{sub}", layer, sub, v)


# ----------------------------------------------------------------------------- binding arguments


def _signature(fn):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _positional(sig) -> list[inspect.Parameter]:
    return [p for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


@dataclass
class Binding:
    """How FUNC's parameters are filled: `plan` maps each to "params", "X", "T", "XT" (the pair
    ``(X, T)`` as one argument) or a network parameter."""

    plan: list  # [(parameter name or None for positional, what)]
    by_name: bool
    takes: set = field(default_factory=set)  # network parameters passed as arguments
    #: what -> the name of FUNC's parameter that receives it ("X" -> "x"), also when positional
    names: dict = field(default_factory=dict)
    #: parameters that are positional-only (``def f(x, y, /)``): passed by position
    positional_only: frozenset = frozenset()


def bind(fn, net, label: str, method: bool) -> Binding:
    """Decide what to pass to `fn` (a function, or a bound method) for each of its parameters.

    By name when any parameter is named after the data or the network's parameters (data of
    other names is then told by position: the first unnamed one X, the next T; one alone is the
    pair ``(X, T)``); else positionally, ``(params, X, T)`` for a function and ``(X, T)`` for a
    method, or ``(params, (X, T))`` / ``((X, T),)`` when it takes one argument fewer.
    """
    sig = _signature(fn)
    if sig is None:
        return Binding([(None, "params"), (None, "X"), (None, "T")], False)
    plan, unmatched = [], []
    settings = course_settings(net, function=True)
    drops = any(p is not None for p in Shape.of(net).drops)
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        key = canonical(p.name, net)
        if drops and p.name in MASK_NAMES:
            plan.append((p, "masks"))
        elif p.name in settings and p.kind != p.POSITIONAL_ONLY and p.default is not p.empty:
            plan.append((p, "set:" + p.name))
        elif p.name in X_NAMES:
            plan.append((p, "X"))
        elif p.name in T_NAMES:
            plan.append((p, "T"))
        elif key:
            plan.append((p, key))
        elif p.name in PARAMS_NAMES:
            plan.append((p, "params"))
        elif p.default is p.empty:
            unmatched.append(p)
    named = {what for _, what in plan}
    takes = {w for w in named if w not in ("X", "T", "params", "masks") and not w.startswith("set:")}
    if {"X", "T"} <= named or takes:
        if len(unmatched) == 1 and "params" not in named and not takes:
            plan.append((unmatched[0], "params"))
            unmatched = []
        # data under other names (img, label; batch): told apart by position
        missing = [w for w in ("X", "T") if w not in named]
        if takes and missing and len(unmatched) == len(missing):
            plan += list(zip(unmatched, missing))
            unmatched = []
        elif takes and not unmatched and missing == ["T"]:
            plan = [(p, "XT" if w == "X" else w) for p, w in plan]  # grads(W1, b1, ..., sample)
        elif takes and len(unmatched) == 1 and missing == ["X", "T"]:
            plan.append((unmatched[0], "XT"))
            unmatched = []
        if unmatched:
            raise CallingError(
                f"{label}: cannot tell what to pass as '{unmatched[0].name}' (it takes "
                f"{', '.join(sig.parameters)}; name the data X/x and T/y/Y, the parameters "
                f"W1, b1, ... or params)")
        order = {id(p): i for i, p in enumerate(sig.parameters.values())}
        plan.sort(key=lambda pw: order[id(pw[0])])
        only = frozenset(p.name for p, _ in plan if p.kind == p.POSITIONAL_ONLY)
        return Binding([(p.name, w) for p, w in plan], True, takes,
                       {w: p.name for p, w in plan if w in ("X", "T", "XT")}, only)
    positional = _positional(sig)
    required = [p for p in positional if p.default is p.empty]
    variadic = any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())
    want = ["X", "T"] if method else ["params", "X", "T"]
    if len(positional) == len(want) - 1 and not variadic and len(required) == len(positional):
        want = want[:-2] + ["XT"]  # the data as one (x, y) pair
    if len(required) > len(want) or (len(positional) < len(want) and not variadic):
        raise CallingError(f"{label} takes ({', '.join(sig.parameters)}): expected "
                           f"{'(X, T)' if method else '(params, X, T)'} or parameters named "
                           f"after the data and the network's parameters")
    return Binding([(None, w) for w in want], False,
                   names={w: p.name for p, w in zip(positional, want) if w in ("X", "T", "XT")})


# ----------------------------------------------------------------------------- building classes


#: constructor parameters course code names the layer sizes with
INPUT_NAMES = frozenset((
    "input_size", "input_dim", "input_dims", "n_in", "n_input", "n_inputs", "num_inputs",
    "num_input", "input_nodes", "in_features", "in_dim", "n_x", "d_in", "nin", "input_units",
    "input_layer_size", "n_features", "num_features", "inputs"))
OUTPUT_NAMES = frozenset((
    "output_size", "output_dim", "num_classes", "n_out", "n_output", "n_outputs", "num_outputs",
    "num_output", "output_nodes", "n_classes", "out_features", "out_dim", "n_y", "d_out", "nout",
    "output_units", "output_layer_size", "outputs"))
HIDDEN_NAMES = frozenset((
    "hidden_size", "hidden_dim", "hidden_dims", "hidden_size_list", "hidden_layers",
    "hidden_sizes", "hidden_units", "hidden_nodes", "n_hidden", "num_hidden", "hidden",
    "hidden_layer_sizes", "hidden_layer_size", "n_h", "nh", "hidden_neurons", "hiddens",
    "hidden_list", "num_hiddens"))
SIZES_NAMES = frozenset((
    "sizes", "layers", "layer_sizes", "layer_dims", "layers_dims", "dims", "architecture",
    "topology", "shape", "net_sizes", "structure", "layer_units", "units"))
#: constructor or FUNC arguments that change the loss (an L2 penalty / weight decay)
PENALTY_NAMES = ("reg", "weight_decay_lambda", "weight_decay", "l2", "l2_reg", "reg_lambda",
                 "lambda_", "lam", "lmbda", "reg_strength", "regularization", "l2_lambda")


#: names course code gives section 7's settings: batch norm switched on ...
BATCHNORM_SWITCHES = ("use_batchnorm", "batchnorm", "use_bn", "batch_norm", "use_batch_norm",
                      "batch_normalization", "use_batch_normalization")
#: ... dropout switched on, its probability of dropping a unit, of keeping one
DROPOUT_SWITCHES = ("use_dropout",)
DROP_NAMES = ("dropout", "dropout_ratio", "dropout_ration", "dropout_rate", "dropout_prob",
              "drop_prob", "dropout_p", "p_drop", "drop_rate")
KEEP_NAMES = ("dropout_keep_ratio", "keep_prob", "keep_ratio", "keep_probability",
              "dropout_keep_prob", "keep_rate")
#: what FUNC may take the dropout masks as
MASK_NAMES = ("masks", "mask", "dropout_masks", "drop_masks")


def course_settings(net, function: bool = False) -> dict:
    """The network's section-7 settings under every name course code gives them: the penalty's
    λ (`PENALTY_NAMES`), batch norm (``normalization="batchnorm"``, ``use_batchnorm=True``)
    where every hidden layer normalizes, dropout (``dropout_ratio=p``,
    ``dropout_keep_ratio=1-p``, ``use_dropout=True``) where every hidden layer drops with the
    same p. With `function` (FUNC's own arguments) dropout's p may also be called ``p``."""
    shape = Shape.of(net)
    out = {}
    if shape.penalty is not None:
        lam = shape.lam
        out.update((name, int(lam) if float(lam).is_integer() else lam) for name in PENALTY_NAMES)
    hidden = range(1, shape.depth)
    if shape.depth > 1 and all(shape.batch_norm(l) for l in hidden) and not shape.batch_norm(
            shape.depth):
        out["normalization"] = "batchnorm"
        out.update((name, True) for name in BATCHNORM_SWITCHES)
    drops = {shape.dropout(l) for l in hidden}
    if shape.depth > 1 and len(drops) == 1 and None not in drops:
        p = drops.pop()
        out.update((name, p) for name in DROP_NAMES + (("p",) if function else ()))
        out.update((name, float(1 - p)) for name in KEEP_NAMES)
        out.update((name, True) for name in DROPOUT_SWITCHES)
    return out


def _settings_for(fn, net, function: bool = False) -> dict:
    """The course settings `fn`'s signature takes by name, in its order."""
    sig = _signature(fn)
    if sig is None:
        return {}
    settings = course_settings(net, function)
    return {p.name: settings[p.name] for p in sig.parameters.values()
            if p.name in settings and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY)}


def _hidden_forms(name: str, hidden: list) -> list:
    """The values a hidden-size parameter may want: a list of widths, or one int (one
    hidden layer, or every hidden layer as wide)."""
    plural = name.endswith(("s", "list")) and name not in ("num_hiddens",)
    ints = [hidden[0]] if hidden and len(set(hidden)) == 1 else []
    lists = [list(hidden)]
    return lists + ints if plural else ints + lists


def _named_attempts(cls, sig, sizes: list) -> list:
    """(args, kwargs, how) built from the constructor's parameter names, or []."""
    hidden = sizes[1:-1]
    choices = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            continue
        if p.name in SIZES_NAMES:
            choices.append((p.name, [list(sizes)]))
        elif p.name in INPUT_NAMES:
            choices.append((p.name, [sizes[0]]))
        elif p.name in OUTPUT_NAMES:
            choices.append((p.name, [sizes[-1]]))
        elif p.name in HIDDEN_NAMES:
            choices.append((p.name, _hidden_forms(p.name, hidden)))
        elif p.default is p.empty:
            return []  # a required argument it cannot tell
    if not choices:
        return []
    out = [{}]
    for name, forms in choices:  # in the signature's order
        out = [dict(kw, **{name: f}) for kw in out for f in forms]
    return [((), kw, f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in kw.items())})")
            for kw in out]


def _complete(obj, net) -> bool:
    slots = find_slots(obj, net)
    return all(k in slots for k in param_names(net))


def _misfit(obj, net, param: str) -> str | None:
    """``it holds self.params['W1'] of shape (784, 4) where (3, 4) belongs`` for a parameter
    held under its name in another shape (a class built for other sizes), or None."""
    for attr, value in (vars(obj) if hasattr(obj, "__dict__") else {}).items():
        found = [(f"self.{attr}", value)] if canonical(attr, net) == param else []
        if isinstance(value, dict):
            found += [(f"self.{attr}[{k!r}]", v) for k, v in value.items()
                      if canonical(str(k), net) == param]
        for where, v in found:
            if _array(v):
                return (f"it holds {where} of shape {_shape(v.shape)} where "
                        f"{_shape(layout_shape(net, param))} belongs")
    return None


def constructor_text(cls) -> str:
    """``FullyConnectedNet(hidden_dims, input_dim=3072, ...)``: the constructor's signature."""
    sig = _signature(cls)
    return f"{cls.__name__}{sig}" if sig is not None else f"{cls.__name__}(...)"


def _construct(cls, net, label: str):
    """An instance of `cls` built from the layer sizes; (instance, how it was built).

    Tried in turn: the sizes as one list, as separate integers, by the constructor's
    parameter names (`INPUT_NAMES`, `HIDDEN_NAMES` (an int or a list), `OUTPUT_NAMES`,
    `SIZES_NAMES`; defaulted parameters left at their defaults), no arguments. The first instance
    holding every parameter wins; else the first holding some, else the first built.
    """
    sizes = list(net.sizes)
    sig = _signature(cls)
    attempts = []
    if sig is not None:
        positional = _positional(sig)
        required = [p for p in positional if p.default is p.empty]
        if len(required) <= 1 <= len(positional) or (
                len(positional) <= 1 and any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())):
            attempts.append(((sizes,), {}, f"{cls.__name__}({sizes})"))
        variadic = any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())
        if len(required) <= len(sizes) and (len(sizes) <= len(positional) or variadic):
            attempts.append((tuple(sizes), {}, f"{cls.__name__}({', '.join(map(str, sizes))})"))
        attempts += _named_attempts(cls, sig, sizes)
        if not required:
            attempts.append(((), {}, f"{cls.__name__}()"))
    else:
        attempts = [((sizes,), {}, f"{cls.__name__}({sizes})"),
                    (tuple(sizes), {}, f"{cls.__name__}({', '.join(map(str, sizes))})")]
    settings = _settings_for(cls, net)
    if settings:
        params = list(sig.parameters) if sig is not None else []

        def with_settings(args, kwargs, how):
            taken = set(params[:len(args)]) | set(kwargs)
            more = {k: v for k, v in settings.items() if k not in taken}
            if not more:
                return args, kwargs, how
            base = how[:-1]
            return (args, dict(kwargs, **more), base + ("" if base.endswith("(") else ", ")
                    + ", ".join(f"{k}={v!r}" for k, v in more.items()) + ")")

        attempts = [with_settings(*a) for a in attempts]
    if not attempts:
        raise CallingError(f"{label}: cannot build {cls.__name__} from the layer sizes {sizes}: "
                           f"its constructor is {constructor_text(cls)}")
    failures, some, built = [], None, None
    for args, kwargs, how in attempts:
        try:
            obj = cls(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001  # the user's constructor: try the next form
            failures.append(f"{how} raised {type(exc).__name__}: {first_line(exc)}")
            continue
        if _complete(obj, net):
            return obj, how
        if find_slots(obj, net):
            some = some or (obj, how)
        built = built or (obj, how)
    if some is not None or built is not None:
        return some or built
    raise CallingError(f"{label}: cannot build {cls.__name__} from the layer sizes {sizes} "
                       f"(its constructor is {constructor_text(cls)}): " + "; ".join(failures))


def penalty_settings(fn) -> dict:
    """``{"reg": 0.0}``: the arguments of `fn` (a constructor or FUNC) named like a loss
    penalty that are left at a numeric default."""
    sig = _signature(fn)
    out = {}
    if sig is None:
        return out
    for p in sig.parameters.values():
        if p.name in PENALTY_NAMES and isinstance(p.default, (int, float)) and not isinstance(
                p.default, bool):
            out[p.name] = float(p.default) if isinstance(p.default, float) else int(p.default)
    return out


def first_line(exc) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001  # an exception whose __str__ raises
        return ""
    return text.splitlines()[0] if text else ""


# ----------------------------------------------------------------------------- the adapter


@dataclass
class Outcome:
    """One call: the gradients keyed W1, B1, ... (unknown keys kept as given) and what was assumed."""

    grads: dict
    notes: list
    #: the dropout masks the call used, read back from where the code keeps them: M1 -> 0/1
    masks: dict = field(default_factory=dict)


class Masks(list):
    """The dropout masks FUNC takes: a list of 0/1 arrays, one per dropout layer in order
    (``masks[0]``, ``for m in masks``), that answers by name too, as the kernels take them
    (``masks["M1"]``, ``masks.get("M2")``, ``.items()``, ``.keys()``, ``.values()``)."""

    def __init__(self, named: dict):
        order = sorted(named, key=lambda k: int(k[1:]))
        super().__init__(named[k] for k in order)
        self._names = order

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return list.__getitem__(self, self._names.index(key))
            except ValueError:
                raise KeyError(key) from None
        return list.__getitem__(self, key)

    def get(self, key, default=None):
        try:
            return self[key]
        except (KeyError, IndexError, TypeError):
            return default

    def keys(self):
        return list(self._names)

    def values(self):
        return list(self)

    def items(self):
        return list(zip(self._names, self))

    def __contains__(self, key):
        return key in self._names if isinstance(key, str) else list.__contains__(self, key)


def mask_shape(net, l: int, batch: int) -> tuple:
    """The shape of layer l's dropout mask M_l in the layout (as R_l)."""
    n = net.sizes[l]
    return (n, batch) if net.layout == "column" else (batch, n)


def _droppy(name: str, obj=None) -> bool:
    """Is `name` (a key, an attribute, a class name) or `obj` (its attributes) a dropout's?"""
    low = str(name).lower()
    if "drop" in low:
        return True
    if obj is not None and hasattr(obj, "__dict__"):
        attrs = {k.lower() for k in vars(obj)}
        return bool(attrs & set(DROP_NAMES + KEEP_NAMES)) or any("drop" in a for a in attrs)
    return False


def read_masks(obj, net, batch: int) -> dict:
    """The dropout masks `obj` keeps after a training call, as 0/1 float arrays keyed M1, ...:
    the `mask` of its dropout layer objects (in a dict, a list or an attribute; an object is a
    dropout's by its class name, its key or its attributes: a ReLU's mask is not), or arrays in
    attributes named like masks. Assigned to the dropout layers in order, by shape."""
    shape = Shape.of(net)
    layers = [l for l in range(1, shape.depth + 1) if shape.dropout(l) is not None]
    if obj is None or not layers or not hasattr(obj, "__dict__"):
        return {}
    found, seen = [], set()

    def take(value):
        if isinstance(value, np.ndarray) and value.ndim == 2 and id(value) not in seen:
            seen.add(id(value))
            found.append(value)

    def layer_object(name, value):
        if hasattr(value, "__dict__") and not isinstance(value, type) and (
                _droppy(type(value).__name__) or _droppy(name, value)):
            for attr in ("mask", "dropout_mask", "_mask", "drop_mask", "keep_mask"):
                take(getattr(value, attr, None) if attr in vars(value) else None)

    for attr, value in list(vars(obj).items()):
        masky = "mask" in attr.lower()
        if isinstance(value, dict):
            for k, v in list(value.items()):
                if masky:
                    take(v)
                layer_object(k, v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                if masky:
                    take(v)
                layer_object(attr, v)
        elif masky:
            take(value)
        else:
            layer_object(attr, value)
    out, rest = {}, list(found)
    for l in layers:
        want = mask_shape(net, l, batch)
        for i, m in enumerate(rest):
            if m.shape == want:
                out[f"M{l}"] = (np.asarray(m) != 0).astype(float)
                del rest[i]
                break
    return out


class Adapter:
    """Calls a `Target` on the checker's (params, X, T) and returns an `Outcome`.

    Built once per check: a class is instantiated here, and its parameter attributes located.

    Raises:
        CallingError: the target cannot be built or called as specified.
    """

    def __init__(self, target, net):
        self.target = target_of(target)
        net = self.net = Shape.of(net)
        self.label = self.target.label
        self.notes: list[str] = []
        self.slots: dict[str, list[Slot]] = {}
        #: per parameter held by the instance: "as is", "transposed" or "reshaped"
        self.how: dict[str, str] = {}
        self.instance = None
        #: what the last call did besides returning (spellings read, parameters it changed)
        self.findings: list[str] = []
        #: the dropout masks to pass where FUNC takes them (M1 -> 0/1 array), set per call
        self.given_masks: dict = {}
        bound = self.target.function
        if self.target.cls is not None:
            self.instance, how = _construct(self.target.cls, net, self.label)
            self._use_instance(how, strict=True)
        elif inspect.ismethod(bound) and not inspect.isclass(bound.__self__):
            # a method of an object the caller built (a notebook's net.backprop)
            self.instance = bound.__self__
            self.target = Target(self.label, cls=type(self.instance), method=bound.__name__)
            self._use_instance(Text("conv.the_object", cls=type(self.instance).__name__), strict=False)
        else:
            self.binding = bind(bound, net, self.label, method=False)
        #: section 7's settings passed as FUNC's own arguments (``reg=0.1``)
        self.passed = {what[4:]: course_settings(net, function=True)[what[4:]]
                       for _, what in self.binding.plan if what.startswith("set:")}
        if self.passed:
            self.notes.append(Text("conv.passed", label=self.label, settings=", ".join(
                f"{k}={v!r}" for k, v in self.passed.items())))
        if "XT" in self.binding.names:
            self.notes.append(Text("conv.pair", label=self.label, name=self.binding.names["XT"]))
        if self.binding.by_name and self.binding.takes:
            self.notes.append(Text("conv.by_name", label=self.label, names=", ".join(
                sorted(self.binding.takes, key=param_names(net).index))))

    def _use_instance(self, how: str, strict: bool) -> None:
        """Bind the method of `self.instance` and locate the parameters it holds."""
        net = self.net
        fn = getattr(self.instance, self.target.method)
        self.binding = bind(fn, net, self.label, method=True)
        self.slots = find_slots(self.instance, net)
        missing = [k for k in param_names(net) if k not in self.slots
                   and k not in self.binding.takes]
        if missing and (strict or self.slots):
            misfit = _misfit(self.instance, net, missing[0])
            raise CallingError(
                f"{self.label}: {how} has no attribute holding {', '.join(missing)} (looked "
                f"for lists of weights/biases, a dict keyed W1/b1, attributes W1/b1 with the "
                f"shapes of the layers)"
                + (f"; {misfit}" if misfit else "")
                + (f"; its constructor is {constructor_text(type(self.instance))}"
                   if strict else ""))
        if not self.slots:
            return
        self.notes.append(Text("conv.built" if strict else "conv.used", how=how, where=", ".join(
            f"{k} -> {self.slots[k][0].where}" for k in param_names(net) if k in self.slots)))
        self.how = {k: _fits(net, k, slots[0].stored) for k, slots in self.slots.items()}
        # square weights look the same either way: stored like the others (all of the
        # non-square ones transposed: transposed too)
        weights = [k for k in self.how if k[0] == "W"]
        square = [k for k in weights if len(set(self.slots[k][0].stored)) == 1]
        if square and len(square) < len(weights) and all(
                self.how[k] == "transposed" for k in weights if k not in square):
            self.how.update((k, "transposed") for k in square)
            self.notes.append(Text("conv.square" if len(square) == 1 else "conv.squares",
                                   names=", ".join(square)))
        for k in param_names(net):
            if k in self.slots and self.how[k] == "transposed" and k not in square:
                self.notes.append(Text("conv.transposed", key=k, stored=_shape(self.slots[k][0].stored),
                                       layout=net.layout, want=_shape(layout_shape(net, k))))

    @property
    def settings(self) -> dict:
        """Arguments that change the loss (`PENALTY_NAMES`) left at their defaults, of the
        constructor and of FUNC: ``{"reg": 0.0}``."""
        out = {}
        if self.target.cls is not None:
            out.update(penalty_settings(self.target.cls))
        out.update(penalty_settings(self.function))
        passed = course_settings(self.net)
        return {k: v for k, v in out.items() if k not in passed}

    @property
    def takes_masks(self) -> bool:
        """Does FUNC take the dropout masks as an argument (`MASK_NAMES`)?"""
        return any(what == "masks" for _, what in self.binding.plan)

    def _masks_passed(self) -> Masks:
        return Masks({k: np.array(v, dtype=float) for k, v in self.given_masks.items()})

    @property
    def function(self):
        if self.instance is not None:
            return getattr(self.instance, self.target.method)
        return self.target.function

    @property
    def data_names(self) -> tuple:
        """The names of FUNC's parameters that receive the data (``("x", "y")``), by name or
        by position; () when they cannot be told (no signature)."""
        return tuple(self.binding.names[w] for w in ("X", "T", "XT") if w in self.binding.names)

    def call_raw(self, params: dict, X, T):
        """Set the parameters, call FUNC and return what it returned (exceptions propagate).

        Parameters held by the instance are set again before every call (written into the
        arrays it holds); afterwards `self.findings` says which of them the call changed.
        A params dict is passed as a `ParamsView` answering the spellings the code reads.
        """
        written = {}
        for k, slots in self.slots.items():
            value = params[k]
            how = self.how[k]
            if how == "transposed":
                value = value.T
            elif how == "reshaped":
                value = value.reshape(slots[0].stored)
            for slot in slots:
                slot.set(value)
            written[k] = value
        view = ParamsView(params, self.net) if any(
            what == "params" for _, what in self.binding.plan) else params
        values = {"X": X, "T": T, "XT": (X, T), "params": view, "masks": self._masks_passed()}
        args, kwargs = [], {}
        for name, what in self.binding.plan:
            if what.startswith("set:"):
                value = self.passed[what[4:]]
            else:
                value = values[what] if what in values else params[what]
            if name is None or name in self.binding.positional_only:
                args.append(value)
            else:
                kwargs[name] = value
        self.findings = []
        try:
            return self.function(*args, **kwargs)
        finally:
            if view is not params:
                view.write_back(params)
                if view.read:
                    self.findings.append(Text(
                        "conv.read", label=self.label,
                        keys=", ".join(f"params[{key!r}]" for key in view.read),
                        names=", ".join(view.read.values())))
            changed = [next(s.where for s in self.slots[k] if s.changed(value))
                       for k, value in written.items()
                       if any(s.changed(value) for s in self.slots[k])]
            if changed:
                self.findings.append(Text("conv.changed", label=self.label, where=", ".join(changed)))

    def call(self, params: dict, X, T) -> Outcome:
        """FUNC's gradients at (params, X, T), keyed like params, in the layout's shapes."""
        raw = self.call_raw(params, X, T)
        outcome = self.normalize(raw)
        outcome.notes[:0] = [n for n in self.findings if n not in outcome.notes]
        if any(p is not None for p in self.net.drops) and not self.takes_masks:
            batch = X.shape[1 if self.net.layout == "column" else 0] if np.ndim(X) == 2 else 1
            outcome.masks = read_masks(self.instance, self.net, batch)
        return outcome

    @property
    def held_precision(self) -> str | None:
        """"float32" / "float16" when the instance holds its parameters in that precision
        (the drawn values are rounded to it), else None."""
        low = None
        for slots in self.slots.values():
            for slot in slots:
                if slot.held is not None and slot.held.dtype.itemsize < 8:
                    if low is None or slot.held.dtype.itemsize < np.dtype(low).itemsize:
                        low = str(slot.held.dtype)
        return low

    def normalize(self, raw) -> Outcome:
        """What FUNC returned -> `Outcome` (raises ReturnError when it is not gradients)."""
        grads, notes = normalize(raw, self.net, self.label)
        out = {}
        low = self.held_precision
        for k, v in grads.items():
            if k in self.slots:
                stored = self.slots[k][0].stored
                arr = _as_float(v)
                if arr is not None and arr.shape == stored and self.how[k] != "as is":
                    v = arr.T if self.how[k] == "transposed" else arr.reshape(
                        layout_shape(self.net, k))
            if low is not None:
                arr = _as_float(v)
                if arr is not None and arr.dtype.kind == "f" and arr.dtype.itemsize > np.dtype(low).itemsize:
                    # its inputs were rounded to `low`: judged at that precision
                    v = arr.astype(low)
            out[k] = v
        return Outcome(out, notes)


class ParamsView(dict):
    """The params dict FUNC gets: keyed W1, B1, ... and answering every spelling of them
    (``b1``, ``w1``, ``W_1``, ``bias1``); `read` records the spellings read other than the
    stored keys (spelling -> key). `write_back` copies what FUNC stored under any spelling
    into the checker's dict, so replaced parameters are still seen."""

    def __init__(self, params: dict, net):
        super().__init__(params)
        self._net = net
        self.read: dict[str, str] = {}

    def _key(self, key):
        if isinstance(key, str) and not dict.__contains__(self, key):
            found = canonical(key, self._net)
            if found is not None and dict.__contains__(self, found):
                return found
        return None

    def __missing__(self, key):
        found = self._key(key)
        if found is None:
            raise KeyError(key)
        self.read.setdefault(key, found)
        return dict.__getitem__(self, found)

    def __contains__(self, key):
        return dict.__contains__(self, key) or self._key(key) is not None

    def get(self, key, default=None):
        return self[key] if key in self else default

    def write_back(self, params: dict) -> None:
        for key, value in dict.items(self):
            found = key if key in params else (canonical(key, self._net)
                                               if isinstance(key, str) else None)
            if found in params and params[found] is not value:
                params[found] = value


def _as_float(v):
    try:
        arr = np.asarray(v)
    except Exception:  # noqa: BLE001  # an object whose __array__ raises
        return None
    return arr if arr.dtype.kind in "fiu" else None


def _shape(shape) -> str:
    shape = tuple(shape)
    return f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"


# ----------------------------------------------------------------------------- return values


def _scalar(v) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, float, np.floating, np.integer)):
        return True
    return isinstance(v, np.ndarray) and v.ndim == 0


def normalize(raw, net, label: str = "FUNC") -> tuple[dict, list]:
    """FUNC's return value -> ({"W1": array, ...}, notes). Unknown dict keys are kept as given.

    Raises:
        ReturnError: it is neither a dict nor a sequence of gradient arrays.
    """
    notes = []
    if isinstance(raw, (tuple, list)) and len(raw) == 2:
        first, second = raw
        for loss, grads in ((first, second), (second, first)):
            if _scalar(loss) and (isinstance(grads, dict) or (
                    isinstance(grads, (tuple, list)) and len(grads) > 1)):
                notes.append(Text("conv.loss_grads", label=label))
                raw = grads
                break
    if isinstance(raw, dict):
        # read as a plain dict: a subclass's own items()/values()/get() are not trusted
        if raw and all(isinstance(v, (list, tuple)) for v in dict.values(raw)):
            return _sequence(list(dict.values(raw)), net, label, type(raw).__name__, notes)
        out = {}
        renamed = []
        for k, v in list(dict.items(raw)):
            ck = canonical(str(k), net, gradient=True) if isinstance(k, str) else None
            if ck is None:
                out[k if isinstance(k, str) else repr(k)] = v
                continue
            if ck != k:
                renamed.append(Text("conv.key_as", key=k, name=ck))
            out[ck] = v
        if renamed:
            notes.append(Text("conv.keys_read", renamed=renamed))
        return out, notes
    if isinstance(raw, (tuple, list)):
        return _sequence(list(raw), net, label, type(raw).__name__, notes)
    raise ReturnError(Text("conv.not_gradients", label=label, type=type(raw).__name__))


def _orders(net) -> list[tuple[str, list[str]]]:
    """Orders people return gradients in: layers up or down, W and B interleaved or grouped."""
    has_b = biased(net)
    up = list(range(1, net.depth + 1))
    out = []
    for direction, layers in (("", up), (" (last layer first)", up[::-1])):
        ws = [f"W{l}" for l in layers]
        bs = [f"B{l}" for l in layers if has_b[l - 1]]
        wb = [k for l in layers for k in (f"W{l}", f"B{l}") if k[0] == "W" or has_b[l - 1]]
        bw = [k for l in layers for k in (f"B{l}", f"W{l}") if k[0] == "W" or has_b[l - 1]]
        for order in (wb, ws + bs, bs + ws, bw, ws):
            out.append((direction, order))
    return out


def _score(net, name: str, value) -> int:
    arr = _as_float(value)
    if arr is None:
        return 0
    how = _fits(net, name, arr.shape)
    return {"as is": 3, "reshaped": 3, "transposed": 2}.get(how, 1 if arr.size == int(
        np.prod(layout_shape(net, name))) else 0)


def _sequence(items: list, net, label: str, kind: str, notes: list) -> tuple[dict, list]:
    flat = []
    for item in items:
        if isinstance(item, (list, tuple)):
            flat.extend(item)
        else:
            flat.append(item)
    what = (Text("conv.what.arrays", kind=kind, n=len(flat)) if len(flat) == len(items)
            else Text("conv.what.lists", kind=kind, lists=len(items), n=len(flat)))
    lengths = {len(o) for _, o in _orders(net)}
    if len(flat) > 1 and _scalar(flat[0]) and len(flat) not in lengths and len(flat) - 1 in lengths:
        notes.append(Text("conv.number_first", label=label))
        flat = flat[1:]
    candidates = [(d, o) for d, o in _orders(net) if len(o) == len(flat)]
    if not candidates:
        raise ReturnError(Text("conv.untold", label=label, what=what, count=len(param_names(net)),
                               names=", ".join(param_names(net))))
    best = max(candidates, key=lambda c: sum(_score(net, k, v) for k, v in zip(c[1], flat)))
    direction, order = best
    notes.append(Text("conv.sequence", label=label, what=what, order=", ".join(order),
                      direction=Text("conv.last_first") if direction else ""))
    return dict(zip(order, flat)), notes


# ----------------------------------------------------------------------------- one sample at a time


#: the forms one sample is passed in: a batch of one in the layout (``X[:, [i]]``, Nielsen's
#: column), or plain vectors (``X[i]`` as ``for x, y in zip(X, Y)`` gives it; a label a scalar)
SAMPLE_FORMS = ("batch of one", "vector")


def split_samples(net, X, T, batch: int, form: str = "batch of one") -> list[tuple]:
    """(x, t) for each sample, in `form` (one of SAMPLE_FORMS): a batch of one in the layout
    (labels: shape (1,)), or 1-D vectors (labels: integer scalars)."""
    out = []
    column = net.layout == "column"
    for i in range(batch):
        if form == "vector":
            x = X[:, i].copy() if column else X[i, :].copy()
            t = T[i] if T.ndim == 1 else (T[:, i].copy() if column else T[i, :].copy())
        else:
            x = X[:, i:i + 1] if column else X[i:i + 1, :]
            if T.ndim == 1:
                t = T[i:i + 1]
            else:
                t = T[:, i:i + 1] if column else T[i:i + 1, :]
        out.append((x, t))
    return out


def combine(outcomes: list[Outcome], mean: bool) -> Outcome:
    """Per-sample gradients added up (or averaged, for a loss that is a mean over the batch).

    A key whose values cannot be added (different shapes, not numbers) keeps the first value.
    """
    grads = {}
    for k, v in outcomes[0].grads.items():
        values = [o.grads.get(k) for o in outcomes]
        arrays = [_as_float(x) for x in values]
        if any(a is None for a in arrays) or len({a.shape for a in arrays}) != 1:
            grads[k] = v
            continue
        total = np.sum(np.stack([a.astype(float) for a in arrays]), axis=0)
        total = total / len(arrays) if mean else total
        kind = np.result_type(*arrays)
        # float32 code stays float32: it is held to float32's rounding
        grads[k] = total.astype(kind) if kind.kind == "f" and kind.itemsize < 8 else total
    notes = []
    for o in outcomes:
        notes += [n for n in o.notes if n not in notes]
    return Outcome(grads, notes)
