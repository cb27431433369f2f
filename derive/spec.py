"""Network specs: the TOML file of the contract and the inline `SIZES:ACTIVATIONS:LOSS[:LAYOUT]` form.

Both are validated into an immutable `Network`. Every problem raises `SpecError` with one line
that names the source and the field, e.g. ``net.toml: layer[2].activation: unknown activation 'rleu'``.
"""

from __future__ import annotations

import hashlib
import keyword
import math
import re
import reprlib
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import sympy as sp

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from . import activations, losses
from .errors import SpecError, one_line, show_path, show_text
from .limits import MAX_LAYERS, MAX_NESTING, MAX_SPEC_BYTES, MAX_UNITS

LAYOUTS = ("column", "row")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TOP_KEYS = {
    "name", "layout", "inputs", "loss", "reduction", "layer", "example", "weight_decay", "l2",
}
#: A worked example prints every matrix: at most this many units per layer and samples.
MAX_EXAMPLE_WIDTH = 8
_LAYER_KEYS = {"units", "activation", "alpha", "bias", "batch_norm", "eps", "momentum", "dropout"}
REDUCTIONS = ("mean", "sum")
#: Batch norm's defaults (PyTorch's eps; momentum m in running = m running + (1 - m) batch).
DEFAULT_EPS = sp.Rational(1, 10**5)
DEFAULT_MOMENTUM = sp.Rational(9, 10)
#: The penalties on the weights: spec key -> (inline suffix, c in L += c * sum ||W_l||^2 per lambda).
PENALTIES = {"weight_decay": ("wd", sp.Rational(1, 2)), "l2": ("l2", sp.Integer(1))}


@dataclass(frozen=True)
class Layer:
    """One layer: a linear map to `units` outputs (plus a bias B_l unless `bias` is False),
    then `activation` (alpha if it takes one)."""

    units: int
    activation: str
    alpha: sp.Rational | None = None
    bias: bool = True
    batch_norm: bool = False
    eps: sp.Rational = DEFAULT_EPS
    momentum: sp.Rational = DEFAULT_MOMENTUM
    dropout: sp.Rational | None = None  # p, the probability of dropping a unit

    @property
    def act(self) -> activations.Activation:
        return activations.get(self.activation)

    def inline_entry(self) -> str:
        """The layer's entry in the inline form: `bn@1e-07+relu+dropout@0.5`."""
        text = self.activation + (f"@{format_number(self.alpha)}" if self.alpha is not None else "")
        if self.batch_norm:
            text = ("bn" if self.eps == DEFAULT_EPS else f"bn@{format_number(self.eps)}") + "+" + text
        if self.dropout is not None:
            text += f"+dropout@{format_number(self.dropout)}"
        return text


@dataclass(frozen=True)
class Example:
    """The `[example]` table: exact numbers (SymPy rationals) in the chain's matrix shapes.

    `values` maps X, T and, unless `seeded`, every W_l and B_l to an immutable SymPy matrix
    shaped like the derivation's symbol (a row-layout bias is a 1 x n_l row).
    """

    values: tuple[tuple[str, sp.ImmutableMatrix], ...]

    def __getitem__(self, name: str) -> sp.ImmutableMatrix:
        return dict(self.values)[name]

    def __contains__(self, name: str) -> bool:
        return name in dict(self.values)

    @property
    def seeded(self) -> bool:
        """True when the table gives only X and T (the parameters are then seeded)."""
        return "W1" not in self


@dataclass(frozen=True)
class Network:
    """A validated network: the layer chain, its loss, layout and name."""

    name: str
    layout: str
    inputs: int
    layers: tuple[Layer, ...]
    loss: str
    source: str = field(default="<spec>", compare=False)
    example: Example | None = field(default=None, compare=False)
    #: "weight_decay" (L += lambda/2 sum ||W_l||^2) or "l2" (L += lambda sum ||W_l||^2), or None
    penalty: str | None = None
    penalty_lambda: sp.Rational | None = None

    @property
    def penalty_coefficient(self) -> sp.Rational | None:
        """c in L = L_data + c * sum_l ||W_l||^2 (lambda/2 for weight decay, lambda for l2)."""
        if self.penalty is None:
            return None
        return PENALTIES[self.penalty][1] * self.penalty_lambda

    @property
    def loss_inline(self) -> str:
        """The loss as the inline form writes it: `cross_entropy+wd@0.0001`."""
        if self.penalty is None:
            return self.loss
        return f"{self.loss}+{PENALTIES[self.penalty][0]}@{format_number(self.penalty_lambda)}"

    def batch_norm(self, index: int) -> bool:
        """Whether layer `index` (1-based) normalizes its batch."""
        return self.layers[index - 1].batch_norm

    def dropout(self, index: int) -> sp.Rational | None:
        """Layer `index`'s dropout probability p, or None."""
        return self.layers[index - 1].dropout

    @property
    def normalizes(self) -> bool:
        """Whether any layer uses batch norm."""
        return any(layer.batch_norm for layer in self.layers)

    @property
    def drops(self) -> bool:
        """Whether any layer uses dropout."""
        return any(layer.dropout is not None for layer in self.layers)

    @property
    def plain(self) -> bool:
        """No batch norm, no dropout, no penalty: the chain of contract section 1 alone."""
        return self.penalty is None and not self.normalizes and not self.drops

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def sizes(self) -> tuple[int, ...]:
        """(n_0, n_1, ..., n_L)."""
        return (self.inputs,) + tuple(layer.units for layer in self.layers)

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(layer.activation for layer in self.layers)

    @property
    def loss_def(self) -> losses.Loss:
        return losses.get(self.loss)

    def has_bias(self, index: int) -> bool:
        """Whether layer `index` (1-based) has a bias B_l."""
        return self.layers[index - 1].bias

    def param_names(self) -> list[str]:
        """The parameter names in order: W1, B1, gamma1, beta1, W2, ... (no B_l for a layer
        without bias, gamma_l and beta_l only for a batch-norm layer)."""
        names = []
        for l in range(1, self.depth + 1):
            names.append(f"W{l}")
            if self.has_bias(l):
                names.append(f"B{l}")
            if self.batch_norm(l):
                names += [f"gamma{l}", f"beta{l}"]
        return names

    def mask_names(self) -> list[str]:
        """The dropout masks M_l, inputs of the derivation like X and T."""
        return [f"M{l}" for l in range(1, self.depth + 1) if self.dropout(l) is not None]

    def inline(self) -> str:
        """The network in the inline form of the command line.

        Layers without bias have no inline spelling; they are named after it in parentheses,
        e.g. `2-3-1:relu,identity:sse:column (no bias in layer 1)`.
        """
        acts = ",".join(layer.inline_entry() for layer in self.layers)
        text = f"{'-'.join(map(str, self.sizes))}:{acts}:{self.loss_inline}:{self.layout}"
        no_bias = [str(l) for l, layer in enumerate(self.layers, start=1) if not layer.bias]
        if no_bias:
            text += f" (no bias in layer{'s' if len(no_bias) > 1 else ''} {', '.join(no_bias)})"
        return text

    def to_toml(self) -> str:
        """The network as a canonical TOML spec (what `digest` hashes)."""
        lines = [
            f'name = "{self.name}"',
            f'layout = "{self.layout}"',
            f"inputs = {self.inputs}",
            f'loss = "{self.loss_def.base}"',
        ]
        if self.loss_def.reduction == "sum":
            lines.append('reduction = "sum"')
        if self.penalty is not None:
            lines.append(f"{self.penalty} = {format_number(self.penalty_lambda)}")
        for layer in self.layers:
            lines += ["", "[[layer]]", f"units = {layer.units}", f'activation = "{layer.activation}"']
            if layer.alpha is not None:
                lines.append(f"alpha = {format_number(layer.alpha)}")
            if not layer.bias:
                lines.append("bias = false")
            if layer.batch_norm:
                lines.append("batch_norm = true")
                if layer.eps != DEFAULT_EPS:
                    lines.append(f"eps = {format_number(layer.eps)}")
                if layer.momentum != DEFAULT_MOMENTUM:
                    lines.append(f"momentum = {format_number(layer.momentum)}")
            if layer.dropout is not None:
                lines.append(f"dropout = {format_number(layer.dropout)}")
        return "\n".join(lines) + "\n"

    def digest(self) -> str:
        """sha256 of the canonical TOML form: the same network always hashes the same."""
        return hashlib.sha256(self.to_toml().encode()).hexdigest()

    def alpha_of(self, index: int) -> sp.Rational | None:
        """The alpha layer `index` (1-based) uses: the spec's, else its activation's default."""
        layer = self.layers[index - 1]
        return layer.alpha if layer.alpha is not None else layer.act.default_alpha


def format_number(value: sp.Rational) -> str:
    """A short decimal for an alpha that came from a decimal literal (1/5 -> '0.2')."""
    as_float = float(value)
    text = repr(as_float)
    return text.removesuffix(".0")


# ------------------------------------------------------------------------------- loading


def load(arg: str):
    """A network from a command-line NET argument: a `.toml` path, or the inline form; or one
    layer, `layer:KIND:SIZES[:LAYOUT]` (a `layers.LayerSpec`, contract section 8)."""
    if arg.startswith("layer:"):
        from .layers import parse_layer

        return parse_layer(arg)
    if arg.endswith(".toml") or _is_file(arg):
        return load_file(arg)
    return parse_inline(arg)


def _is_file(arg: str) -> bool:
    try:
        return Path(arg).is_file()
    except (OSError, ValueError):  # too long or not a possible path: an inline network
        return False


def load_file(path: str | Path) -> Network:
    """A network from a TOML spec file, reading at most MAX_SPEC_BYTES of it."""
    path = Path(path)
    source = show_path(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(f"{source}: no such spec file") from None
    except OSError as exc:
        raise SpecError(f"{source}: cannot read spec file ({exc.strerror or type(exc).__name__})") from None
    except ValueError:  # a NUL character in the path
        raise SpecError(f"{source}: not a possible file name") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(
            f"{source}: larger than the {MAX_SPEC_BYTES:,} bytes a spec file may have"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    return parse_toml(text, source)


def parse_toml(text: str, source: str = "<spec>") -> Network:
    """Validate a TOML spec's text; `source` names it in error messages."""
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"{source}: larger than the {MAX_SPEC_BYTES:,} bytes a spec file may have")
    depth = nesting(text)
    if depth > MAX_NESTING:
        raise SpecError(
            f"{source}: arrays or tables nested {depth} deep, more than the {MAX_NESTING} "
            "levels a spec file may have"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: malformed TOML: {one_line(str(exc))}") from None
    except ValueError:  # an integer literal past Python's limit on digits
        raise SpecError(
            f"{source}: a whole number with more than the {_MAX_DIGITS:,} digits "
            "Python reads"
        ) from None
    except RecursionError:  # a backstop: `nesting` already bounds the depth
        raise SpecError(f"{source}: nested too deeply to read") from None
    return from_dict(data, source)


_MAX_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 4300)()  # Python's limit for int()
_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'  # multi-line basic string
    r"|'''.*?'''"  # multi-line literal string
    r'|"(?:[^"\\\n]|\\.)*"'  # basic string
    r"|'[^'\n]*'"  # literal string
    r"|#[^\n]*"  # comment
    r"|[\[\]{}]",  # brackets
    re.DOTALL,
)


def nesting(text: str) -> int:
    """How deep arrays and inline tables nest in TOML `text` (brackets in strings and comments
    do not count; a table header `[[layer]]` counts 2)."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth = max(depth - 1, 0)
    return deepest


def from_dict(data: dict, source: str = "<spec>") -> Network:
    """Validate a spec already read into a dict (the shape of the TOML file)."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise SpecError(f"{source}: {unknown[0]}: unknown key (expected one of {_keys(_TOP_KEYS)})")
    for key in ("name", "inputs", "loss", "layer"):
        if key not in data:
            what = "at least one [[layer]] table" if key == "layer" else f"'{key}'"
            raise SpecError(f"{source}: {key}: missing (the spec needs {what})")
    name = _name(data["name"], source)
    layout = data.get("layout", "column")
    if layout not in LAYOUTS:
        raise SpecError(f"{source}: layout: must be \"column\" or \"row\", got {_show(layout)}")
    inputs = _units(data["inputs"], f"{source}: inputs")
    loss = _loss(data["loss"], data.get("reduction"), source)
    penalty, penalty_lambda = _penalty(data, source)
    raw_layers = data["layer"]
    if not isinstance(raw_layers, list) or not raw_layers or not all(
        isinstance(entry, dict) for entry in raw_layers
    ):
        raise SpecError(f"{source}: layer: must be one or more [[layer]] tables")
    if len(raw_layers) > MAX_LAYERS:
        raise SpecError(
            f"{source}: layer: {len(raw_layers)} layers, more than the {MAX_LAYERS:,} a network may have"
        )
    layers = []
    for index, entry in enumerate(raw_layers, start=1):
        where = f"{source}: layer[{index}]"
        unknown = sorted(set(entry) - _LAYER_KEYS)
        if unknown:
            raise SpecError(
                f"{where}.{unknown[0]}: unknown key (expected one of {_keys(_LAYER_KEYS)})"
            )
        for key in ("units", "activation"):
            if key not in entry:
                raise SpecError(f"{where}.{key}: missing")
        units = _units(entry["units"], f"{where}.units")
        act = _activation(entry["activation"], f"{where}.activation")
        alpha = None
        if "alpha" in entry:
            alpha = _alpha(entry["alpha"], act, f"{where}.alpha")
        bias = entry.get("bias", True)
        if not isinstance(bias, bool):
            raise SpecError(f"{where}.bias: must be true or false, got {_show(bias)}")
        batch_norm = entry.get("batch_norm", False)
        if not isinstance(batch_norm, bool):
            raise SpecError(f"{where}.batch_norm: must be true or false, got {_show(batch_norm)}")
        for key in ("eps", "momentum"):
            if key in entry and not batch_norm:
                raise SpecError(f"{where}.{key}: only a layer with batch_norm = true takes {key}")
        eps = _eps(entry["eps"], f"{where}.eps") if "eps" in entry else DEFAULT_EPS
        momentum = (
            _momentum(entry["momentum"], f"{where}.momentum") if "momentum" in entry
            else DEFAULT_MOMENTUM
        )
        dropout = _dropout(entry["dropout"], f"{where}.dropout") if "dropout" in entry else None
        layers.append(Layer(units, act, alpha, bias, batch_norm, eps, momentum, dropout))
    net = _checked(Network(name, layout, inputs, tuple(layers), loss, source,
                           penalty=penalty, penalty_lambda=penalty_lambda))
    if "example" in data:
        net = replace(net, example=_example(data["example"], net))
    return net


def parse_inline(text: str) -> Network:
    """`SIZES:ACTIVATIONS:LOSS[:LAYOUT]`, e.g. `784-128-10:leaky_relu@0.2,softmax:cross_entropy:row`."""
    source = f"network {show_text(text)}"
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise SpecError(
            f"{source}: not a spec file (no such file) nor SIZES:ACTIVATIONS:LOSS[:LAYOUT], "
            "e.g. 1-8-4-1:relu,relu,identity:mse"
        )
    sizes_text, acts_text, loss_text = parts[:3]
    layout = parts[3] if len(parts) == 4 else "column"
    if layout not in LAYOUTS:
        raise SpecError(f"{source}: layout: must be column or row, got {show_text(layout)}")
    loss, penalty, penalty_lambda = _inline_loss(loss_text, source)
    if loss not in losses.LOSSES:
        raise SpecError(
            f"{source}: loss: unknown loss {show_text(loss)} (known: {', '.join(losses.LOSSES)})"
        )
    size_texts = sizes_text.split("-")
    if len(size_texts) - 1 > MAX_LAYERS:
        raise SpecError(
            f"{source}: sizes: {len(size_texts) - 1} layers, more than the {MAX_LAYERS:,} a network may have"
        )
    sizes = []
    for index, size in enumerate(size_texts):
        digits = size.strip()
        if not re.fullmatch(r"[0-9]+", digits):
            raise SpecError(f"{source}: sizes: n_{index} is {show_text(size)}, not a whole number")
        digits = digits.lstrip("0") or "0"
        if len(digits) > len(str(MAX_UNITS)):  # before int(): no 4300-digit limit
            raise SpecError(
                f"{source}: sizes: n_{index} has {len(digits):,} digits, more than "
                f"the {MAX_UNITS} units gradscribe handles"
            )
        sizes.append(_units(int(digits), f"{source}: sizes: n_{index}"))
    if len(sizes) < 2:
        raise SpecError(f"{source}: sizes: need at least an input and an output size, like 2-1")
    acts = acts_text.split(",")
    if len(acts) != len(sizes) - 1:
        raise SpecError(
            f"{source}: activations: {len(sizes) - 1} layers need {len(sizes) - 1} "
            f"activations, got {len(acts)}"
        )
    layers = []
    for index, (units, item) in enumerate(zip(sizes[1:], acts), start=1):
        layers.append(_inline_layer(units, item.strip(), index, source))
    return _checked(Network("net", layout, sizes[0], tuple(layers), loss, source,
                            penalty=penalty, penalty_lambda=penalty_lambda))


def _inline_number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SpecError(f"{where}: {show_text(text)} is not a number") from None


def _inline_layer(units: int, item: str, index: int, source: str) -> Layer:
    """One layer's entry: `[bn[@EPS]+]ACT[@ALPHA][+dropout@P]`."""
    parts = item.split("+")
    batch_norm, eps, dropout = False, DEFAULT_EPS, None
    head, _, eps_text = parts[0].partition("@")
    if head == "bn" and len(parts) > 1:
        batch_norm = True
        if eps_text:
            where = f"{source}: layer {index} bn eps"
            eps = _eps(_inline_number(eps_text, where), where)
        parts = parts[1:]
    if len(parts) > 1:
        tail, _, p_text = parts[-1].partition("@")
        if tail == "dropout":
            where = f"{source}: layer {index} dropout"
            if not p_text:
                raise SpecError(f"{where}: needs its probability, as dropout@0.5")
            dropout = _dropout(_inline_number(p_text, where), where)
            parts = parts[:-1]
    if len(parts) != 1:
        raise SpecError(
            f"{source}: layer {index} activation: {show_text(item)} is not "
            "[bn[@EPS]+]ACTIVATION[@ALPHA][+dropout@P], e.g. bn+relu+dropout@0.5"
        )
    act_name, _, alpha_text = parts[0].partition("@")
    act = _activation(act_name, f"{source}: layer {index} activation")
    alpha = None
    if alpha_text:
        where = f"{source}: layer {index} alpha"
        alpha = _alpha(_inline_number(alpha_text, where), act, where)
    return Layer(units, act, alpha, True, batch_norm, eps, DEFAULT_MOMENTUM, dropout)


def _inline_loss(text: str, source: str) -> tuple[str, str | None, sp.Rational | None]:
    """`LOSS[+wd@LAMBDA|+l2@LAMBDA]` -> (loss, penalty key, lambda)."""
    loss, *extras = text.split("+")
    suffixes = {suffix: key for key, (suffix, _) in PENALTIES.items()}
    found = []
    for extra in extras:
        suffix, _, value = extra.partition("@")
        if suffix not in suffixes:
            raise SpecError(
                f"{source}: loss: {show_text(extra)} is not a penalty (+wd@LAMBDA for weight "
                "decay, +l2@LAMBDA for an L2 penalty)"
            )
        where = f"{source}: loss {suffix}"
        if not value:
            raise SpecError(f"{where}: needs its lambda, as +{suffix}@1e-4")
        found.append((suffixes[suffix], _lambda(_inline_number(value, where), where)))
    if len(found) > 1:
        raise SpecError(
            f"{source}: loss: a network takes one penalty on the weights, got "
            f"{' and '.join('+' + PENALTIES[key][0] for key, _ in found)}"
        )
    if not found:
        return loss, None, None
    return loss, found[0][0], found[0][1]


# ------------------------------------------------------------------------------- checks


def _checked(net: Network) -> Network:
    """Rules that involve more than one field."""
    last = net.depth
    for index, layer in enumerate(net.layers, start=1):
        if layer.act.output_only and index != last:
            raise SpecError(
                f"{net.source}: layer[{index}].activation: {layer.activation} is allowed only "
                f"on the output layer (layer {last})"
            )
    loss = net.loss_def
    out = net.layers[-1].activation
    if loss.output is not None and out != loss.output:
        raise SpecError(
            f"{net.source}: loss: {loss.name} needs a {loss.output} output layer, "
            f"but layer {last} uses {out}"
        )
    if out == "softmax" and loss.output != "softmax":
        raise SpecError(
            f"{net.source}: layer[{last}].activation: softmax is supported only with "
            f"loss = \"cross_entropy\" (got {loss.name})"
        )
    if net.layers[-1].dropout is not None:
        raise SpecError(
            f"{net.source}: layer[{last}].dropout: dropout is for hidden layers, not the "
            f"output layer (layer {last})"
        )
    return net


def require_plain(net: Network, what: str) -> None:
    """Refuse, in one line, a network whose section-7 features `what` does not handle yet."""
    if getattr(net, "plain", True):
        return
    features = [
        name for name, used in (
            ("batch norm", net.normalizes), ("dropout", net.drops),
            ("a penalty on the weights", net.penalty is not None),
        ) if used
    ]
    raise SpecError(
        f"{net.source}: {what} does not handle {' or '.join(features)} yet "
        "(derive, verify and codegen's fast style do)"
    )


def check_batch(net: Network, batch: int, where: str) -> None:
    """Batch norm over a batch of one sample has sigma^2 = 0 and normalizes nothing: refused."""
    if batch < 2 and getattr(net, "normalizes", False):
        layers = [str(l) for l in range(1, net.depth + 1) if net.batch_norm(l)]
        raise SpecError(
            f"{where}: batch norm (layer{'s' if len(layers) > 1 else ''} {', '.join(layers)}) "
            f"needs a batch of at least 2 samples, got {batch} (the variance of one sample is 0)"
        )


# ------------------------------------------------------------------------------- [example]


def example_shapes(net: Network, batch: int) -> dict[str, tuple[int, ...]]:
    """The shape each `[example]` key is written in (a row-layout bias is a flat list)."""
    column = net.layout == "column"
    sizes = net.sizes
    shapes = {
        "X": (sizes[0], batch) if column else (batch, sizes[0]),
        "T": (sizes[-1], batch) if column else (batch, sizes[-1]),
    }
    for l in range(1, net.depth + 1):
        shapes[f"W{l}"] = (sizes[l], sizes[l - 1]) if column else (sizes[l - 1], sizes[l])
        if has_bias(net, l):
            shapes[f"B{l}"] = (sizes[l], 1) if column else (sizes[l],)
        if getattr(net.layers[l - 1], "batch_norm", False):
            for stem in ("gamma", "beta"):
                shapes[f"{stem}{l}"] = (sizes[l], 1) if column else (sizes[l],)
    for l in range(1, net.depth + 1):
        if getattr(net.layers[l - 1], "dropout", None) is not None:
            shapes[f"M{l}"] = (sizes[l], batch) if column else (batch, sizes[l])
    return shapes


def has_bias(net: Network, index: int) -> bool:
    """Whether layer `index` (1-based) has a bias B_l."""
    return getattr(net.layers[index - 1], "bias", True)


def check_example_size(net: Network, batch: int, where: str) -> None:
    """A worked example prints every matrix: refuse networks or batches too wide to print."""
    for index, size in enumerate(net.sizes):
        if size > MAX_EXAMPLE_WIDTH:
            raise SpecError(
                f"{where}: n_{index} = {size} is too wide to print a worked example "
                f"(at most {MAX_EXAMPLE_WIDTH} units per layer)"
            )
    if batch > MAX_EXAMPLE_WIDTH:
        raise SpecError(
            f"{where}: a batch of {batch} samples is too wide to print "
            f"(at most {MAX_EXAMPLE_WIDTH})"
        )


def _example(raw, net: Network) -> Example:
    """Validate the `[example]` table against the network's layout and sizes."""
    where = f"{net.source}: example"
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: must be a table, [example]")
    for key in ("X", "T"):
        if key not in raw:
            raise SpecError(f"{where}.{key}: missing (the example needs X and T)")
    batch = _batch(raw["X"], net, f"{where}.X")
    check_example_size(net, batch, where)
    check_batch(net, batch, f"{where}.X")
    shapes = example_shapes(net, batch)
    unknown = sorted(set(raw) - set(shapes))
    if unknown:
        key = unknown[0]
        stem = key.rstrip("0123456789")
        if stem in ("gamma", "beta") and key[len(stem):].isdigit():
            raise SpecError(
                f"{where}.{key}: layer {key[len(stem):]} has no batch norm (batch_norm = true "
                f"gives it gamma and beta)"
            )
        if stem == "M" and key[1:].isdigit():
            raise SpecError(f"{where}.{key}: layer {key[1:]} has no dropout (no mask to give)")
        raise SpecError(
            f"{where}.{unknown[0]}: unknown key (expected {', '.join(shapes)})"
        )
    # gamma_l, beta_l may be left out (their initial values 1 and 0), masks too (then seeded).
    params = [key for key in shapes if key[0] in "WB"]
    given = [key for key in params if key in raw]
    if given and len(given) != len(params):
        missing = next(key for key in params if key not in raw)
        raise SpecError(
            f"{where}.{missing}: missing (give every W_l and B_l, or none for seeded values)"
        )
    optional = [key for key in shapes if key[0] in "gbM" and key in raw]
    values = []
    for key in ("X", "T", *given, *optional):
        matrix = _matrix(raw[key], shapes[key], net.layout, f"{where}.{key}")
        if len(shapes[key]) == 1:  # a row-layout bias: the chain's 1 x n_l row
            matrix = matrix.reshape(1, shapes[key][0])
        if key[0] == "M" and any(v not in (0, 1) for v in matrix):
            raise SpecError(f"{where}.{key}: a dropout mask holds only 0 and 1")
        values.append((key, sp.ImmutableMatrix(matrix)))
    return Example(tuple(values))


def _batch(raw, net: Network, where: str) -> int:
    """N, read off X: its columns in the column layout, its rows in the row layout."""
    if not isinstance(raw, list) or not raw or not all(isinstance(r, list) for r in raw):
        raise SpecError(f"{where}: must be a nested array of numbers, one inner array per row")
    batch = len(raw[0]) if net.layout == "column" else len(raw)
    if batch == 0:
        raise SpecError(f"{where}: needs at least one sample")
    return batch


def _matrix(raw, shape: tuple[int, ...], layout: str, where: str) -> sp.Matrix:
    """A nested list of `shape` (or a flat list for a 1-d shape) as exact SymPy numbers."""
    expected = (
        f"{shape[0]} numbers" if len(shape) == 1
        else f"{shape[0]} rows of {shape[1]} number{'s' if shape[1] != 1 else ''}"
    )
    wanted = f"must be {expected} {_shape_text(shape)} in the {layout} layout"
    if len(shape) == 1:
        if not isinstance(raw, list) or len(raw) != shape[0] or any(isinstance(v, list) for v in raw):
            raise SpecError(f"{where}: {wanted}, got {_show(raw)}")
        return sp.Matrix([[_number(v, f"{where}[{j}]") for j, v in enumerate(raw)]])
    if (
        not isinstance(raw, list)
        or len(raw) != shape[0]
        or not all(isinstance(r, list) and len(r) == shape[1] for r in raw)
    ):
        raise SpecError(f"{where}: {wanted}, got {_show(raw)}")
    return sp.Matrix(
        [[_number(v, f"{where}[{i}][{j}]") for j, v in enumerate(r)] for i, r in enumerate(raw)]
    )


def _shape_text(shape: tuple[int, ...]) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else f"({shape[0]}, {shape[1]})"


def _number(value, where: str) -> sp.Rational:
    """An exact rational from a TOML integer or float (the decimal as written)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: must be a number, got {_show(value)}")
    if isinstance(value, int):
        if abs(value) > 10**6:
            raise SpecError(f"{where}: {value} is larger than 1e6")
        return sp.Integer(value)
    if not math.isfinite(value) or abs(value) > 1e6:
        raise SpecError(f"{where}: must be a finite number up to 1e6 in size, got {value}")
    return sp.Rational(repr(value))


def _loss(value, reduction, source: str) -> str:
    """The registered loss name for a spec's `loss` and optional `reduction`."""
    if not isinstance(value, str) or value not in losses.LOSSES:
        raise SpecError(
            f"{source}: loss: unknown loss {_show(value)} (known: {', '.join(_base_losses())})"
        )
    if reduction is None:
        return value
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise SpecError(f'{source}: reduction: must be "mean" or "sum", got {_show(reduction)}')
    loss = losses.get(value)
    if loss.reduction is None:
        summed = [name for name in _base_losses() if f"{name}@sum" in losses.LOSSES]
        raise SpecError(
            f"{source}: reduction: {value} has no reduction to choose (only "
            f"{' and '.join(summed)} take one; for summed squared errors use loss = \"sse\")"
        )
    if "@" in value:
        if reduction != loss.reduction:
            raise SpecError(
                f'{source}: reduction: "{reduction}" contradicts loss = "{value}"'
            )
        return value
    return value if reduction == "mean" else f"{value}@{reduction}"


def _base_losses() -> list[str]:
    return [name for name in losses.LOSSES if "@" not in name]


def _penalty(data: dict, source: str) -> tuple[str | None, sp.Rational | None]:
    """The top level's `weight_decay` or `l2` (at most one) as (key, lambda)."""
    given = [key for key in PENALTIES if key in data]
    if len(given) > 1:
        raise SpecError(
            f"{source}: l2: a spec takes one penalty on the weights, weight_decay or l2, not both"
        )
    if not given:
        return None, None
    key = given[0]
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{source}: {key}: must be a number, got {_show(value)}")
    return key, _lambda(value, f"{source}: {key}")


def _lambda(value: float, where: str) -> sp.Rational:
    if not math.isfinite(value) or value < 0 or value > 1000:
        raise SpecError(f"{where}: must be a number from 0 to 1000, got {value}")
    return sp.Rational(repr(float(value)))


def _eps(value, where: str) -> sp.Rational:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: must be a number, got {_show(value)}")
    if not math.isfinite(value) or value <= 0 or value > 1000:
        raise SpecError(f"{where}: must be a positive number up to 1000, got {value}")
    return sp.Rational(repr(float(value)))


def _momentum(value, where: str) -> sp.Rational:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: must be a number, got {_show(value)}")
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise SpecError(f"{where}: must be a number from 0 to 1, got {value}")
    return sp.Rational(repr(float(value)))


def _dropout(value, where: str) -> sp.Rational:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: must be a number, got {_show(value)}")
    if not math.isfinite(value) or not 0 <= value < 1:
        raise SpecError(
            f"{where}: the probability of dropping a unit must be in [0, 1), got {value}"
        )
    return sp.Rational(repr(float(value)))


def _name(value, source: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value) or keyword.iskeyword(value):
        raise SpecError(
            f"{source}: name: {_show(value)} is not a Python identifier "
            "(ASCII letters, digits and _, not starting with a digit, not a keyword)"
        )
    return value


def _units(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{where}: must be a whole number, got {_show(value)}")
    if value <= 0:
        raise SpecError(f"{where}: must be at least 1, got {value}")
    if value > MAX_UNITS:
        raise SpecError(f"{where}: {value} is more than the {MAX_UNITS} units gradscribe handles")
    return value


def _activation(value, where: str) -> str:
    if not isinstance(value, str) or value not in activations.ACTIVATIONS:
        raise SpecError(
            f"{where}: unknown activation {_show(value)} "
            f"(known: {', '.join(activations.ACTIVATIONS)})"
        )
    return value


def _alpha(value, act_name: str, where: str) -> sp.Rational:
    act = activations.get(act_name)
    if not act.takes_alpha:
        raise SpecError(f"{where}: {act_name} takes no alpha")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: must be a number, got {_show(value)}")
    if not math.isfinite(value) or value <= 0 or value > 1000:
        raise SpecError(f"{where}: must be a positive number up to 1000, got {value}")
    return sp.Rational(repr(float(value)))


def _show(value) -> str:
    """A value from a spec, quoted on one line and shortened (repr escapes newlines)."""
    if isinstance(value, str):
        return show_text(value, 40)
    text = reprlib.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _keys(keys) -> str:
    return ", ".join(sorted(keys))


DEFAULT_SPEC = """\
name = "height_mlp"
layout = "column"
inputs = 1
loss = "mse"

[[layer]]
units = 8
activation = "relu"

[[layer]]
units = 4
activation = "relu"

[[layer]]
units = 1
activation = "identity"
"""


def default_network() -> Network:
    """The embedded default network: the 1-8-4-1 height regression net of the contract."""
    return parse_toml(DEFAULT_SPEC, "<default network>")
